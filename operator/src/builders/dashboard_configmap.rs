//! Dashboard ConfigMaps picked up by the Grafana sidecar (label `grafana_dashboard: "1"`,
//! folder annotation `grafana_folder`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::Value;

use super::{child_meta, names};
use crate::dashboards::{MlServiceDashboard, SloDashboard, mlservice_dashboard, slo_dashboard};
use crate::labels::{self, Component, GRAFANA_DASHBOARD, GRAFANA_FOLDER_ANNOTATION};
use crate::validate::{OperatorSettings, ValidMlService, ValidSlo};

/// Identity of the ConfigMap: name, namespace, owning instance and its component, owner.
struct Parent<'a> {
    name: String,
    namespace: &'a str,
    instance: &'a str,
    component: Component,
    owner: Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
}

fn wrap(
    parent: Parent<'_>,
    settings: &OperatorSettings,
    key: &str,
    dashboard: &Value,
) -> ConfigMap {
    let mut object_labels = labels::recommended(parent.instance, parent.component);
    object_labels.insert(GRAFANA_DASHBOARD.into(), "1".into());
    let mut metadata = child_meta(parent.name, parent.namespace, object_labels, parent.owner);
    metadata.annotations = Some(BTreeMap::from([(
        GRAFANA_FOLDER_ANNOTATION.to_owned(),
        settings.grafana_folder().to_owned(),
    )]));
    let json = serde_json::to_string_pretty(dashboard).expect("a JSON value serialises");
    ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(key.to_owned(), json)])),
        ..ConfigMap::default()
    }
}

/// Dashboard ConfigMap of an MLService (build it only when `m.dashboard` is on).
pub fn mlservice_dashboard_configmap(m: &ValidMlService, settings: &OperatorSettings) -> ConfigMap {
    let name = m.name.as_str();
    wrap(
        Parent {
            name: names::mlservice_dashboard(name),
            namespace: &m.namespace,
            instance: name,
            component: Component::Inference,
            owner: m.owner.as_ref(),
        },
        settings,
        &format!("mlservice-{}-{name}.json", m.namespace),
        &mlservice_dashboard(&MlServiceDashboard::of(m)),
    )
}

/// Dashboard ConfigMap of an SLO.
pub fn slo_dashboard_configmap(slo: &ValidSlo, settings: &OperatorSettings) -> ConfigMap {
    let name = slo.name.as_str();
    wrap(
        Parent {
            name: names::slo_dashboard(name),
            namespace: &slo.namespace,
            instance: name,
            component: Component::Slo,
            owner: slo.owner.as_ref(),
        },
        settings,
        &format!("slo-{}-{name}.json", slo.namespace),
        &slo_dashboard(&SloDashboard::of(slo)),
    )
}
