//! The operator on a real control plane: the examples produce every child, the MLService
//! becomes Ready once kwok runs its pods, status and printer columns carry real values,
//! hand edits and deletions of children are undone, switching the dashboard off deletes its
//! ConfigMap, and deleting the MLService lets the garbage collector remove its children.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use tidewatch_e2e::operator::resources::{
    apply_yaml, condition, examples, is_true, mlservices, slos, status_field,
};
use tidewatch_e2e::operator::{Operator, OperatorOptions};
use tidewatch_e2e::{TestNamespace, await_condition, client, eventually, kubectl};

const WAIT: Duration = Duration::from_secs(60);

fn monitoring(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", kind),
        plural,
    )
}

fn printer_row(kind: &str, namespace: &str, name: &str) -> anyhow::Result<Vec<String>> {
    let out = kubectl(&["get", kind, name, "-n", namespace, "--no-headers"], None)?;
    anyhow::ensure!(out.success, "kubectl get failed: {}", out.stderr);
    Ok(out.stdout.split_whitespace().map(str::to_owned).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_converge_and_children_are_kept_as_built() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "op-life").await?;
    let operator = Operator::start(ns.name(), &OperatorOptions::new("life")).await?;
    for doc in examples(ns.name()) {
        apply_yaml(&doc)?;
    }
    let mls = mlservices(&client, ns.name());
    let slo = slos(&client, ns.name());

    // Ready once kwok reports both pods Running and ready.
    let ready = await_condition(
        &mls,
        "fraud-detector",
        |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Ready")),
        WAIT,
    )
    .await?
    .expect("exists");
    assert_eq!(status_field(&ready, "/readyReplicas"), Some(&json!(2)));
    assert_eq!(
        status_field(&ready, "/observedGeneration"),
        Some(&json!(ready.metadata.generation.unwrap()))
    );
    let endpoint = format!("http://fraud-detector.{}.svc:8080", ns.name());
    assert_eq!(status_field(&ready, "/endpoint"), Some(&json!(endpoint)));
    assert_eq!(
        status_field(&ready, "/children")
            .and_then(|c| c.as_array())
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(
        condition(&ready, "Degraded").map(|c| c.0),
        Some("False".into())
    );
    assert_eq!(
        condition(&ready, "Progressing").map(|c| c.0),
        Some("False".into())
    );
    for name in ["fraud-detector-availability", "fraud-detector-latency"] {
        let s = await_condition(
            &slo,
            name,
            |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Ready")),
            WAIT,
        )
        .await?
        .expect("exists");
        let rules = status_field(&s, "/ruleNames")
            .and_then(|r| r.as_array())
            .cloned()
            .unwrap_or_default();
        assert!(
            rules.contains(&json!("SLOErrorBudgetBurn")),
            "{name}: {rules:?}"
        );
    }

    // Printer columns show the live values.
    let row = printer_row("mlservices.tidewatch.io", ns.name(), "fraud-detector")?;
    assert_eq!(
        &row[..6],
        [
            "fraud-detector",
            "fraud-detector",
            "1.4.0",
            "2",
            "2",
            "True"
        ],
        "{row:?}"
    );
    let row = printer_row(
        "slos.tidewatch.io",
        ns.name(),
        "fraud-detector-availability",
    )?;
    assert_eq!(
        &row[..5],
        [
            "fraud-detector-availability",
            "fraud-detector",
            "99.9",
            "30d",
            "True"
        ],
        "{row:?}"
    );

    // Every child exists, is controlled by its parent and carries the recommended labels.
    let mls_uid = ready.uid().unwrap();
    let deployments: Api<Deployment> = ns.api();
    let services: Api<Service> = ns.api();
    let configmaps: Api<ConfigMap> = ns.api();
    let monitors: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns.name(),
        &monitoring("ServiceMonitor", "servicemonitors"),
    );
    let rules: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns.name(),
        &monitoring("PrometheusRule", "prometheusrules"),
    );
    let deployment = deployments.get("fraud-detector").await?;
    let owned = [
        deployment.metadata.clone(),
        services.get("fraud-detector").await?.metadata,
        monitors.get("fraud-detector").await?.metadata,
        configmaps
            .get("mls-fraud-detector-dashboard")
            .await?
            .metadata,
    ];
    for meta in &owned {
        let owner = meta
            .owner_references
            .as_ref()
            .and_then(|o| o.first())
            .expect("owner reference");
        assert_eq!(
            (owner.uid.as_str(), owner.controller),
            (mls_uid.as_str(), Some(true)),
            "{:?}",
            meta.name
        );
        let labels = meta.labels.clone().unwrap_or_default();
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("tidewatch-operator")
        );
        assert_eq!(
            labels.get("app.kubernetes.io/instance").map(String::as_str),
            Some("fraud-detector")
        );
    }
    let dashboard = configmaps.get("mls-fraud-detector-dashboard").await?;
    assert_eq!(
        dashboard
            .labels()
            .get("grafana_dashboard")
            .map(String::as_str),
        Some("1")
    );
    for name in [
        "slo-fraud-detector-availability",
        "slo-fraud-detector-latency",
    ] {
        let rule = rules.get(name).await?;
        assert!(
            rule.data.pointer("/spec/groups/0/rules/0/expr").is_some(),
            "{name} has rules"
        );
        configmaps.get(&format!("{name}-dashboard")).await?;
    }

    // A hand edit of an owned field is taken back.
    deployments
        .patch(
            "fraud-detector",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await?;
    let (key, _) = dashboard
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .next()
        .expect("dashboard has data");
    configmaps
        .patch(
            "mls-fraud-detector-dashboard",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {&key: "{}"}})),
        )
        .await?;
    eventually(WAIT, || async {
        let replicas = deployments
            .get("fraud-detector")
            .await?
            .spec
            .and_then(|s| s.replicas);
        anyhow::ensure!(replicas == Some(2), "replicas still {replicas:?}");
        let data = configmaps
            .get("mls-fraud-detector-dashboard")
            .await?
            .data
            .unwrap_or_default();
        anyhow::ensure!(
            data.get(&key).is_some_and(|d| d.len() > 100),
            "dashboard not restored"
        );
        Ok(())
    })
    .await?;

    // A child deleted by hand is recreated.
    let old_uid = services.get("fraud-detector").await?.uid();
    services
        .delete("fraud-detector", &DeleteParams::default())
        .await?;
    eventually(WAIT, || async {
        let uid = services.get("fraud-detector").await?.uid();
        anyhow::ensure!(uid != old_uid, "not recreated yet");
        Ok(())
    })
    .await?;

    // Dashboard off: its ConfigMap goes, the rest stays.
    mls.patch(
        "fraud-detector",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"monitoring": {"dashboard": false}}})),
    )
    .await?;
    eventually(WAIT, || async {
        anyhow::ensure!(
            configmaps
                .get_opt("mls-fraud-detector-dashboard")
                .await?
                .is_none(),
            "dashboard ConfigMap still there"
        );
        let current = mls.get("fraud-detector").await?;
        let children = status_field(&current, "/children")
            .and_then(|c| c.as_array())
            .map(Vec::len);
        anyhow::ensure!(children == Some(3), "status lists {children:?} children");
        Ok(())
    })
    .await?;
    deployments.get("fraud-detector").await?;

    // The operator's own metrics count the work.
    let (code, metrics) = operator.get("/metrics")?;
    assert_eq!(code, 200);
    assert!(
        metrics.contains(
            r#"tidewatch_operator_reconciliations_total{controller="mlservice",result="success"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("tidewatch_operator_reconcile_duration_seconds_bucket"),
        "{metrics}"
    );

    // Deleting the MLService: the garbage collector removes every child it controlled, and
    // the SLOs say their target is gone.
    mls.delete("fraud-detector", &DeleteParams::background())
        .await?;
    eventually(WAIT, || async {
        anyhow::ensure!(
            deployments.get_opt("fraud-detector").await?.is_none(),
            "Deployment remains"
        );
        anyhow::ensure!(
            services.get_opt("fraud-detector").await?.is_none(),
            "Service remains"
        );
        anyhow::ensure!(
            monitors.get_opt("fraud-detector").await?.is_none(),
            "ServiceMonitor remains"
        );
        Ok(())
    })
    .await?;
    let orphaned = await_condition(
        &slo,
        "fraud-detector-availability",
        |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Degraded")),
        WAIT,
    )
    .await?
    .expect("exists");
    assert_eq!(
        condition(&orphaned, "Degraded").map(|c| c.1),
        Some("TargetNotFound".into())
    );
    assert!(
        !operator.log_text().contains("panicked"),
        "{}",
        operator.log_text()
    );
    Ok(())
}
