//! The watches that feed the controllers: one label-selected watch per kind a parent may
//! own, cached, each change routed to the controller of the child's owner; and one watch per
//! parent kind, watched untyped and decoded one object at a time, so an object that does not
//! decode is logged and skipped instead of stalling the watch. Reads only.

use std::fmt::Debug;
use std::future::Future;

use futures::channel::mpsc;
use futures::{FutureExt, Stream, StreamExt, TryStreamExt, future};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::Scope;
use super::cache::{ChildStores, pack};
use super::slo::slos_targeting;
use crate::api::{MLService, SLO};
use crate::builders::children::all_kinds;
use crate::labels::{MANAGED_BY, MANAGER};

/// Where changes are sent: the controller of each parent kind.
#[derive(Clone)]
pub struct Triggers {
    pub mlservice: mpsc::UnboundedSender<ObjectRef<MLService>>,
    pub slo: mpsc::UnboundedSender<ObjectRef<SLO>>,
}

fn dynamic_api(client: &Client, scope: &Scope, resource: &ApiResource) -> Api<DynamicObject> {
    match scope {
        Scope::AllNamespaces => Api::all_with(client.clone(), resource),
        Scope::Namespace(ns) => Api::namespaced_with(client.clone(), ns, resource),
    }
}

/// One watch per kind any parent may own, selected by the `managed-by` label: the caches they
/// fill, and the future that runs them.
pub fn children(
    client: &Client,
    scope: &Scope,
    triggers: &Triggers,
) -> (ChildStores, impl Future<Output = ()> + use<>) {
    let mut stores = ChildStores::default();
    let managed = watcher::Config::default()
        .labels(&format!("{MANAGED_BY}={MANAGER}"))
        .any_semantic();
    let watches = all_kinds().into_iter().map(|kind| {
        let resource = kind.api_resource().clone();
        let writer = reflector::store::Writer::new(resource.clone());
        stores.insert(kind.clone(), writer.as_reader());
        let triggers = triggers.clone();
        watcher::watcher(dynamic_api(client, scope, &resource), managed.clone())
            .default_backoff()
            .modify(pack)
            .reflect(writer)
            .touched_objects()
            .for_each(move |child| {
                match child {
                    Ok(child) => route_to_owner(&child, &triggers.mlservice, &triggers.slo),
                    Err(error) => {
                        tracing::warn!(kind = kind.name(), %error, "child watch failed; retrying");
                    }
                }
                future::ready(())
            })
            .boxed()
    });
    let watches: Vec<_> = watches.collect();
    (stores, future::join_all(watches).map(|_| ()))
}

/// The watch of parent kind `K`, decoded and cached through `writer`. `on_event` sees every
/// event once the cache holds it; the stream yields the objects applied.
pub fn parents<K, F>(
    client: &Client,
    scope: &Scope,
    writer: reflector::store::Writer<K>,
    on_event: F,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + use<K, F>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug + Send + Sync + 'static,
    F: FnMut(&Event<K>) + Send + 'static,
{
    watcher::watcher(
        dynamic_api(client, scope, &ApiResource::erase::<K>(&())),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .try_filter_map(|event| future::ready(Ok(decode::<K>(event))))
    .reflect(writer)
    .inspect_ok(on_event)
    .applied_objects()
}

/// What a change of an MLService means for the SLOs: each one that targets it is checked
/// again, since an SLO depends on its target's existence.
pub fn recheck_slos(
    slos: Store<SLO>,
    trigger: mpsc::UnboundedSender<ObjectRef<SLO>>,
) -> impl FnMut(&Event<MLService>) + Send + 'static {
    move |event| {
        for mls in event_objects(event) {
            for slo in slos_targeting(mls, &slos.state()) {
                let _ = trigger.unbounded_send(slo);
            }
        }
    }
}

/// Decodes one watch event; an object that does not decode is logged and dropped.
fn decode<K: Resource<DynamicType = ()> + DeserializeOwned>(
    event: Event<DynamicObject>,
) -> Option<Event<K>> {
    let parse = |obj: DynamicObject| {
        let (namespace, name) = (obj.namespace(), obj.name_any());
        obj.try_parse::<K>()
            .map_err(|error| tracing::error!(kind = %K::kind(&()), ?namespace, name, %error, "skipping an object that does not decode"))
            .ok()
    };
    Some(match event {
        Event::Apply(obj) => Event::Apply(parse(obj)?),
        Event::InitApply(obj) => Event::InitApply(parse(obj)?),
        Event::Delete(obj) => Event::Delete(parse(obj)?),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    })
}

fn event_objects<K>(event: &Event<K>) -> Vec<&K> {
    match event {
        Event::Apply(obj) | Event::InitApply(obj) | Event::Delete(obj) => vec![obj],
        Event::Init | Event::InitDone => Vec::new(),
    }
}

/// Sends a child's change to the controller of its owner.
fn route_to_owner(
    child: &DynamicObject,
    mls: &mpsc::UnboundedSender<ObjectRef<MLService>>,
    slo: &mpsc::UnboundedSender<ObjectRef<SLO>>,
) {
    let Some(namespace) = child.namespace() else {
        return;
    };
    for owner in child
        .owner_references()
        .iter()
        .filter(|o| o.controller == Some(true))
    {
        if owner.api_version != MLService::api_version(&())
            && owner.api_version != SLO::api_version(&())
        {
            continue;
        }
        if owner.kind == MLService::kind(&()) {
            let _ = mls.unbounded_send(ObjectRef::new(&owner.name).within(&namespace));
        } else if owner.kind == SLO::kind(&()) {
            let _ = slo.unbounded_send(ObjectRef::new(&owner.name).within(&namespace));
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use serde_json::json;

    use super::*;

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn mls(name: &str, replicas: &serde_json::Value) -> DynamicObject {
        object(json!({
            "apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"model": {"name": "m", "version": "1"}, "replicas": replicas},
        }))
    }

    #[tokio::test]
    async fn a_malformed_object_is_skipped_and_the_others_flow() {
        let events = vec![
            Ok(Event::Init),
            Ok(Event::InitApply(mls("good", &json!(2)))),
            Ok(Event::InitApply(mls("malformed", &json!("two")))),
            Ok(Event::InitDone),
            Ok(Event::Apply(mls("later", &json!(1)))),
        ];
        let (store, writer) = reflector::store::<MLService>();
        let applied: Vec<String> = futures::stream::iter(events)
            .try_filter_map(|event: Event<DynamicObject>| {
                future::ready(Ok::<_, watcher::Error>(decode::<MLService>(event)))
            })
            .reflect(writer)
            .applied_objects()
            .map(|obj| obj.unwrap().name_any())
            .collect()
            .await;
        assert_eq!(applied, ["good", "later"]);
        let mut cached: Vec<String> = store.state().iter().map(|m| m.name_any()).collect();
        cached.sort();
        assert_eq!(cached, ["good", "later"]);
    }

    #[test]
    fn a_child_change_reaches_the_controller_of_its_owner_only() {
        let child = |kind: &str, api_version: &str, controller: bool| {
            object(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "ns", "ownerReferences": [
                    {"apiVersion": api_version, "kind": kind, "name": "owner", "uid": "u", "controller": controller}
                ]},
            }))
        };
        let (mls_tx, mut mls_rx) = mpsc::unbounded();
        let (slo_tx, mut slo_rx) = mpsc::unbounded();
        route_to_owner(
            &child("MLService", "tidewatch.io/v1alpha1", true),
            &mls_tx,
            &slo_tx,
        );
        route_to_owner(
            &child("SLO", "tidewatch.io/v1alpha1", true),
            &mls_tx,
            &slo_tx,
        );
        route_to_owner(
            &child("SLO", "tidewatch.io/v1alpha1", false),
            &mls_tx,
            &slo_tx,
        );
        route_to_owner(
            &child("MLService", "example.com/v1", true),
            &mls_tx,
            &slo_tx,
        );
        drop((mls_tx, slo_tx));
        let to_mls: Vec<_> = futures::executor::block_on_stream(&mut mls_rx).collect();
        let to_slo: Vec<_> = futures::executor::block_on_stream(&mut slo_rx).collect();
        assert_eq!(to_mls, [ObjectRef::new("owner").within("ns")]);
        assert_eq!(to_slo, [ObjectRef::new("owner").within("ns")]);
    }
}
