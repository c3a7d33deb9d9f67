//! An idle operator writes nothing. After the examples (and one invalid SLO) converge, the
//! API server's audit log must show zero write requests from the operator's user in the test
//! namespace for 60 seconds — while the operator re-checks every object every 30 s. Lease
//! renewals (leader election, in the operator's own namespace) are the only writes and are
//! reported separately.

use std::time::Duration;

use kube::api::DynamicObject;
use tidewatch_e2e::audit::{audit_mark, audit_writes_since};
use tidewatch_e2e::operator::resources::{apply_yaml, examples, is_true, mlservices, slos};
use tidewatch_e2e::operator::{Operator, OperatorOptions, SERVICE_ACCOUNT, operator_user};
use tidewatch_e2e::{TestNamespace, await_condition, client, kubectl};

const WAIT: Duration = Duration::from_secs(60);
const IDLE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converged_operator_makes_no_writes_for_a_minute() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "op-idle").await?;
    let start = audit_mark()?;
    let mut operator = Operator::start(ns.name(), &OperatorOptions::new("idle")).await?;
    for doc in examples(ns.name()) {
        apply_yaml(&doc)?;
    }
    let invalid = "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata:\n  name: off-bucket\nspec:\n  target: {mlService: fraud-detector}\n  objective: 99\n  indicator: {latency: {threshold: 300ms}}\n";
    let out = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(invalid))?;
    assert!(out.success, "{}", out.stderr);

    let ready = |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Ready"));
    await_condition(
        &mlservices(&client, ns.name()),
        "fraud-detector",
        ready,
        WAIT,
    )
    .await?;
    for name in ["fraud-detector-availability", "fraud-detector-latency"] {
        await_condition(&slos(&client, ns.name()), name, ready, WAIT).await?;
    }
    await_condition(
        &slos(&client, ns.name()),
        "off-bucket",
        |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Degraded")),
        WAIT,
    )
    .await?;
    // Let in-flight status updates (kwok, the Deployment controller) settle.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let user = operator_user(SERVICE_ACCOUNT);
    let ours = |namespace: &str| {
        let (user, namespace) = (user.clone(), namespace.to_owned());
        move |e: &tidewatch_e2e::audit::AuditEvent| {
            e.user.username == user && e.object_ref.namespace == namespace
        }
    };
    let converging: Vec<_> = audit_writes_since(start)?
        .into_iter()
        .filter(ours(ns.name()))
        .collect();
    assert!(
        converging.len() >= 10,
        "the audit filter sees the operator's writes while converging: {converging:?}"
    );

    let idle_start = audit_mark()?;
    tokio::time::sleep(IDLE).await;
    let writes = audit_writes_since(idle_start)?;
    let in_namespace: Vec<String> = writes
        .iter()
        .filter(|e| ours(ns.name())(e))
        .map(|e| e.describe())
        .collect();
    let lease_renewals = writes
        .iter()
        .filter(|e| {
            e.user.username == user
                && e.object_ref.resource == "leases"
                && e.object_ref.name == format!("lease-{}", ns.name())
        })
        .count();
    let other: Vec<String> = writes
        .iter()
        .filter(|e| {
            e.user.username == user
                && e.object_ref.resource != "leases"
                && e.object_ref.namespace == ns.name()
        })
        .map(|e| e.describe())
        .collect();
    eprintln!(
        "idle {IDLE:?}: {} writes by the operator in {}, {lease_renewals} Lease renewals; {} writes while converging",
        in_namespace.len(),
        ns.name(),
        converging.len()
    );
    assert!(
        in_namespace.is_empty(),
        "writes while idle:\n{}",
        in_namespace.join("\n")
    );
    assert!(other.is_empty(), "{other:?}");
    assert!(
        lease_renewals > 0,
        "the leader renews its Lease, so the operator was alive and leading"
    );
    assert!(operator.is_running());
    let (_, metrics) = operator.get("/metrics")?;
    assert!(metrics.contains(
        r#"tidewatch_operator_reconciliations_total{controller="slo",result="success"}"#
    ));
    Ok(())
}
