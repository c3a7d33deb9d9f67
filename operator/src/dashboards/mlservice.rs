//! The MLService dashboard: RED metrics, model behaviour, drift, feature store and GPU.

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
    let requests = q(&format!(
        "sum by (code) (rate({REQUESTS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let error_ratio = q(&format!(
        "sum(rate({REQUESTS_TOTAL_METRIC}{{SEL, code=~\"5..\"}}[$__rate_interval])) / sum(rate({REQUESTS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let client_error_ratio = q(&format!(
        "sum(rate({REQUESTS_TOTAL_METRIC}{{SEL, code=~\"4..\"}}[$__rate_interval])) / sum(rate({REQUESTS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let quantile = |metric: &str, qv: &str, by: &str| {
        q(&format!(
            "histogram_quantile({qv}, sum by (le{by}) (rate({metric}_bucket{{SEL}}[$__rate_interval])))"
        ))
    };
    let (warn, crit) = d.drift_thresholds;
    let mut panels = vec![
        row(1, "Requests (RED)", 0),
        stat(
            2,
            "Request rate",
            "Requests per second, all routes.",
            "reqps",
            Grid {
                x: 0,
                y: 1,
                w: 6,
                h: 4,
            },
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
            Grid {
                x: 6,
                y: 1,
                w: 6,
                h: 4,
            },
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
            Grid {
                x: 12,
                y: 1,
                w: 6,
                h: 4,
            },
            &quantile(REQUEST_DURATION_METRIC, "0.99", ""),
            &[(None, "green"), (Some(0.25), "orange"), (Some(1.0), "red")],
        ),
        stat(
            5,
            "In flight",
            "Requests being served now.",
            "short",
            Grid {
                x: 18,
                y: 1,
                w: 6,
                h: 4,
            },
            &q(&format!("sum({REQUESTS_IN_FLIGHT_METRIC}{{SEL}})")),
            &[(None, "blue")],
        ),
        timeseries(
            6,
            "Requests by status code",
            "Per-second rate by HTTP status code.",
            "reqps",
            Grid {
                x: 0,
                y: 5,
                w: 12,
                h: 8,
            },
            &[(&requests, "{{code}}")],
        ),
        timeseries(
            7,
            "Error ratios",
            "5xx (server, SLO errors) and 4xx (client) shares of all requests.",
            "percentunit",
            Grid {
                x: 12,
                y: 5,
                w: 12,
                h: 8,
            },
            &[(&error_ratio, "5xx"), (&client_error_ratio, "4xx")],
        ),
        timeseries(
            8,
            "Request latency",
            "Quantiles of request duration from the histogram.",
            "s",
            Grid {
                x: 0,
                y: 13,
                w: 12,
                h: 8,
            },
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
            Grid {
                x: 12,
                y: 13,
                w: 12,
                h: 8,
            },
            &[(
                &quantile(REQUEST_DURATION_METRIC, "0.99", ", route"),
                "{{route}}",
            )],
        ),
        row(10, "Model", 21),
    ];
    let decisions = q(&format!(
        "sum by (decision) (rate({PREDICTIONS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let block_share = q(&format!(
        "sum(rate({PREDICTIONS_TOTAL_METRIC}{{SEL, decision=\"block\"}}[$__rate_interval])) / sum(rate({PREDICTIONS_TOTAL_METRIC}{{SEL}}[$__rate_interval]))"
    ));
    let model_info = q(&format!(
        "max by (model, version, device) ({MODEL_INFO_METRIC}{{SEL}})"
    ));
    panels.extend([
        timeseries(11, "Predictions by decision", "Approve, review and block decisions per second.", "ops", Grid { x: 0, y: 22, w: 12, h: 8 },
            &[(&decisions, "{{decision}}")]),
        timeseries(12, "Block share", "Share of predictions blocked; a sudden change often means drift or an upstream bug.", "percentunit",
            Grid { x: 12, y: 22, w: 12, h: 8 }, &[(&block_share, "block")]),
        heatmap(13, "Prediction score distribution", "Scores per histogram bucket over time; a shifted mass means the model sees different data.",
            Grid { x: 0, y: 30, w: 12, h: 8 }, &q(&format!("sum by (le) (increase({PREDICTION_SCORE_METRIC}_bucket{{SEL}}[$__rate_interval]))"))),
        timeseries(14, "Model compute time", "p50 and p99 of the model's own time, by device.", "s", Grid { x: 12, y: 30, w: 12, h: 8 },
            &[(&quantile(INFERENCE_DURATION_METRIC, "0.5", ", device"), "p50 {{device}}"),
              (&quantile(INFERENCE_DURATION_METRIC, "0.99", ", device"), "p99 {{device}}")]),
        timeseries(15, "Model versions serving", "Pods per model, version and device.", "short", Grid { x: 0, y: 38, w: 24, h: 5 },
            &[(&q(&format!("count by (model, version, device) ({MODEL_INFO_METRIC}{{SEL}})")), "{{model}} {{version}} {{device}}"),
              (&model_info, "info")]),
        row(16, "Drift and feature store", 43),
        timeseries_with_thresholds(17, "Feature drift (PSI)", "Population stability index per feature; lines at the warning and critical thresholds.",
            "short", Grid { x: 0, y: 44, w: 12, h: 8 },
            &[(&q(&format!("max by (feature) ({FEATURE_DRIFT_METRIC}{{SEL}})")), "{{feature}}")],
            &[(None, "green"), (Some(warn), "orange"), (Some(crit), "red")]),
        timeseries(18, "Feature store lookups", "Lookups per second by result (hit, miss, error, timeout, skipped).", "ops",
            Grid { x: 12, y: 44, w: 12, h: 8 },
            &[(&q(&format!("sum by (result) (rate({FEATURE_STORE_REQUESTS_METRIC}{{SEL}}[$__rate_interval]))")), "{{result}}")]),
        timeseries(19, "Feature store latency", "p50 and p99 of feature store lookups.", "s", Grid { x: 0, y: 52, w: 12, h: 8 },
            &[(&quantile(FEATURE_STORE_DURATION_METRIC, "0.5", ""), "p50"), (&quantile(FEATURE_STORE_DURATION_METRIC, "0.99", ""), "p99")]),
        timeseries(20, "Feature store failure ratio", "Errors and timeouts among lookups.", "percentunit", Grid { x: 12, y: 52, w: 12, h: 8 },
            &[(&q(&format!(
                "sum(rate({FEATURE_STORE_REQUESTS_METRIC}{{SEL, result=~\"error|timeout\"}}[$__rate_interval])) / sum(rate({FEATURE_STORE_REQUESTS_METRIC}{{SEL}}[$__rate_interval]))"
            )), "failures")]),
        row(21, "GPU", 60),
        timeseries(22, "GPU utilisation", "Busy share of each GPU.", "percentunit", Grid { x: 0, y: 61, w: 12, h: 8 },
            &[(&q(&format!("max by (pod, gpu) ({GPU_UTILIZATION_METRIC}{{SEL}})")), "{{pod}} gpu{{gpu}}")]),
        timeseries(23, "GPU memory", "Used share of each GPU's memory.", "percentunit", Grid { x: 12, y: 61, w: 12, h: 8 },
            &[(&q(&format!("max by (pod, gpu) ({GPU_MEMORY_USED_METRIC}{{SEL}}) / max by (pod, gpu) ({GPU_MEMORY_TOTAL_METRIC}{{SEL}})")), "{{pod}} gpu{{gpu}}")]),
        timeseries(24, "GPU temperature", "Degrees Celsius.", "celsius", Grid { x: 0, y: 69, w: 12, h: 8 },
            &[(&q(&format!("max by (pod, gpu) ({GPU_TEMPERATURE_METRIC}{{SEL}})")), "{{pod}} gpu{{gpu}}")]),
        timeseries(25, "GPU power", "Watts drawn.", "watt", Grid { x: 12, y: 69, w: 12, h: 8 },
            &[(&q(&format!("max by (pod, gpu) ({GPU_POWER_METRIC}{{SEL}})")), "{{pod}} gpu{{gpu}}")]),
        row(26, "Saturation and health", 77),
        timeseries(27, "Rejected for load (429)", "Predictions refused because the concurrency limit was reached; clients retry after Retry-After.",
            "reqps", Grid { x: 0, y: 78, w: 12, h: 8 },
            &[(&q(&format!("sum(rate({REQUESTS_TOTAL_METRIC}{{SEL, code=\"429\"}}[$__rate_interval]))")), "429")]),
        timeseries(28, "In flight", "Requests being served, per pod.", "short", Grid { x: 12, y: 78, w: 12, h: 8 },
            &[(&q(&format!("sum by (pod) ({REQUESTS_IN_FLIGHT_METRIC}{{SEL}})")), "{{pod}}")]),
        timeseries_with_thresholds(29, "Feature-store breaker", "Circuit breaker per pod: 0 closed, 1 open (lookups skipped, population defaults used), 2 half-open.",
            "short", Grid { x: 0, y: 86, w: 12, h: 6 },
            &[(&q(&format!("max by (pod) ({FEATURE_STORE_BREAKER_METRIC}{{SEL}})")), "{{pod}}")],
            &[(None, "green"), (Some(1.0), "red")]),
        timeseries_with_thresholds(30, "GPU telemetry", "1 when NVML answers and the GPU panels are live; 0 on CPU-only pods or when the driver stops answering.",
            "short", Grid { x: 12, y: 86, w: 12, h: 6 },
            &[(&q(&format!("max by (pod) ({GPU_TELEMETRY_METRIC}{{SEL}})")), "{{pod}}")],
            &[(None, "orange"), (Some(1.0), "green")]),
    ]);
    let variables = vec![
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
    ];
    dashboard(
        &uid,
        &title,
        &["tidewatch", "mlservice"],
        &variables,
        &panels,
    )
}
