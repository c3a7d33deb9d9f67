//! `MLService`: "run this model as an inference service and make it observable".
//! Declarative types only; the `validate` step turns a spec into a `ValidMlService`.
// `printcolumn(..)` entries repeat `type_ = ..` by design of the kube derive.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidewatch_contract::defaults;

use super::rules;

/// Pattern of a Kubernetes resource quantity (the subset Tidewatch accepts: plain decimal
/// numbers with an optional SI or binary suffix).
pub const QUANTITY_PATTERN: &str = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$";
/// Pattern of a Prometheus duration made of whole seconds or more (`30s`, `1m`, `1h30m`):
/// generated rules work in seconds.
pub const PROM_DURATION_PATTERN: &str = r"^([0-9]+(s|m|h|d|w))+$";

/// Desired state of an MLService: the model, how it runs, and how it is observed.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "tidewatch.io",
    version = "v1alpha1",
    kind = "MLService",
    plural = "mlservices",
    singular = "mlservice",
    shortname = "mls",
    category = "tidewatch",
    namespaced,
    status = "MlServiceStatus",
    derive = "PartialEq",
    doc = "An ML inference service run and observed by Tidewatch: a Deployment, a Service, a ServiceMonitor and a Grafana dashboard.",
    printcolumn(name = "Model", type_ = "string", json_path = ".spec.model.name"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.model.version"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(
        name = "Ready Replicas",
        type_ = "integer",
        json_path = ".status.readyReplicas"
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
pub struct MlServiceSpec {
    /// The model this service serves.
    pub model: ModelSpec,
    /// Container image of the inference server. Defaults to the operator's configured
    /// inference image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = rules::NO_SPACE_PATTERN))]
    pub image: Option<String>,
    /// Number of inference pods.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,
    /// CPU, memory and GPU of each inference pod.
    #[serde(default)]
    pub resources: ResourcesSpec,
    /// Online feature store (Redis) the model reads features from. Without it, requests must
    /// carry every feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_store: Option<FeatureStoreSpec>,
    /// OpenTelemetry tracing. Without it, no traces are exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingSpec>,
    /// Scraping, dashboard and drift settings.
    #[serde(default)]
    pub monitoring: MonitoringSpec,
}

fn default_replicas() -> i32 {
    2
}

/// The model: its identity and where its weights come from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelSpec {
    /// Model name; it should match the model's `metadata.json` (the `model` label of the
    /// inference metrics).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-zA-Z0-9]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$")
    )]
    pub name: String,
    /// Model version; it should match the model's `metadata.json`. Set as the pods'
    /// `app.kubernetes.io/version` label (never in a selector), so a change rolls the pods.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-zA-Z0-9]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$")
    )]
    pub version: String,
    /// PersistentVolumeClaim (same namespace) holding `model.safetensors` and `metadata.json`
    /// at its root, mounted read-only. Absent: the model bundled in the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = rules::DNS_SUBDOMAIN_PATTERN)
    )]
    pub weights_volume_claim: Option<String>,
}

/// Resources of each inference pod. Requests equal limits for memory so that the pod is never
/// killed for using what it asked for.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = rules::cpu_limit_not_below_request)]
pub struct ResourcesSpec {
    /// CPU request (Kubernetes quantity, e.g. `500m`).
    #[serde(default = "default_cpu")]
    #[schemars(regex(pattern = QUANTITY_PATTERN), transform = rules::positive_quantity)]
    pub cpu: String,
    /// CPU limit. Absent: no CPU limit (throttling hurts tail latency more than it protects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN), transform = rules::positive_quantity)]
    pub cpu_limit: Option<String>,
    /// Memory request and limit (Kubernetes quantity, e.g. `512Mi`).
    #[serde(default = "default_memory")]
    #[schemars(regex(pattern = QUANTITY_PATTERN), transform = rules::positive_quantity)]
    pub memory: String,
    /// Number of NVIDIA GPUs (`nvidia.com/gpu`) per pod. Absent or 0: CPU inference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 16))]
    pub gpu: Option<i32>,
}

impl Default for ResourcesSpec {
    fn default() -> Self {
        Self {
            cpu: default_cpu(),
            cpu_limit: None,
            memory: default_memory(),
            gpu: None,
        }
    }
}

fn default_cpu() -> String {
    "500m".into()
}

fn default_memory() -> String {
    "512Mi".into()
}

/// The Redis feature store.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureStoreSpec {
    /// Redis address, `redis://host:port` or `rediss://host:port` (TLS).
    #[schemars(
        length(max = 512),
        regex(pattern = rules::REDIS_URL_PATTERN),
        transform = rules::redis_address
    )]
    pub address: String,
    /// Secret in the same namespace holding the Redis password. Absent: no authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<SecretKeyRef>,
    /// Per-lookup timeout in milliseconds; on timeout the request proceeds without stored
    /// features and counts a `timeout` result.
    #[serde(default = "default_feature_timeout_ms")]
    #[schemars(range(min = 1, max = 10000))]
    pub timeout_ms: i32,
}

fn default_feature_timeout_ms() -> i32 {
    defaults::FEATURE_TIMEOUT_MS.into()
}

/// A key of a Secret in the resource's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = rules::DNS_SUBDOMAIN_PATTERN)
    )]
    pub name: String,
    /// Key inside the Secret.
    #[serde(default = "default_secret_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

fn default_secret_key() -> String {
    "password".into()
}

/// OpenTelemetry trace export.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TracingSpec {
    /// OTLP/HTTP endpoint of the collector, e.g. `http://otel-collector.observability:4318`.
    #[schemars(
        length(max = 512),
        regex(pattern = rules::HTTP_URL_PATTERN),
        transform = rules::otlp_endpoint
    )]
    pub otlp_endpoint: String,
    /// Fraction of root traces sampled, between 0 and 1 (parent-based sampling: a caller's
    /// sampled trace is always followed). Each sampled request roughly doubles that
    /// request's CPU cost, so raise it with care on busy services.
    #[serde(default = "default_sampling_ratio")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub sampling_ratio: f64,
}

fn default_sampling_ratio() -> f64 {
    defaults::TRACE_SAMPLE_RATIO
}

/// How the service is observed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Prometheus scrape interval for the ServiceMonitor (e.g. `30s`).
    #[serde(default = "default_scrape_interval")]
    #[schemars(
        length(max = 16),
        regex(pattern = PROM_DURATION_PATTERN),
        transform = rules::positive_duration
    )]
    pub scrape_interval: String,
    /// Whether a Grafana dashboard ConfigMap is created for this service.
    #[serde(default = "default_true")]
    pub dashboard: bool,
    /// Feature drift thresholds (population stability index).
    #[serde(default)]
    pub drift: DriftSpec,
    /// Extra labels on the ServiceMonitor, e.g. the `release` label a Prometheus selects on
    /// (Kubernetes label syntax, at most 32).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = rules::k8s_labels)]
    pub service_monitor_labels: BTreeMap<String, String>,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        Self {
            scrape_interval: default_scrape_interval(),
            dashboard: true,
            drift: DriftSpec::default(),
            service_monitor_labels: BTreeMap::new(),
        }
    }
}

fn default_scrape_interval() -> String {
    "30s".into()
}

fn default_true() -> bool {
    true
}

/// Drift thresholds on the population stability index (PSI) of each feature.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = rules::drift_order)]
pub struct DriftSpec {
    /// PSI above which a feature is drifting (0.1 is the customary "moderate shift").
    #[serde(default = "default_drift_warning")]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub warning: f64,
    /// PSI above which a feature has shifted significantly (0.25 customary).
    #[serde(default = "default_drift_critical")]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub critical: f64,
}

impl Default for DriftSpec {
    fn default() -> Self {
        Self {
            warning: default_drift_warning(),
            critical: default_drift_critical(),
        }
    }
}

fn default_drift_warning() -> f64 {
    defaults::DRIFT_WARNING_PSI
}

fn default_drift_critical() -> f64 {
    defaults::DRIFT_CRITICAL_PSI
}

/// Observed state of an MLService.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MlServiceStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`, one entry per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Pods of the inference Deployment that pass their readiness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// In-cluster URL of the inference service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Child objects managed for this MLService.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildRef>,
}

/// A child object managed by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChildRef {
    /// Kind of the child, e.g. `Deployment`.
    pub kind: String,
    /// Name of the child, in the parent's namespace.
    pub name: String,
}
