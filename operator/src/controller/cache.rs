//! The caches of child objects, one per kind, filled by the label-selected watches: where the
//! reconcile steps read children from. Untyped, so that a child another hand has made
//! undecodable cannot stall its watch; typed on the way out where a step needs fields. Reads
//! only: nothing here sends a request.

use std::sync::Arc;

use kube::api::DynamicObject;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::error::Error;
use crate::builders::ChildKind;

/// Caches of every child kind.
#[derive(Clone, Default)]
pub struct ChildStores(Vec<(ChildKind, Store<DynamicObject>)>);

impl ChildStores {
    pub fn insert(&mut self, kind: ChildKind, store: Store<DynamicObject>) {
        self.0.retain(|(k, _)| *k != kind);
        self.0.push((kind, store));
    }

    fn store(&self, kind: &ChildKind) -> Option<&Store<DynamicObject>> {
        self.0
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, store)| store)
    }

    /// Waits until every cache holds a complete first listing.
    pub async fn wait_until_ready(&self) {
        for (_, store) in &self.0 {
            let _ = store.wait_until_ready().await;
        }
    }

    /// The cached child, if any.
    pub fn get(&self, kind: &ChildKind, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let reference = ObjectRef::new_with(name, kind.api_resource().clone()).within(namespace);
        self.store(kind)?.get(&reference)
    }

    /// The cached child of type `K`, decoded.
    pub fn get_typed<K>(&self, namespace: &str, name: &str) -> Result<Option<K>, Error>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        self.get(&ChildKind::of::<K>(), namespace, name)
            .map(|object| decode(&object))
            .transpose()
    }

    /// Cached children of `kind` whose controller is the object with `owner_uid`.
    pub fn owned_by(&self, kind: &ChildKind, owner_uid: &str) -> Vec<Arc<DynamicObject>> {
        self.store(kind).map_or_else(Vec::new, |store| {
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
                (kind.clone(), count)
            })
            .collect()
    }
}

/// A live child as its type: the caches and the apply answers are untyped.
pub fn decode<K>(object: &DynamicObject) -> Result<K, Error>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    serde_json::to_value(object)
        .and_then(serde_json::from_value)
        .map_err(|source| Error::Decode {
            kind: ChildKind::of::<K>(),
            name: object.name_any(),
            source,
        })
}

fn controller_uid(child: &DynamicObject) -> Option<&str> {
    child
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}
