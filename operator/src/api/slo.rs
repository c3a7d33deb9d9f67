//! `SLO`: "this service must meet this objective; page us when the error budget burns".
//! Declarative types only; the `validate` step turns a spec into a `ValidSlo`.
// `printcolumn(..)` entries repeat `type_ = ..` by design of the kube derive.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::mlservice::ChildRef;
use super::rules;

/// Pattern of an SLO window: whole days, weeks or hours (`30d`, `4w`, `720h`).
pub const WINDOW_PATTERN: &str = r"^[1-9][0-9]{0,4}(h|d|w)$";
/// Pattern of a latency threshold: a decimal number of seconds or milliseconds.
pub const THRESHOLD_PATTERN: &str = r"^[0-9]+(\.[0-9]+)?(ms|s)$";

/// Desired state of an SLO: what is measured, the objective, and how to alert.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "tidewatch.io",
    version = "v1alpha1",
    kind = "SLO",
    plural = "slos",
    singular = "slo",
    shortname = "slo",
    category = "tidewatch",
    namespaced,
    status = "SloStatus",
    derive = "PartialEq",
    doc = "A service level objective with multi-window, multi-burn-rate alerting, turned into a PrometheusRule and a Grafana dashboard.",
    printcolumn(
        name = "Target",
        type_ = "string",
        json_path = ".spec.target.mlService"
    ),
    printcolumn(name = "Objective", type_ = "number", json_path = ".spec.objective"),
    printcolumn(name = "Window", type_ = "string", json_path = ".spec.window"),
    printcolumn(
        name = "Budget Left",
        type_ = "string",
        json_path = ".status.errorBudgetRemaining"
    ),
    printcolumn(
        name = "Burning",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Burning\")].reason"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = rules::target_matches_indicator)]
pub struct SloSpec {
    /// The MLService (in the same namespace) this SLO measures. Omit it for a `ratio`
    /// indicator, which names its own series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<SloTarget>,
    /// Objective as a percentage of good events, strictly between 0 and 100 (e.g. `99.9`).
    #[schemars(extend("minimum" = 0, "exclusiveMinimum" = true, "maximum" = 100, "exclusiveMaximum" = true))]
    pub objective: f64,
    /// Compliance window: the period over which the objective holds (`30d`, `28d`, `4w`).
    #[serde(default = "default_window")]
    #[schemars(
        length(max = 6),
        regex(pattern = WINDOW_PATTERN),
        transform = rules::window_bounds
    )]
    pub window: String,
    /// What counts as a good event. Exactly one of `availability`, `latency`, `ratio`.
    pub indicator: Indicator,
    /// Burn-rate alerting.
    #[serde(default)]
    pub alerting: Alerting,
}

fn default_window() -> String {
    "30d".into()
}

/// The service an SLO measures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SloTarget {
    /// Name of an MLService in the SLO's namespace.
    #[schemars(
        length(min = 1, max = super::MAX_NAME_LENGTH),
        regex(pattern = r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub ml_service: String,
}

/// The service level indicator. Exactly one member is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = rules::one_indicator)]
pub struct Indicator {
    /// Share of requests answered without a server error: 5xx responses are errors, 4xx are
    /// the client's and are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<AvailabilityIndicator>,
    /// Share of requests answered within a threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyIndicator>,
    /// Share of good events given by two counter selectors, for services Tidewatch does not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<RatioIndicator>,
}

/// Availability needs no parameter.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct AvailabilityIndicator {}

/// Latency: a request is good when it completes within `threshold`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatencyIndicator {
    /// Threshold as a duration (`250ms`, `0.5s`); it must equal one of the inference server's
    /// request-duration histogram buckets.
    #[schemars(
        length(max = 16),
        regex(pattern = THRESHOLD_PATTERN),
        transform = rules::positive_duration
    )]
    pub threshold: String,
}

/// A raw ratio: errors over total, both Prometheus counter series selectors such as
/// `http_requests_total{job="api",code=~"5.."}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatioIndicator {
    /// Counter selector of the failed events.
    #[schemars(length(min = 1, max = 1024))]
    pub errors: String,
    /// Counter selector of all events.
    #[schemars(length(min = 1, max = 1024))]
    pub total: String,
}

/// Alerting on error-budget burn (SRE Workbook multiwindow, multi-burn-rate).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alerting {
    /// Page tier: 2% of the budget in 1h (checked over 5m too) or 5% in 6h (and 30m).
    #[serde(default)]
    pub page: AlertTier,
    /// Ticket tier: 10% of the budget in 1d (and 2h) or 10% in 3d (and 6h).
    #[serde(default)]
    pub ticket: AlertTier,
    /// Runbook linked from every alert's `runbook_url` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 2048),
        regex(pattern = rules::HTTP_URL_PATTERN),
        transform = rules::runbook_url
    )]
    pub runbook_url: Option<String>,
    /// Requests per hour, averaged over an alert's long window, below which burn-rate alerts
    /// stay silent: with little traffic a single failure is a large error ratio. The default,
    /// 60, means one failed request out of 10 in an hour never pages. 0 turns the guard off.
    #[serde(default = "default_minimum_requests_per_hour")]
    #[schemars(range(min = 0.0, max = 1.0e9))]
    pub minimum_requests_per_hour: f64,
    /// Fire `SLOMetricsAbsent` when the SLO's series disappear.
    #[serde(default = "default_true")]
    pub metrics_absent: bool,
}

impl Default for Alerting {
    fn default() -> Self {
        Self {
            page: AlertTier::default(),
            ticket: AlertTier::default(),
            runbook_url: None,
            minimum_requests_per_hour: default_minimum_requests_per_hour(),
            metrics_absent: true,
        }
    }
}

fn default_minimum_requests_per_hour() -> f64 {
    60.0
}

fn default_true() -> bool {
    true
}

/// One alert tier.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertTier {
    /// Whether this tier's alerts are generated.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Extra labels on this tier's alerts (for Alertmanager routing), at most 32, values of
    /// 1 to 1024 characters. `severity`, `slo`, `namespace`, `service`, `long_window`,
    /// `short_window` and `alertname` are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = rules::alert_labels)]
    pub labels: BTreeMap<String, String>,
}

impl Default for AlertTier {
    fn default() -> Self {
        Self {
            enabled: true,
            labels: BTreeMap::new(),
        }
    }
}

/// Observed state of an SLO.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SloStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`, one entry per type; with live figures also
    /// `BudgetExhausted` and `Burning` (reason `Page` or `Ticket` while burn alerts fire).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Names of the generated recording and alerting rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_names: Vec<String>,
    /// Child objects managed for this SLO.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildRef>,
    /// Live figures from Prometheus, when the operator is given its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<SloLive>,
    /// Error budget left over the window, as a percentage (e.g. `73.4%`); shown by `kubectl get`
    /// as `BUDGET LEFT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_budget_remaining: Option<String>,
}

/// Figures read from Prometheus, from the same recording rules the SLO dashboard reads.
/// Kept, with their read time, while Prometheus cannot be read.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SloLive {
    /// Good events over the window, as a percentage, traffic-weighted (every event counts
    /// once, whatever the hour it came in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sli: Option<f64>,
    /// Fraction of the error budget left (negative once overspent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_budget_remaining: Option<f64>,
    /// Fraction of the error budget spent so far over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_budget_spent: Option<f64>,
    /// Burn rate per alert window (`5m`, `1h`, ...): the error ratio over that window
    /// divided by the error budget; 1 spends exactly the budget over the SLO window.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub burn_rates: BTreeMap<String, f64>,
    /// When the budget runs out at the burn rate over the fastest page tier's long window:
    /// a duration such as `2d3h`, `not at this rate` (burn rate 1 or below), or `exhausted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_exhausted_in: Option<String>,
    /// `SLOErrorBudgetBurn` and `SLOMetricsAbsent` alerts of this SLO firing now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firing_alerts: Vec<SloFiringAlert>,
    /// When these figures were read from Prometheus (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
}

/// One firing alert of an SLO.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SloFiringAlert {
    /// `SLOErrorBudgetBurn` or `SLOMetricsAbsent`.
    pub alertname: String,
    /// `page` or `ticket`.
    pub severity: String,
    /// The tier's long window (burn alerts only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub long_window: String,
    /// The tier's short window (burn alerts only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub short_window: String,
}
