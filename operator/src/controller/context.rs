//! What every reconciliation shares: the client (used only by the apply and status steps),
//! the operator settings, the caches of parents and children, metrics and the event recorder.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};

use super::children::ChildKind;
use super::metrics::{ControllerName, Metrics};
use crate::api::MLService;
use crate::validate::OperatorSettings;

/// Identifies a child across reconciliations.
pub type ChildKey = (ChildKind, String, String);

/// Caches of every child kind, filled by one watch per kind.
#[derive(Clone, Default)]
pub struct ChildStores(BTreeMap<ChildKind, Store<DynamicObject>>);

impl ChildStores {
    pub fn insert(&mut self, kind: ChildKind, store: Store<DynamicObject>) {
        self.0.insert(kind, store);
    }

    /// Waits until every cache holds a complete first listing.
    pub async fn wait_until_ready(&self) {
        for store in self.0.values() {
            let _ = store.wait_until_ready().await;
        }
    }

    /// The cached child, if any.
    pub fn get(&self, kind: ChildKind, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let store = self.0.get(&kind)?;
        store.get(&ObjectRef::new_with(name, kind.api_resource()).within(namespace))
    }

    /// Cached children of `kind` whose controller is the object with `owner_uid`.
    pub fn owned_by(&self, kind: ChildKind, owner_uid: &str) -> Vec<Arc<DynamicObject>> {
        self.0.get(&kind).map_or_else(Vec::new, |store| {
            store
                .state()
                .into_iter()
                .filter(|child| controller_uid(child) == Some(owner_uid))
                .collect()
        })
    }

    /// Counts cached children per kind whose controller is of `owner_kind`.
    pub fn count_owned_by_kind(&self, owner_kind: &str) -> Vec<(ChildKind, usize)> {
        self.0
            .iter()
            .map(|(kind, store)| {
                let count = store
                    .state()
                    .iter()
                    .filter(|child| {
                        child
                            .owner_references()
                            .iter()
                            .any(|o| o.controller == Some(true) && o.kind == owner_kind)
                    })
                    .count();
                (*kind, count)
            })
            .collect()
    }
}

fn controller_uid(child: &DynamicObject) -> Option<&str> {
    child
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// Shared by every reconciliation of both controllers.
pub struct Context {
    pub client: Client,
    pub settings: OperatorSettings,
    pub children: ChildStores,
    pub mlservices: Store<MLService>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    /// Desired-object hash and resulting resourceVersion of our last apply of each child: a
    /// child the server normalises (quantities, defaults) is not re-applied while unchanged.
    pub applied: Mutex<HashMap<ChildKey, (u64, String)>>,
    /// Consecutive failures per object, for exponential backoff.
    pub failures: Mutex<HashMap<(ControllerName, String, String), u32>>,
    /// Periodic re-check of a converged object.
    pub requeue_after: Duration,
}

impl Context {
    /// Delay before retrying a failed object: 2 s doubling up to 5 minutes.
    pub fn backoff(&self, controller: ControllerName, namespace: &str, name: &str) -> Duration {
        let mut failures = self.failures.lock().expect("failures lock");
        let count = failures
            .entry((controller, namespace.to_owned(), name.to_owned()))
            .or_insert(0);
        *count = count.saturating_add(1);
        backoff_delay(*count)
    }

    /// Forgets the failures of an object that reconciled.
    pub fn succeeded(&self, controller: ControllerName, namespace: &str, name: &str) {
        self.failures.lock().expect("failures lock").remove(&(
            controller,
            namespace.to_owned(),
            name.to_owned(),
        ));
    }
}

/// 2 s, 4 s, 8 s ... capped at 300 s.
pub fn backoff_delay(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(8);
    Duration::from_secs((2u64 << exponent).min(300))
}

#[cfg(test)]
mod tests {
    use super::backoff_delay;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let delays: Vec<u64> = (1..=10).map(|n| backoff_delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
