//! What the live figures put on an SLO's status, and when: the `BudgetExhausted` and
//! `Burning` conditions and the `live` figures, published for the update_status step only
//! when a condition flips, an alert starts or stops, or a figure moves past its threshold,
//! and at most once per SLO per interval. Pure decisions; the board itself is a map behind a
//! lock, with no I/O.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::conditions::{
    BUDGET_EXHAUSTED, BURNING, REASON_EXHAUSTED, REASON_NO_DATA, REASON_NOT_BURNING, REASON_PAGE,
    REASON_PROMETHEUS_BAD_ANSWER, REASON_PROMETHEUS_HTTP_ERROR, REASON_PROMETHEUS_TIMEOUT,
    REASON_PROMETHEUS_UNREACHABLE, REASON_TICKET, REASON_WITHIN_BUDGET,
};
use crate::api::slo::{SloFiringAlert, SloLive};
use crate::slo_rules::Severity;

use super::figures::{Exhaustion, Figures, shown};

/// Why figures could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum Trouble {
    /// Connection refused, DNS, TLS.
    Unreachable(String),
    /// No answer within the timeout.
    Timeout,
    /// An HTTP error status.
    HttpError(u16),
    /// A body that is not a query result.
    BadAnswer(String),
    /// Prometheus answered, but the SLO's recorded series hold no data yet.
    NoData,
}

impl Trouble {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => REASON_PROMETHEUS_UNREACHABLE,
            Self::Timeout => REASON_PROMETHEUS_TIMEOUT,
            Self::HttpError(_) => REASON_PROMETHEUS_HTTP_ERROR,
            Self::BadAnswer(_) => REASON_PROMETHEUS_BAD_ANSWER,
            Self::NoData => REASON_NO_DATA,
        }
    }

    /// The condition message. Bounded, without the changing details of a socket error, so
    /// that a Prometheus outage is one status write and one Event, not one per attempt.
    pub fn message(&self) -> String {
        match self {
            Self::Unreachable(what) => format!("Prometheus is unreachable: {what}"),
            Self::Timeout => "Prometheus did not answer within the timeout".into(),
            Self::HttpError(code) => format!("Prometheus answered HTTP {code}"),
            Self::BadAnswer(what) => format!("Prometheus answered no query result: {what}"),
            Self::NoData => {
                "the SLO's recorded series hold no data yet: no traffic over the window, or the rules were not evaluated yet".into()
            }
        }
    }
}

/// One of the two live conditions, before timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCondition {
    /// `BudgetExhausted` or `Burning`.
    pub type_: &'static str,
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    /// CamelCase reason.
    pub reason: String,
    /// Human message.
    pub message: String,
}

impl LiveCondition {
    fn new(type_: &'static str, status: &'static str, reason: &str, message: String) -> Self {
        Self {
            type_,
            status,
            reason: reason.to_owned(),
            message,
        }
    }
}

/// What the live figures put on one SLO's status.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The last good figures, with their read time (kept through trouble).
    pub live: Option<SloLive>,
    /// `BudgetExhausted`, `Burning`.
    pub conditions: [LiveCondition; 2],
    /// The figures behind `live`, for the threshold comparisons.
    figures: Option<Figures>,
}

impl Published {
    /// The budget left as the `BUDGET LEFT` column shows it (`73.4%`).
    pub fn budget_column(&self) -> Option<String> {
        let left = self.live.as_ref()?.error_budget_remaining?;
        Some(format!("{:.1}%", left * 100.0))
    }

    /// The trouble the conditions report, if any.
    pub fn trouble_reason(&self) -> Option<&str> {
        let burning = &self.conditions[1];
        (burning.status == "Unknown" && burning.reason != REASON_NO_DATA)
            .then_some(burning.reason.as_str())
    }
}

/// Significant digits of the SLI percentage: 99.9753 tells a 99.9 % objective's story.
const SLI_DIGITS: usize = 6;
/// Significant digits of budget shares and burn rates.
const FIGURE_DIGITS: usize = 4;

fn firing_alerts(f: &Figures) -> Vec<SloFiringAlert> {
    f.firing
        .iter()
        .map(|a| SloFiringAlert {
            alertname: a.alertname.clone(),
            severity: a.severity.clone(),
            long_window: a.long_window.clone(),
            short_window: a.short_window.clone(),
        })
        .collect()
}

fn live_of(f: &Figures, read_at: &str) -> SloLive {
    SloLive {
        sli: Some(shown(f.sli * 100.0, SLI_DIGITS)),
        error_budget_remaining: Some(shown(f.budget_remaining, FIGURE_DIGITS)),
        error_budget_spent: Some(shown(f.budget_spent, FIGURE_DIGITS)),
        burn_rates: f
            .burn_rates
            .iter()
            .map(|(w, b)| (w.clone(), shown(*b, FIGURE_DIGITS)))
            .collect(),
        budget_exhausted_in: Some(f.exhaustion.describe()),
        firing_alerts: firing_alerts(f),
        observed_at: Some(read_at.to_owned()),
    }
}

fn burning(f: &Figures) -> LiveCondition {
    let windows = |severity: Severity| -> Vec<String> {
        f.firing
            .iter()
            .filter(|a| a.burns(severity))
            .map(|a| format!("{}/{}", a.long_window, a.short_window))
            .collect()
    };
    let (page, ticket) = (windows(Severity::Page), windows(Severity::Ticket));
    if !page.is_empty() {
        LiveCondition::new(
            BURNING,
            "True",
            REASON_PAGE,
            format!("page-tier burn alert firing over {}", page.join(", ")),
        )
    } else if !ticket.is_empty() {
        LiveCondition::new(
            BURNING,
            "True",
            REASON_TICKET,
            format!("ticket-tier burn alert firing over {}", ticket.join(", ")),
        )
    } else {
        LiveCondition::new(
            BURNING,
            "False",
            REASON_NOT_BURNING,
            "no burn-rate alert fires".into(),
        )
    }
}

fn exhausted(f: &Figures) -> LiveCondition {
    let left = format!(
        "{:.1}% of the error budget left",
        f.budget_remaining * 100.0
    );
    if f.exhaustion == Exhaustion::Exhausted {
        LiveCondition::new(BUDGET_EXHAUSTED, "True", REASON_EXHAUSTED, left)
    } else {
        LiveCondition::new(BUDGET_EXHAUSTED, "False", REASON_WITHIN_BUDGET, left)
    }
}

/// What to publish after a successful read.
pub fn from_figures(f: Figures, read_at: &str) -> Published {
    Published {
        live: Some(live_of(&f, read_at)),
        conditions: [exhausted(&f), burning(&f)],
        figures: Some(f),
    }
}

/// What to publish when the figures could not be read: both conditions `Unknown` with the
/// reason, the last good figures kept with their read time.
pub fn from_trouble(previous: Option<&Published>, trouble: &Trouble) -> Published {
    let (live, figures) = previous.map_or((None, None), |p| (p.live.clone(), p.figures.clone()));
    let since = live
        .as_ref()
        .and_then(|l| l.observed_at.clone())
        .map_or_else(
            || "no figures read yet".to_owned(),
            |t| format!("figures as read at {t}"),
        );
    let message = format!("{}; {since}", trouble.message());
    Published {
        live,
        conditions: [BUDGET_EXHAUSTED, BURNING]
            .map(|type_| LiveCondition::new(type_, "Unknown", trouble.reason(), message.clone())),
        figures,
    }
}

/// When a changed figure is worth a status write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Budget left moved by at least this share of the budget (0.01: one percentage point).
    pub budget: f64,
    /// A burn rate moved by at least this much, absolute...
    pub burn_absolute: f64,
    /// ...and by at least this share of its previous value.
    pub burn_relative: f64,
    /// At most one publication per SLO per this interval.
    pub min_interval: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            budget: 0.01,
            burn_absolute: 0.5,
            burn_relative: 0.25,
            min_interval: Duration::from_secs(60),
        }
    }
}

/// Whether `candidate` differs from `current` enough to be written: a condition flips or
/// changes reason, an alert starts or stops, the exhaustion outlook changes kind, or a figure
/// moves past its threshold. Read times alone never count.
pub fn differs(current: &Published, candidate: &Published, t: &Thresholds) -> bool {
    let flips = current
        .conditions
        .iter()
        .zip(&candidate.conditions)
        .any(|(a, b)| a.status != b.status || a.reason != b.reason);
    if flips {
        return true;
    }
    match (&current.figures, &candidate.figures) {
        (None, None) => false,
        (Some(a), Some(b)) => figures_moved(a, b, t),
        _ => true,
    }
}

fn figures_moved(a: &Figures, b: &Figures, t: &Thresholds) -> bool {
    use std::mem::discriminant;
    if a.firing != b.firing || discriminant(&a.exhaustion) != discriminant(&b.exhaustion) {
        return true;
    }
    if (a.budget_remaining - b.budget_remaining).abs() >= t.budget {
        return true;
    }
    if a.burn_rates.keys().ne(b.burn_rates.keys()) {
        return true;
    }
    a.burn_rates
        .iter()
        .zip(&b.burn_rates)
        .any(|((_, x), (_, y))| {
            let delta = (x - y).abs();
            delta >= t.burn_absolute && delta >= t.burn_relative * x.abs()
        })
}

/// A key of the board: an SLO's namespace and name.
pub type SloKey = (String, String);

#[derive(Debug, Clone)]
struct Entry {
    published: Published,
    at: Instant,
}

/// The published figures of every SLO, shared by the poller (which publishes) and the SLO
/// reconciliation (which writes them to status).
#[derive(Debug, Default)]
pub struct Board {
    entries: Mutex<HashMap<SloKey, Entry>>,
}

impl Board {
    /// What is published for an SLO.
    pub fn get(&self, key: &SloKey) -> Option<Published> {
        self.lock().get(key).map(|e| e.published.clone())
    }

    /// Publishes `candidate` if it differs from what is published past `thresholds` and the
    /// last publication is at least `min_interval` old. Returns whether it was published:
    /// the caller then asks for the SLO to be reconciled.
    pub fn offer(&self, key: SloKey, candidate: Published, now: Instant, t: &Thresholds) -> bool {
        let mut entries = self.lock();
        let due = match entries.get(&key) {
            None => true,
            Some(e) => {
                differs(&e.published, &candidate, t)
                    && now.saturating_duration_since(e.at) >= t.min_interval
            }
        };
        if due {
            entries.insert(
                key,
                Entry {
                    published: candidate,
                    at: now,
                },
            );
        }
        due
    }

    /// Forgets SLOs that no longer exist.
    pub fn retain(&self, keep: impl Fn(&SloKey) -> bool) {
        self.lock().retain(|k, _| keep(k));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SloKey, Entry>> {
        // A panic while holding the lock leaves plain data behind, still consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::live::figures::FiringAlert;

    fn figures(budget_remaining: f64, burn_1h: f64) -> Figures {
        Figures {
            sli: 1.0 - (1.0 - budget_remaining) * 0.001,
            budget_remaining,
            budget_spent: 1.0 - budget_remaining,
            burn_rates: BTreeMap::from([("1h".to_owned(), burn_1h)]),
            current_burn: Some(burn_1h),
            exhaustion: super::super::figures::exhaustion(
                budget_remaining,
                Some(burn_1h),
                2_592_000.0,
            ),
            firing: Vec::new(),
        }
    }

    fn page_alert() -> FiringAlert {
        FiringAlert {
            alertname: "SLOErrorBudgetBurn".into(),
            severity: "page".into(),
            long_window: "1h".into(),
            short_window: "5m".into(),
        }
    }

    const READ: &str = "2026-12-04T01:00:00Z";

    #[test]
    fn conditions_follow_the_figures() {
        let calm = from_figures(figures(0.8, 0.4), READ);
        assert_eq!(calm.conditions[0].status, "False");
        assert_eq!(calm.conditions[0].reason, REASON_WITHIN_BUDGET);
        assert_eq!(calm.conditions[1].reason, REASON_NOT_BURNING);
        assert_eq!(calm.budget_column().as_deref(), Some("80.0%"));

        let mut paging = figures(-0.1, 20.0);
        paging.firing = vec![page_alert()];
        let p = from_figures(paging, READ);
        assert_eq!(
            (p.conditions[0].status, p.conditions[0].reason.as_str()),
            ("True", REASON_EXHAUSTED)
        );
        assert_eq!(
            (p.conditions[1].status, p.conditions[1].reason.as_str()),
            ("True", REASON_PAGE)
        );
        assert!(p.conditions[1].message.contains("1h/5m"));
        assert_eq!(p.live.as_ref().unwrap().firing_alerts[0].severity, "page");
    }

    #[test]
    fn trouble_keeps_the_last_figures_and_their_time() {
        let good = from_figures(figures(0.8, 0.4), READ);
        let down = from_trouble(
            Some(&good),
            &Trouble::Unreachable("connection refused".into()),
        );
        assert_eq!(down.live, good.live, "figures kept with their read time");
        assert!(down.conditions.iter().all(|c| c.status == "Unknown"));
        assert_eq!(down.conditions[1].reason, REASON_PROMETHEUS_UNREACHABLE);
        assert!(down.conditions[1].message.contains(READ));
        assert_eq!(down.trouble_reason(), Some(REASON_PROMETHEUS_UNREACHABLE));
        assert_eq!(
            from_trouble(None, &Trouble::Timeout).conditions[0].reason,
            REASON_PROMETHEUS_TIMEOUT
        );
        assert_eq!(
            from_trouble(None, &Trouble::HttpError(503)).conditions[0].message,
            "Prometheus answered HTTP 503; no figures read yet"
        );
        assert_eq!(from_trouble(None, &Trouble::NoData).trouble_reason(), None);
    }

    #[test]
    fn small_moves_and_read_times_are_not_written() {
        let t = Thresholds::default();
        let a = from_figures(figures(0.8, 0.4), READ);
        let later = from_figures(figures(0.795, 0.8), "2026-12-04T01:05:00Z");
        assert!(
            !differs(&a, &later, &t),
            "0.5 pp of budget and 0.4x of burn are noise"
        );
        let budget_moved = from_figures(figures(0.79, 0.4), READ);
        assert!(
            differs(&a, &budget_moved, &t),
            "one percentage point of budget"
        );
        let burn_moved = from_figures(figures(0.8, 1.0), READ);
        assert!(
            differs(&a, &burn_moved, &t),
            "0.4x → 1.0x is past 0.5 and 25 %"
        );
        let high = from_figures(figures(0.5, 10.0), READ);
        let high_noise = from_figures(figures(0.5, 11.0), READ);
        assert!(!differs(&high, &high_noise, &t), "10x → 11x is under 25 %");
        let mut alerting = figures(0.8, 0.4);
        alerting.firing = vec![page_alert()];
        assert!(
            differs(&a, &from_figures(alerting, READ), &t),
            "an alert starts"
        );
        assert!(differs(&a, &from_trouble(Some(&a), &Trouble::Timeout), &t));
    }

    #[test]
    fn the_board_publishes_at_most_once_per_interval() {
        let t = Thresholds::default();
        let board = Board::default();
        let key: SloKey = ("fraud".into(), "availability".into());
        let t0 = Instant::now();
        assert!(board.offer(key.clone(), from_figures(figures(0.8, 0.4), READ), t0, &t));
        // The same figures again: nothing to write, however late.
        let same = from_figures(figures(0.8, 0.4), "2026-12-04T02:00:00Z");
        assert!(!board.offer(key.clone(), same, t0 + Duration::from_secs(3_600), &t));
        // A flip 10 s later waits for the interval...
        let flipped = from_trouble(board.get(&key).as_ref(), &Trouble::Timeout);
        assert!(!board.offer(
            key.clone(),
            flipped.clone(),
            t0 + Duration::from_secs(10),
            &t
        ));
        assert_eq!(
            board.get(&key).unwrap().conditions[1].reason,
            REASON_NOT_BURNING
        );
        // ...and goes out once it has passed.
        assert!(board.offer(key.clone(), flipped, t0 + Duration::from_secs(60), &t));
        assert_eq!(
            board.get(&key).unwrap().conditions[1].reason,
            REASON_PROMETHEUS_TIMEOUT
        );
        board.retain(|_| false);
        assert!(board.get(&key).is_none());
    }
}
