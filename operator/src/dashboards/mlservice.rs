//! The MLService dashboard: RED metrics, model behaviour, drift, feature store, GPU and the
//! business view, one function per row.

use serde_json::Value;
use tidewatch_contract::defaults::{DRIFT_CRITICAL_PSI, DRIFT_WARNING_PSI};
use tidewatch_contract::metrics::*;

use super::panels::{
    Grid, dashboard, datasource_variable, heatmap, query_variable, row, stat, timeseries,
    timeseries_with_thresholds,
};
use crate::validate::ValidMlService;

/// What the MLService dashboard is drawn for.
#[derive(Debug, Clone, PartialEq)]
pub struct MlServiceDashboard {
    /// Preselected namespace (`None`: the generic dashboard, pick in Grafana).
    pub namespace: Option<String>,
    /// Preselected service.
    pub service: Option<String>,
    /// Drift PSI warning and critical thresholds drawn on the drift panel.
    pub drift_thresholds: (f64, f64),
}

impl MlServiceDashboard {
    /// The dashboard shipped in `dashboards/`, for any MLService.
    pub fn generic() -> Self {
        Self {
            namespace: None,
            service: None,
            drift_thresholds: (DRIFT_WARNING_PSI, DRIFT_CRITICAL_PSI),
        }
    }

    /// The dashboard of one MLService.
    pub fn of(m: &ValidMlService) -> Self {
        Self {
            namespace: Some(m.namespace.clone()),
            service: Some(m.name.to_string()),
            drift_thresholds: m.drift_thresholds,
        }
    }
}

const SEL: &str = r#"namespace="$namespace", service="$service""#;

fn q(template: &str) -> String {
    template.replace("SEL", SEL)
}

/// The `qv` quantile of histogram `metric`, grouped by `le` and then `by` (`", route"`).
fn quantile(metric: &str, qv: &str, by: &str) -> String {
    q(&format!(
        "histogram_quantile({qv}, sum by (le{by}) (rate({metric}_bucket{{SEL}}[$__rate_interval])))"
    ))
}

/// The MLService dashboard as Grafana JSON.
pub fn mlservice_dashboard(d: &MlServiceDashboard) -> Value {
    let uid = match (&d.namespace, &d.service) {
        (Some(ns), Some(svc)) => super::uid(&["tw-mls", ns, svc]),
        _ => "tidewatch-mlservice".to_owned(),
    };
    let title = match (&d.namespace, &d.service) {
        (Some(ns), Some(svc)) => format!("Tidewatch / MLService / {ns} / {svc}"),
        _ => "Tidewatch / MLService".to_owned(),
    };
    let panels = [
        requests_row(),
        model_row(),
        drift_and_feature_store_row(d.drift_thresholds),
        gpu_row(),
        saturation_row(),
        business_row(),
        quality_row(),
    ]
    .concat();
    dashboard(
        &uid,
        &title,
        &["tidewatch", "mlservice"],
        &variables(d),
        &panels,
    )
}

fn variables(d: &MlServiceDashboard) -> Vec<Value> {
    vec![
        datasource_variable(),
        query_variable(
            "namespace",
            "Namespace",
            &format!("label_values({REQUESTS_TOTAL_METRIC}, namespace)"),
            d.namespace.as_deref(),
        ),
        query_variable(
            "service",
            "Service",
            &format!("label_values({REQUESTS_TOTAL_METRIC}{{namespace=\"$namespace\"}}, service)"),
            d.service.as_deref(),
        ),
    ]
}

/// Rate, errors and duration of the requests.
fn requests_row() -> Vec<Value> {
    let requests = q(&format!(
        "sum by (code) (rate({REQUESTS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let error_ratio = q(&format!(
        "sum(rate({REQUESTS_TOTAL_METRIC}{{SEL, code=~\"5..\"}}[$__rate_interval])) / sum(rate({REQUESTS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let client_error_ratio = q(&format!(
        "sum(rate({REQUESTS_TOTAL_METRIC}{{SEL, code=~\"4..\"}}[$__rate_interval])) / sum(rate({REQUESTS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    vec![
        row(1, "Requests (RED)", 0),
        stat(
            2,
            "Request rate",
            "Requests per second, all routes.",
            "reqps",
            Grid::at(0, 1, 6, 4),
            &q(&format!(
                "sum(rate({REQUESTS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
            )),
            &[(None, "blue")],
        ),
        stat(
            3,
            "Server error ratio",
            "Share of 5xx responses; 4xx are client errors and do not count against SLOs.",
            "percentunit",
            Grid::at(6, 1, 6, 4),
            &error_ratio,
            &[
                (None, "green"),
                (Some(0.001), "orange"),
                (Some(0.01), "red"),
            ],
        ),
        stat(
            4,
            "p99 latency",
            "99th percentile request duration.",
            "s",
            Grid::at(12, 1, 6, 4),
            &quantile(REQUEST_DURATION_METRIC, "0.99", ""),
            &[(None, "green"), (Some(0.25), "orange"), (Some(1.0), "red")],
        ),
        stat(
            5,
            "In flight",
            "Requests being served now.",
            "short",
            Grid::at(18, 1, 6, 4),
            &q(&format!("sum({REQUESTS_IN_FLIGHT_METRIC}{{SEL}})")),
            &[(None, "blue")],
        ),
        timeseries(
            6,
            "Requests by status code",
            "Per-second rate by HTTP status code.",
            "reqps",
            Grid::at(0, 5, 12, 8),
            &[(&requests, "{{code}}")],
        ),
        timeseries(
            7,
            "Error ratios",
            "5xx (server, SLO errors) and 4xx (client) shares of all requests.",
            "percentunit",
            Grid::at(12, 5, 12, 8),
            &[(&error_ratio, "5xx"), (&client_error_ratio, "4xx")],
        ),
        timeseries(
            8,
            "Request latency",
            "Quantiles of request duration from the histogram.",
            "s",
            Grid::at(0, 13, 12, 8),
            &[
                (&quantile(REQUEST_DURATION_METRIC, "0.5", ""), "p50"),
                (&quantile(REQUEST_DURATION_METRIC, "0.9", ""), "p90"),
                (&quantile(REQUEST_DURATION_METRIC, "0.99", ""), "p99"),
            ],
        ),
        timeseries(
            9,
            "p99 latency by route",
            "99th percentile request duration per route.",
            "s",
            Grid::at(12, 13, 12, 8),
            &[(
                &quantile(REQUEST_DURATION_METRIC, "0.99", ", route"),
                "{{route}}",
            )],
        ),
    ]
}

/// What the model decides and how fast, and which versions serve.
fn model_row() -> Vec<Value> {
    let decisions = q(&format!(
        "sum by (decision) (rate({PREDICTIONS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let block_share = q(&format!(
        "sum(rate({PREDICTIONS_TOTAL_METRIC}{{SEL, decision=\"block\"}}[$__rate_interval])) / sum(rate({PREDICTIONS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let scores = q(&format!(
        "sum by (le) (increase({PREDICTION_SCORE_METRIC}_bucket{{SEL}}[$__rate_interval]))"
    ));
    let versions = q(&format!(
        "count by (model, version, device) ({MODEL_INFO_METRIC}{{SEL}})"
    ));
    let model_info = q(&format!(
        "max by (model, version, device) ({MODEL_INFO_METRIC}{{SEL}})"
    ));
    vec![
        row(10, "Model", 21),
        timeseries(
            11,
            "Predictions by decision",
            "Approve, review and block decisions per second.",
            "ops",
            Grid::at(0, 22, 12, 8),
            &[(&decisions, "{{decision}}")],
        ),
        timeseries(
            12,
            "Block share",
            "Share of predictions blocked; a sudden change often means drift or an upstream bug.",
            "percentunit",
            Grid::at(12, 22, 12, 8),
            &[(&block_share, "block")],
        ),
        heatmap(
            13,
            "Prediction score distribution",
            "Scores per histogram bucket over time; a shifted mass means the model sees different data.",
            Grid::at(0, 30, 12, 8),
            &scores,
        ),
        timeseries(
            14,
            "Model compute time",
            "p50 and p99 of the model's own time, by device.",
            "s",
            Grid::at(12, 30, 12, 8),
            &[
                (
                    &quantile(INFERENCE_DURATION_METRIC, "0.5", ", device"),
                    "p50 {{device}}",
                ),
                (
                    &quantile(INFERENCE_DURATION_METRIC, "0.99", ", device"),
                    "p99 {{device}}",
                ),
            ],
        ),
        timeseries(
            15,
            "Model versions serving",
            "Pods per model, version and device.",
            "short",
            Grid::at(0, 38, 24, 5),
            &[
                (&versions, "{{model}} {{version}} {{device}}"),
                (&model_info, "info"),
            ],
        ),
    ]
}

/// Feature drift against its thresholds, and the feature store's lookups.
fn drift_and_feature_store_row((warn, crit): (f64, f64)) -> Vec<Value> {
    let drift = q(&format!("max by (feature) ({FEATURE_DRIFT_METRIC}{{SEL}})"));
    let lookups = q(&format!(
        "sum by (result) (rate({FEATURE_STORE_REQUESTS_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let failures = q(&format!(
        "sum(rate({FEATURE_STORE_REQUESTS_METRIC}{{SEL, result=~\"error|timeout\"}}[$__rate_interval])) / sum(rate({FEATURE_STORE_REQUESTS_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    vec![
        row(16, "Drift and feature store", 43),
        timeseries_with_thresholds(
            17,
            "Feature drift (PSI)",
            "Population stability index per feature; lines at the warning and critical thresholds.",
            "short",
            Grid::at(0, 44, 12, 8),
            &[(&drift, "{{feature}}")],
            &[(None, "green"), (Some(warn), "orange"), (Some(crit), "red")],
        ),
        timeseries(
            18,
            "Feature store lookups",
            "Lookups per second by result (hit, miss, error, timeout, skipped).",
            "ops",
            Grid::at(12, 44, 12, 8),
            &[(&lookups, "{{result}}")],
        ),
        timeseries(
            19,
            "Feature store latency",
            "p50 and p99 of feature store lookups.",
            "s",
            Grid::at(0, 52, 12, 8),
            &[
                (&quantile(FEATURE_STORE_DURATION_METRIC, "0.5", ""), "p50"),
                (&quantile(FEATURE_STORE_DURATION_METRIC, "0.99", ""), "p99"),
            ],
        ),
        timeseries(
            20,
            "Feature store failure ratio",
            "Errors and timeouts among lookups.",
            "percentunit",
            Grid::at(12, 52, 12, 8),
            &[(&failures, "failures")],
        ),
    ]
}

/// Utilisation, memory, temperature and power of each GPU.
fn gpu_row() -> Vec<Value> {
    let per_gpu = |metric: &str| q(&format!("max by (pod, gpu) ({metric}{{SEL}})"));
    let memory_share = format!(
        "{} / {}",
        per_gpu(GPU_MEMORY_USED_METRIC),
        per_gpu(GPU_MEMORY_TOTAL_METRIC)
    );
    let legend = "{{pod}} gpu{{gpu}}";
    vec![
        row(21, "GPU", 60),
        timeseries(
            22,
            "GPU utilisation",
            "Busy share of each GPU.",
            "percentunit",
            Grid::at(0, 61, 12, 8),
            &[(&per_gpu(GPU_UTILIZATION_METRIC), legend)],
        ),
        timeseries(
            23,
            "GPU memory",
            "Used share of each GPU's memory.",
            "percentunit",
            Grid::at(12, 61, 12, 8),
            &[(&memory_share, legend)],
        ),
        timeseries(
            24,
            "GPU temperature",
            "Degrees Celsius.",
            "celsius",
            Grid::at(0, 69, 12, 8),
            &[(&per_gpu(GPU_TEMPERATURE_METRIC), legend)],
        ),
        timeseries(
            25,
            "GPU power",
            "Watts drawn.",
            "watt",
            Grid::at(12, 69, 12, 8),
            &[(&per_gpu(GPU_POWER_METRIC), legend)],
        ),
    ]
}

/// Load shedding, concurrency, the feature-store breaker and GPU telemetry, per pod.
fn saturation_row() -> Vec<Value> {
    let rejected = q(&format!(
        "sum(rate({REQUESTS_TOTAL_METRIC}{{SEL, code=\"429\"}}[$__rate_interval]))"
    ));
    let in_flight = q(&format!(
        "sum by (pod) ({REQUESTS_IN_FLIGHT_METRIC}{{SEL}})"
    ));
    let breaker = q(&format!(
        "max by (pod) ({FEATURE_STORE_BREAKER_METRIC}{{SEL}})"
    ));
    let telemetry = q(&format!("max by (pod) ({GPU_TELEMETRY_METRIC}{{SEL}})"));
    vec![
        row(26, "Saturation and health", 77),
        timeseries(
            27,
            "Rejected for load (429)",
            "Predictions refused because the concurrency limit was reached; clients retry after Retry-After.",
            "reqps",
            Grid::at(0, 78, 12, 8),
            &[(&rejected, "429")],
        ),
        timeseries(
            28,
            "In flight",
            "Requests being served, per pod.",
            "short",
            Grid::at(12, 78, 12, 8),
            &[(&in_flight, "{{pod}}")],
        ),
        timeseries_with_thresholds(
            29,
            "Feature-store breaker",
            "Circuit breaker per pod: 0 closed, 1 open (lookups skipped, population defaults used), 2 half-open.",
            "short",
            Grid::at(0, 86, 12, 6),
            &[(&breaker, "{{pod}}")],
            &[(None, "green"), (Some(1.0), "red")],
        ),
        timeseries_with_thresholds(
            30,
            "GPU telemetry",
            "1 when NVML answers and the GPU panels are live; 0 on CPU-only pods or when the driver stops answering.",
            "short",
            Grid::at(12, 86, 12, 6),
            &[(&telemetry, "{{pod}}")],
            &[(None, "orange"), (Some(1.0), "green")],
        ),
    ]
}

/// What the decisions mean for the fraud team: money approved, reviewed and blocked, and
/// the approval and block shares of each model version (traffic-weighted: sums of rates
/// divided, so a version's share does not depend on its pod count).
fn business_row() -> Vec<Value> {
    let amount = q(&format!(
        "sum by (decision, currency) (rate({TRANSACTION_AMOUNT_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let share = |decision: &str| {
        q(&format!(
            "sum by (version) (rate({PREDICTIONS_TOTAL_METRIC}{{SEL, decision=\"{decision}\"}}[$__rate_interval])) / sum by (version) (rate({PREDICTIONS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
        ))
    };
    let blocked_today = q(&format!(
        "sum by (currency) (increase({TRANSACTION_AMOUNT_METRIC}{{SEL, decision=\"block\"}}[24h]))"
    ));
    vec![
        row(31, "Business", 92),
        timeseries(
            32,
            "Amount by decision",
            "Transaction amount scored per second, by decision and currency (amounts are never converted between currencies).",
            "short",
            Grid::at(0, 93, 12, 8),
            &[(&amount, "{{decision}} {{currency}}")],
        ),
        stat(
            33,
            "Amount blocked, last 24 h",
            "Sum of the amounts of blocked transactions over the last day, per currency.",
            "short",
            Grid::at(12, 93, 12, 8),
            &blocked_today,
            &[(None, "blue")],
        ),
        timeseries(
            34,
            "Approval rate by model version",
            "Share of predictions approved, per model version; compare versions during a rollout.",
            "percentunit",
            Grid::at(0, 101, 12, 8),
            &[(&share("approve"), "{{version}}")],
        ),
        timeseries(
            35,
            "Block rate by model version",
            "Share of predictions blocked, per model version.",
            "percentunit",
            Grid::at(12, 101, 12, 8),
            &[(&share("block"), "{{version}}")],
        ),
    ]
}

/// The model's quality from labelled feedback: precision, recall and false-positive rate
/// at both thresholds per version, and how many labels they rest on.
fn quality_row() -> Vec<Value> {
    let by_version = |metric: &str| q(&format!("avg by (version, threshold) ({metric}{{SEL}})"));
    let labels = q(&format!(
        "sum by (version) ({MODEL_QUALITY_LABELS_METRIC}{{SEL}})"
    ));
    let feedback = q(&format!(
        "sum by (outcome) (rate({FEEDBACK_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let unmatched = q(&format!(
        "sum by (reason) (rate({FEEDBACK_UNMATCHED_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let legend = "{{version}} at {{threshold}}";
    vec![
        row(36, "Model quality (feedback)", 109),
        timeseries_with_thresholds(
            37,
            "Precision",
            "Share of flagged transactions that were fraud, over each pod's last labelled predictions; the line is the alert threshold.",
            "percentunit",
            Grid::at(0, 110, 8, 8),
            &[(&by_version(MODEL_PRECISION_METRIC), legend)],
            &[(None, "red"), (Some(0.4), "green")],
        ),
        timeseries_with_thresholds(
            38,
            "Recall",
            "Share of reported frauds the model flagged; the line is the alert threshold.",
            "percentunit",
            Grid::at(8, 110, 8, 8),
            &[(&by_version(MODEL_RECALL_METRIC), legend)],
            &[(None, "red"), (Some(0.4), "green")],
        ),
        timeseries(
            39,
            "False-positive rate",
            "Share of legitimate transactions flagged.",
            "percentunit",
            Grid::at(16, 110, 8, 8),
            &[(&by_version(MODEL_FALSE_POSITIVE_RATE_METRIC), legend)],
        ),
        timeseries(
            40,
            "Feedback",
            "Labels received per second by outcome, and feedback that matched no prediction by reason.",
            "ops",
            Grid::at(0, 118, 12, 8),
            &[
                (&feedback, "{{outcome}}"),
                (&unmatched, "unmatched {{reason}}"),
            ],
        ),
        timeseries(
            41,
            "Labels in the quality windows",
            "Labelled predictions the figures rest on, per version; the alerts need 200.",
            "short",
            Grid::at(12, 118, 12, 8),
            &[(&labels, "{{version}}")],
        ),
    ]
}
