//! Multiwindow, multi-burn-rate tiers (Google SRE Workbook, "Alerting on SLOs").
//!
//! Each tier spends a share of the error budget over a long window, checked again over a
//! short window (1/12 of the long one) so that alerts reset soon after a problem ends. Burn
//! rate = budget share × SLO window ÷ long window, so 30d gives 14.4/6/3/1 and 28d gives
//! 13.44/5.6/2.8/0.933. Windows below 28d shrink in proportion (keeping the 28d rates), so
//! a 7d SLO watches 15m/75s instead of 1h/5m.
//!
//! No window is shorter than four scrape intervals of the target: `rate()` needs two samples
//! and extrapolates from what it finds, so a 75 s window on a 1-minute scrape holds one
//! sample (no rate) most of the time, and the fastest tier never fires or flaps. Shorter
//! windows are raised to that floor; a raised long window keeps its budget share, so its
//! burn rate is recomputed from the window actually used.

use crate::validate::{Objective, PromDuration, Window};

/// Who is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Wake someone up.
    Page,
    /// Look at it in working hours.
    Ticket,
}

impl Severity {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Ticket => "ticket",
        }
    }
}

/// One alert tier for a given SLO window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    /// Severity.
    pub severity: Severity,
    /// Share of the budget spent over `long` that triggers the tier.
    pub budget_share: f64,
    /// Long window.
    pub long: PromDuration,
    /// Short window.
    pub short: PromDuration,
    /// Burn rate threshold.
    pub burn_rate: f64,
}

impl Tier {
    /// Error ratio above which both windows must be for the tier to fire.
    pub fn error_ratio_threshold(&self, objective: Objective) -> f64 {
        crate::promql::round_sig(self.burn_rate * objective.error_budget())
    }

    /// Time for a constant error ratio `error_ratio` to trip the tier, from a clean start,
    /// in seconds (`None` if it never does). The long window is the slower of the two.
    pub fn detection_seconds(&self, objective: Objective, error_ratio: f64) -> Option<f64> {
        let threshold = self.error_ratio_threshold(objective);
        (error_ratio > threshold).then(|| self.long.as_secs() as f64 * threshold / error_ratio)
    }
}

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
/// Below this SLO window, alert windows scale down with it.
const SCALING_FLOOR: u64 = 28 * DAY;
/// Scrape intervals every rate window holds at least.
pub const SCRAPES_PER_WINDOW: u64 = 4;

/// The Workbook's table: severity, budget share, long window (seconds).
const TABLE: [(Severity, f64, u64); 4] = [
    (Severity::Page, 0.02, HOUR),
    (Severity::Page, 0.05, 6 * HOUR),
    (Severity::Ticket, 0.10, DAY),
    (Severity::Ticket, 0.10, 3 * DAY),
];

/// The four tiers for an SLO window on series scraped every `scrape_interval`, fastest
/// first.
pub fn tiers(window: Window, scrape_interval: PromDuration) -> Vec<Tier> {
    tiers_with_floor(window, scrape_interval.as_secs() * SCRAPES_PER_WINDOW)
}

/// The shortest rate window allowed at `scrape_interval`.
pub fn rate_floor(scrape_interval: PromDuration) -> PromDuration {
    PromDuration::from_secs(scrape_interval.as_secs() * SCRAPES_PER_WINDOW)
}

/// The windows the Workbook's table gives that the scrape interval raised, as
/// `(table, used)`, deduplicated and shortest first; empty when none was.
pub fn raised_windows(
    window: Window,
    scrape_interval: PromDuration,
) -> Vec<(PromDuration, PromDuration)> {
    let table = tiers_with_floor(window, 0);
    let used = tiers(window, scrape_interval);
    let mut raised: Vec<(PromDuration, PromDuration)> = table
        .iter()
        .zip(&used)
        .flat_map(|(t, u)| [(t.short, u.short), (t.long, u.long)])
        .filter(|(t, u)| t != u)
        .collect();
    raised.sort();
    raised.dedup();
    raised
}

fn tiers_with_floor(window: Window, floor: u64) -> Vec<Tier> {
    let period = window.duration().as_secs();
    let scaled_to = period.min(SCALING_FLOOR);
    TABLE
        .iter()
        .map(|&(severity, budget_share, long)| {
            let table_long = long * scaled_to / SCALING_FLOOR;
            let long = PromDuration::from_secs(table_long.max(floor));
            let short = PromDuration::from_secs((table_long / 12).max(floor));
            let burn_rate =
                crate::promql::round_sig(budget_share * period as f64 / long.as_secs() as f64);
            Tier {
                severity,
                budget_share,
                long,
                short,
                burn_rate,
            }
        })
        .collect()
}
