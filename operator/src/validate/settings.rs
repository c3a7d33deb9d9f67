//! Operator-wide settings every builder reads (default image, extra monitoring labels,
//! Grafana folder), checked once at start-up.

use std::collections::BTreeMap;

use super::names::check_k8s_labels;

/// Image used when an MLService names none.
pub const DEFAULT_INFERENCE_IMAGE: &str = "ghcr.io/tidewatch/tidewatch-inference:0.1.0";
/// Grafana folder of generated dashboards.
pub const DEFAULT_GRAFANA_FOLDER: &str = "Tidewatch";

/// A refused operator setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct SettingsError {
    /// The flag or environment variable.
    pub setting: &'static str,
    /// Why it is refused.
    pub reason: String,
}

/// Settings shared by every build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSettings {
    default_image: String,
    monitoring_labels: BTreeMap<String, String>,
    grafana_folder: String,
}

impl Default for OperatorSettings {
    fn default() -> Self {
        Self {
            default_image: DEFAULT_INFERENCE_IMAGE.into(),
            monitoring_labels: BTreeMap::new(),
            grafana_folder: DEFAULT_GRAFANA_FOLDER.into(),
        }
    }
}

impl OperatorSettings {
    /// Checks and stores the settings.
    pub fn new(
        default_image: &str,
        monitoring_labels: BTreeMap<String, String>,
        grafana_folder: &str,
    ) -> Result<Self, SettingsError> {
        if default_image.is_empty() || default_image.chars().any(char::is_whitespace) {
            return Err(SettingsError {
                setting: "default-image",
                reason: "must be an image reference".into(),
            });
        }
        check_k8s_labels(&monitoring_labels).map_err(|reason| SettingsError {
            setting: "monitoring-labels",
            reason,
        })?;
        if grafana_folder.is_empty() || grafana_folder.len() > 255 {
            return Err(SettingsError {
                setting: "grafana-folder",
                reason: "must be 1 to 255 characters".into(),
            });
        }
        Ok(Self {
            default_image: default_image.into(),
            monitoring_labels,
            grafana_folder: grafana_folder.into(),
        })
    }

    /// Image used when an MLService names none.
    pub fn default_image(&self) -> &str {
        &self.default_image
    }

    /// Labels added to every ServiceMonitor and PrometheusRule (e.g. `release`).
    pub fn monitoring_labels(&self) -> &BTreeMap<String, String> {
        &self.monitoring_labels
    }

    /// Grafana folder of generated dashboards.
    pub fn grafana_folder(&self) -> &str {
        &self.grafana_folder
    }
}
