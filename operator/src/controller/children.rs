//! The kinds of child objects and their generic form: a child is a desired object of a known
//! kind, serialised once from a typed builder output. No I/O here.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;

use crate::api::mlservice::ChildRef;
use crate::monitoring_types::{PrometheusRule, ServiceMonitor};

/// Every kind a Tidewatch resource can own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChildKind {
    Deployment,
    Service,
    ServiceMonitor,
    ConfigMap,
    PrometheusRule,
}

impl ChildKind {
    /// All kinds, in a stable order.
    pub const ALL: [ChildKind; 5] = [
        Self::Deployment,
        Self::Service,
        Self::ServiceMonitor,
        Self::ConfigMap,
        Self::PrometheusRule,
    ];

    /// The API of this kind's objects in `namespace`.
    pub fn api(self, client: &Client, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client.clone(), namespace, &self.api_resource())
    }

    /// The kind's API coordinates, taken from the types.
    pub fn api_resource(self) -> ApiResource {
        match self {
            Self::Deployment => ApiResource::erase::<Deployment>(&()),
            Self::Service => ApiResource::erase::<Service>(&()),
            Self::ServiceMonitor => ApiResource::erase::<ServiceMonitor>(&()),
            Self::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
            Self::PrometheusRule => ApiResource::erase::<PrometheusRule>(&()),
        }
    }

    /// The `kind` field of objects of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::Service => "Service",
            Self::ServiceMonitor => "ServiceMonitor",
            Self::ConfigMap => "ConfigMap",
            Self::PrometheusRule => "PrometheusRule",
        }
    }
}

/// A desired child, ready to be applied.
#[derive(Debug, Clone)]
pub struct Child {
    pub kind: ChildKind,
    pub object: DynamicObject,
}

impl Child {
    /// Erases a builder's typed output. Serialising a builder's own types cannot fail; a
    /// failure is a programming error reported as such.
    pub fn new<K: Resource<DynamicType = ()> + Serialize>(
        kind: ChildKind,
        typed: &K,
    ) -> Result<Self, serde_json::Error> {
        let value = serde_json::to_value(typed)?;
        Ok(Self {
            kind,
            object: serde_json::from_value(value)?,
        })
    }

    pub fn name(&self) -> String {
        self.object.name_any()
    }

    /// How the parent's status names this child.
    pub fn child_ref(&self) -> ChildRef {
        ChildRef {
            kind: self.kind.as_str().to_owned(),
            name: self.name(),
        }
    }
}
