//! The server's Prometheus metrics, named exactly as the metric contract says, in one
//! registry that is passed around explicitly. Recording only; no HTTP here.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use tidewatch_contract::buckets::{
    FEATURE_STORE_DURATION_BUCKETS, INFERENCE_DURATION_BUCKETS, PREDICTION_SCORE_BUCKETS,
    REQUEST_DURATION_BUCKETS,
};
use tidewatch_contract::metrics::CURRENCY_LABEL_VALUES;
use tidewatch_contract::metrics::{
    FEATURE_DRIFT_METRIC, FEATURE_STORE_BREAKER_METRIC, FEATURE_STORE_DURATION_METRIC,
    FEATURE_STORE_REQUESTS_METRIC, GPU_MEMORY_TOTAL_METRIC, GPU_MEMORY_USED_METRIC,
    GPU_POWER_METRIC, GPU_TELEMETRY_METRIC, GPU_TEMPERATURE_METRIC, GPU_UTILIZATION_METRIC,
    INFERENCE_DURATION_METRIC, MODEL_INFO_METRIC, PREDICTION_SCORE_METRIC,
    PREDICTIONS_TOTAL_METRIC, REQUEST_DURATION_METRIC, REQUESTS_IN_FLIGHT_METRIC,
    REQUESTS_TOTAL_METRIC, TRANSACTION_AMOUNT_METRIC,
};
use tidewatch_contract::metrics::{
    FEEDBACK_PENDING_METRIC, FEEDBACK_TOTAL_METRIC, FEEDBACK_UNMATCHED_METRIC,
    MODEL_FALSE_POSITIVE_RATE_METRIC, MODEL_PRECISION_METRIC, MODEL_QUALITY_LABELS_METRIC,
    MODEL_RECALL_METRIC,
};

use crate::store::LookupResult;

/// OpenMetrics text content type served on `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type FloatGauge = Gauge<f64, AtomicU64>;
/// A counter of amounts, which are not whole numbers.
pub type FloatCounter = Counter<f64, AtomicU64>;

/// The name a contract metric registers under: prometheus-client appends the unit to a
/// family's name and `_total` to a counter's samples, so the contract name loses that suffix.
fn without_suffix(contract_name: &'static str, suffix: &str) -> &'static str {
    contract_name.strip_suffix(suffix).unwrap_or(contract_name)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern (`/v1/predict`), never the raw path.
    pub route: &'static str,
    pub method: &'static str,
    pub code: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
    pub method: &'static str,
}

/// The model's decision for a transaction; the `decision` label.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue, serde::Serialize)]
#[allow(non_camel_case_types)]
pub enum Decision {
    approve,
    review,
    block,
}

impl Decision {
    /// The name in answers and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::approve => "approve",
            Self::review => "review",
            Self::block => "block",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PredictionLabels {
    pub model: String,
    pub version: String,
    pub decision: Decision,
}

/// The `currency` label: an index into the contract's bounded list of values.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct CurrencyLabel(u8);

impl CurrencyLabel {
    /// Every value, in the contract's order.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..CURRENCY_LABEL_VALUES.len() as u8).map(Self)
    }

    /// The label of a request's currency: its code when listed, `other` when not,
    /// `none` when the request named none.
    pub fn of(code: Option<&str>) -> Self {
        let last = CURRENCY_LABEL_VALUES.len() - 1;
        let index = match code {
            None => last,
            Some(code) => CURRENCY_LABEL_VALUES[..last - 1]
                .iter()
                .position(|listed| *listed == code)
                .unwrap_or(last - 1),
        };
        Self(index as u8)
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    pub fn as_str(self) -> &'static str {
        CURRENCY_LABEL_VALUES[self.index()]
    }
}

impl EncodeLabelValue for CurrencyLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AmountLabels {
    pub model: String,
    pub version: String,
    pub decision: Decision,
    pub currency: CurrencyLabel,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedbackLabels {
    pub model: String,
    pub version: String,
    /// `fraud` or `legitimate`.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UnmatchedLabels {
    /// `unknown`, `expired` or `duplicate`.
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QualityLabels {
    pub model: String,
    pub version: String,
    /// `review` or `block`.
    pub threshold: &'static str,
}

/// Feedback and the model quality computed from it.
#[derive(Debug, Clone, Default)]
pub struct QualityMetrics {
    pub feedback: Family<FeedbackLabels, Counter>,
    pub unmatched: Family<UnmatchedLabels, Counter>,
    pub pending: Gauge,
    pub precision: Family<QualityLabels, FloatGauge>,
    pub recall: Family<QualityLabels, FloatGauge>,
    pub false_positive_rate: Family<QualityLabels, FloatGauge>,
    pub window_labels: Family<ModelLabels, Gauge>,
}

impl QualityMetrics {
    /// Every feedback series at zero from the start, so that the dashboard's feedback
    /// panels read 0 rather than "no data" before the first label arrives.
    pub fn start_at_zero(
        &self,
        model: &str,
        version: &str,
        outcomes: &[&'static str],
        reasons: &[&'static str],
    ) {
        for &outcome in outcomes {
            self.feedback
                .get_or_create(&FeedbackLabels {
                    model: model.to_owned(),
                    version: version.to_owned(),
                    outcome,
                })
                .inc_by(0);
        }
        for &reason in reasons {
            self.unmatched
                .get_or_create(&UnmatchedLabels { reason })
                .inc_by(0);
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
    pub version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceLabels {
    pub model: String,
    pub version: String,
    pub device: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabels {
    pub result: LookupResult,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabels {
    pub model: String,
    pub feature: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GpuLabels {
    /// Device index as NVML numbers it.
    pub gpu: String,
    pub uuid: String,
}

/// GPU gauges, filled by the background poller.
#[derive(Debug, Clone, Default)]
pub struct GpuMetrics {
    pub available: Gauge,
    pub utilization: Family<GpuLabels, FloatGauge>,
    pub memory_used: Family<GpuLabels, FloatGauge>,
    pub memory_total: Family<GpuLabels, FloatGauge>,
    pub temperature: Family<GpuLabels, FloatGauge>,
    pub power: Family<GpuLabels, FloatGauge>,
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<RouteLabels, Histogram>,
    pub in_flight: Gauge,
    pub predictions: Family<PredictionLabels, Counter>,
    pub transaction_amount: Family<AmountLabels, FloatCounter>,
    pub prediction_score: Family<ModelLabels, Histogram>,
    pub inference_duration: Family<DeviceLabels, Histogram>,
    pub store_requests: Family<StoreLabels, Counter>,
    pub store_duration: Histogram,
    pub drift_psi: Family<DriftLabels, FloatGauge>,
    pub model_info: Family<DeviceLabels, Gauge>,
    pub breaker_state: Gauge,
    pub quality: QualityMetrics,
    pub gpu: GpuMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            without_suffix(REQUESTS_TOTAL_METRIC, "_total"),
            "HTTP requests answered, by route, method and status code",
            requests.clone(),
        );
        let request_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(REQUEST_DURATION_BUCKETS.iter().copied())
        });
        registry.register_with_unit(
            without_suffix(REQUEST_DURATION_METRIC, "_seconds"),
            "Time from request received to response written, by route and method",
            Unit::Seconds,
            request_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            REQUESTS_IN_FLIGHT_METRIC,
            "HTTP requests being served",
            in_flight.clone(),
        );
        let predictions = Family::<PredictionLabels, Counter>::default();
        registry.register(
            without_suffix(PREDICTIONS_TOTAL_METRIC, "_total"),
            "Transactions scored, by decision",
            predictions.clone(),
        );
        let transaction_amount = Family::<AmountLabels, FloatCounter>::default();
        registry.register(
            without_suffix(TRANSACTION_AMOUNT_METRIC, "_total"),
            "Amount of the transactions scored, in units of their currency, by decision",
            transaction_amount.clone(),
        );
        let prediction_score = Family::<ModelLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(PREDICTION_SCORE_BUCKETS.iter().copied())
        });
        registry.register(
            PREDICTION_SCORE_METRIC,
            "Fraud probability returned",
            prediction_score.clone(),
        );
        let inference_duration = Family::<DeviceLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(INFERENCE_DURATION_BUCKETS.iter().copied())
        });
        registry.register_with_unit(
            without_suffix(INFERENCE_DURATION_METRIC, "_seconds"),
            "Time of one batched forward pass of the model",
            Unit::Seconds,
            inference_duration.clone(),
        );
        let store_requests = Family::<StoreLabels, Counter>::default();
        registry.register(
            without_suffix(FEATURE_STORE_REQUESTS_METRIC, "_total"),
            "Feature-store lookups, by result (hit, miss, error, timeout, skipped)",
            store_requests.clone(),
        );
        let store_duration = Histogram::new(FEATURE_STORE_DURATION_BUCKETS.iter().copied());
        registry.register_with_unit(
            without_suffix(FEATURE_STORE_DURATION_METRIC, "_seconds"),
            "Time of one feature-store lookup, including timeouts",
            Unit::Seconds,
            store_duration.clone(),
        );
        let drift_psi = Family::<DriftLabels, FloatGauge>::default();
        registry.register(
            FEATURE_DRIFT_METRIC,
            "Population stability index of recent inputs against the model's reference histogram",
            drift_psi.clone(),
        );
        let model_info = Family::<DeviceLabels, Gauge>::default();
        registry.register(
            MODEL_INFO_METRIC,
            "The loaded model (always 1)",
            model_info.clone(),
        );
        let breaker_state = Gauge::default();
        registry.register(
            FEATURE_STORE_BREAKER_METRIC,
            "Feature-store circuit breaker: 0 closed, 1 open, 2 half-open",
            breaker_state.clone(),
        );
        let quality = QualityMetrics::default();
        registry.register(
            without_suffix(FEEDBACK_TOTAL_METRIC, "_total"),
            "Labelled feedback joined to a prediction, by true outcome",
            quality.feedback.clone(),
        );
        registry.register(
            without_suffix(FEEDBACK_UNMATCHED_METRIC, "_total"),
            "Feedback joined to no prediction: unknown id, expired, or already labelled",
            quality.unmatched.clone(),
        );
        registry.register(
            FEEDBACK_PENDING_METRIC,
            "Predictions held for joining feedback",
            quality.pending.clone(),
        );
        registry.register(
            MODEL_PRECISION_METRIC,
            "Share of flagged transactions that were fraud, over the quality window",
            quality.precision.clone(),
        );
        registry.register(
            MODEL_RECALL_METRIC,
            "Share of frauds flagged, over the quality window",
            quality.recall.clone(),
        );
        registry.register(
            MODEL_FALSE_POSITIVE_RATE_METRIC,
            "Share of legitimate transactions flagged, over the quality window",
            quality.false_positive_rate.clone(),
        );
        registry.register(
            MODEL_QUALITY_LABELS_METRIC,
            "Labelled predictions in the quality window",
            quality.window_labels.clone(),
        );
        let gpu = GpuMetrics::default();
        registry.register(
            GPU_TELEMETRY_METRIC,
            "1 when NVML answers and the GPU gauges are live, else 0",
            gpu.available.clone(),
        );
        registry.register(
            GPU_UTILIZATION_METRIC,
            "GPU busy time share over the last sample period",
            gpu.utilization.clone(),
        );
        registry.register(
            GPU_MEMORY_USED_METRIC,
            "GPU memory in use",
            gpu.memory_used.clone(),
        );
        registry.register(
            GPU_MEMORY_TOTAL_METRIC,
            "GPU memory installed",
            gpu.memory_total.clone(),
        );
        registry.register(
            GPU_TEMPERATURE_METRIC,
            "GPU core temperature",
            gpu.temperature.clone(),
        );
        registry.register(GPU_POWER_METRIC, "GPU power draw", gpu.power.clone());
        Self {
            registry,
            requests,
            request_duration,
            in_flight,
            predictions,
            transaction_amount,
            prediction_score,
            inference_duration,
            store_requests,
            store_duration,
            drift_psi,
            model_info,
            breaker_state,
            quality,
            gpu,
        }
    }

    /// The registry in OpenMetrics text format.
    /// Gives every family one series. An empty family encodes nothing, not even its
    /// `# TYPE` line, so checks that read metric names from the encoded registry (the
    /// contract tests, and the check that alerts and dashboards query only real names)
    /// call this first. Not for serving.
    #[doc(hidden)]
    pub fn sample_every_family(&self) {
        let metrics = self;
        let gpu_labels = || GpuLabels {
            gpu: "0".into(),
            uuid: "GPU-test".into(),
        };
        let model = || ModelLabels {
            model: "m".into(),
            version: "1".into(),
        };
        let device = DeviceLabels {
            model: "m".into(),
            version: "1".into(),
            device: "cpu".into(),
        };
        metrics
            .requests
            .get_or_create(&RequestLabels {
                route: "/v1/predict",
                method: "POST",
                code: 200,
            })
            .inc();
        metrics
            .request_duration
            .get_or_create(&RouteLabels {
                route: "/v1/predict",
                method: "POST",
            })
            .observe(0.001);
        metrics
            .predictions
            .get_or_create(&PredictionLabels {
                model: "m".into(),
                version: "1".into(),
                decision: Decision::review,
            })
            .inc();
        metrics
            .transaction_amount
            .get_or_create(&AmountLabels {
                model: "m".into(),
                version: "1".into(),
                decision: Decision::approve,
                currency: CurrencyLabel::of(Some("EUR")),
            })
            .inc_by(12.5);
        metrics
            .prediction_score
            .get_or_create(&model())
            .observe(0.4);
        metrics
            .inference_duration
            .get_or_create(&device)
            .observe(0.0001);
        metrics
            .store_requests
            .get_or_create(&StoreLabels {
                result: LookupResult::hit,
            })
            .inc();
        metrics
            .drift_psi
            .get_or_create(&DriftLabels {
                model: "m".into(),
                feature: "f".into(),
            })
            .set(0.1);
        metrics.model_info.get_or_create(&device).set(1);
        let quality = || QualityLabels {
            model: "m".into(),
            version: "1".into(),
            threshold: "block",
        };
        metrics
            .quality
            .feedback
            .get_or_create(&FeedbackLabels {
                model: "m".into(),
                version: "1".into(),
                outcome: "fraud",
            })
            .inc();
        metrics
            .quality
            .unmatched
            .get_or_create(&UnmatchedLabels { reason: "unknown" })
            .inc();
        metrics.quality.precision.get_or_create(&quality()).set(0.5);
        metrics.quality.recall.get_or_create(&quality()).set(0.5);
        metrics
            .quality
            .false_positive_rate
            .get_or_create(&quality())
            .set(0.1);
        metrics
            .quality
            .window_labels
            .get_or_create(&model())
            .set(10);
        metrics
            .gpu
            .utilization
            .get_or_create(&gpu_labels())
            .set(0.5);
        metrics
            .gpu
            .memory_used
            .get_or_create(&gpu_labels())
            .set(1.0);
        metrics
            .gpu
            .memory_total
            .get_or_create(&gpu_labels())
            .set(2.0);
        metrics
            .gpu
            .temperature
            .get_or_create(&gpu_labels())
            .set(40.0);
        metrics.gpu.power.get_or_create(&gpu_labels()).set(70.0);
    }

    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tidewatch_contract::metrics::{CONTRACT, Kind, Metric};

    /// The `# TYPE` name: OpenMetrics names a counter's family without its samples' `_total`.
    fn family(metric: &Metric) -> &'static str {
        match metric.kind {
            Kind::Counter => metric.name.strip_suffix("_total").unwrap(),
            Kind::Gauge | Kind::Histogram => metric.name,
        }
    }

    /// Label names of the first sample of `series`, in encoding order.
    fn sample_labels<'a>(text: &'a str, series: &str) -> Option<Vec<&'a str>> {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(series)?;
            if rest.starts_with(' ') {
                return Some(Vec::new());
            }
            let labels = rest.strip_prefix('{')?.split_once('}')?.0;
            Some(
                labels
                    .split(',')
                    .filter_map(|pair| pair.split_once('=').map(|(name, _)| name))
                    .collect(),
            )
        })
    }

    #[test]
    fn the_registry_exports_the_contract_with_its_types_and_labels() {
        let metrics = Metrics::new();
        metrics.sample_every_family();
        let text = metrics.encode();
        for metric in CONTRACT {
            let (family, kind) = (family(metric), metric.kind.as_str());
            assert!(
                text.contains(&format!("# TYPE {family} {kind}\n")),
                "{family} {kind} missing:\n{text}"
            );
            let series = match metric.kind {
                Kind::Histogram => format!("{}_count", metric.name),
                Kind::Counter | Kind::Gauge => metric.name.to_owned(),
            };
            assert_eq!(
                sample_labels(&text, &series).as_deref(),
                Some(metric.labels),
                "labels of {series}:\n{text}"
            );
        }
        // Nothing is exported beside the contract.
        assert_eq!(text.matches("# TYPE ").count(), CONTRACT.len(), "{text}");
    }

    #[test]
    fn currencies_map_to_a_bounded_label() {
        assert_eq!(CurrencyLabel::of(Some("EUR")).as_str(), "EUR");
        assert_eq!(CurrencyLabel::of(Some("XAU")).as_str(), "other");
        assert_eq!(CurrencyLabel::of(Some("other")).as_str(), "other");
        assert_eq!(CurrencyLabel::of(Some("none")).as_str(), "other");
        assert_eq!(CurrencyLabel::of(None).as_str(), "none");
        assert_eq!(CurrencyLabel::all().count(), CURRENCY_LABEL_VALUES.len());
    }

    #[test]
    fn labels_encode_as_the_contract_says() {
        let metrics = Metrics::new();
        metrics
            .requests
            .get_or_create(&RequestLabels {
                route: "/v1/predict",
                method: "POST",
                code: 200,
            })
            .inc();
        metrics
            .store_requests
            .get_or_create(&StoreLabels {
                result: LookupResult::timeout,
            })
            .inc();
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"tidewatch_requests_total{route="/v1/predict",method="POST",code="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"tidewatch_feature_store_requests_total{result="timeout"} 1"#));
        assert!(text.contains("tidewatch_gpu_telemetry_available 0"));
    }
}
