//! The operator's own metrics, in a registry passed explicitly. Names are a contract with
//! `alerts/operator.rules.yaml`; they change only together.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Which controller a series belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ControllerName {
    mlservice,
    slo,
}

/// Outcome of one reconciliation. An invalid spec is a `success`: the operator did its job by
/// reporting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ReconcileResult {
    success,
    error,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    controller: ControllerName,
    result: ReconcileResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ErrorLabels {
    controller: ControllerName,
    category: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ControllerLabels {
    controller: ControllerName,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    controller: ControllerName,
    kind: String,
}

/// Handles on every metric; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    reconciliations: Family<ResultLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<ControllerLabels, Histogram>,
    managed: Family<KindLabels, Gauge>,
}

/// Reconcile durations: a converged object takes milliseconds (cache reads only), a
/// reconciliation that applies children takes one round trip per child, and anything past
/// 10 s means the API server is struggling.
fn duration_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconciliations: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            managed: Family::default(),
        };
        registry.register(
            "tidewatch_operator_reconciliations",
            "Reconciliations by controller and result",
            metrics.reconciliations.clone(),
        );
        registry.register(
            "tidewatch_operator_reconcile_errors",
            "Failed reconciliations by controller and bounded error category",
            metrics.errors.clone(),
        );
        registry.register(
            "tidewatch_operator_reconcile_duration_seconds",
            "Time spent in one reconciliation",
            metrics.duration.clone(),
        );
        registry.register(
            "tidewatch_operator_managed_objects",
            "Objects the operator manages, by controller and kind (parents and children)",
            metrics.managed.clone(),
        );
        metrics
    }

    /// Records one finished reconciliation.
    pub fn reconciled(
        &self,
        controller: ControllerName,
        seconds: f64,
        error_category: Option<&'static str>,
    ) {
        let result = if error_category.is_some() {
            ReconcileResult::error
        } else {
            ReconcileResult::success
        };
        self.reconciliations
            .get_or_create(&ResultLabels { controller, result })
            .inc();
        if let Some(category) = error_category {
            self.errors
                .get_or_create(&ErrorLabels {
                    controller,
                    category,
                })
                .inc();
        }
        self.duration
            .get_or_create(&ControllerLabels { controller })
            .observe(seconds);
    }

    /// Sets how many objects of `kind` the controller manages.
    pub fn set_managed(&self, controller: ControllerName, kind: &str, count: usize) {
        self.managed
            .get_or_create(&KindLabels {
                controller,
                kind: kind.to_owned(),
            })
            .set(count as i64);
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn every_name_the_alerts_use_is_exposed() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        metrics.reconciled(ControllerName::mlservice, 0.02, None);
        metrics.reconciled(ControllerName::slo, 0.5, Some("apply_forbidden"));
        metrics.set_managed(ControllerName::mlservice, "Deployment", 3);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for expected in [
            r#"tidewatch_operator_reconciliations_total{controller="mlservice",result="success"} 1"#,
            r#"tidewatch_operator_reconciliations_total{controller="slo",result="error"} 1"#,
            r#"tidewatch_operator_reconcile_errors_total{controller="slo",category="apply_forbidden"} 1"#,
            r#"tidewatch_operator_reconcile_duration_seconds_bucket{le="0.025",controller="mlservice"} 1"#,
            r#"tidewatch_operator_managed_objects{controller="mlservice",kind="Deployment"} 3"#,
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        let alerts = include_str!("../../../alerts/operator.rules.yaml");
        for name in regex::Regex::new(r"tidewatch_operator_[a-z_]+")
            .unwrap()
            .find_iter(alerts)
        {
            assert!(
                text.contains(name.as_str()),
                "alerts use {} which is not exposed",
                name.as_str()
            );
        }
    }
}
