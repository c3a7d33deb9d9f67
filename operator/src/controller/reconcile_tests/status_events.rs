//! Status writes (server-side apply of `status`, none when nothing changed) and Events (one
//! when the Degraded condition appears or its message changes, none while it stays).

use kube::Resource;
use serde_json::json;

use super::*;
use crate::api::{MlServiceStatus, SloStatus};
use crate::mock_apiserver::Reply;

/// The Warning Event about `invalid`, naming the version reconciled.
fn warning_event<K: Resource<DynamicType = ()>>(invalid: &K, reason: &str, note: &str) -> Expect {
    let meta = invalid.meta();
    Expect::post(path::EVENTS)
        .body_includes(json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "type": "Warning", "reason": reason, "action": "Validate", "note": note,
            "regarding": {
                "apiVersion": "tidewatch.io/v1alpha1", "kind": K::kind(&()),
                "namespace": meta.namespace, "name": meta.name, "uid": meta.uid,
                "resourceVersion": meta.resource_version,
            },
            "reportingController": "tidewatch-operator", "reportingInstance": "replica-a",
        }))
        .reply(Reply::applied("30"))
}

#[tokio::test]
async fn a_converged_mlservice_gets_one_status_write_and_then_none() {
    let mut mls = mlservice(serving_spec());
    let mut harness = converged(&mls);
    let expected_status = json!({
        "apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
        "status": {
            "observedGeneration": 1,
            "readyReplicas": 2,
            "endpoint": "http://fraud-detector.fraud.svc:8080",
            "children": child_refs(&[
                ("Deployment", "fraud-detector"), ("Service", "fraud-detector"),
                ("ServiceMonitor", "fraud-detector"), ("ConfigMap", "mls-fraud-detector-dashboard"),
            ]),
            "conditions": conditions(("True", "Reconciled"), ("False", "Reconciled"), ("False", "Reconciled")),
        },
    });
    let first = harness
        .reconcile_mlservice(
            &mls,
            vec![status_write(path::MLS_STATUS, &mls, expected_status)],
        )
        .await;
    assert_eq!(first.unwrap(), Action::requeue(REQUEUE_AFTER));
    let written: MlServiceStatus = harness.sent(0, "/status");
    assert_eq!(written.conditions[0].message, "2/2 replicas ready");

    // The API server now holds that status; the next reconciliation has nothing to write.
    mls.status = Some(written);
    let again = harness.reconcile_mlservice(&mls, Vec::new()).await;
    assert_eq!(again.unwrap(), Action::requeue(REQUEUE_AFTER));
}

#[tokio::test]
async fn an_invalid_mlservice_reports_once_in_status_and_one_event_then_stays_quiet() {
    let mut spec = serving_spec();
    spec["replicas"] = json!(101);
    let mut mls = mlservice(spec);
    mls.metadata.resource_version = Some("5".into());
    let mut harness = Harness::new();
    let message = "invalid spec: spec.replicas: must be between 0 and 100, got 101";
    let status = json!({"status": {
        "observedGeneration": 1,
        "conditions": conditions(("False", "InvalidSpec"), ("False", "InvalidSpec"), ("True", "InvalidSpec")),
    }});
    // No child is applied from an invalid spec: the condition, then its Event, and nothing else.
    let scenario = vec![
        status_write(path::MLS_STATUS, &mls, status),
        warning_event(&mls, "InvalidSpec", message),
    ];
    let first = harness.reconcile_mlservice(&mls, scenario).await;
    assert_eq!(
        first.unwrap(),
        Action::requeue(REQUEUE_AFTER),
        "an invalid spec waits for a change; it is not retried"
    );
    let written: MlServiceStatus = harness.sent(0, "/status");
    assert_eq!(written.conditions[2].message, message);

    mls.status = Some(written.clone());
    let again = harness.reconcile_mlservice(&mls, Vec::new()).await;
    assert!(again.is_ok(), "the same invalid spec: no write, no Event");

    // Another invalid edit changes the message: the condition and a new Event say so.
    mls.spec.replicas = 102;
    mls.metadata.generation = Some(2);
    mls.metadata.resource_version = Some("7".into());
    let changed = "invalid spec: spec.replicas: must be between 0 and 100, got 102";
    let scenario = vec![
        status_write(
            path::MLS_STATUS,
            &mls,
            json!({"status": {"observedGeneration": 2}}),
        ),
        warning_event(&mls, "InvalidSpec", changed),
    ];
    harness.reconcile_mlservice(&mls, scenario).await.unwrap();
    let success =
        r#"tidewatch_operator_reconciliations_total{controller="mlservice",result="success"} 3"#;
    assert!(harness.metrics().contains(success), "{}", harness.metrics());
}

#[tokio::test]
async fn an_slo_whose_target_is_missing_reports_it_once() {
    let mut slo = slo();
    slo.metadata.resource_version = Some("3".into());
    let mut harness = Harness::new();
    let message = "invalid spec: spec.target.mlService: MLService \"fraud-detector\" does not exist in namespace \"fraud\"";
    let status = json!({
        "apiVersion": "tidewatch.io/v1alpha1", "kind": "SLO",
        "status": {
            "observedGeneration": 1,
            "conditions": conditions(("False", "TargetNotFound"), ("False", "TargetNotFound"), ("True", "TargetNotFound")),
        },
    });
    let scenario = vec![
        status_write(path::SLO_STATUS, &slo, status),
        warning_event(&slo, "TargetNotFound", message),
    ];
    harness.reconcile_slo(&slo, scenario).await.unwrap();
    let written: SloStatus = harness.sent(0, "/status");
    assert_eq!(written.conditions[2].message, message);

    slo.status = Some(written);
    let again = harness.reconcile_slo(&slo, Vec::new()).await;
    assert_eq!(again.unwrap(), Action::requeue(REQUEUE_AFTER));
}
