//! What the controllers remember about each parent between reconciliations: the digest and
//! resulting resourceVersion of each child they applied (so that a child the server
//! normalises is not applied again while unchanged) and the parent's consecutive failures
//! (for backoff). Forgotten once the parent is deleted, so the memory follows the fleet
//! instead of growing with every parent ever seen. In-process state only; no I/O.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::{ObjectRef, Store};
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

    /// Forgets the parents of `controller` that `cached`, the cache of their kind, no longer
    /// holds: deleted ones. Judged from the cache rather than from delete events, because a
    /// watch that re-lists after an outage shows a deletion it missed only as an absence, and
    /// a reconciliation still running when the event arrives would record after it.
    pub fn forget_absent<K>(&self, controller: ControllerName, cached: &Store<K>)
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        self.0.lock().expect("memory lock").retain(|parent, _| {
            parent.controller != controller
                || cached
                    .get(&ObjectRef::new(&parent.name).within(&parent.namespace))
                    .is_some()
        });
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
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;
    use crate::api::MLService;

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

    fn mlservice(name: &str) -> MLService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
            "metadata": {"name": name, "namespace": "fraud"},
            "spec": {"model": {"name": "m", "version": "1"}},
        }))
        .unwrap()
    }

    #[test]
    fn a_deleted_parent_is_forgotten_and_the_others_kept() {
        let (cache, mut writer) = reflector::store::<MLService>();
        for name in ["gone", "kept"] {
            writer.apply_watcher_event(&Event::Apply(mlservice(name)));
        }
        let memory = Memory::default();
        let kind = ChildKind::of::<ConfigMap>();
        let (gone, kept) = (
            parent(ControllerName::mlservice, "gone"),
            parent(ControllerName::mlservice, "kept"),
        );
        let slo = parent(ControllerName::slo, "gone");
        for p in [&gone, &kept, &slo] {
            memory.record_applied(p, &kind, "cm", applied("1"));
        }
        memory.failed(&gone);
        memory.forget_absent(ControllerName::mlservice, &cache);
        assert_eq!(memory.len(), 3, "every parent still exists");

        writer.apply_watcher_event(&Event::Delete(mlservice("gone")));
        memory.forget_absent(ControllerName::mlservice, &cache);
        assert_eq!(memory.len(), 2);
        assert_eq!(memory.applied(&gone, &kind, "cm"), None);
        assert_eq!(memory.applied(&kept, &kind, "cm"), Some(applied("1")));
        assert_eq!(
            memory.applied(&slo, &kind, "cm"),
            Some(applied("1")),
            "an SLO of the same name is the SLO cache's business"
        );
        assert_eq!(
            memory.failed(&gone),
            Duration::from_secs(2),
            "a parent recreated under the same name starts afresh"
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
