//! The API server goes away for longer than the leader's renew deadline and comes back: the
//! same operator process (same PID, never restarted) steps down, takes its Lease again,
//! re-establishes its watches and keeps reconciling.

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tidewatch_e2e::operator::resources::{apply_yaml, examples, is_true, mlservices, status_field};
use tidewatch_e2e::operator::{Operator, OperatorOptions};
use tidewatch_e2e::{TestNamespace, await_condition, client, eventually};

const WAIT: Duration = Duration::from_secs(90);
const RECREATE_WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_recovers_when_the_api_server_restarts() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "op-restart").await?;
    let mut operator = Operator::start(ns.name(), &OperatorOptions::new("restart")).await?;
    let pid = operator.pid();
    apply_yaml(&examples(ns.name())[0])?;
    let mls = mlservices(&client, ns.name());
    let ready = |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Ready"));
    await_condition(&mls, "fraud-detector", ready, WAIT).await?;

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cluster/restart-apiserver.sh");
    let status = Command::new(script)
        .args(["--down-seconds", "10"])
        .status()?;
    assert!(status.success(), "restart-apiserver.sh failed");

    // A fresh client: the test's own connections died with the server.
    let client = tidewatch_e2e::client().await?;
    let mls = mlservices(&client, ns.name());
    mls.patch(
        "fraud-detector",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns.name());
    let scaled = eventually(WAIT, || async {
        let replicas = deployments
            .get("fraud-detector")
            .await?
            .spec
            .and_then(|s| s.replicas);
        anyhow::ensure!(replicas == Some(3), "Deployment has {replicas:?} replicas");
        let current = mls.get("fraud-detector").await?;
        anyhow::ensure!(is_true(&current, "Ready"), "not Ready");
        anyhow::ensure!(
            status_field(&current, "/readyReplicas") == Some(&json!(3)),
            "status not updated"
        );
        Ok(())
    })
    .await;
    if let Err(err) = scaled {
        let state = last_state(&mls, &deployments, &operator).await;
        anyhow::bail!("{err:#}\n{state}");
    }
    let services: Api<Service> = Api::namespaced(client.clone(), ns.name());
    let old = services.get("fraud-detector").await?.uid();
    services
        .delete("fraud-detector", &DeleteParams::default())
        .await?;
    // Sooner than the operator's periodic re-check (30 s here): only its re-established
    // Service watch can bring the Service back in time.
    eventually(RECREATE_WAIT, || async {
        anyhow::ensure!(
            services.get("fraud-detector").await?.uid() != old,
            "Service not recreated"
        );
        Ok(())
    })
    .await?;
    assert!(
        operator.is_running(),
        "the operator exited:\n{}",
        operator.log_text()
    );
    assert_eq!(operator.pid(), pid);
    Ok(())
}

/// What the objects and the operator looked like when a wait ran out: the reason a
/// failure in this test can be read from its output alone.
async fn last_state(
    mls: &Api<DynamicObject>,
    deployments: &Api<Deployment>,
    operator: &Operator,
) -> String {
    let mls_status = match mls.get("fraud-detector").await {
        Ok(o) => o
            .data
            .get("status")
            .map(Value::to_string)
            .unwrap_or_default(),
        Err(err) => format!("unreadable: {err}"),
    };
    let deployment_status = match deployments.get("fraud-detector").await {
        Ok(d) => format!("{:?}", d.status),
        Err(err) => format!("unreadable: {err}"),
    };
    let log = operator.log_text();
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    format!(
        "MLService status: {mls_status}\nDeployment status: {deployment_status}\n\
         operator log (last 40 lines):\n{}",
        tail.join("\n")
    )
}
