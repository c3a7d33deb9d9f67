//! The figures of one SLO from what Prometheus answered: the SLI over the window, the error
//! budget left and spent, the burn rate over each alert window, the alerts firing, and when
//! the budget runs out at the current burn. Pure arithmetic; no I/O.

use std::collections::BTreeMap;

use crate::promql::round_sig;
use crate::slo_rules::{ABSENT_ALERT, BURN_ALERT, Severity, Tier, tiers};
use crate::validate::{Objective, PromDuration, ValidSlo, Window};

/// What the figures of one SLO are computed from, taken from its validated spec.
#[derive(Debug, Clone, PartialEq)]
pub struct SloTerms {
    /// Allowed ratio of bad events.
    pub objective: Objective,
    /// Compliance window.
    pub window: Window,
    /// The alert tiers, fastest first (their windows are the burn-rate windows).
    pub tiers: Vec<Tier>,
}

impl SloTerms {
    /// The terms of a validated SLO.
    pub fn of(slo: &ValidSlo) -> Self {
        Self {
            objective: slo.objective,
            window: slo.window,
            tiers: tiers(slo.window, slo.scrape_interval),
        }
    }

    /// Every alert window, shortest first.
    pub fn windows(&self) -> Vec<PromDuration> {
        let mut all: Vec<PromDuration> =
            self.tiers.iter().flat_map(|t| [t.short, t.long]).collect();
        all.sort();
        all.dedup();
        all
    }
}

/// One alert of the SLO firing now.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FiringAlert {
    /// `SLOErrorBudgetBurn` or `SLOMetricsAbsent`.
    pub alertname: String,
    /// `page` or `ticket`.
    pub severity: String,
    /// Long window of a burn alert (empty for the absent alert).
    pub long_window: String,
    /// Short window of a burn alert (empty for the absent alert).
    pub short_window: String,
}

impl FiringAlert {
    /// Whether this is a burn alert of `severity`.
    pub fn burns(&self, severity: Severity) -> bool {
        self.alertname == BURN_ALERT && self.severity == severity.as_str()
    }

    /// Whether this is the missing-data alert.
    pub fn is_absent(&self) -> bool {
        self.alertname == ABSENT_ALERT
    }
}

/// What Prometheus answered about one SLO.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    /// Traffic-weighted error ratio over the window (`None`: no data yet).
    pub period_error_ratio: Option<f64>,
    /// Error ratio per alert window, keyed by the window as recorded (`5m`, `1h`).
    pub window_error_ratios: BTreeMap<String, f64>,
    /// Alerts of the SLO firing now.
    pub firing: Vec<FiringAlert>,
}

/// When the budget runs out at the current burn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exhaustion {
    /// Nothing is left.
    Exhausted,
    /// At a burn rate of 1 or less the rolling window spends at most its whole budget, so
    /// the budget does not run out while the burn stays there.
    NotAtThisRate,
    /// In this many seconds, if no error left the window meanwhile (the cautious reading).
    In(f64),
}

impl Exhaustion {
    /// As shown on status: `exhausted`, `not at this rate`, or a duration such as `2d3h`.
    pub fn describe(self) -> String {
        match self {
            Self::Exhausted => "exhausted".into(),
            Self::NotAtThisRate => "not at this rate".into(),
            Self::In(seconds) => coarse_duration(seconds),
        }
    }
}

/// The figures of one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// Good events over the window, as a ratio (0.9993).
    pub sli: f64,
    /// Share of the error budget left; negative once overspent.
    pub budget_remaining: f64,
    /// Share of the error budget spent.
    pub budget_spent: f64,
    /// Error ratio over each alert window divided by the error budget.
    pub burn_rates: BTreeMap<String, f64>,
    /// Burn rate over the fastest page tier's long window: the "current" burn.
    pub current_burn: Option<f64>,
    /// When the budget runs out at the current burn.
    pub exhaustion: Exhaustion,
    /// Alerts of the SLO firing now, sorted.
    pub firing: Vec<FiringAlert>,
}

/// The figures from `readings`, or `None` when the period ratio has no data yet (no traffic
/// recorded over the window, or rules not evaluated yet).
pub fn compute(terms: &SloTerms, readings: &Readings) -> Option<Figures> {
    let period = readings.period_error_ratio.filter(|r| r.is_finite())?;
    let budget = terms.objective.error_budget();
    let budget_spent = period / budget;
    let budget_remaining = 1.0 - budget_spent;
    let burn_rates: BTreeMap<String, f64> = terms
        .windows()
        .iter()
        .filter_map(|w| {
            let key = w.to_string();
            let ratio = readings.window_error_ratios.get(&key)?;
            ratio.is_finite().then(|| (key, ratio / budget))
        })
        .collect();
    let current_window = terms.tiers.first().map(|t| t.long.to_string());
    let current_burn = current_window.and_then(|w| burn_rates.get(&w).copied());
    let exhaustion = exhaustion(
        budget_remaining,
        current_burn,
        terms.window.duration().as_secs() as f64,
    );
    let mut firing = readings.firing.clone();
    firing.sort();
    firing.dedup();
    Some(Figures {
        sli: 1.0 - period,
        budget_remaining,
        budget_spent,
        burn_rates,
        current_burn,
        exhaustion,
        firing,
    })
}

/// Time left at burn rate `burn`: a burn rate b spends the whole budget in window / b, so
/// the share `remaining` lasts `remaining × window / b`.
pub fn exhaustion(remaining: f64, burn: Option<f64>, window_seconds: f64) -> Exhaustion {
    if remaining <= 0.0 {
        return Exhaustion::Exhausted;
    }
    match burn {
        Some(b) if b > 1.0 => Exhaustion::In(remaining * window_seconds / b),
        _ => Exhaustion::NotAtThisRate,
    }
}

/// A duration in its two largest units (`2d3h`, `5h12m`, `14m`), rounded down: the estimate
/// is not precise to the second, and a value that changes every read would force writes.
pub fn coarse_duration(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut out = String::new();
    let mut rest = total;
    let mut shown = 0;
    for (unit, size) in units {
        if rest >= size && shown < 2 {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
            shown += 1;
        } else if shown > 0 {
            shown = 2;
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// `value` to `digits` significant digits, as status shows it: enough to read, few enough
/// that noise in the last digits does not look like news.
pub fn shown(value: f64, digits: usize) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let precision = digits.saturating_sub(1);
    let rounded: f64 = format!("{value:.precision$e}").parse().unwrap_or(value);
    round_sig(rounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(objective: f64, window: &str) -> SloTerms {
        let window = Window::parse(window).unwrap();
        SloTerms {
            objective: Objective::new(objective).unwrap(),
            window,
            tiers: tiers(window, PromDuration::from_secs(30)),
        }
    }

    fn readings(period: f64, ratios: &[(&str, f64)]) -> Readings {
        Readings {
            period_error_ratio: Some(period),
            window_error_ratios: ratios.iter().map(|(w, r)| ((*w).to_owned(), *r)).collect(),
            firing: Vec::new(),
        }
    }

    #[test]
    fn budget_follows_the_period_error_ratio() {
        let f = compute(&terms(99.9, "30d"), &readings(0.00025, &[])).unwrap();
        assert!((f.sli - 0.99975).abs() < 1e-12);
        assert!((f.budget_spent - 0.25).abs() < 1e-9);
        assert!((f.budget_remaining - 0.75).abs() < 1e-9);
        let over = compute(&terms(99.9, "30d"), &readings(0.0015, &[])).unwrap();
        assert!(
            (over.budget_remaining + 0.5).abs() < 1e-9,
            "overspent is negative"
        );
        assert_eq!(over.exhaustion, Exhaustion::Exhausted);
    }

    #[test]
    fn burn_rates_cover_the_slo_windows_only() {
        let r = readings(
            0.0,
            &[("5m", 0.0144), ("1h", 0.00144), ("7m", 0.5), ("3d", 0.001)],
        );
        let f = compute(&terms(99.9, "30d"), &r).unwrap();
        assert_eq!(
            f.burn_rates.len(),
            3,
            "7m is not a window of this SLO: {f:?}"
        );
        assert!((f.burn_rates["5m"] - 14.4).abs() < 1e-9);
        assert!((f.burn_rates["1h"] - 1.44).abs() < 1e-9);
        assert!((f.burn_rates["3d"] - 1.0).abs() < 1e-9);
        assert_eq!(f.current_burn, Some(f.burn_rates["1h"]));
    }

    #[test]
    fn no_data_is_not_a_figure() {
        assert_eq!(compute(&terms(99.9, "30d"), &Readings::default()), None);
        assert_eq!(compute(&terms(99.9, "30d"), &readings(f64::NAN, &[])), None);
    }

    #[test]
    fn exhaustion_at_the_current_burn() {
        let month = 30.0 * 86_400.0;
        // Half the budget left, burning 2x: the whole budget would last 15 days, half 7.5.
        assert_eq!(
            exhaustion(0.5, Some(2.0), month),
            Exhaustion::In(7.5 * 86_400.0)
        );
        assert_eq!(exhaustion(0.5, Some(1.0), month), Exhaustion::NotAtThisRate);
        assert_eq!(exhaustion(0.5, Some(0.0), month), Exhaustion::NotAtThisRate);
        assert_eq!(exhaustion(0.5, None, month), Exhaustion::NotAtThisRate);
        assert_eq!(exhaustion(0.0, Some(0.1), month), Exhaustion::Exhausted);
        // 14.4x (the page threshold) with all of the budget: 30d / 14.4 = 50 hours.
        assert_eq!(exhaustion(1.0, Some(14.4), month).describe(), "2d2h");
    }

    #[test]
    fn durations_are_coarse() {
        assert_eq!(coarse_duration(7.5 * 86_400.0), "7d12h");
        assert_eq!(coarse_duration(86_400.0 + 59.0), "1d");
        assert_eq!(coarse_duration(3_600.0 * 5.0 + 754.0), "5h12m");
        assert_eq!(coarse_duration(42.0), "42s");
        assert_eq!(coarse_duration(0.2), "0s");
    }

    #[test]
    fn shown_values_keep_four_digits() {
        assert_eq!(shown(0.734_567, 4), 0.7346);
        assert_eq!(shown(14.400_000_1, 4), 14.4);
        assert_eq!(shown(-0.512_34, 4), -0.5123);
        assert_eq!(shown(0.0, 4), 0.0);
        assert_eq!(shown(99.975_31, 6), 99.9753);
    }
}
