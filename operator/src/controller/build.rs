//! The build step: the desired children of a validated resource, from the pure builders,
//! erased to one generic form for the apply step. No client, no I/O.

use super::children::{Child, ChildKind};
use super::error::Error;
use crate::builders;
use crate::validate::{OperatorSettings, ValidMlService, ValidSlo};

/// Kinds an MLService may own (pruning looks at these).
pub const MLSERVICE_KINDS: &[ChildKind] = &[
    ChildKind::Deployment,
    ChildKind::Service,
    ChildKind::ServiceMonitor,
    ChildKind::ConfigMap,
];
/// Kinds an SLO may own.
pub const SLO_KINDS: &[ChildKind] = &[ChildKind::PrometheusRule, ChildKind::ConfigMap];

fn erase<K: kube::Resource<DynamicType = ()> + serde::Serialize>(
    kind: ChildKind,
    typed: &K,
) -> Result<Child, Error> {
    Child::new(kind, typed).map_err(|source| Error::Build { kind, source })
}

/// Deployment, Service, ServiceMonitor and, when enabled, the dashboard ConfigMap.
pub fn mlservice_children(
    m: &ValidMlService,
    settings: &OperatorSettings,
) -> Result<Vec<Child>, Error> {
    let mut children = vec![
        erase(ChildKind::Deployment, &builders::deployment(m, settings))?,
        erase(ChildKind::Service, &builders::service(m))?,
        erase(
            ChildKind::ServiceMonitor,
            &builders::service_monitor(m, settings),
        )?,
    ];
    if m.dashboard {
        children.push(erase(
            ChildKind::ConfigMap,
            &builders::mlservice_dashboard_configmap(m, settings),
        )?);
    }
    Ok(children)
}

/// The PrometheusRule and the dashboard ConfigMap of an SLO.
pub fn slo_children(
    slo: &ValidSlo,
    settings: &OperatorSettings,
) -> Result<(Vec<Child>, Vec<String>), Error> {
    let rule = builders::prometheus_rule(slo, settings);
    // Distinct names in group order (the burn-rate alerts share one name per tier).
    let rule_names = crate::slo_rules::rule_names(slo);
    let children = vec![
        erase(ChildKind::PrometheusRule, &rule)?,
        erase(
            ChildKind::ConfigMap,
            &builders::slo_dashboard_configmap(slo, settings),
        )?,
    ];
    Ok((children, rule_names))
}
