//! Two operator processes, each with its own ServiceAccount so that the audit log tells them
//! apart: only the Lease holder writes; killed without warning (SIGKILL, no release), it is
//! replaced by the standby within 15 seconds.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use tidewatch_e2e::audit::{audit_mark, audit_writes_since};
use tidewatch_e2e::operator::resources::apply_examples_and_await_ready;
use tidewatch_e2e::operator::{
    OPERATOR_NAMESPACE, Operator, OperatorOptions, SERVICE_ACCOUNT, operator_user,
};
use tidewatch_e2e::{TestNamespace, client, eventually, kubectl};

const WAIT: Duration = Duration::from_secs(60);
const HANDOVER: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_a_standby_takes_over_within_15s() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "op-leader").await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    let lease_name = format!("lease-{}", ns.name());
    let holder = || async {
        let lease = leases.get(&lease_name).await?;
        Ok::<_, anyhow::Error>(
            lease
                .spec
                .and_then(|s| s.holder_identity)
                .unwrap_or_default(),
        )
    };

    let start = audit_mark()?;
    let mut leader = Operator::start(ns.name(), &OperatorOptions::new("a")).await?;
    assert_eq!(holder().await?, "a");
    let standby_account = "tidewatch-operator-b";
    let mut standby_options = OperatorOptions::new("b");
    standby_options.service_account = standby_account.into();
    let mut standby = Operator::start(ns.name(), &standby_options).await?;

    apply_examples_and_await_ready(&client, ns.name(), WAIT).await?;
    let (user_a, user_b) = (
        operator_user(SERVICE_ACCOUNT),
        operator_user(standby_account),
    );
    let writes = audit_writes_since(start)?;
    let by = |user: &str| {
        writes
            .iter()
            .filter(|e| e.user.username == user && e.object_ref.namespace != OPERATOR_NAMESPACE)
            .count()
    };
    let standby_writes: Vec<String> = writes
        .iter()
        .filter(|e| e.user.username == user_b)
        .map(|e| e.describe())
        .collect();
    assert!(by(&user_a) >= 10, "the leader applied the children");
    assert!(
        standby_writes.is_empty(),
        "the standby wrote:\n{}",
        standby_writes.join("\n")
    );
    assert_eq!(holder().await?, "a");

    // Kill the leader; a change made right away is carried out by the standby.
    let killed = audit_mark()?;
    leader.kill();
    let t0 = Instant::now();
    let out = kubectl(
        &["apply", "-n", ns.name(), "-f", "-"],
        Some(
            "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata:\n  name: after-handover\nspec:\n  model: {name: m, version: v1}\n",
        ),
    )?;
    assert!(out.success, "{}", out.stderr);
    let deployments: Api<Deployment> = ns.api();
    eventually(WAIT, || async {
        anyhow::ensure!(
            deployments.get_opt("after-handover").await?.is_some(),
            "no Deployment yet"
        );
        Ok(())
    })
    .await?;
    let handover = t0.elapsed();
    eprintln!(
        "handover: the standby created the new MLService's Deployment {handover:?} after the leader was killed"
    );
    assert!(handover < HANDOVER, "handover took {handover:?}");
    assert_eq!(holder().await?, "b");
    assert!(standby.is_running());
    let after: Vec<_> = audit_writes_since(killed)?;
    assert!(
        after
            .iter()
            .any(|e| e.user.username == user_b && e.object_ref.namespace == ns.name()),
        "the new leader writes"
    );
    assert!(
        after.iter().all(|e| e.user.username != user_a),
        "the killed leader wrote after its death"
    );
    Ok(())
}
