//! Whether a live object with a child's name may be written by the parent about to apply
//! it. Pure: the apply step finds the object (cache, or one metadata GET) and asks here.
//!
//! The rule: an object is the parent's only when its controller ownerReference carries the
//! parent's UID. Anything else of that name is a conflict and is never written, whatever
//! its labels say, because labels are set by whoever creates the object:
//! - an object another controller owns (a Deployment's, another MLService's);
//! - a leftover of a deleted parent of the same name (same kind and name, another UID): it
//!   waits for the garbage collector, whose deletion reaches the new parent through the
//!   child watch, which then applies its own;
//! - an object with no controller, even one carrying `app.kubernetes.io/managed-by:
//!   tidewatch-operator` (made by hand, applied from `render` output, or orphaned by
//!   `kubectl delete --cascade=orphan`): delete it, or give it a controller ownerReference
//!   to the parent, to hand it over.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::builders::ChildKind;

/// Condition reason (Degraded) and Event reason of a parent blocked by a conflict.
pub const REASON_CHILD_CONFLICT: &str = "ChildConflict";

/// The parent about to apply, as ownership sees it.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
}

/// A live object of a child's name that the parent does not own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: ChildKind,
    pub name: String,
    pub holder: Holder,
}

/// Who holds a conflicting object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Another controller: its kind, name and UID.
    Controller {
        kind: String,
        name: String,
        uid: String,
    },
    /// An earlier parent of the same kind and name, deleted: the garbage collector's.
    DeletedNamesake { uid: String },
    /// No controller at all.
    Nobody,
}

/// The conflict `live` is for `parent`, if any; `None` when the object is the parent's.
pub fn conflict(kind: &ChildKind, live: &ObjectMeta, parent: Claimant<'_>) -> Option<Conflict> {
    let holder = match controller(live) {
        Some(owner) if owner.uid == parent.uid => return None,
        Some(owner) if owner.kind == parent.kind && owner.name == parent.name => {
            Holder::DeletedNamesake {
                uid: owner.uid.clone(),
            }
        }
        Some(owner) => Holder::Controller {
            kind: owner.kind.clone(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
        },
        None => Holder::Nobody,
    };
    Some(Conflict {
        kind: kind.clone(),
        name: live.name.clone().unwrap_or_default(),
        holder,
    })
}

fn controller(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { kind, name, holder } = self;
        write!(f, "{kind} {name} already exists and ")?;
        match holder {
            Holder::Controller { kind, name, uid } => {
                write!(f, "is controlled by {kind} {name} (uid {uid})")
            }
            Holder::DeletedNamesake { uid } => write!(
                f,
                "belongs to a deleted namesake (uid {uid}); waiting for the garbage collector"
            ),
            Holder::Nobody => f.write_str(
                "has no controller; delete it or add a controller ownerReference to hand it over",
            ),
        }
    }
}

/// The Degraded message of a parent blocked by `conflicts`: every one, in apply order.
pub fn message(conflicts: &[Conflict]) -> String {
    let each: Vec<String> = conflicts.iter().map(ToString::to_string).collect();
    format!(
        "not applied, to leave objects it does not own alone: {}",
        each.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;
    use serde_json::json;

    use super::*;

    const PARENT: Claimant<'static> = Claimant {
        kind: "MLService",
        name: "web",
        uid: "u-new",
    };

    fn meta(value: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(value).unwrap()
    }

    fn owner(kind: &str, name: &str, uid: &str, controller: bool) -> serde_json::Value {
        json!({"apiVersion": "x/v1", "kind": kind, "name": name, "uid": uid, "controller": controller})
    }

    fn holder(live: &ObjectMeta) -> Option<Holder> {
        conflict(&ChildKind::of::<Service>(), live, PARENT).map(|c| c.holder)
    }

    #[test]
    fn only_a_controller_reference_with_the_parents_uid_makes_an_object_ours() {
        let ours = meta(json!({"name": "web", "ownerReferences": [
            owner("Other", "o", "u-other", false), owner("MLService", "web", "u-new", true)]}));
        assert_eq!(holder(&ours), None);

        let not_controller = meta(json!({"name": "web", "ownerReferences": [
            owner("MLService", "web", "u-new", false)]}));
        assert_eq!(holder(&not_controller), Some(Holder::Nobody));
    }

    #[test]
    fn our_labels_without_our_controller_are_a_conflict() {
        let labelled = meta(json!({"name": "web", "labels": {
            "app.kubernetes.io/managed-by": "tidewatch-operator",
            "app.kubernetes.io/instance": "web"}}));
        assert_eq!(holder(&labelled), Some(Holder::Nobody));
    }

    #[test]
    fn the_holder_is_named() {
        let foreign = meta(json!({"name": "web", "ownerReferences": [
            owner("Deployment", "frontend", "u-d", true)]}));
        let found = conflict(&ChildKind::of::<Service>(), &foreign, PARENT).unwrap();
        assert_eq!(
            found.to_string(),
            "Service web already exists and is controlled by Deployment frontend (uid u-d)"
        );

        let leftover = meta(json!({"name": "web", "ownerReferences": [
            owner("MLService", "web", "u-old", true)]}));
        assert_eq!(
            holder(&leftover),
            Some(Holder::DeletedNamesake {
                uid: "u-old".into()
            })
        );
        let other_mls = meta(json!({"name": "web", "ownerReferences": [
            owner("MLService", "api", "u-api", true)]}));
        assert!(matches!(
            holder(&other_mls),
            Some(Holder::Controller { name, .. }) if name == "api"
        ));
    }
}
