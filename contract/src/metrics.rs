//! The inference server's metric contract (DESIGN.md): the names that the SLO rules, alerts
//! and dashboards query, with their type and labels. A counter is named as Prometheus stores
//! its samples (`_total`), a histogram without its `_bucket`, `_sum` and `_count` suffixes.
//! Low-cardinality labels only: never a user or transaction id.

/// HTTP requests answered, by `route`, `method`, `code`.
pub const REQUESTS_TOTAL_METRIC: &str = "tidewatch_requests_total";
/// Request duration in seconds, by `route`, `method`.
pub const REQUEST_DURATION_METRIC: &str = "tidewatch_request_duration_seconds";
/// Requests being served.
pub const REQUESTS_IN_FLIGHT_METRIC: &str = "tidewatch_requests_in_flight";
/// Predictions by `model`, `version`, `decision` (approve, review, block).
pub const PREDICTIONS_TOTAL_METRIC: &str = "tidewatch_predictions_total";
/// Fraud probability returned, by `model`, `version`.
pub const PREDICTION_SCORE_METRIC: &str = "tidewatch_prediction_score";
/// One batched forward pass of the model in seconds, by `model`, `version`, `device`.
pub const INFERENCE_DURATION_METRIC: &str = "tidewatch_inference_duration_seconds";
/// Feature-store lookups by `result` (hit, miss, error, timeout, skipped).
pub const FEATURE_STORE_REQUESTS_METRIC: &str = "tidewatch_feature_store_requests_total";
/// One feature-store lookup in seconds, timeouts included.
pub const FEATURE_STORE_DURATION_METRIC: &str = "tidewatch_feature_store_duration_seconds";
/// Population stability index by `model`, `feature`.
pub const FEATURE_DRIFT_METRIC: &str = "tidewatch_feature_drift_psi";
/// Constant 1 by `model`, `version`, `device`.
pub const MODEL_INFO_METRIC: &str = "tidewatch_model_info";
/// Amount of the transactions scored, in units of their currency, by `model`, `version`,
/// `decision` and `currency` (one of [`CURRENCY_LABEL_VALUES`]).
pub const TRANSACTION_AMOUNT_METRIC: &str = "tidewatch_transaction_amount_total";
/// Labelled feedback joined to a prediction, by `model`, `version`, `outcome` (fraud,
/// legitimate).
pub const FEEDBACK_TOTAL_METRIC: &str = "tidewatch_feedback_total";
/// Feedback that matched no joinable prediction, by `reason` (unknown, expired, duplicate).
pub const FEEDBACK_UNMATCHED_METRIC: &str = "tidewatch_feedback_unmatched_total";
/// Predictions held for joining feedback (bounded by the configured capacity).
pub const FEEDBACK_PENDING_METRIC: &str = "tidewatch_feedback_pending_predictions";
/// Precision over the quality window, by `model`, `version`, `threshold` (review, block).
pub const MODEL_PRECISION_METRIC: &str = "tidewatch_model_precision";
/// Recall over the quality window, by `model`, `version`, `threshold`.
pub const MODEL_RECALL_METRIC: &str = "tidewatch_model_recall";
/// False-positive rate over the quality window, by `model`, `version`, `threshold`.
pub const MODEL_FALSE_POSITIVE_RATE_METRIC: &str = "tidewatch_model_false_positive_rate";
/// Labels in the quality window, by `model`, `version`.
pub const MODEL_QUALITY_LABELS_METRIC: &str = "tidewatch_model_quality_window_labels";
/// Feature-store circuit breaker: 0 closed, 1 open, 2 half-open.
pub const FEATURE_STORE_BREAKER_METRIC: &str = "tidewatch_feature_store_breaker_state";
/// 1 when GPU telemetry is live, else 0.
pub const GPU_TELEMETRY_METRIC: &str = "tidewatch_gpu_telemetry_available";
/// GPU busy share over the last sample period, by `gpu`, `uuid`.
pub const GPU_UTILIZATION_METRIC: &str = "tidewatch_gpu_utilization_ratio";
/// GPU memory in use, bytes, by `gpu`, `uuid`.
pub const GPU_MEMORY_USED_METRIC: &str = "tidewatch_gpu_memory_used_bytes";
/// GPU memory installed, bytes, by `gpu`, `uuid`.
pub const GPU_MEMORY_TOTAL_METRIC: &str = "tidewatch_gpu_memory_total_bytes";
/// GPU core temperature, Celsius, by `gpu`, `uuid`.
pub const GPU_TEMPERATURE_METRIC: &str = "tidewatch_gpu_temperature_celsius";
/// GPU power draw, watts, by `gpu`, `uuid`.
pub const GPU_POWER_METRIC: &str = "tidewatch_gpu_power_watts";

/// Label names of the contract metrics, and the target labels Prometheus adds.
pub mod label {
    /// The route pattern (`/v1/predict`), never the raw path.
    pub const ROUTE: &str = "route";
    pub const METHOD: &str = "method";
    /// The HTTP status code.
    pub const CODE: &str = "code";
    pub const MODEL: &str = "model";
    pub const VERSION: &str = "version";
    pub const DECISION: &str = "decision";
    /// `cpu` or `cuda`.
    pub const DEVICE: &str = "device";
    pub const RESULT: &str = "result";
    pub const FEATURE: &str = "feature";
    /// `review` or `block`: the decision threshold a quality figure is taken at.
    pub const THRESHOLD: &str = "threshold";
    /// `fraud` or `legitimate`: the true outcome a feedback reports.
    pub const OUTCOME: &str = "outcome";
    /// Why a feedback was not joined: `unknown`, `expired`, `duplicate`.
    pub const REASON: &str = "reason";
    /// An ISO 4217 code among [`super::CURRENCY_LABEL_VALUES`].
    pub const CURRENCY: &str = "currency";
    /// Device index as NVML numbers it.
    pub const GPU: &str = "gpu";
    pub const UUID: &str = "uuid";
    /// Added to every scraped series from the ServiceMonitor's target; the SLO rules
    /// select a service's series by it and [`SERVICE`].
    pub const NAMESPACE: &str = "namespace";
    /// The Kubernetes Service the series was scraped through (the MLService's name).
    pub const SERVICE: &str = "service";
}

/// The `currency` label's values: the currencies of the markets the model was trained on
/// and the other majors, `other` for any other code and `none` when the request named no
/// currency. Amounts are summed in their own currency, never converted, so a fixed list
/// keeps the label's cardinality bounded whatever clients send.
pub const CURRENCY_LABEL_VALUES: &[&str] = &[
    "USD", "EUR", "GBP", "JPY", "CNY", "INR", "BRL", "NGN", "CAD", "AUD", "CHF", "MXN", "other",
    "none",
];

/// OpenMetrics type of a contract metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// The word of the `# TYPE` line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One row of the contract: name, type and labels, in the order the server encodes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
}

impl Metric {
    /// The names of the series Prometheus stores: a histogram's `_bucket`, `_sum` and
    /// `_count`, any other metric's own name (a counter's already ends in `_total`).
    pub fn series(self) -> impl Iterator<Item = String> {
        let suffixes: &[&str] = match self.kind {
            Kind::Counter | Kind::Gauge => &[""],
            Kind::Histogram => &["_bucket", "_sum", "_count"],
        };
        suffixes.iter().map(move |s| format!("{}{s}", self.name))
    }
}

const GPU_LABELS: &[&str] = &[label::GPU, label::UUID];
const QUALITY_LABELS: &[&str] = &[label::MODEL, label::VERSION, label::THRESHOLD];

/// Every metric of the contract, as DESIGN.md's table lists them, plus the breaker and
/// GPU-availability gauges the alerts query and the business and model-quality series
/// the dashboards show.
pub const CONTRACT: &[Metric] = &[
    Metric {
        name: REQUESTS_TOTAL_METRIC,
        kind: Kind::Counter,
        labels: &[label::ROUTE, label::METHOD, label::CODE],
    },
    Metric {
        name: REQUEST_DURATION_METRIC,
        kind: Kind::Histogram,
        labels: &[label::ROUTE, label::METHOD],
    },
    Metric {
        name: REQUESTS_IN_FLIGHT_METRIC,
        kind: Kind::Gauge,
        labels: &[],
    },
    Metric {
        name: PREDICTIONS_TOTAL_METRIC,
        kind: Kind::Counter,
        labels: &[label::MODEL, label::VERSION, label::DECISION],
    },
    Metric {
        name: PREDICTION_SCORE_METRIC,
        kind: Kind::Histogram,
        labels: &[label::MODEL, label::VERSION],
    },
    Metric {
        name: INFERENCE_DURATION_METRIC,
        kind: Kind::Histogram,
        labels: &[label::MODEL, label::VERSION, label::DEVICE],
    },
    Metric {
        name: FEATURE_STORE_REQUESTS_METRIC,
        kind: Kind::Counter,
        labels: &[label::RESULT],
    },
    Metric {
        name: FEATURE_STORE_DURATION_METRIC,
        kind: Kind::Histogram,
        labels: &[],
    },
    Metric {
        name: FEATURE_DRIFT_METRIC,
        kind: Kind::Gauge,
        labels: &[label::MODEL, label::FEATURE],
    },
    Metric {
        name: MODEL_INFO_METRIC,
        kind: Kind::Gauge,
        labels: &[label::MODEL, label::VERSION, label::DEVICE],
    },
    Metric {
        name: TRANSACTION_AMOUNT_METRIC,
        kind: Kind::Counter,
        labels: &[
            label::MODEL,
            label::VERSION,
            label::DECISION,
            label::CURRENCY,
        ],
    },
    Metric {
        name: FEEDBACK_TOTAL_METRIC,
        kind: Kind::Counter,
        labels: &[label::MODEL, label::VERSION, label::OUTCOME],
    },
    Metric {
        name: FEEDBACK_UNMATCHED_METRIC,
        kind: Kind::Counter,
        labels: &[label::REASON],
    },
    Metric {
        name: FEEDBACK_PENDING_METRIC,
        kind: Kind::Gauge,
        labels: &[],
    },
    Metric {
        name: MODEL_PRECISION_METRIC,
        kind: Kind::Gauge,
        labels: QUALITY_LABELS,
    },
    Metric {
        name: MODEL_RECALL_METRIC,
        kind: Kind::Gauge,
        labels: QUALITY_LABELS,
    },
    Metric {
        name: MODEL_FALSE_POSITIVE_RATE_METRIC,
        kind: Kind::Gauge,
        labels: QUALITY_LABELS,
    },
    Metric {
        name: MODEL_QUALITY_LABELS_METRIC,
        kind: Kind::Gauge,
        labels: &[label::MODEL, label::VERSION],
    },
    Metric {
        name: FEATURE_STORE_BREAKER_METRIC,
        kind: Kind::Gauge,
        labels: &[],
    },
    Metric {
        name: GPU_TELEMETRY_METRIC,
        kind: Kind::Gauge,
        labels: &[],
    },
    Metric {
        name: GPU_UTILIZATION_METRIC,
        kind: Kind::Gauge,
        labels: GPU_LABELS,
    },
    Metric {
        name: GPU_MEMORY_USED_METRIC,
        kind: Kind::Gauge,
        labels: GPU_LABELS,
    },
    Metric {
        name: GPU_MEMORY_TOTAL_METRIC,
        kind: Kind::Gauge,
        labels: GPU_LABELS,
    },
    Metric {
        name: GPU_TEMPERATURE_METRIC,
        kind: Kind::Gauge,
        labels: GPU_LABELS,
    },
    Metric {
        name: GPU_POWER_METRIC,
        kind: Kind::Gauge,
        labels: GPU_LABELS,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_conventions() {
        for metric in CONTRACT {
            let name = metric.name;
            assert!(name.starts_with("tidewatch_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            // Counters are queried by their `_total` samples; nothing else may end so.
            assert_eq!(
                name.ends_with("_total"),
                metric.kind == Kind::Counter,
                "{name}"
            );
        }
    }

    #[test]
    fn names_are_unique_and_no_label_is_prometheus_own() {
        let mut names: Vec<&str> = CONTRACT.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONTRACT.len());
        for metric in CONTRACT {
            for reserved in [
                label::NAMESPACE,
                label::SERVICE,
                "pod",
                "job",
                "instance",
                "le",
            ] {
                assert!(!metric.labels.contains(&reserved), "{}", metric.name);
            }
        }
    }
}
