//! The operator's exact permissions, in one place: a ClusterRole for what it watches and
//! writes in any namespace, and a Role for its leader-election Lease in its own namespace.
//! Groups and resources are read off the types the operator uses — the parents, the kinds of
//! every parent's children, Events, Leases — so a new child kind is covered without an edit
//! here. `tidewatch-operator rbac` prints them with a ServiceAccount and the bindings; the
//! Helm chart, `manifests/` and the e2e suite use that output. No wildcards.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use kube::api::{ApiResource, ObjectMeta};

use crate::api::{MLService, SLO};
use crate::builders::children::all_kinds;
use crate::labels::{MANAGED_BY, NAME, PART_OF, PART_OF_VALUE};

/// One rule per API group, over the `resources` (with `/subresource`, if given) of that group,
/// groups in order of first appearance.
fn rules(resources: &[ApiResource], subresource: Option<&str>, verbs: &[&str]) -> Vec<PolicyRule> {
    let mut rules: Vec<PolicyRule> = Vec::new();
    for resource in resources {
        let name = match subresource {
            Some(sub) => format!("{}/{sub}", resource.plural),
            None => resource.plural.clone(),
        };
        let group = Some(vec![resource.group.clone()]);
        match rules.iter_mut().find(|rule| rule.api_groups == group) {
            Some(rule) => rule.resources.get_or_insert_default().push(name),
            None => rules.push(PolicyRule {
                api_groups: group,
                resources: Some(vec![name]),
                verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
                ..PolicyRule::default()
            }),
        }
    }
    rules
}

/// Children are cached from watches (list, watch; get reads a rollout the cache shows
/// unfinished), written with server-side apply (patch; create when the apply creates), and
/// deleted when no longer wanted.
const CHILD_VERBS: &[&str] = &["get", "list", "watch", "create", "patch", "delete"];

/// The cluster-wide rules.
pub fn cluster_rules() -> Vec<PolicyRule> {
    let parents = [
        ApiResource::erase::<MLService>(&()),
        ApiResource::erase::<SLO>(&()),
    ];
    let children: Vec<ApiResource> = all_kinds()
        .iter()
        .map(|kind| kind.api_resource().clone())
        .collect();
    [
        rules(&parents, None, &["list", "watch"]),
        rules(&parents, Some("status"), &["patch"]),
        // Owner references that block deletion need this where the
        // OwnerReferencesPermissionEnforcement admission plugin is on.
        rules(&parents, Some("finalizers"), &["update"]),
        rules(&children, None, CHILD_VERBS),
        rules(
            &[ApiResource::erase::<Event>(&())],
            None,
            &["create", "patch"],
        ),
    ]
    .concat()
}

/// The rules on the leader-election Lease, in the operator's namespace.
pub fn lease_rules() -> Vec<PolicyRule> {
    rules(
        &[ApiResource::erase::<Lease>(&())],
        None,
        &["get", "create", "update"],
    )
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(
            [
                (NAME, "tidewatch-operator"),
                (PART_OF, PART_OF_VALUE),
                (MANAGED_BY, "tidewatch"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ),
        ..ObjectMeta::default()
    }
}

/// Every RBAC object of an installation whose operator runs as `service_account` in
/// `namespace`, as one multi-document YAML stream.
pub fn manifests(namespace: &str, service_account: &str) -> Result<String, serde_yaml::Error> {
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: service_account.into(),
        namespace: Some(namespace.into()),
        ..Subject::default()
    };
    let role_name = "tidewatch-operator";
    let role_ref = |kind: &str| RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: role_name.into(),
    };
    let documents = [
        serde_yaml::to_string(&ServiceAccount {
            metadata: meta(service_account, Some(namespace)),
            ..ServiceAccount::default()
        })?,
        serde_yaml::to_string(&ClusterRole {
            metadata: meta(role_name, None),
            rules: Some(cluster_rules()),
            ..ClusterRole::default()
        })?,
        serde_yaml::to_string(&ClusterRoleBinding {
            metadata: meta(role_name, None),
            role_ref: role_ref("ClusterRole"),
            subjects: Some(vec![subject.clone()]),
        })?,
        serde_yaml::to_string(&Role {
            metadata: meta(role_name, Some(namespace)),
            rules: Some(lease_rules()),
        })?,
        serde_yaml::to_string(&RoleBinding {
            metadata: meta(role_name, Some(namespace)),
            role_ref: role_ref("Role"),
            subjects: Some(vec![subject]),
        })?,
    ];
    Ok(documents.iter().map(|d| format!("---\n{d}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_wildcards_and_no_reads_of_secrets() {
        for rule in cluster_rules().into_iter().chain(lease_rules()) {
            let words = rule
                .api_groups
                .iter()
                .flatten()
                .chain(rule.resources.iter().flatten())
                .chain(&rule.verbs);
            assert!(words.clone().all(|w| w != "*"), "wildcard in {rule:?}");
            assert!(
                rule.resources
                    .iter()
                    .flatten()
                    .all(|r| r != "secrets" && r != "pods"),
                "{rule:?}"
            );
        }
    }

    #[test]
    fn every_child_kind_is_covered() {
        let rules = cluster_rules();
        for kind in all_kinds() {
            let resource = kind.api_resource();
            let covered = rules.iter().any(|r| {
                r.api_groups.iter().flatten().any(|g| *g == resource.group)
                    && r.resources.iter().flatten().any(|p| *p == resource.plural)
                    && ["list", "watch", "patch", "delete"]
                        .iter()
                        .all(|v| r.verbs.iter().any(|have| have == v))
            });
            assert!(covered, "no rule covers {kind:?}");
        }
    }

    #[test]
    fn manifests_are_five_documents() {
        let yaml = manifests("tidewatch-system", "tidewatch-operator").unwrap();
        assert_eq!(yaml.matches("---\n").count(), 5);
        assert!(yaml.contains("kind: ClusterRole\n"));
        assert!(yaml.contains("namespace: tidewatch-system"));
    }
}
