//! What the controllers remember about each parent between reconciliations: the digest and
//! resulting resourceVersion of each child they applied (so that a child the server
//! normalises is not applied again while unchanged) and the parent's consecutive failures
//! (for backoff). Forgotten when the parent is deleted, so the memory follows the fleet
//! instead of growing with every parent ever seen. In-process state only; no I/O.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::{Resource, ResourceExt};

use super::metrics::ControllerName;
use crate::builders::ChildKind;

/// Identifies a parent: its controller, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParentKey {
    pub controller: ControllerName,
    pub namespace: String,
    pub name: String,
}

impl ParentKey {
    pub fn of<K: Resource>(controller: ControllerName, parent: &K) -> Self {
        Self {
            controller,
            namespace: parent.namespace().unwrap_or_default(),
            name: parent.name_any(),
        }
    }
}

/// Our last apply of a child: the digest of the desired object and the resourceVersion the
/// server answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub digest: u64,
    pub resource_version: String,
}

#[derive(Debug, Default)]
struct ParentMemory {
    applied: HashMap<(ChildKind, String), Applied>,
    failures: u32,
}

impl ParentMemory {
    fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.failures == 0
    }
}

/// Per-parent memory of both controllers.
#[derive(Debug, Default)]
pub struct Memory(Mutex<HashMap<ParentKey, ParentMemory>>);

impl Memory {
    fn with<T>(&self, parent: &ParentKey, f: impl FnOnce(&mut ParentMemory) -> T) -> T {
        let mut parents = self.0.lock().expect("memory lock");
        let memory = parents.entry(parent.clone()).or_default();
        let result = f(memory);
        if memory.is_empty() {
            parents.remove(parent);
        }
        result
    }

    /// Our last apply of the child `kind`/`name` of `parent`, if we remember one.
    pub fn applied(&self, parent: &ParentKey, kind: &ChildKind, name: &str) -> Option<Applied> {
        let parents = self.0.lock().expect("memory lock");
        parents
            .get(parent)?
            .applied
            .get(&(kind.clone(), name.to_owned()))
            .cloned()
    }

    /// Remembers an apply of the child `kind`/`name` of `parent`.
    pub fn record_applied(
        &self,
        parent: &ParentKey,
        kind: &ChildKind,
        name: &str,
        applied: Applied,
    ) {
        self.with(parent, |m| {
            m.applied.insert((kind.clone(), name.to_owned()), applied)
        });
    }

    /// Forgets a child that was deleted.
    pub fn forget_child(&self, parent: &ParentKey, kind: &ChildKind, name: &str) {
        self.with(parent, |m| {
            m.applied.remove(&(kind.clone(), name.to_owned()))
        });
    }

    /// Counts a failure of `parent` and returns the delay before retrying it.
    pub fn failed(&self, parent: &ParentKey) -> Duration {
        self.with(parent, |m| {
            m.failures = m.failures.saturating_add(1);
            backoff_delay(m.failures)
        })
    }

    /// Forgets the failures of a parent that reconciled.
    pub fn succeeded(&self, parent: &ParentKey) {
        self.with(parent, |m| m.failures = 0);
    }

    /// Forgets everything about a parent that was deleted.
    pub fn forget(&self, parent: &ParentKey) {
        self.0.lock().expect("memory lock").remove(parent);
    }

    /// Forgets every parent of `controller` for which `exists` is false (after a watch
    /// re-listed, deletions it missed show up only as absences).
    pub fn retain(&self, controller: ControllerName, exists: impl Fn(&ParentKey) -> bool) {
        self.0
            .lock()
            .expect("memory lock")
            .retain(|parent, _| parent.controller != controller || exists(parent));
    }

    /// How many parents are remembered.
    pub fn len(&self) -> usize {
        self.0.lock().expect("memory lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// 2 s, 4 s, 8 s ... capped at 300 s.
pub fn backoff_delay(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(8);
    Duration::from_secs((2u64 << exponent).min(300))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    fn parent(controller: ControllerName, name: &str) -> ParentKey {
        ParentKey {
            controller,
            namespace: "fraud".into(),
            name: name.into(),
        }
    }

    fn applied(version: &str) -> Applied {
        Applied {
            digest: 7,
            resource_version: version.into(),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let delays: Vec<u64> = (1..=10).map(|n| backoff_delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }

    #[test]
    fn failures_back_off_per_parent_until_a_success() {
        let memory = Memory::default();
        let (a, b) = (
            parent(ControllerName::mlservice, "a"),
            parent(ControllerName::mlservice, "b"),
        );
        assert_eq!(memory.failed(&a), Duration::from_secs(2));
        assert_eq!(memory.failed(&a), Duration::from_secs(4));
        assert_eq!(
            memory.failed(&b),
            Duration::from_secs(2),
            "b has its own count"
        );
        memory.succeeded(&a);
        assert_eq!(
            memory.failed(&a),
            Duration::from_secs(2),
            "reset by the success"
        );
    }

    #[test]
    fn a_deleted_parent_is_forgotten() {
        let memory = Memory::default();
        let kind = ChildKind::of::<ConfigMap>();
        let (gone, kept) = (
            parent(ControllerName::mlservice, "gone"),
            parent(ControllerName::slo, "kept"),
        );
        memory.record_applied(&gone, &kind, "mls-gone-dashboard", applied("1"));
        memory.failed(&gone);
        memory.record_applied(&kept, &kind, "slo-kept-dashboard", applied("2"));
        assert_eq!(memory.len(), 2);

        memory.forget(&gone);
        assert_eq!(memory.len(), 1);
        assert_eq!(memory.applied(&gone, &kind, "mls-gone-dashboard"), None);
        assert_eq!(
            memory.applied(&kept, &kind, "slo-kept-dashboard"),
            Some(applied("2"))
        );
        assert_eq!(
            memory.failed(&gone),
            Duration::from_secs(2),
            "a parent recreated under the same name starts afresh"
        );
    }

    #[test]
    fn parents_absent_after_a_relist_are_forgotten_for_their_controller_only() {
        let memory = Memory::default();
        let kind = ChildKind::of::<ConfigMap>();
        for p in [
            parent(ControllerName::mlservice, "present"),
            parent(ControllerName::mlservice, "absent"),
            parent(ControllerName::slo, "absent"),
        ] {
            memory.record_applied(&p, &kind, "cm", applied("1"));
        }
        memory.retain(ControllerName::mlservice, |p| p.name == "present");
        assert_eq!(memory.len(), 2);
        assert!(
            memory
                .applied(&parent(ControllerName::mlservice, "absent"), &kind, "cm")
                .is_none()
        );
        assert!(
            memory
                .applied(&parent(ControllerName::slo, "absent"), &kind, "cm")
                .is_some(),
            "the SLO controller's parents are not the MLService watch's business"
        );
    }

    #[test]
    fn a_parent_with_nothing_to_remember_takes_no_room() {
        let memory = Memory::default();
        let p = parent(ControllerName::slo, "a");
        let kind = ChildKind::of::<ConfigMap>();
        memory.failed(&p);
        memory.succeeded(&p);
        assert!(memory.is_empty());
        memory.record_applied(&p, &kind, "cm", applied("1"));
        memory.forget_child(&p, &kind, "cm");
        assert!(memory.is_empty());
    }
}
