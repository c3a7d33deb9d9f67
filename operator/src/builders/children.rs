//! What each parent owns, as one typed value per parent: built once from the validated model,
//! then rendered (`render`) or applied and pruned (`controller`) field by field. Those steps
//! destructure the value without `..`, so a child added here that one of them forgets does not
//! compile. The kinds a parent may own — and so the watches and the RBAC rules — are read off
//! the field types, never spelled as strings. No I/O.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::ApiResource;
use kube::{Resource, ResourceExt};

use crate::api::mlservice::ChildRef;
use crate::monitoring_types::{PrometheusRule, ServiceMonitor};
use crate::validate::{OperatorSettings, ValidMlService, ValidSlo};

/// A kind of child object, with its API coordinates taken from the Rust type. Cheap to
/// clone: it keys caches and the per-parent memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChildKind(Arc<ApiResource>);

impl ChildKind {
    /// The kind of `K`'s objects.
    pub fn of<K: Resource<DynamicType = ()>>() -> Self {
        Self(Arc::new(ApiResource::erase::<K>(&())))
    }

    /// Group, version, kind and plural, for dynamic APIs, caches and RBAC rules.
    pub fn api_resource(&self) -> &ApiResource {
        &self.0
    }

    /// The `kind` field of this kind's objects, e.g. `Deployment`.
    pub fn name(&self) -> &str {
        &self.0.kind
    }
}

impl fmt::Display for ChildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a parent's status names one child.
fn child_ref<K: Resource<DynamicType = ()>>(child: &K) -> ChildRef {
    ChildRef {
        kind: K::kind(&()).into_owned(),
        name: child.name_any(),
    }
}

/// The children of an MLService.
#[derive(Debug, Clone)]
pub struct MlServiceChildren {
    /// The inference pods.
    pub deployment: Deployment,
    /// Their ClusterIP Service; its name is the `service` label of the scraped series.
    pub service: Service,
    /// The scrape of the Service's `/metrics`.
    pub service_monitor: ServiceMonitor,
    /// The dashboard ConfigMap, only when `monitoring.dashboard` is on.
    pub dashboard: Option<ConfigMap>,
}

impl MlServiceChildren {
    /// Every child of `m`, from the pure builders.
    pub fn build(m: &ValidMlService, settings: &OperatorSettings) -> Self {
        Self {
            deployment: super::deployment(m, settings),
            service: super::service(m),
            service_monitor: super::service_monitor(m, settings),
            dashboard: m
                .dashboard
                .then(|| super::mlservice_dashboard_configmap(m, settings)),
        }
    }

    /// Every kind an MLService may own, in apply order.
    pub fn kinds() -> Vec<ChildKind> {
        vec![
            ChildKind::of::<Deployment>(),
            ChildKind::of::<Service>(),
            ChildKind::of::<ServiceMonitor>(),
            ChildKind::of::<ConfigMap>(),
        ]
    }

    /// The children as the MLService's status lists them, sorted.
    pub fn refs(&self) -> Vec<ChildRef> {
        let Self {
            deployment,
            service,
            service_monitor,
            dashboard,
        } = self;
        let mut refs = vec![
            child_ref(deployment),
            child_ref(service),
            child_ref(service_monitor),
        ];
        refs.extend(dashboard.iter().map(child_ref));
        refs.sort();
        refs
    }
}

/// The children of an SLO.
#[derive(Debug, Clone)]
pub struct SloChildren {
    /// The rule group: recording rules, burn-rate and absent alerts.
    pub rule: PrometheusRule,
    /// The SLO dashboard ConfigMap.
    pub dashboard: ConfigMap,
}

impl SloChildren {
    /// Every child of `slo`, from the pure builders.
    pub fn build(slo: &ValidSlo, settings: &OperatorSettings) -> Self {
        Self {
            rule: super::prometheus_rule(slo, settings),
            dashboard: super::slo_dashboard_configmap(slo, settings),
        }
    }

    /// Every kind an SLO may own, in apply order.
    pub fn kinds() -> Vec<ChildKind> {
        vec![
            ChildKind::of::<PrometheusRule>(),
            ChildKind::of::<ConfigMap>(),
        ]
    }

    /// The children as the SLO's status lists them, sorted.
    pub fn refs(&self) -> Vec<ChildRef> {
        let Self { rule, dashboard } = self;
        let mut refs = vec![child_ref(rule), child_ref(dashboard)];
        refs.sort();
        refs
    }
}

/// Every kind any parent may own, each once, MLService kinds first.
pub fn all_kinds() -> Vec<ChildKind> {
    let mut kinds = MlServiceChildren::kinds();
    for kind in SloChildren::kinds() {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{MLService, SLO};
    use crate::validate::{validate_mlservice, validate_slo};

    fn mlservice() -> MLService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
            "metadata": {"name": "fraud-detector", "namespace": "fraud"},
            "spec": {"model": {"name": "fraud", "version": "1"}},
        }))
        .unwrap()
    }

    fn slo() -> SLO {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tidewatch.io/v1alpha1", "kind": "SLO",
            "metadata": {"name": "availability", "namespace": "fraud"},
            "spec": {"target": {"mlService": "fraud-detector"}, "objective": 99.9,
                     "indicator": {"availability": {}}},
        }))
        .unwrap()
    }

    fn kind_names(kinds: &[ChildKind]) -> Vec<String> {
        let mut names: Vec<String> = kinds.iter().map(|k| k.name().to_owned()).collect();
        names.sort();
        names
    }

    fn ref_kinds(refs: &[ChildRef]) -> Vec<String> {
        let mut kinds: Vec<String> = refs.iter().map(|r| r.kind.clone()).collect();
        kinds.sort();
        kinds
    }

    #[test]
    fn the_kinds_of_a_parent_are_those_of_its_fields() {
        let settings = OperatorSettings::default();
        let mls = validate_mlservice(&mlservice()).unwrap();
        assert!(
            mls.dashboard,
            "the dashboard is on by default: every field is set"
        );
        let full = MlServiceChildren::build(&mls, &settings);
        assert_eq!(
            ref_kinds(&full.refs()),
            kind_names(&MlServiceChildren::kinds())
        );
        let slo = validate_slo(&slo(), Some(&mlservice())).unwrap();
        let children = SloChildren::build(&slo, &settings);
        assert_eq!(
            ref_kinds(&children.refs()),
            kind_names(&SloChildren::kinds())
        );
    }

    #[test]
    fn coordinates_come_from_the_types() {
        let names: Vec<String> = all_kinds()
            .iter()
            .map(|k| {
                let r = k.api_resource();
                format!("{}/{} {}", r.api_version, r.plural, k)
            })
            .collect();
        assert_eq!(
            names,
            [
                "apps/v1/deployments Deployment",
                "v1/services Service",
                "monitoring.coreos.com/v1/servicemonitors ServiceMonitor",
                "v1/configmaps ConfigMap",
                "monitoring.coreos.com/v1/prometheusrules PrometheusRule",
            ]
        );
    }

    #[test]
    fn a_dashboard_that_is_off_is_no_child() {
        let mut mls = validate_mlservice(&mlservice()).unwrap();
        mls.dashboard = false;
        let children = MlServiceChildren::build(&mls, &OperatorSettings::default());
        assert_eq!(children.dashboard, None);
        assert_eq!(
            ref_kinds(&children.refs()),
            ["Deployment", "Service", "ServiceMonitor"]
        );
    }
}
