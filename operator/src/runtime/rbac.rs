//! The operator's exact permissions, in one place: the rules for what it watches and writes
//! where it reconciles, and a Role for its leader-election Lease in its own namespace. Every
//! resource those rules name is namespaced and the operator reads nothing cluster-scoped, so
//! the same rules serve a ClusterRole over all namespaces or, when it watches a list of
//! namespaces, one Role in each and nothing cluster-wide. Groups and resources are read off
//! the types the operator uses — the parents, the kinds of every parent's children, Events,
//! Leases — so a new child kind is covered without an edit here. `tidewatch-operator rbac`
//! prints them with a ServiceAccount and the bindings; the Helm chart, `manifests/` and the
//! e2e suite use that output. No wildcards, no Secrets, no Pods.

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

/// The rules where the operator reconciles: in a ClusterRole when it watches every namespace,
/// in a Role per namespace when it watches a list.
pub fn reconcile_rules() -> Vec<PolicyRule> {
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
/// `namespace`, as one multi-document YAML stream: the reconcile rules in a ClusterRole when
/// `watched` is empty (all namespaces), else in a Role and RoleBinding in each of `watched`.
pub fn manifests(
    namespace: &str,
    service_account: &str,
    watched: &[String],
) -> Result<String, serde_yaml::Error> {
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
    let mut documents = vec![serde_yaml::to_string(&ServiceAccount {
        metadata: meta(service_account, Some(namespace)),
        ..ServiceAccount::default()
    })?];
    if watched.is_empty() {
        documents.push(serde_yaml::to_string(&ClusterRole {
            metadata: meta(role_name, None),
            rules: Some(reconcile_rules()),
            ..ClusterRole::default()
        })?);
        documents.push(serde_yaml::to_string(&ClusterRoleBinding {
            metadata: meta(role_name, None),
            role_ref: role_ref("ClusterRole"),
            subjects: Some(vec![subject.clone()]),
        })?);
    }
    for watched in watched {
        documents.push(serde_yaml::to_string(&Role {
            metadata: meta(role_name, Some(watched)),
            rules: Some(reconcile_rules()),
        })?);
        documents.push(serde_yaml::to_string(&RoleBinding {
            metadata: meta(role_name, Some(watched)),
            role_ref: role_ref("Role"),
            subjects: Some(vec![subject.clone()]),
        })?);
    }
    // The Lease's Role is named apart: the operator's namespace may also be a watched one.
    let lease_role = format!("{role_name}-leader-election");
    documents.push(serde_yaml::to_string(&Role {
        metadata: meta(&lease_role, Some(namespace)),
        rules: Some(lease_rules()),
    })?);
    documents.push(serde_yaml::to_string(&RoleBinding {
        metadata: meta(&lease_role, Some(namespace)),
        role_ref: RoleRef {
            name: lease_role.clone(),
            ..role_ref("Role")
        },
        subjects: Some(vec![subject]),
    })?);
    Ok(documents.iter().map(|d| format!("---\n{d}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_wildcards_and_no_reads_of_secrets() {
        for rule in reconcile_rules().into_iter().chain(lease_rules()) {
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
        let rules = reconcile_rules();
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

    fn kinds_and_namespaces(yaml: &str) -> Vec<(String, Option<String>)> {
        yaml.split("---\n")
            .filter(|doc| !doc.trim().is_empty())
            .map(|doc| {
                let value: serde_yaml::Value = serde_yaml::from_str(doc).unwrap();
                let kind = value["kind"].as_str().unwrap().to_owned();
                let namespace = value["metadata"]["namespace"].as_str().map(str::to_owned);
                (kind, namespace)
            })
            .collect()
    }

    #[test]
    fn all_namespaces_get_a_cluster_role() {
        let yaml = manifests("tidewatch-system", "tidewatch-operator", &[]).unwrap();
        let system = Some("tidewatch-system".to_owned());
        assert_eq!(
            kinds_and_namespaces(&yaml),
            [
                ("ServiceAccount".into(), system.clone()),
                ("ClusterRole".into(), None),
                ("ClusterRoleBinding".into(), None),
                ("Role".into(), system.clone()),
                ("RoleBinding".into(), system),
            ]
        );
    }

    #[test]
    fn watched_namespaces_get_roles_and_nothing_cluster_wide() {
        let watched = ["fraud".to_owned(), "payments".to_owned()];
        let yaml = manifests("tidewatch-system", "tidewatch-operator", &watched).unwrap();
        let found = kinds_and_namespaces(&yaml);
        assert!(
            found
                .iter()
                .all(|(kind, ns)| ns.is_some() && !kind.starts_with("Cluster")),
            "{found:?}"
        );
        for namespace in &watched {
            for kind in ["Role", "RoleBinding"] {
                assert!(
                    found.contains(&(kind.to_owned(), Some(namespace.clone()))),
                    "{found:?}"
                );
            }
        }
        assert!(
            yaml.contains(
                "name: tidewatch-operator-leader-election\n  namespace: tidewatch-system"
            )
        );
    }
}
