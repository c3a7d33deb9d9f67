//! Multiwindow, multi-burn-rate tiers (Google SRE Workbook, "Alerting on SLOs").
//!
//! Each tier spends a share of the error budget over a long window, checked again over a
//! short window (1/12 of the long one) so that alerts reset soon after a problem ends. Burn
//! rate = budget share × SLO window ÷ long window, so 30d gives 14.4/6/3/1 and 28d gives
//! 13.44/5.6/2.8/0.933. Windows below 28d shrink in proportion (keeping the 28d rates), so
//! a 7d SLO watches 15m/75s instead of 1h/5m.

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

/// The Workbook's table: severity, budget share, long window (seconds).
const TABLE: [(Severity, f64, u64); 4] = [
    (Severity::Page, 0.02, HOUR),
    (Severity::Page, 0.05, 6 * HOUR),
    (Severity::Ticket, 0.10, DAY),
    (Severity::Ticket, 0.10, 3 * DAY),
];

/// The four tiers for an SLO window, fastest first.
pub fn tiers(window: Window) -> Vec<Tier> {
    let period = window.duration().as_secs();
    let scaled_to = period.min(SCALING_FLOOR);
    TABLE
        .iter()
        .map(|&(severity, budget_share, long)| {
            let long = PromDuration::from_secs(long * scaled_to / SCALING_FLOOR);
            let short = PromDuration::from_secs(long.as_secs() / 12);
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
