//! Objects the operator does not own keep their names: for each kind of child, an object of
//! that kind and name made first is left exactly as it was (resourceVersion, spec or data,
//! no ownerReference added) when an MLService or SLO wanting that name comes, the parent
//! says so in a `Degraded` condition (`ChildConflict`) and a Warning Event naming the object
//! and its holder, and deleting the parent lets the garbage collector leave it in place.
//! Once the object goes, the parent applies its own. Children orphaned by a deleted parent of
//! the same name are not adopted either.

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tidewatch_e2e::operator::resources::{apply_yaml, condition, mlservices, slos};
use tidewatch_e2e::operator::{Operator, OperatorOptions};
use tidewatch_e2e::{TestNamespace, await_condition, client, eventually, kubectl};

const WAIT: Duration = Duration::from_secs(60);
/// Longer than the garbage collector needs to act on a deleted owner's dependents here.
const GC_GRACE: Duration = Duration::from_secs(5);

const MLS: &str = "web";
const SLO: &str = "web-availability";

/// Group, version, kind and plural of a resource.
type Coordinates = (&'static str, &'static str, &'static str, &'static str);

const SERVICE: Coordinates = ("", "v1", "Service", "services");
const CONFIG_MAP: Coordinates = ("", "v1", "ConfigMap", "configmaps");
const DEPLOYMENT: Coordinates = ("apps", "v1", "Deployment", "deployments");
const MONITORING: &str = "monitoring.coreos.com";

fn resource((group, version, kind, plural): Coordinates) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn mlservice_yaml(namespace: &str) -> String {
    format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {{name: {MLS}, namespace: {namespace}}}\n\
         spec: {{model: {{name: fraud-detector, version: 1.0.0}}, replicas: 1}}\n"
    )
}

fn slo_yaml(namespace: &str) -> String {
    format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {{name: {SLO}, namespace: {namespace}}}\n\
         spec: {{target: {{mlService: {MLS}}}, objective: 99.9, window: 30d, indicator: {{availability: {{}}}}}}\n"
    )
}

/// Which parent wants the foreign object's name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    ByMlService,
    BySlo,
}

/// One class of takeover: a foreign object of `resource`, made before the parent.
struct Case {
    resource: ApiResource,
    /// The whole object as made by its owner (namespace filled in).
    object: Value,
    wanted: Wanted,
    /// What the condition says about its holder.
    holder: &'static str,
}

/// The fields compared before and after: everything a takeover would change.
fn fingerprint(object: &DynamicObject) -> Value {
    json!({
        "resourceVersion": object.resource_version(),
        "uid": object.uid(),
        "labels": object.labels(),
        "ownerReferences": object.owner_references(),
        "spec": object.data.get("spec"),
        "data": object.data.get("data"),
    })
}

/// The fingerprint once the object's own controllers are done with it (the Deployment
/// controller writes a status after creation): the same on two reads a few seconds apart.
async fn settled_fingerprint(api: &Api<DynamicObject>, name: &str) -> anyhow::Result<Value> {
    eventually(WAIT, || async {
        let first = fingerprint(&api.get(name).await?);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let second = fingerprint(&api.get(name).await?);
        anyhow::ensure!(first == second, "{name} still changing");
        Ok(second)
    })
    .await
}

/// The parent once every child is applied (`Degraded=False`, reason `Reconciled`).
async fn reconciled(api: &Api<DynamicObject>, name: &str) -> anyhow::Result<DynamicObject> {
    let found = await_condition(
        api,
        name,
        |o: Option<&DynamicObject>| {
            o.and_then(|o| condition(o, "Degraded"))
                .is_some_and(|(status, reason, _)| status == "False" && reason == "Reconciled")
        },
        WAIT,
    )
    .await?;
    Ok(found.expect("exists"))
}

async fn degraded_by_conflict(api: &Api<DynamicObject>, name: &str) -> anyhow::Result<String> {
    let blocked = await_condition(
        api,
        name,
        |o: Option<&DynamicObject>| {
            o.and_then(|o| condition(o, "Degraded"))
                .is_some_and(|(status, reason, _)| status == "True" && reason == "ChildConflict")
        },
        WAIT,
    )
    .await?
    .expect("exists");
    let ready = condition(&blocked, "Ready").expect("Ready");
    assert_eq!(
        (ready.0.as_str(), ready.1.as_str()),
        ("False", "ChildConflict")
    );
    Ok(condition(&blocked, "Degraded").expect("Degraded").2)
}

async fn conflict_events(
    client: &Client,
    namespace: &str,
    parent: &str,
    child: &str,
) -> anyhow::Result<Vec<Event>> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(parent)
                && e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some("ChildConflict")
                && e.note.as_deref().is_some_and(|n| n.contains(child))
        })
        .collect())
}

/// The whole story of one class: foreign object first, then the parent(s); nothing taken
/// over, the conflict reported once, nothing collected when the parent goes.
async fn foreign_object_is_left_alone(prefix: &str, case: Case) -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, prefix).await?;
    let _operator = Operator::start(ns.name(), &OperatorOptions::new(prefix)).await?;
    let foreign: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &case.resource);
    let mut object = case.object.clone();
    object["metadata"]["namespace"] = json!(ns.name());
    let name = object["metadata"]["name"]
        .as_str()
        .expect("named")
        .to_owned();
    apply_yaml(&serde_json::to_string(&object)?)?;
    let before = settled_fingerprint(&foreign, &name).await?;

    apply_yaml(&mlservice_yaml(ns.name()))?;
    if case.wanted == Wanted::BySlo {
        apply_yaml(&slo_yaml(ns.name()))?;
    }
    let (parent_api, parent) = match case.wanted {
        Wanted::ByMlService => (mlservices(&client, ns.name()), MLS),
        Wanted::BySlo => (slos(&client, ns.name()), SLO),
    };
    let message = degraded_by_conflict(&parent_api, parent).await?;
    let kind = &case.resource.kind;
    assert!(
        message.contains(&format!("{kind} {name} already exists and {}", case.holder)),
        "{message}"
    );
    let events = eventually(WAIT, || async {
        let found = conflict_events(&client, ns.name(), parent, &name).await?;
        anyhow::ensure!(!found.is_empty(), "no ChildConflict Event about {parent}");
        Ok(found)
    })
    .await?;

    // Several re-checks later (30 s apart at most, the operator's periodic one is 30 s here):
    // still untouched, and the same conflict was announced once.
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(
        fingerprint(&foreign.get(&name).await?),
        before,
        "{kind} {name} was written"
    );
    let later = conflict_events(&client, ns.name(), parent, &name).await?;
    assert_eq!(
        later.len(),
        events.len(),
        "one Event per change, not per re-check"
    );
    assert_eq!(
        later
            .iter()
            .map(|e| e.series.as_ref().map(|s| s.count))
            .collect::<Vec<_>>(),
        events
            .iter()
            .map(|e| e.series.as_ref().map(|s| s.count))
            .collect::<Vec<_>>(),
        "no repeat folded into a series either"
    );

    // The parent goes; the garbage collector has nothing of ours to collect there.
    parent_api.delete(parent, &DeleteParams::default()).await?;
    await_condition(
        &parent_api,
        parent,
        |o: Option<&DynamicObject>| o.is_none(),
        WAIT,
    )
    .await?;
    tokio::time::sleep(GC_GRACE).await;
    assert_eq!(
        fingerprint(&foreign.get(&name).await?),
        before,
        "{kind} {name} after delete"
    );
    Ok(())
}

/// A foreign object of the resource at `coordinates` with `metadata` and `body` (its spec
/// or data), whose name `wanted` wants. None of these has a controller.
fn case(coordinates: Coordinates, metadata: Value, body: Value, wanted: Wanted) -> Case {
    let resource = resource(coordinates);
    let mut object = body;
    object["apiVersion"] = json!(resource.api_version);
    object["kind"] = json!(resource.kind);
    object["metadata"] = metadata;
    Case {
        resource,
        object,
        wanted,
        holder: "has no controller",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_service_keeps_its_selector_and_owner() -> anyhow::Result<()> {
    let spec = json!({"spec": {"selector": {"app": "frontend"}, "ports": [{"port": 80}]}});
    let case = case(SERVICE, json!({"name": MLS}), spec, Wanted::ByMlService);
    foreign_object_is_left_alone("cf-svc", case).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_deployment_is_not_taken_over() -> anyhow::Result<()> {
    // Carries our managed-by label, so the operator's cache sees it: the label alone is not
    // ownership.
    let metadata =
        json!({"name": MLS, "labels": {"app.kubernetes.io/managed-by": "tidewatch-operator"}});
    let spec = json!({"spec": {
        "replicas": 0,
        "selector": {"matchLabels": {"app": "frontend"}},
        "template": {
            "metadata": {"labels": {"app": "frontend"}},
            "spec": {"containers": [{"name": "web", "image": "example.com/frontend:1"}]},
        },
    }});
    let case = case(DEPLOYMENT, metadata, spec, Wanted::ByMlService);
    foreign_object_is_left_alone("cf-deploy", case).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_service_monitor_is_not_taken_over() -> anyhow::Result<()> {
    let spec = json!({"spec": {"selector": {"matchLabels": {"app": "frontend"}}, "endpoints": [{"port": "http"}]}});
    let kind = (MONITORING, "v1", "ServiceMonitor", "servicemonitors");
    let case = case(kind, json!({"name": MLS}), spec, Wanted::ByMlService);
    foreign_object_is_left_alone("cf-sm", case).await
}

/// A ConfigMap of someone else's named like a dashboard.
fn dashboard_case(name: &str, wanted: Wanted) -> Case {
    let data = json!({"data": {"settings": "keep me"}});
    case(CONFIG_MAP, json!({"name": name}), data, wanted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_dashboard_configmap_is_not_taken_over() -> anyhow::Result<()> {
    let case = dashboard_case(&format!("mls-{MLS}-dashboard"), Wanted::ByMlService);
    foreign_object_is_left_alone("cf-mls-cm", case).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_prometheus_rule_is_not_taken_over() -> anyhow::Result<()> {
    let metadata = json!({"name": format!("slo-{SLO}")});
    let spec = json!({"spec": {"groups": [{"name": "theirs", "rules": [{"record": "theirs:up", "expr": "up"}]}]}});
    let kind = (MONITORING, "v1", "PrometheusRule", "prometheusrules");
    let case = case(kind, metadata, spec, Wanted::BySlo);
    foreign_object_is_left_alone("cf-rule", case).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_slo_dashboard_configmap_is_not_taken_over() -> anyhow::Result<()> {
    let case = dashboard_case(&format!("slo-{SLO}-dashboard"), Wanted::BySlo);
    foreign_object_is_left_alone("cf-slo-cm", case).await
}

/// An object another controller owns is named with its holder; once it goes, the next
/// reconciliation applies the parent's own children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_names_the_holder_and_clears_when_the_object_goes() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "cf-clear").await?;
    let _operator = Operator::start(ns.name(), &OperatorOptions::new("cf-clear")).await?;
    let configmaps: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &resource(CONFIG_MAP));
    apply_yaml(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: holder, namespace: {}}}\n",
        ns.name()
    ))?;
    let holder_uid = configmaps.get("holder").await?.uid().expect("uid");
    let services: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &resource(SERVICE));
    apply_yaml(&serde_json::to_string(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": MLS, "namespace": ns.name(), "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "holder",
            "uid": holder_uid, "controller": true}]},
        "spec": {"selector": {"app": "frontend"}, "ports": [{"port": 80}]},
    }))?)?;
    apply_yaml(&mlservice_yaml(ns.name()))?;
    let mls = mlservices(&client, ns.name());
    let message = degraded_by_conflict(&mls, MLS).await?;
    assert!(
        message.contains(&format!(
            "Service {MLS} already exists and is controlled by ConfigMap holder (uid {holder_uid})"
        )),
        "{message}"
    );
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &resource(DEPLOYMENT));
    assert!(
        deployments.get_opt(MLS).await?.is_none(),
        "nothing is applied beside a conflict"
    );

    services.delete(MLS, &DeleteParams::default()).await?;
    let converged = reconciled(&mls, MLS).await?;
    let mls_uid = converged.uid().expect("uid");
    let service = services.get(MLS).await?;
    assert!(
        service
            .owner_references()
            .iter()
            .any(|o| o.uid == mls_uid && o.controller == Some(true)),
        "the Service is now the MLService's: {:?}",
        service.owner_references()
    );
    assert!(deployments.get_opt(MLS).await?.is_some());
    Ok(())
}

/// A parent deleted with `--cascade=orphan` leaves its children without an owner but with
/// the operator's labels; a new parent of the same name does not adopt them (labels are not
/// ownership) until they are deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_orphaned_by_a_deleted_namesake_are_not_adopted() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "cf-orphan").await?;
    let _operator = Operator::start(ns.name(), &OperatorOptions::new("cf-orphan")).await?;
    let mls = mlservices(&client, ns.name());
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &resource(DEPLOYMENT));
    apply_yaml(&mlservice_yaml(ns.name()))?;
    reconciled(&mls, MLS).await?;

    let orphan = kubectl(
        &[
            "delete",
            "mlservice",
            MLS,
            "-n",
            ns.name(),
            "--cascade=orphan",
            "--wait",
        ],
        None,
    )?;
    anyhow::ensure!(orphan.success, "{}", orphan.stderr);
    eventually(WAIT, || async {
        let left = deployments.get(MLS).await?;
        anyhow::ensure!(left.owner_references().is_empty(), "still owned");
        Ok(())
    })
    .await?;
    let before = settled_fingerprint(&deployments, MLS).await?;

    apply_yaml(&mlservice_yaml(ns.name()))?;
    let message = degraded_by_conflict(&mls, MLS).await?;
    assert!(
        message.contains(&format!(
            "Deployment {MLS} already exists and has no controller"
        )),
        "{message}"
    );
    tokio::time::sleep(GC_GRACE).await;
    assert_eq!(settled_fingerprint(&deployments, MLS).await?, before);

    // Handed over by deleting the orphans: the new parent applies its own.
    let selector = format!("app.kubernetes.io/instance={MLS}");
    let gone = kubectl(
        &[
            "delete",
            "deployments,services,servicemonitors,configmaps",
            "-l",
            &selector,
            "-n",
            ns.name(),
            "--wait",
        ],
        None,
    )?;
    anyhow::ensure!(gone.success, "{}", gone.stderr);
    let converged = reconciled(&mls, MLS).await?;
    let uid = converged.uid().expect("uid");
    let applied = eventually(WAIT, || async { Ok(deployments.get(MLS).await?) }).await?;
    assert!(
        applied.owner_references().iter().any(|o| o.uid == uid),
        "{:?}",
        applied.owner_references()
    );
    Ok(())
}
