//! Kubernetes Events about a resource (events.k8s.io/v1): published from the update_status
//! step, only when the Degraded condition appears or its message changes, so that a resource
//! that stays invalid or blocked does not produce a write per reconciliation.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use kube::runtime::events::{Event, EventType};

use super::context::Context;
use super::ownership::REASON_CHILD_CONFLICT;
use super::status::{Verdict, degraded_message};

/// Longest note the events API accepts.
const MAX_NOTE: usize = 1024;

/// A Warning Event with `degraded`'s reason and message, when it is True and says something
/// other than the `previous` conditions did.
pub async fn degraded<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    degraded: &Verdict,
    previous: &[Condition],
) {
    if !degraded.status || degraded_message(previous) == Some(degraded.message.as_str()) {
        return;
    }
    let action = if degraded.reason == REASON_CHILD_CONFLICT {
        "Apply"
    } else {
        "Validate"
    };
    warn(ctx, obj, &degraded.reason, action, &degraded.message).await;
}

/// Publishes a Warning event naming what is wrong with `obj`. Failures are logged, never
/// fatal: the condition on status already says the same.
pub async fn warn<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    reason: &str,
    action: &str,
    note: &str,
) {
    let mut note = note.to_owned();
    if note.len() > MAX_NOTE {
        let mut end = MAX_NOTE - 3;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    let event = Event {
        type_: EventType::Warning,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    // The recorder folds Events of one reason about one object, seen within minutes, into a
    // series of the first, which keeps the first note. Naming the object's version makes the
    // Event of an edited spec (a new version) an Event of its own, with its own note.
    let mut regarding = obj.object_ref(&());
    regarding.resource_version = obj.meta().resource_version.clone();
    if let Err(err) = ctx.recorder.publish(&event, &regarding).await {
        tracing::warn!(error = %err, reason, "could not publish event");
    }
}
