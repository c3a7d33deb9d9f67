//! The three reads of a poll, one per figure for every SLO at once (the recording rules carry
//! `namespace` and `slo`), and their answers sorted by SLO: the period error ratio, the error
//! ratio of every window, and the firing alerts. Pure, apart from the client it is handed.

use std::collections::HashMap;

use super::board::{SloKey, Trouble};
use super::client::{Alert, Prometheus, Sample};
use super::figures::{FiringAlert, Readings};
use crate::promql::{quote, regex_literal};
use crate::slo_rules::rules::{PERIOD_RECORD, RECORD_PREFIX};
use crate::slo_rules::{ABSENT_ALERT, BURN_ALERT};

/// Prefix of the recorded error ratio of each window (`…:rate5m`, `…:rate1h`).
fn ratio_prefix() -> String {
    format!("{RECORD_PREFIX}:error_ratio:rate")
}

/// Matchers that scope a read to one namespace, or none for every namespace.
fn scope_matchers(namespace: Option<&str>) -> String {
    namespace.map_or_else(String::new, |ns| format!(", namespace={}", quote(ns)))
}

/// The traffic-weighted error ratio over each SLO's window: the series the dashboard's
/// "SLI over the window" and "Error budget left" panels read.
pub fn period_query(namespace: Option<&str>) -> String {
    format!(
        "{{__name__={}{}}}",
        quote(PERIOD_RECORD),
        scope_matchers(namespace)
    )
}

/// The error ratio of every alert window of every SLO, in one query.
pub fn window_ratios_query(namespace: Option<&str>) -> String {
    format!(
        "{{__name__=~{}{}}}",
        quote(&format!("{}.+", regex_literal(&ratio_prefix()))),
        scope_matchers(namespace)
    )
}

/// The answers of one poll, by SLO.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    by_slo: HashMap<SloKey, Readings>,
}

impl Snapshot {
    /// The readings of one SLO (empty when Prometheus knows nothing of it).
    pub fn readings(&self, key: &SloKey) -> Readings {
        self.by_slo.get(key).cloned().unwrap_or_default()
    }

    /// Sorts the three answers by SLO.
    pub fn from_answers(period: &[Sample], ratios: &[Sample], alerts: &[Alert]) -> Self {
        let mut by_slo: HashMap<SloKey, Readings> = HashMap::new();
        for s in period {
            if let Some(key) = key_of(&s.labels) {
                by_slo.entry(key).or_default().period_error_ratio = Some(s.value);
            }
        }
        let prefix = ratio_prefix();
        for s in ratios {
            let window = s
                .labels
                .get("__name__")
                .and_then(|n| n.strip_prefix(&prefix));
            if let (Some(key), Some(window)) = (key_of(&s.labels), window) {
                by_slo
                    .entry(key)
                    .or_default()
                    .window_error_ratios
                    .insert(window.to_owned(), s.value);
            }
        }
        for a in alerts.iter().filter(|a| a.state == "firing") {
            let name = a.labels.get("alertname").map(String::as_str);
            if !matches!(name, Some(n) if n == BURN_ALERT || n == ABSENT_ALERT) {
                continue;
            }
            if let Some(key) = key_of(&a.labels) {
                let get = |k: &str| a.labels.get(k).cloned().unwrap_or_default();
                by_slo.entry(key).or_default().firing.push(FiringAlert {
                    alertname: get("alertname"),
                    severity: get("severity"),
                    long_window: get("long_window"),
                    short_window: get("short_window"),
                });
            }
        }
        Self { by_slo }
    }

    /// Reads the three answers, concurrently; the first failure is the poll's trouble.
    pub async fn read(prometheus: &Prometheus, namespace: Option<&str>) -> Result<Self, Trouble> {
        let (period_expr, ratios_expr) = (period_query(namespace), window_ratios_query(namespace));
        let (period, ratios, alerts) = futures::join!(
            prometheus.query(&period_expr),
            prometheus.query(&ratios_expr),
            prometheus.alerts(),
        );
        let alerts: Vec<Alert> = alerts?
            .into_iter()
            .filter(|a| {
                namespace.is_none_or(|ns| a.labels.get("namespace").map(String::as_str) == Some(ns))
            })
            .collect();
        Ok(Self::from_answers(&period?, &ratios?, &alerts))
    }
}

fn key_of(labels: &std::collections::BTreeMap<String, String>) -> Option<SloKey> {
    Some((labels.get("namespace")?.clone(), labels.get("slo")?.clone()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn sample(labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
        }
    }

    #[test]
    fn one_query_per_figure_covers_every_slo() {
        assert_eq!(
            period_query(None),
            r#"{__name__="tidewatch_slo:error_ratio:period"}"#
        );
        assert_eq!(
            window_ratios_query(Some("fraud")),
            r#"{__name__=~"tidewatch_slo:error_ratio:rate.+", namespace="fraud"}"#
        );
    }

    #[test]
    fn answers_are_sorted_by_slo() {
        let period = [
            sample(&[("namespace", "a"), ("slo", "x")], 0.001),
            sample(&[("namespace", "b"), ("slo", "x")], 0.002),
            sample(&[("slo", "orphan")], 0.5),
        ];
        let ratios = [
            sample(
                &[
                    ("__name__", "tidewatch_slo:error_ratio:rate5m"),
                    ("namespace", "a"),
                    ("slo", "x"),
                ],
                0.01,
            ),
            sample(
                &[
                    ("__name__", "tidewatch_slo:error_ratio:rate1h"),
                    ("namespace", "a"),
                    ("slo", "x"),
                ],
                0.02,
            ),
        ];
        let alert = |name: &str, state: &str| Alert {
            labels: BTreeMap::from([
                ("alertname".to_owned(), name.to_owned()),
                ("namespace".to_owned(), "a".to_owned()),
                ("slo".to_owned(), "x".to_owned()),
                ("severity".to_owned(), "page".to_owned()),
                ("long_window".to_owned(), "1h".to_owned()),
                ("short_window".to_owned(), "5m".to_owned()),
            ]),
            state: state.to_owned(),
        };
        let alerts = [
            alert(BURN_ALERT, "firing"),
            alert(BURN_ALERT, "pending"),
            alert("SomethingElse", "firing"),
        ];
        let snap = Snapshot::from_answers(&period, &ratios, &alerts);
        let ax = snap.readings(&("a".into(), "x".into()));
        assert_eq!(ax.period_error_ratio, Some(0.001));
        assert_eq!(ax.window_error_ratios["5m"], 0.01);
        assert_eq!(ax.window_error_ratios["1h"], 0.02);
        assert_eq!(
            ax.firing.len(),
            1,
            "pending and foreign alerts are left out"
        );
        assert_eq!(ax.firing[0].long_window, "1h");
        let bx = snap.readings(&("b".into(), "x".into()));
        assert_eq!(bx.period_error_ratio, Some(0.002));
        assert!(bx.window_error_ratios.is_empty() && bx.firing.is_empty());
        assert_eq!(
            snap.readings(&("c".into(), "y".into())),
            Readings::default()
        );
    }
}
