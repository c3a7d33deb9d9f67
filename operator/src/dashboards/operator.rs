//! The operator's own dashboard: reconcile rate and failures by category, reconcile duration,
//! and the objects it manages. Reads only the operator's registry (`controller::metrics`).

use serde_json::Value;

use super::panels::{Grid, dashboard, datasource_variable, query_variable, row, stat, timeseries};

/// Reconciliations by `controller`, `result` (counter, scraped with `_total`).
const RECONCILIATIONS: &str = "tidewatch_operator_reconciliations_total";
/// Failed reconciliations by `controller`, bounded `category`.
const RECONCILE_ERRORS: &str = "tidewatch_operator_reconcile_errors_total";
/// Reconcile duration histogram by `controller`.
const RECONCILE_DURATION: &str = "tidewatch_operator_reconcile_duration_seconds";
/// Managed objects by `controller`, `kind`.
const MANAGED_OBJECTS: &str = "tidewatch_operator_managed_objects";

const SEL: &str = r#"namespace="$namespace", service="$service""#;

fn q(template: &str) -> String {
    template.replace("SEL", SEL)
}

/// The operator dashboard as Grafana JSON (one for every installation: pick the namespace
/// and Service of the operator in Grafana).
pub fn operator_dashboard() -> Value {
    let panels = [
        vec![row(1, "Reconciliation", 0)],
        headline_stats(),
        history(),
    ]
    .concat();
    dashboard(
        "tidewatch-operator",
        "Tidewatch / Operator",
        &["tidewatch", "operator"],
        &variables(),
        &panels,
    )
}

fn variables() -> Vec<Value> {
    vec![
        datasource_variable(),
        query_variable(
            "namespace",
            "Namespace",
            &format!("label_values({RECONCILIATIONS}, namespace)"),
            None,
        ),
        query_variable(
            "service",
            "Service",
            &format!("label_values({RECONCILIATIONS}{{namespace=\"$namespace\"}}, service)"),
            None,
        ),
    ]
}

/// Per-second rate of counter `metric`, summed by the labels `by`.
fn rate(metric: &str, by: &str) -> String {
    q(&format!(
        "sum by ({by}) (rate({metric}{{SEL}}[$__rate_interval]))"
    ))
}

/// The `qv` quantile of the reconcile duration, by controller.
fn duration_quantile(qv: &str) -> String {
    q(&format!(
        "histogram_quantile({qv}, sum by (le, controller) (rate({RECONCILE_DURATION}_bucket{{SEL}}[$__rate_interval])))"
    ))
}

/// Now: reconcile rate, failed share, p99 duration and replicas up.
fn headline_stats() -> Vec<Value> {
    vec![
        stat(
            2,
            "Reconcile rate",
            "Reconciliations per second, all controllers.",
            "ops",
            Grid::at(0, 1, 6, 4),
            &q(&format!(
                "sum(rate({RECONCILIATIONS}{{SEL}}[$__rate_interval]))"
            )),
            &[(None, "blue")],
        ),
        stat(
            3,
            "Failed share",
            "Share of reconciliations that failed (an invalid spec is not a failure: it is reported on status).",
            "percentunit",
            Grid::at(6, 1, 6, 4),
            &q(&format!(
                "(sum(rate({RECONCILIATIONS}{{SEL, result=\"error\"}}[$__rate_interval])) or vector(0)) / sum(rate({RECONCILIATIONS}{{SEL}}[$__rate_interval]))"
            )),
            &[(None, "green"), (Some(0.01), "orange"), (Some(0.1), "red")],
        ),
        stat(
            4,
            "p99 reconcile duration",
            "99th percentile time of one reconciliation, all controllers.",
            "s",
            Grid::at(12, 1, 6, 4),
            &q(&format!(
                "histogram_quantile(0.99, sum by (le) (rate({RECONCILE_DURATION}_bucket{{SEL}}[$__rate_interval])))"
            )),
            &[(None, "green"), (Some(1.0), "orange"), (Some(10.0), "red")],
        ),
        stat(
            5,
            "Replicas up",
            "Operator replicas Prometheus scrapes successfully (one leads, the others stand by).",
            "short",
            Grid::at(18, 1, 6, 4),
            &q("sum(up{SEL})"),
            &[(None, "red"), (Some(1.0), "green")],
        ),
    ]
}

/// Over time: reconciliations by result, errors by category, durations and managed objects.
fn history() -> Vec<Value> {
    vec![
        timeseries(
            6,
            "Reconciliations by result",
            "Per second, by controller and result.",
            "ops",
            Grid::at(0, 5, 12, 8),
            &[(
                &rate(RECONCILIATIONS, "controller, result"),
                "{{controller}} {{result}}",
            )],
        ),
        timeseries(
            7,
            "Errors by category",
            "Failed reconciliations per second by controller and error category; the category names the failing step.",
            "ops",
            Grid::at(12, 5, 12, 8),
            &[(
                &rate(RECONCILE_ERRORS, "controller, category"),
                "{{controller}} {{category}}",
            )],
        ),
        timeseries(
            8,
            "Reconcile duration",
            "p50 and p99 of one reconciliation by controller.",
            "s",
            Grid::at(0, 13, 12, 8),
            &[
                (&duration_quantile("0.5"), "p50 {{controller}}"),
                (&duration_quantile("0.99"), "p99 {{controller}}"),
            ],
        ),
        timeseries(
            9,
            "Objects managed",
            "Parents and children the operator manages, by controller and kind (reported by the leader).",
            "short",
            Grid::at(12, 13, 12, 8),
            &[(
                &q(&format!(
                    "max by (controller, kind) ({MANAGED_OBJECTS}{{SEL}})"
                )),
                "{{controller}} {{kind}}",
            )],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::{MlServiceDashboard, SloDashboard, mlservice_dashboard, slo_dashboard};

    fn all() -> Vec<Value> {
        vec![
            mlservice_dashboard(&MlServiceDashboard::generic()),
            slo_dashboard(&SloDashboard::generic()),
            operator_dashboard(),
        ]
    }

    #[test]
    fn every_data_panel_has_a_unit_and_a_query() {
        for d in all() {
            for panel in d["panels"].as_array().unwrap() {
                if panel["type"] == "row" {
                    continue;
                }
                let unit = panel["fieldConfig"]["defaults"]["unit"].as_str();
                assert!(
                    unit.is_some_and(|u| !u.is_empty()),
                    "{}: {} has no unit",
                    d["title"],
                    panel["title"]
                );
                assert!(
                    !panel["targets"].as_array().unwrap().is_empty(),
                    "{}",
                    panel["title"]
                );
            }
        }
    }

    #[test]
    fn dashboards_pick_a_datasource_and_link_to_each_other() {
        for d in all() {
            let variables = d["templating"]["list"].as_array().unwrap();
            assert_eq!(variables[0]["type"], "datasource", "{}", d["title"]);
            let links = d["links"].as_array().unwrap();
            assert!(
                links
                    .iter()
                    .any(|l| l["type"] == "dashboards" && l["tags"][0] == "tidewatch"),
                "{} links to no other dashboard",
                d["title"]
            );
            assert!(d["tags"].as_array().unwrap().contains(&"tidewatch".into()));
        }
    }

    #[test]
    fn ids_are_unique() {
        for d in all() {
            let mut ids: Vec<u64> = d["panels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_u64().unwrap())
                .collect();
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), n, "{}", d["title"]);
        }
    }
}
