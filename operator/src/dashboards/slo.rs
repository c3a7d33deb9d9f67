//! The SLO dashboard: compliance over the window, budget left, burn rate per alert window,
//! and the alerts of the SLO. Reads the series recorded by the SLO rule generator.

use serde_json::Value;

use super::panels::{
    Grid, constant_variable, dashboard, datasource_variable, query_variable, row, stat, timeseries,
    timeseries_with_thresholds,
};
use crate::promql::number;
use crate::slo_rules::rules::{PERIOD_RECORD, errors_record, ratio_record, requests_record};
use crate::slo_rules::{ABSENT_ALERT, BURN_ALERT, Severity, Tier, tiers};
use crate::validate::{Objective, PromDuration, ValidSlo, Window};

/// What the SLO dashboard is drawn for.
#[derive(Debug, Clone, PartialEq)]
pub struct SloDashboard {
    /// Preselected namespace (`None`: the generic dashboard).
    pub namespace: Option<String>,
    /// Preselected SLO.
    pub slo: Option<String>,
    /// Objective (percent) used for budget figures; editable in Grafana.
    pub objective: Objective,
    /// Window, which fixes the alert windows drawn.
    pub window: Window,
    /// Scrape interval of the indicator's series, which may raise the short windows.
    pub scrape_interval: PromDuration,
}

impl SloDashboard {
    /// The dashboard shipped in `dashboards/`: any SLO, drawn for 99.9 % over 30d by default.
    pub fn generic() -> Self {
        Self {
            namespace: None,
            slo: None,
            objective: Objective::new(99.9).expect("static objective"),
            window: Window::parse("30d").expect("static window"),
            // An MLService's default scrape interval.
            scrape_interval: PromDuration::from_secs_const(30),
        }
    }

    /// The dashboard of one SLO.
    pub fn of(slo: &ValidSlo) -> Self {
        Self {
            namespace: Some(slo.namespace.clone()),
            slo: Some(slo.name.to_string()),
            objective: slo.objective,
            window: slo.window,
            scrape_interval: slo.scrape_interval,
        }
    }
}

const IDS: &str = r#"{namespace="$namespace", slo="$slo"}"#;
const BUDGET: &str = "(1 - $objective / 100)";
/// Label matchers of the SLO shown, for `ALERTS`.
const ALERTS_OF_THE_SLO: &str = r#"namespace="$namespace", slo="$slo""#;

/// The SLO dashboard as Grafana JSON.
pub fn slo_dashboard(d: &SloDashboard) -> Value {
    let uid = match (&d.namespace, &d.slo) {
        (Some(ns), Some(slo)) => super::uid(&["tw-slo", ns, slo]),
        _ => "tidewatch-slo".to_owned(),
    };
    let title = match (&d.namespace, &d.slo) {
        (Some(ns), Some(slo)) => format!("Tidewatch / SLO / {ns} / {slo}"),
        _ => "Tidewatch / SLO".to_owned(),
    };
    let all: Vec<Tier> = tiers(d.window, d.scrape_interval);
    let panels = [compliance_row(d, &all), burn_rate_row(&all)].concat();
    let mut out = dashboard(&uid, &title, &["tidewatch", "slo"], &variables(d), &panels);
    out["description"] = Value::String(format!(
        "Objective {}% over {}",
        number(d.objective.percent()),
        d.window
    ));
    out
}

fn variables(d: &SloDashboard) -> Vec<Value> {
    vec![
        datasource_variable(),
        query_variable(
            "namespace",
            "Namespace",
            &format!("label_values({PERIOD_RECORD}, namespace)"),
            d.namespace.as_deref(),
        ),
        query_variable(
            "slo",
            "SLO",
            &format!("label_values({PERIOD_RECORD}{{namespace=\"$namespace\"}}, slo)"),
            d.slo.as_deref(),
        ),
        constant_variable("objective", "Objective (%)", &number(d.objective.percent())),
    ]
}

/// Where the SLO stands over its window: objective, SLI, budget left, the fastest burn rate,
/// alerts firing, and traffic.
fn compliance_row(d: &SloDashboard, all: &[Tier]) -> Vec<Value> {
    let shortest = all.iter().map(|t| t.short).min().expect("four tiers");
    let period = format!("{PERIOD_RECORD}{IDS}");
    let compliance = format!("1 - {period}");
    let budget_left = format!("1 - {period} / {BUDGET}");
    let page = &all[0];
    vec![
        row(1, "Compliance", 0),
        stat(
            11,
            "Objective",
            &format!("Target share of good events over {}.", d.window),
            "percentunit",
            Grid::at(0, 1, 4, 5),
            "vector($objective / 100)",
            &[(None, "blue")],
        ),
        stat(
            2,
            "SLI over the window",
            "Good events over the whole window, traffic-weighted.",
            "percentunit",
            Grid::at(4, 1, 5, 5),
            &compliance,
            &[(None, "red"), (Some(d.objective.ratio()), "green")],
        ),
        stat(
            3,
            "Error budget left",
            "Share of the window's error budget not yet spent (negative: overspent).",
            "percentunit",
            Grid::at(9, 1, 5, 5),
            &budget_left,
            &[(None, "red"), (Some(0.0), "orange"), (Some(0.25), "green")],
        ),
        stat(
            4,
            &format!("Burn rate ({})", page.long),
            &format!(
                "Budget spend speed over {}; pages above {} together with {}.",
                page.long,
                number(page.burn_rate),
                page.short
            ),
            "short",
            Grid::at(14, 1, 5, 5),
            &format!("{}{IDS} / {BUDGET}", ratio_record(page.long)),
            &[
                (None, "green"),
                (Some(1.0), "orange"),
                (Some(page.burn_rate), "red"),
            ],
        ),
        stat(
            5,
            "Alerts firing",
            "Burn-rate and missing-data alerts of this SLO firing now.",
            "short",
            Grid::at(19, 1, 5, 5),
            &format!(
                "count(ALERTS{{alertname=~\"{BURN_ALERT}|{ABSENT_ALERT}\", alertstate=\"firing\", {ALERTS_OF_THE_SLO}}}) or vector(0)"
            ),
            &[(None, "green"), (Some(1.0), "red")],
        ),
        timeseries(
            6,
            "Error budget left over time",
            "How the remaining budget evolved over the window.",
            "percentunit",
            Grid::at(0, 6, 12, 8),
            &[(&budget_left, "budget left")],
        ),
        timeseries(
            7,
            "Traffic",
            &format!("Events per second over {shortest}: all and bad."),
            "reqps",
            Grid::at(12, 6, 12, 8),
            &[
                (&format!("{}{IDS}", requests_record(shortest)), "all"),
                (&format!("{}{IDS}", errors_record(shortest)), "bad"),
            ],
        ),
    ]
}

/// The burn rate over every alert window against the tiers' thresholds, and the alerts.
fn burn_rate_row(all: &[Tier]) -> Vec<Value> {
    let burn_queries: Vec<(String, String)> = all
        .iter()
        .flat_map(|t| [t.long, t.short])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|w| {
            (
                format!("{}{IDS} / {BUDGET}", ratio_record(w)),
                format!("{w}"),
            )
        })
        .collect();
    let burn_refs: Vec<(&str, &str)> = burn_queries
        .iter()
        .map(|(e, l)| (e.as_str(), l.as_str()))
        .collect();
    let thresholds = all.iter().fold(vec![(None, "green")], |mut steps, t| {
        steps.push((
            Some(t.burn_rate),
            if t.severity == Severity::Page {
                "red"
            } else {
                "orange"
            },
        ));
        steps
    });
    vec![
        row(8, "Burn rates", 14),
        timeseries_with_thresholds(
            9,
            "Burn rate per alert window",
            "Error ratio divided by the error budget; 1 spends exactly the budget over the window. Lines at the tiers' thresholds.",
            "short",
            Grid::at(0, 15, 24, 9),
            &burn_refs,
            &thresholds,
        ),
        timeseries(
            10,
            "Alerts",
            "Firing and pending alerts of this SLO by severity and windows.",
            "short",
            Grid::at(0, 24, 24, 6),
            &[(
                &format!(
                    "sum by (alertname, severity, long_window, alertstate) (ALERTS{{alertname=~\"{BURN_ALERT}|{ABSENT_ALERT}\", {ALERTS_OF_THE_SLO}}})"
                ),
                "{{alertname}} {{severity}} {{long_window}} {{alertstate}}",
            )],
        ),
    ]
}
