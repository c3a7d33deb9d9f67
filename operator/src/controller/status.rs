//! The update_status step: conditions computed from what the other steps found, merged with
//! the previous ones (`lastTransitionTime` moves only when a condition's status flips), and
//! written with server-side apply only when something changed — an idle operator writes
//! nothing.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::context::Context;
use super::error::Error;
use crate::api::conditions::{DEGRADED, PROGRESSING, READY};
use crate::labels::MANAGER;

/// The three conditions of a resource, before timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub ready: Verdict,
    pub progressing: Verdict,
    pub degraded: Verdict,
}

/// One condition's status, reason and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Verdict {
    pub fn new(status: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

impl Assessment {
    /// A resource whose children were not applied, with the reason and message why.
    pub fn refused(reason: &str, message: &str, waiting: &str) -> Self {
        Self {
            ready: Verdict::new(false, reason, message),
            progressing: Verdict::new(false, reason, waiting),
            degraded: Verdict::new(true, reason, message),
        }
    }

    /// Turns the verdicts into conditions, keeping the transition time of every condition
    /// whose status did not change.
    pub fn conditions(
        &self,
        previous: &[Condition],
        generation: Option<i64>,
        now: Timestamp,
    ) -> Vec<Condition> {
        [
            (READY, &self.ready),
            (PROGRESSING, &self.progressing),
            (DEGRADED, &self.degraded),
        ]
        .into_iter()
        .map(|(type_, verdict)| {
            let status = if verdict.status { "True" } else { "False" };
            condition(
                type_,
                status,
                &verdict.reason,
                &verdict.message,
                previous,
                generation,
                now,
            )
        })
        .collect()
    }
}

/// One condition, keeping the previous transition time when its status did not change.
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or_else(|| Time(now), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// Now, to the second (the API server stores condition times at that precision, so a
/// finer time would never compare equal to what is read back).
pub fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).expect("the current time is representable")
}

/// Writes `desired` as the status of `obj` unless it equals `current`. Returns whether a
/// write happened.
pub async fn write_if_changed<K, S>(
    ctx: &Context,
    obj: &K,
    current: Option<&S>,
    desired: &S,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    S: Serialize + PartialEq,
{
    if current == Some(desired) {
        return Ok(false);
    }
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": desired,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::Status)?;
    Ok(true)
}

/// The Degraded condition's message when it is True, for deciding whether an Event is due.
pub fn degraded_message(conditions: &[Condition]) -> Option<&str> {
    conditions
        .iter()
        .find(|c| c.type_ == DEGRADED && c.status == "True")
        .map(|c| c.message.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assessment(ready: bool) -> Assessment {
        Assessment {
            ready: Verdict::new(ready, "Reconciled", "all good"),
            progressing: Verdict::new(!ready, "RollingOut", "pods starting"),
            degraded: Verdict::new(false, "Reconciled", ""),
        }
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let first = assessment(false).conditions(&[], Some(1), t0);
        assert!(first.iter().all(|c| c.last_transition_time.0 == t0));

        let same = assessment(false).conditions(&first, Some(1), t1);
        assert_eq!(same, first, "nothing changed, so nothing moves");

        let flipped = assessment(true).conditions(&first, Some(2), t1);
        let by_type = |cs: &[Condition], t: &str| cs.iter().find(|c| c.type_ == t).unwrap().clone();
        assert_eq!(by_type(&flipped, READY).last_transition_time.0, t1);
        assert_eq!(by_type(&flipped, PROGRESSING).last_transition_time.0, t1);
        assert_eq!(
            by_type(&flipped, DEGRADED).last_transition_time.0,
            t0,
            "Degraded stayed False"
        );
        assert!(flipped.iter().all(|c| c.observed_generation == Some(2)));
    }

    #[test]
    fn degraded_message_only_when_true() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let ok = assessment(true).conditions(&[], None, t0);
        assert_eq!(degraded_message(&ok), None);
        let mut bad = assessment(false);
        bad.degraded = Verdict::new(true, "InvalidSpec", "spec.x: wrong");
        assert_eq!(
            degraded_message(&bad.conditions(&[], None, t0)),
            Some("spec.x: wrong")
        );
    }
}
