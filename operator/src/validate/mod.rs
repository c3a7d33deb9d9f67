//! The `validate` step: turns a spec into a validated model (newtypes, defaults resolved) or
//! says which field is wrong and why. It repeats every CEL rule of the CRDs (same message)
//! and adds what no schema can express; [`schema`] repeats the CRDs' structural schema for
//! `render`, which has no API server in front of it.

mod errors;
mod mlservice;
mod names;
mod newtypes;
mod promql_string;
mod re2;
pub mod schema;
mod selector;
mod settings;
mod slo;
mod urls;

pub use errors::{FieldError, ValidationErrors};
pub use mlservice::{
    FeatureStore, ModelWeights, Resources, Tracing, ValidMlService, validate_mlservice,
};
pub use names::{ResourceName, check_k8s_labels, check_prometheus_labels};
pub use newtypes::{LatencyThreshold, Objective, PromDuration, Window};
pub use settings::{OperatorSettings, SettingsError};

/// Defaults of the operator settings, for flags.
pub mod settings_defaults {
    /// Default inference image.
    pub const IMAGE: &str = super::settings::DEFAULT_INFERENCE_IMAGE;
    /// Default Grafana folder.
    pub const FOLDER: &str = super::settings::DEFAULT_GRAFANA_FOLDER;
}
pub use slo::{
    AlertingPolicy, PROMETHEUS_DEFAULT_SCRAPE_INTERVAL, RESERVED_ALERT_LABELS, Sli, TierPolicy,
    ValidSlo, validate_slo,
};
