//! Which Secrets an MLService may name (`spec.featureStore.credentialsSecret`), by the
//! operator's allow-list (`--allowed-credentials-secrets`). Whoever may create an
//! MLService otherwise gets the named Secret's key into pods of an image of their choosing,
//! so the list is how an administrator bounds that. An allow-list of names rather than a
//! label on the Secret: checking a label would need the right to read Secrets, which the
//! operator does not have. Pure; the MLService controller asks before building.

use std::fmt;
use std::str::FromStr;

use crate::validate::ValidMlService;

/// Condition reason (Degraded) and Event reason of an MLService naming a Secret the
/// allow-list does not hold.
pub const REASON_SECRET_NOT_ALLOWED: &str = "SecretNotAllowed";

/// One entry of the allow-list: `namespace/name`, or `namespace/*` for every Secret there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSecret {
    namespace: String,
    /// `None` for `*`.
    name: Option<String>,
}

impl FromStr for AllowedSecret {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (namespace, name) = text
            .split_once('/')
            .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
            .ok_or_else(|| format!("{text:?} is not namespace/name or namespace/*"))?;
        Ok(Self {
            namespace: namespace.to_owned(),
            name: (name != "*").then(|| name.to_owned()),
        })
    }
}

impl fmt::Display for AllowedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name.as_deref().unwrap_or("*");
        write!(f, "{}/{name}", self.namespace)
    }
}

impl AllowedSecret {
    fn admits(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name.as_deref().is_none_or(|n| n == name)
    }
}

/// The operator's rule for Secret references.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SecretPolicy {
    /// Any Secret of the MLService's own namespace (no list given).
    #[default]
    AnyInNamespace,
    /// Only the Secrets listed.
    Only(Vec<AllowedSecret>),
}

impl SecretPolicy {
    /// The policy of `--allowed-credentials-secrets`: none given allows any.
    pub fn from_list(entries: Vec<AllowedSecret>) -> Self {
        if entries.is_empty() {
            Self::AnyInNamespace
        } else {
            Self::Only(entries)
        }
    }

    /// Why `m` may not be applied, if it names a Secret the policy does not admit.
    pub fn refusal(&self, m: &ValidMlService) -> Option<String> {
        let Self::Only(allowed) = self else {
            return None;
        };
        let (secret, _key) = m.feature_store.as_ref()?.credentials.as_ref()?;
        if allowed.iter().any(|a| a.admits(&m.namespace, secret)) {
            return None;
        }
        Some(format!(
            "spec.featureStore.credentialsSecret.name: Secret {secret:?} is not on the \
             operator's allow-list for namespace {:?} (--allowed-credentials-secrets); \
             ask the operator's administrator to add {}/{secret}",
            m.namespace, m.namespace
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::MLService;
    use crate::validate::validate_mlservice;

    fn naming(secret: Option<&str>) -> ValidMlService {
        let mut spec = json!({"model": {"name": "m", "version": "1"}});
        if let Some(secret) = secret {
            spec["featureStore"] =
                json!({"address": "redis://redis:6379", "credentialsSecret": {"name": secret}});
        }
        let mls: MLService = serde_json::from_value(json!({
            "apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
            "metadata": {"name": "web", "namespace": "fraud"}, "spec": spec,
        }))
        .unwrap();
        validate_mlservice(&mls).unwrap()
    }

    fn policy(entries: &[&str]) -> SecretPolicy {
        SecretPolicy::from_list(entries.iter().map(|e| e.parse().unwrap()).collect())
    }

    #[test]
    fn entries_are_namespace_and_name_or_a_star() {
        assert_eq!(
            "fraud/redis".parse::<AllowedSecret>().unwrap().to_string(),
            "fraud/redis"
        );
        assert_eq!(
            "fraud/*".parse::<AllowedSecret>().unwrap().to_string(),
            "fraud/*"
        );
        for bad in ["redis", "/redis", "fraud/", "a/b/c", ""] {
            assert!(bad.parse::<AllowedSecret>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn without_a_list_any_secret_of_the_namespace_is_allowed() {
        assert_eq!(policy(&[]).refusal(&naming(Some("anything"))), None);
    }

    #[test]
    fn with_a_list_only_its_secrets_are_allowed() {
        let only = policy(&["fraud/redis", "payments/*"]);
        assert_eq!(only.refusal(&naming(Some("redis"))), None);
        assert_eq!(only.refusal(&naming(None)), None, "no Secret named");
        let refused = only.refusal(&naming(Some("db-admin"))).expect("refused");
        assert!(
            refused.starts_with("spec.featureStore.credentialsSecret.name: Secret \"db-admin\"")
        );
        assert!(refused.contains("fraud/db-admin"), "{refused}");
        assert!(
            policy(&["fraud/*"])
                .refusal(&naming(Some("db-admin")))
                .is_none()
        );
        assert!(
            policy(&["payments/*"])
                .refusal(&naming(Some("redis")))
                .is_some()
        );
    }
}
