//! Children's names held by objects the parent does not own: nothing is written to them or
//! beside them, the parent says which object and whose on status and in one Event, and it
//! looks again sooner than a settled parent would.

use serde_json::json;

use super::*;
use crate::api::{MlServiceStatus, SloStatus};
use crate::controller::outcome::BLOCKED_RECHECK;
use crate::mock_apiserver::Reply;

/// A Service named like the MLService's, labelled as ours, controlled by a Deployment.
fn foreign_service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": "fraud-detector", "namespace": NAMESPACE, "uid": "uid-foreign",
            "resourceVersion": "7",
            "labels": {"app.kubernetes.io/managed-by": "tidewatch-operator"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                "name": "frontend", "uid": "uid-frontend", "controller": true}],
        },
        "spec": {"selector": {"app": "frontend"}},
    })
}

fn conflict_event(parent: &Value, note: &str) -> Expect {
    Expect::post(path::EVENTS)
        .body_includes(json!({
            "type": "Warning", "reason": "ChildConflict", "action": "Apply", "note": note,
            "regarding": {"kind": parent["kind"], "name": parent["metadata"]["name"]},
        }))
        .reply(Reply::applied("30"))
}

fn blocked_conditions() -> Value {
    conditions(
        ("False", "ChildConflict"),
        ("False", "ChildConflict"),
        ("True", "ChildConflict"),
    )
}

#[tokio::test]
async fn a_cached_foreign_child_blocks_every_write_and_is_reported_once() {
    let mut mls = mlservice(serving_spec());
    let mut harness = Harness::new();
    harness.cache(&foreign_service());
    let note = "not applied, to leave objects it does not own alone: Service fraud-detector \
                already exists and is controlled by Deployment frontend (uid uid-frontend)";
    let lookups = || name_lookups(&[path::DEPLOYMENT, path::SERVICE_MONITOR, path::MLS_DASHBOARD]);
    let mut scenario = lookups();
    scenario.extend([
        status_write(
            path::MLS_STATUS,
            &mls,
            json!({"status": {"conditions": blocked_conditions()}}),
        ),
        conflict_event(&to_json(&mls), note),
    ]);
    let action = harness.reconcile_mlservice(&mls, scenario).await;
    assert_eq!(action.unwrap(), Action::requeue(BLOCKED_RECHECK));
    let written: MlServiceStatus = harness.sent(3, "/status");
    assert_eq!(written.conditions[2].message, note);
    assert_eq!(
        written.endpoint, None,
        "nothing was applied, so nothing serves"
    );

    // Still blocked: the names the cache does not know are read again; no write, no Event.
    mls.status = Some(written);
    let again = harness.reconcile_mlservice(&mls, lookups()).await;
    assert_eq!(again.unwrap(), Action::requeue(BLOCKED_RECHECK));
}

#[tokio::test]
async fn an_unlabelled_object_found_by_name_blocks_the_slo() {
    let (target, slo) = (mlservice(serving_spec()), slo());
    let mut harness = Harness::new();
    harness.cache_mlservice(&target);
    let hand_made = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "slo-fraud-detector-availability-dashboard", "namespace": NAMESPACE,
            "uid": "uid-cm", "resourceVersion": "3"},
    });
    let note = "not applied, to leave objects it does not own alone: ConfigMap \
                slo-fraud-detector-availability-dashboard already exists and has no \
                controller; delete it or add a controller ownerReference to hand it over";
    let mut scenario = name_lookups(&[path::RULE]);
    scenario.extend([
        Expect::get(path::SLO_DASHBOARD).reply(Reply::ok(hand_made)),
        status_write(
            path::SLO_STATUS,
            &slo,
            json!({"status": {"conditions": blocked_conditions()}}),
        ),
        conflict_event(&to_json(&slo), note),
    ]);
    let action = harness.reconcile_slo(&slo, scenario).await;
    assert_eq!(action.unwrap(), Action::requeue(BLOCKED_RECHECK));
    let written: SloStatus = harness.sent(2, "/status");
    assert!(written.children.is_empty(), "{written:?}");
}

#[tokio::test]
async fn a_child_of_ours_that_lost_its_labels_is_found_by_name_and_applied() {
    let mls = mlservice(serving_spec());
    let children = MlsChildren::of(&mls);
    let mut harness = converged(&mls);
    // The watch selects on our label: a Service stripped of it leaves the cache.
    harness
        .children
        .get_mut("Service")
        .unwrap()
        .apply_watcher_event(&watcher::Event::Delete(
            serde_json::from_value(children.service.clone()).unwrap(),
        ));
    let mut stripped = live(&children.service, "uid-s", "12", &json!({}));
    stripped["metadata"]["labels"] = json!({});
    let scenario = vec![
        Expect::get(path::SERVICE).reply(Reply::ok(stripped)),
        Expect::apply(path::SERVICE)
            .body(children.service)
            .reply(Reply::applied("13")),
        status_write(
            path::MLS_STATUS,
            &mls,
            json!({"status": {"conditions": conditions(("True", "Reconciled"), ("False", "Reconciled"), ("False", "Reconciled"))}}),
        ),
    ];
    let action = harness.reconcile_mlservice(&mls, scenario).await;
    assert_eq!(action.unwrap(), Action::requeue(REQUEUE_AFTER));
}
