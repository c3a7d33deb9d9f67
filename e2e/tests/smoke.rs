//! Proves the local control plane is a real one: scheduling and kwok make pods Running,
//! CRDs install and validate, server-side apply reports conflicts, the garbage collector
//! deletes dependents, and the Prometheus Operator CRD schemas refuse bad objects.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::runtime::conditions;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tidewatch_e2e::{TestNamespace, await_condition, client, eventually, kubectl, unique_suffix};

const WAIT: Duration = Duration::from_secs(60);

fn api_error_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[tokio::test]
async fn server_reports_the_pinned_kubernetes_version() -> anyhow::Result<()> {
    let client = client().await?;
    let version = client.apiserver_version().await?;
    let pinned = include_str!("../cluster/versions.env")
        .lines()
        .find_map(|line| line.strip_prefix("KUBERNETES_VERSION="))
        .expect("versions.env pins KUBERNETES_VERSION");
    assert_eq!(version.git_version, pinned);

    let out = kubectl(&["version", "-o", "json"], None)?;
    assert!(out.success, "kubectl version failed: {}", out.stderr);
    let reported: serde_json::Value = serde_json::from_str(&out.stdout)?;
    assert_eq!(reported["clientVersion"]["gitVersion"], pinned);
    assert_eq!(reported["serverVersion"]["gitVersion"], pinned);
    Ok(())
}

#[tokio::test]
async fn a_fake_node_is_ready() -> anyhow::Result<()> {
    let client = client().await?;
    let nodes: Api<Node> = Api::all(client);
    let ready: Vec<String> = nodes
        .list(&ListParams::default())
        .await?
        .into_iter()
        .filter(|node| {
            node.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .map(|node| node.name_any())
        .collect();
    assert!(!ready.is_empty(), "no Ready node: is kwok running?");
    Ok(())
}

#[tokio::test]
async fn deployment_becomes_ready_with_running_pods() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "deploy").await?;
    let deployments: Api<Deployment> = ns.api();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "registry.invalid/web:1" }] }
            }
        }
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;

    // The Deployment controller creates a ReplicaSet and pods, the scheduler binds them,
    // kwok plays the kubelet and reports them Running and Ready.
    await_condition(
        &deployments,
        "web",
        |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.ready_replicas)
                == Some(2)
        },
        WAIT,
    )
    .await?;

    let pods: Api<Pod> = ns.api();
    let pods = pods.list(&ListParams::default().labels("app=web")).await?;
    assert_eq!(pods.items.len(), 2);
    for pod in &pods {
        let spec = pod.spec.as_ref().expect("pod has a spec");
        assert!(
            spec.node_name.is_some(),
            "{} was never scheduled",
            pod.name_any()
        );
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        assert_eq!(phase, Some("Running"), "{} is not Running", pod.name_any());
    }
    Ok(())
}

fn widget_crd(group: &str) -> anyhow::Result<CustomResourceDefinition> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": format!("widgets.{group}") },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "required": ["size"],
                        "properties": { "size": { "type": "integer", "minimum": 1, "maximum": 10 } }
                    }}
                }}
            }]
        }
    }))?)
}

#[tokio::test]
async fn crd_installs_and_validates_its_objects() -> anyhow::Result<()> {
    let client = client().await?;
    let group = format!("e2e-{}.tidewatch.io", unique_suffix());
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds
        .create(&PostParams::default(), &widget_crd(&group)?)
        .await?;
    let crd_name = crd.name_any();

    let outcome = async {
        await_condition(&crds, &crd_name, conditions::is_crd_established(), WAIT).await?;
        let ns = TestNamespace::create(&client, "crd").await?;
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(&group, "v1", "Widget"));
        let widgets: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns.name(), &resource);

        // Discovery of a new CRD can lag its Established condition by a moment.
        let good = DynamicObject::new("good", &resource).data(json!({ "spec": { "size": 3 } }));
        eventually(WAIT, || async {
            widgets
                .create(&PostParams::default(), &good)
                .await
                .map_err(anyhow::Error::from)
        })
        .await?;
        let read = widgets.get("good").await?;
        assert_eq!(read.data["spec"]["size"], 3);

        let bad = DynamicObject::new("bad", &resource).data(json!({ "spec": { "size": 99 } }));
        let err = widgets
            .create(&PostParams::default(), &bad)
            .await
            .unwrap_err();
        assert_eq!(api_error_code(&err), Some(422), "unexpected error: {err}");
        assert!(
            err.to_string().contains("spec.size"),
            "message does not name the field: {err}"
        );
        anyhow::Ok(())
    }
    .await;

    crds.delete(&crd_name, &DeleteParams::default()).await?;
    outcome
}

#[tokio::test]
async fn server_side_apply_reports_conflicts_between_field_managers() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "ssa").await?;
    let configmaps: Api<ConfigMap> = ns.api();
    let desired = |value: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "shared" },
            "data": { "owner": value }
        })
    };

    configmaps
        .patch(
            "shared",
            &PatchParams::apply("manager-a"),
            &Patch::Apply(desired("a")),
        )
        .await?;

    let err = configmaps
        .patch(
            "shared",
            &PatchParams::apply("manager-b"),
            &Patch::Apply(desired("b")),
        )
        .await
        .unwrap_err();
    assert_eq!(
        api_error_code(&err),
        Some(409),
        "expected a conflict, got: {err}"
    );
    assert!(
        err.to_string().contains("manager-a"),
        "conflict does not name the owner: {err}"
    );
    assert_eq!(configmaps.get("shared").await?.data.unwrap()["owner"], "a");

    let forced = configmaps
        .patch(
            "shared",
            &PatchParams::apply("manager-b").force(),
            &Patch::Apply(desired("b")),
        )
        .await?;
    assert_eq!(forced.data.unwrap()["owner"], "b");
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.manager)
        .collect();
    assert!(
        managers.contains(&"manager-b".to_string()),
        "managers: {managers:?}"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_an_owner_garbage_collects_its_dependents() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "gc").await?;
    let configmaps: Api<ConfigMap> = ns.api();

    let owner = configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": "owner" } }))?,
        )
        .await?;
    let owner_ref = owner
        .controller_owner_ref(&())
        .expect("a created object has a uid");
    let mut dependent: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "dependent" } }))?;
    dependent.meta_mut().owner_references = Some(vec![owner_ref]);
    let dependent = configmaps
        .create(&PostParams::default(), &dependent)
        .await?;
    let keeper: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "unrelated" } }))?;
    configmaps.create(&PostParams::default(), &keeper).await?;

    configmaps
        .delete("owner", &DeleteParams::background())
        .await?;
    let dependent_uid = dependent.uid().expect("created objects have a uid");
    await_condition(
        &configmaps,
        "dependent",
        conditions::is_deleted(&dependent_uid),
        WAIT,
    )
    .await?;
    assert!(
        configmaps.get_opt("unrelated").await?.is_some(),
        "GC deleted an unowned object"
    );
    Ok(())
}

#[tokio::test]
async fn prometheus_operator_crds_refuse_an_invalid_service_monitor() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "smon").await?;
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
    ));
    let monitors: Api<DynamicObject> = Api::namespaced_with(client, ns.name(), &resource);
    let monitor = |name: &str, interval: &str| {
        DynamicObject::new(name, &resource).data(json!({
            "spec": {
                "selector": { "matchLabels": BTreeMap::from([("app", "web")]) },
                "endpoints": [{ "port": "metrics", "interval": interval }]
            }
        }))
    };

    monitors
        .create(&PostParams::default(), &monitor("valid", "30s"))
        .await?;

    let err = monitors
        .create(&PostParams::default(), &monitor("invalid", "every minute"))
        .await
        .unwrap_err();
    assert_eq!(
        api_error_code(&err),
        Some(422),
        "expected the schema to refuse it: {err}"
    );
    assert!(
        err.to_string().contains("interval"),
        "message does not name the field: {err}"
    );
    Ok(())
}
