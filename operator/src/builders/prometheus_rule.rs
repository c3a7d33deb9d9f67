//! The PrometheusRule of an SLO: the rule groups of the SLO rule generator.

use super::{child_meta, names};
use crate::labels::{self, Component};
use crate::monitoring_types::{PrometheusRule, PrometheusRuleSpec};
use crate::slo_rules::rule_groups;
use crate::validate::{OperatorSettings, ValidSlo};

/// The PrometheusRule of an SLO.
pub fn prometheus_rule(slo: &ValidSlo, settings: &OperatorSettings) -> PrometheusRule {
    let name = slo.name.as_str();
    let mut object_labels = settings.monitoring_labels().clone();
    object_labels.extend(labels::recommended(name, Component::Slo));
    PrometheusRule {
        metadata: child_meta(
            names::slo_rule(name),
            &slo.namespace,
            object_labels,
            slo.owner.as_ref(),
        ),
        spec: PrometheusRuleSpec {
            groups: rule_groups(slo),
        },
    }
}
