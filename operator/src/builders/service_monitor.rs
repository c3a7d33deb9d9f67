//! The ServiceMonitor scraping an MLService's `/metrics`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use tidewatch_contract::endpoints;

use super::deployment::HTTP_PORT_NAME;
use super::{child_meta, names};
use crate::labels::{self, Component};
use crate::monitoring_types::{Endpoint, NamespaceSelector, ServiceMonitor, ServiceMonitorSpec};
use crate::validate::{OperatorSettings, PromDuration, ValidMlService};

/// The ServiceMonitor of an MLService. Labels: spec extras and operator extras (e.g.
/// `release`) first, the recommended set last so that it cannot be overridden.
///
/// The pods' `app.kubernetes.io/version` (the model version) is copied onto every scraped
/// series as `app_kubernetes_io_version`, so request SLIs can be split by model version
/// during a rollout without a version label in the server's metric contract.
pub fn service_monitor(m: &ValidMlService, settings: &OperatorSettings) -> ServiceMonitor {
    let name = m.name.as_str();
    let mut object_labels = m.service_monitor_labels.clone();
    object_labels.extend(settings.monitoring_labels().clone());
    object_labels.extend(labels::recommended(name, Component::Inference));
    // The timeout must not exceed the interval; 80% leaves room for a slow scrape.
    let timeout = PromDuration::from_secs((m.scrape_interval.as_secs() * 4 / 5).max(1));
    ServiceMonitor {
        metadata: child_meta(
            names::inference(name),
            &m.namespace,
            object_labels,
            m.owner.as_ref(),
        ),
        spec: ServiceMonitorSpec {
            selector: LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            },
            namespace_selector: Some(NamespaceSelector {
                match_names: vec![m.namespace.clone()],
            }),
            endpoints: vec![Endpoint {
                port: HTTP_PORT_NAME.into(),
                path: endpoints::METRICS_PATH.into(),
                interval: m.scrape_interval.to_string(),
                scrape_timeout: Some(timeout.to_string()),
                scheme: Some("http".into()),
            }],
            pod_target_labels: vec![labels::VERSION.to_owned()],
        },
    }
}
