//! Pure builders: desired child objects as functions of a validated model and the operator
//! settings. No client, no I/O, no user-input errors.

pub mod children;
pub mod dashboard_configmap;
pub mod deployment;
pub mod names;
pub mod prometheus_rule;
pub mod service;
pub mod service_monitor;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

pub use children::{ChildKind, MlServiceChildren, SloChildren};
pub use dashboard_configmap::{mlservice_dashboard_configmap, slo_dashboard_configmap};
pub use deployment::{CONTAINER_NAME, HTTP_PORT, HTTP_PORT_NAME, deployment};
pub use prometheus_rule::prometheus_rule;
pub use service::service;
pub use service_monitor::service_monitor;

/// Metadata of a child: name, namespace, labels, owner.
pub(crate) fn child_meta(
    name: String,
    namespace: &str,
    labels: BTreeMap<String, String>,
    owner: Option<&OwnerReference>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels),
        owner_references: owner.map(|o| vec![o.clone()]),
        ..ObjectMeta::default()
    }
}
