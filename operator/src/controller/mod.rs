//! The controllers: MLService (owns Deployment, Service, ServiceMonitor, dashboard ConfigMap)
//! and SLO (owns PrometheusRule and dashboard ConfigMap, re-checked when its MLService
//! changes). One watch per kind feeds a cache and routes changes to the owning controller.
//! Parents are watched as untyped objects and decoded one by one, so an object that does
//! not decode is logged and skipped instead of stalling the watch.

pub mod apply;
pub mod cache;
pub mod context;
pub mod drift;
pub mod error;
pub mod events;
pub mod memory;
pub mod metrics;
pub mod mlservice;
pub mod outcome;
#[cfg(test)]
mod reconcile_tests;
pub mod slo;
pub mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt, TryStreamExt, future};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use cache::ChildStores;
use context::Context;
use metrics::{ControllerName, Metrics};

use crate::api::{MLService, SLO};
use crate::builders::children::all_kinds;
use crate::labels::{MANAGED_BY, MANAGER};
use crate::report::Report;
use crate::validate::OperatorSettings;

/// Where the controllers look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    AllNamespaces,
    Namespace(String),
}

/// Tuning of the controllers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reconciliations running at once, per controller.
    pub concurrency: u16,
    /// Periodic re-check of converged objects.
    pub requeue_after: Duration,
    /// Identity in Events (`reportingInstance`).
    pub instance: String,
}

fn dynamic_api(client: &Client, scope: &Scope, resource: &ApiResource) -> Api<DynamicObject> {
    match scope {
        Scope::AllNamespaces => Api::all_with(client.clone(), resource),
        Scope::Namespace(ns) => Api::namespaced_with(client.clone(), ns, resource),
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

fn strip_managed_fields(obj: &mut DynamicObject) {
    obj.managed_fields_mut().clear();
}

/// Runs both controllers in `scope` until `shutdown` resolves.
pub async fn run(
    client: Client,
    scope: Scope,
    settings: OperatorSettings,
    options: Options,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Clone + Send + Sync + 'static,
) {
    let (mls_trigger, mls_triggers) = mpsc::unbounded::<ObjectRef<MLService>>();
    let (slo_trigger, slo_triggers) = mpsc::unbounded::<ObjectRef<SLO>>();

    // Children: one label-selected watch per kind, cached, changes routed to the owner.
    let mut stores = ChildStores::default();
    let mut child_watches = Vec::new();
    let managed = watcher::Config::default()
        .labels(&format!("{MANAGED_BY}={MANAGER}"))
        .any_semantic();
    for kind in all_kinds() {
        let resource = kind.api_resource().clone();
        let writer = reflector::store::Writer::new(resource.clone());
        stores.insert(kind.clone(), writer.as_reader());
        let (mls_trigger, slo_trigger) = (mls_trigger.clone(), slo_trigger.clone());
        let watch = watcher::watcher(dynamic_api(&client, &scope, &resource), managed.clone())
            .default_backoff()
            .modify(strip_managed_fields)
            .reflect(writer)
            .touched_objects()
            .for_each(move |child| {
                match child {
                    Ok(child) => route_to_owner(&child, &mls_trigger, &slo_trigger),
                    Err(error) => {
                        tracing::warn!(kind = kind.name(), %error, "child watch failed; retrying");
                    }
                }
                future::ready(())
            });
        child_watches.push(watch.boxed());
    }
    let child_watches = future::join_all(child_watches);

    // Parents.
    let (mls_store, mls_writer) = reflector::store::<MLService>();
    let (slo_store, slo_writer) = reflector::store::<SLO>();
    let mls_resource = ApiResource::erase::<MLService>(&());
    let slo_resource = ApiResource::erase::<SLO>(&());
    let slo_lookup = slo_store.clone();
    let mls_stream = watcher::watcher(
        dynamic_api(&client, &scope, &mls_resource),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .try_filter_map(|event| future::ready(Ok(decode::<MLService>(event))))
    .reflect(mls_writer)
    .inspect_ok(move |event| {
        // An SLO depends on its target's existence: re-check it on every change.
        for mls in event_objects(event) {
            for slo in slo::slos_targeting(mls, &slo_lookup.state()) {
                let _ = slo_trigger.unbounded_send(slo);
            }
        }
    })
    .applied_objects();
    let slo_stream = watcher::watcher(
        dynamic_api(&client, &scope, &slo_resource),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .try_filter_map(|event| future::ready(Ok(decode::<SLO>(event))))
    .reflect(slo_writer)
    .applied_objects();

    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: Some(options.instance.clone()),
    };
    let ctx = Arc::new(Context::new(
        client.clone(),
        settings,
        stores.clone(),
        mls_store.clone(),
        metrics.clone(),
        Recorder::new(client.clone(), reporter),
        options.requeue_after,
    ));
    let config = ControllerConfig::default()
        .concurrency(options.concurrency)
        .debounce(Duration::from_millis(500));

    let mls_controller = Controller::for_stream(mls_stream, mls_store.clone())
        .reconcile_on(mls_triggers)
        .with_config(config.clone())
        .graceful_shutdown_on(shutdown.clone())
        .run(mlservice::reconcile, mlservice::error_policy, ctx.clone())
        .for_each(|result| {
            if let Err(error) = result {
                tracing::debug!(error = %Report(&error), "MLService controller");
            }
            future::ready(())
        });
    let slo_controller = Controller::for_stream(slo_stream, slo_store.clone())
        .reconcile_on(slo_triggers)
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone())
        .run(slo::reconcile, slo::error_policy, ctx.clone())
        .for_each(|result| {
            if let Err(error) = result {
                tracing::debug!(error = %Report(&error), "SLO controller");
            }
            future::ready(())
        });

    // Reconciling before the caches are filled would re-apply every child and, for an SLO,
    // report a target that is merely not cached yet as missing.
    let children_ready = {
        let stores = stores.clone();
        async move { stores.wait_until_ready().await }
    };
    let controllers = async move {
        children_ready.await;
        tracing::info!("child caches filled; starting controllers");
        let slo_after_targets = async move {
            let _ = mls_store.wait_until_ready().await;
            slo_controller.await;
        };
        future::join(mls_controller, slo_after_targets).await;
    };
    let follow = follow_caches(ctx.clone(), slo_store.clone());
    futures::pin_mut!(controllers);
    let background = future::join(child_watches, follow);
    futures::pin_mut!(background);
    future::select(controllers, background).await;
    tracing::info!("controllers stopped");
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

/// Keeps what follows from the caches current: `tidewatch_operator_managed_objects`, and
/// the per-parent memory, which forgets parents that were deleted.
async fn follow_caches(ctx: Arc<Context>, slos: Store<SLO>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        ctx.memory
            .forget_absent(ControllerName::mlservice, &ctx.mlservices);
        ctx.memory.forget_absent(ControllerName::slo, &slos);
        let (mlservice, slo) = (MLService::kind(&()), SLO::kind(&()));
        ctx.metrics
            .set_managed(ControllerName::mlservice, &mlservice, ctx.mlservices.len());
        ctx.metrics
            .set_managed(ControllerName::slo, &slo, slos.len());
        for (controller, owner_kind) in [
            (ControllerName::mlservice, &mlservice),
            (ControllerName::slo, &slo),
        ] {
            for (kind, count) in ctx.children.count_owned_by_kind(owner_kind) {
                ctx.metrics.set_managed(controller, kind.name(), count);
            }
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
