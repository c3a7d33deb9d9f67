//! The one place for label keys and label sets. Selectors never contain a version.

use std::collections::BTreeMap;

/// `app.kubernetes.io/name`
pub const NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/instance`
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/component`
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// `app.kubernetes.io/part-of`
pub const PART_OF: &str = "app.kubernetes.io/part-of";
/// `app.kubernetes.io/managed-by`
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `app.kubernetes.io/version` (pods only; never in a selector)
pub const VERSION: &str = "app.kubernetes.io/version";
/// Grafana sidecar label selecting dashboard ConfigMaps.
pub const GRAFANA_DASHBOARD: &str = "grafana_dashboard";
/// Grafana sidecar annotation naming the folder.
pub const GRAFANA_FOLDER_ANNOTATION: &str = "grafana_folder";

/// `part-of` value of every Tidewatch object.
pub const PART_OF_VALUE: &str = "tidewatch";
/// `managed-by` value and server-side apply field manager.
pub const MANAGER: &str = "tidewatch-operator";

/// What a child does, as `app.kubernetes.io/component`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// Deployment, Service, ServiceMonitor and dashboard of an MLService.
    Inference,
    /// PrometheusRule and dashboard of an SLO.
    Slo,
}

impl Component {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inference => "inference",
            Self::Slo => "slo",
        }
    }
}

/// Application name of an MLService's children (`app.kubernetes.io/name`).
pub const APP_NAME: &str = "tidewatch-inference";
/// Application name of an SLO's children.
pub const SLO_APP_NAME: &str = "tidewatch-slo";

/// Labels selecting the pods of an MLService: stable for its lifetime (no version).
pub fn selector(instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_owned(), APP_NAME.to_owned()),
        (INSTANCE.to_owned(), instance.to_owned()),
    ])
}

/// Recommended labels of a child of `instance` (an MLService or SLO name).
pub fn recommended(instance: &str, component: Component) -> BTreeMap<String, String> {
    let name = match component {
        Component::Inference => APP_NAME,
        Component::Slo => SLO_APP_NAME,
    };
    BTreeMap::from([
        (NAME.to_owned(), name.to_owned()),
        (INSTANCE.to_owned(), instance.to_owned()),
        (COMPONENT.to_owned(), component.as_str().to_owned()),
        (PART_OF.to_owned(), PART_OF_VALUE.to_owned()),
        (MANAGED_BY.to_owned(), MANAGER.to_owned()),
    ])
}

/// Pod template labels: the recommended set plus the model version (safe outside selectors).
pub fn pod(instance: &str, version: &str) -> BTreeMap<String, String> {
    let mut labels = recommended(instance, Component::Inference);
    labels.insert(VERSION.to_owned(), version.to_owned());
    labels
}
