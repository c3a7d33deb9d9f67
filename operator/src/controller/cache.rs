//! The caches of child objects, one per kind, filled by the label-selected watches: where the
//! reconcile steps read children from. Untyped, so that a child another hand has made
//! undecodable cannot stall its watch; typed on the way out where a step needs fields.
//! Packed to stay small with thousands of children (`pack`): the metadata as the server has
//! it, the rest as one JSON text in which long strings are digests (`drift::condense`), so a
//! dashboard costs a few hundred bytes instead of a tree of JSON values many times the size
//! of its text. Reads only: nothing here sends a request.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::drift;
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

    fn get_packed(
        &self,
        kind: &ChildKind,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<DynamicObject>> {
        let reference = ObjectRef::new_with(name, kind.api_resource().clone()).within(namespace);
        self.store(kind)?.get(&reference)
    }

    /// The cached child, if any, unpacked: long strings are digests.
    pub fn get(&self, kind: &ChildKind, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        self.get_packed(kind, namespace, name)
            .map(|packed| Arc::new(unpack(&packed)))
    }

    /// The cached child's metadata, if any (cheaper than `get`).
    pub fn metadata(&self, kind: &ChildKind, namespace: &str, name: &str) -> Option<ObjectMeta> {
        self.get_packed(kind, namespace, name)
            .map(|packed| packed.metadata.clone())
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

/// Where a packed child keeps its body.
const PACKED_BODY: &str = "tidewatch.io/packed-body";

/// Packs a child for its cache: no managed fields, long annotation values as digests, and
/// everything outside the metadata (spec, data, status) as one compact JSON text with long
/// strings as digests. Drift detection compares condensed values only (`apply`).
pub fn pack(obj: &mut DynamicObject) {
    obj.managed_fields_mut().clear();
    for value in obj.annotations_mut().values_mut() {
        if value.len() > drift::LONG_STRING {
            *value = drift::condensed_string(value);
        }
    }
    let mut body = std::mem::take(&mut obj.data);
    drift::condense(&mut body);
    let mut packed = serde_json::Map::new();
    packed.insert(PACKED_BODY.to_owned(), Value::String(body.to_string()));
    obj.data = Value::Object(packed);
}

/// The child as `pack` found it, long strings excepted; an object that was not packed (the
/// tests fill caches by hand) as it is.
fn unpack(obj: &DynamicObject) -> DynamicObject {
    let body = obj
        .data
        .get(PACKED_BODY)
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok());
    match body {
        Some(data) => DynamicObject {
            types: obj.types.clone(),
            metadata: obj.metadata.clone(),
            data,
        },
        None => obj.clone(),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_packed_child_keeps_its_metadata_and_digests_of_long_strings() {
        let dashboard = "{\"panels\": []}".repeat(1_000);
        let full = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "d", "namespace": "ns", "resourceVersion": "7",
                "labels": {"grafana_dashboard": "1"},
                "annotations": {"grafana_folder": "ML", "note": "n".repeat(500)},
                "ownerReferences": [{"apiVersion": "tidewatch.io/v1alpha1", "kind": "SLO", "name": "s", "uid": "u", "controller": true}],
                "managedFields": [{"manager": "tidewatch-operator", "operation": "Apply"}],
            },
            "data": {"d.json": dashboard, "short": "kept"},
            "status": {"replicas": 2},
        });
        let mut child: DynamicObject = serde_json::from_value(full.clone()).unwrap();
        pack(&mut child);
        assert!(serde_json::to_string(&child).unwrap().len() < 1_000);
        assert!(child.managed_fields().is_empty());
        assert_eq!(child.metadata.resource_version.as_deref(), Some("7"));

        let unpacked = serde_json::to_value(unpack(&child)).unwrap();
        assert_eq!(
            unpacked["metadata"]["ownerReferences"],
            full["metadata"]["ownerReferences"]
        );
        assert_eq!(unpacked["metadata"]["annotations"]["grafana_folder"], "ML");
        assert_eq!(unpacked["data"]["short"], "kept");
        assert_eq!(unpacked["status"], full["status"]);
        assert_ne!(unpacked["data"]["d.json"], full["data"]["d.json"]);

        // Drift detection condenses what it wants the same way, so it still sees a match,
        // and an edit of the long string.
        let mut desired = json!({"data": {"d.json": dashboard}});
        drift::condense(&mut desired);
        assert!(drift::is_subset(&desired, &unpacked));
        let mut edited = json!({"data": {"d.json": format!("{dashboard} ")}});
        drift::condense(&mut edited);
        assert!(!drift::is_subset(&edited, &unpacked));
    }

    #[test]
    fn an_object_that_was_not_packed_is_read_as_it_is() {
        let plain: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]},
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(unpack(&plain)).unwrap(),
            serde_json::to_value(&plain).unwrap()
        );
    }
}
