//! The inference Service: ClusterIP on the `http` port, selecting the MLService's pods.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::deployment::{HTTP_PORT, HTTP_PORT_NAME};
use super::{child_meta, names};
use crate::labels::{self, Component};
use crate::validate::ValidMlService;

/// The Service of an MLService. Its name becomes the `service` label of scraped series.
pub fn service(m: &ValidMlService) -> Service {
    let name = m.name.as_str();
    Service {
        metadata: child_meta(
            names::inference(name),
            &m.namespace,
            labels::recommended(name, Component::Inference),
            m.owner.as_ref(),
        ),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels::selector(name)),
            ports: Some(vec![ServicePort {
                name: Some(HTTP_PORT_NAME.into()),
                port: HTTP_PORT,
                target_port: Some(IntOrString::String(HTTP_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                app_protocol: Some("http".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// In-cluster URL of an MLService (for status).
pub fn endpoint(m: &ValidMlService) -> String {
    format!(
        "http://{}.{}.svc:{HTTP_PORT}",
        names::inference(m.name.as_str()),
        m.namespace
    )
}
