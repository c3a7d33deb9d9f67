//! The apply step as the API server sees it: server-side apply of every desired child with
//! the operator's field manager, no write for a child that already matches, deletion of
//! owned children no longer wanted, and tolerance of a child that is already gone.

use serde_json::json;

use super::*;
use crate::api::{MlServiceStatus, SloStatus};
use crate::controller::outcome::CONVERGING_RECHECK;
use crate::mock_apiserver::Reply;

/// A converged MLService and its harness, the status already written once.
async fn settled(mut mls: MLService) -> (Harness, MLService) {
    let mut harness = converged(&mls);
    let write = status_write(
        path::MLS_STATUS,
        &mls,
        json!({"status": {"observedGeneration": 1}}),
    );
    harness
        .reconcile_mlservice(&mls, vec![write])
        .await
        .unwrap();
    mls.status = Some(harness.sent::<MlServiceStatus>(0, "/status"));
    (harness, mls)
}

fn dashboard_off() -> Value {
    let mut spec = serving_spec();
    spec["monitoring"] = json!({"dashboard": false});
    spec
}

#[tokio::test]
async fn a_new_mlservice_gets_every_child_applied_then_its_status() {
    let mls = mlservice(serving_spec());
    let children = MlsChildren::of(&mls);
    let mut harness = Harness::new();
    let mut scenario = name_lookups(&MLS_CHILDREN);
    scenario.extend([
        Expect::apply(path::DEPLOYMENT)
            .body(children.deployment.clone())
            .reply(Reply::applied("1")),
        Expect::apply(path::SERVICE)
            .body(children.service)
            .reply(Reply::applied("2")),
        Expect::apply(path::SERVICE_MONITOR)
            .body(children.service_monitor)
            .reply(Reply::applied("3")),
        Expect::apply(path::MLS_DASHBOARD)
            .body(children.dashboard)
            .reply(Reply::applied("4")),
        // The apply's answer shows no rollout yet: the Deployment is read from the server.
        Expect::get(path::DEPLOYMENT).reply(Reply::ok(live(
            &children.deployment,
            "uid-d",
            "5",
            &rollout_status(1),
        ))),
        status_write(
            path::MLS_STATUS,
            &mls,
            json!({"status": {
                "readyReplicas": 1,
                "conditions": conditions(("False", "PodsNotReady"), ("True", "RollingOut"), ("False", "Reconciled")),
            }}),
        ),
    ]);
    let action = harness.reconcile_mlservice(&mls, scenario).await;
    assert_eq!(
        action.unwrap(),
        Action::requeue(CONVERGING_RECHECK),
        "a rollout in progress is checked again soon"
    );
}

#[tokio::test]
async fn children_the_cache_shows_as_desired_are_not_written() {
    // Cached children carry server defaults and a status on top of what was applied.
    let (mut harness, mls) = settled(mlservice(serving_spec())).await;
    let service = live(
        &MlsChildren::of(&mls).service,
        "uid-s",
        "12",
        &json!({
            "metadata": {"creationTimestamp": "2030-01-01T00:00:00Z"},
            "spec": {"clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"], "sessionAffinity": "None"},
        }),
    );
    harness.cache(&service);
    let action = harness.reconcile_mlservice(&mls, Vec::new()).await;
    assert_eq!(action.unwrap(), Action::requeue(REQUEUE_AFTER));
}

/// A settled MLService whose cached Service someone edited, and the desired Service.
async fn with_hand_edited_service() -> (Harness, MLService, Value) {
    let (mut harness, mls) = settled(mlservice(serving_spec())).await;
    let desired = MlsChildren::of(&mls).service;
    let mut edited = live(&desired, "uid-s", "40", &json!({}));
    edited["spec"]["ports"][0]["port"] = json!(9999);
    harness.cache(&edited);
    (harness, mls, desired)
}

#[tokio::test]
async fn a_hand_edited_child_is_applied_again_and_no_other() {
    let (mut harness, mls, desired) = with_hand_edited_service().await;
    let scenario = vec![
        Expect::apply(path::SERVICE)
            .body(desired)
            .reply(Reply::applied("41")),
    ];
    harness.reconcile_mlservice(&mls, scenario).await.unwrap();
}

#[tokio::test]
async fn a_child_the_server_normalises_is_not_applied_again_until_it_changes() {
    let (mut harness, mls, desired) = with_hand_edited_service().await;
    // The server stores our apply in a form that is not a superset of what was sent.
    let mut normalised = live(&desired, "uid-s", "41", &json!({}));
    normalised["spec"]["ports"][0]["targetPort"] = json!(8080);
    let scenario = vec![
        Expect::apply(path::SERVICE)
            .body(desired.clone())
            .reply(Reply::ok(normalised.clone())),
    ];
    harness.reconcile_mlservice(&mls, scenario).await.unwrap();

    // The watch delivers that form: it is what our last apply produced, so no write.
    harness.cache(&normalised);
    harness.reconcile_mlservice(&mls, Vec::new()).await.unwrap();

    // Someone else writes it (a new resourceVersion): it is ours to restore again.
    normalised["metadata"]["resourceVersion"] = json!("42");
    harness.cache(&normalised);
    let scenario = vec![
        Expect::apply(path::SERVICE)
            .body(desired)
            .reply(Reply::applied("43")),
    ];
    harness.reconcile_mlservice(&mls, scenario).await.unwrap();
}

/// A converged MLService whose dashboard is switched off, with an SLO's dashboard in the same
/// cache; the prune answered with `reply`.
async fn switch_dashboard_off(reply: Reply) -> (Harness, Result<Action, Error>) {
    let (mut harness, mut mls) = settled(mlservice(serving_spec())).await;
    let target = mls.clone();
    let slo_dashboard = SloChildren::of(&slo(), &target).dashboard;
    harness.cache(&live(&slo_dashboard, "uid-slo-cm", "15", &json!({})));
    mls.spec = serde_json::from_value(dashboard_off()).unwrap();
    mls.metadata.generation = Some(2);
    let scenario = vec![
        Expect::delete(path::MLS_DASHBOARD)
            .body(json!({"propagationPolicy": "Background", "preconditions": {"uid": "uid-cm"}}))
            .reply(reply),
        status_write(
            path::MLS_STATUS,
            &mls,
            json!({"status": {
                "observedGeneration": 2,
                "children": child_refs(&[
                    ("Deployment", "fraud-detector"), ("Service", "fraud-detector"),
                    ("ServiceMonitor", "fraud-detector"),
                ]),
            }}),
        ),
    ];
    let result = harness.reconcile_mlservice(&mls, scenario).await;
    (harness, result)
}

#[tokio::test]
async fn a_dashboard_switched_off_is_deleted_and_nothing_else() {
    let (_, result) = switch_dashboard_off(Reply::deleted()).await;
    assert_eq!(result.unwrap(), Action::requeue(REQUEUE_AFTER));
}

#[tokio::test]
async fn a_child_already_gone_or_replaced_is_no_prune_error() {
    for code in [404, 409] {
        let (_, result) = switch_dashboard_off(Reply::failure(code)).await;
        assert!(result.is_ok(), "answer {code}: {result:?}");
    }
}

#[tokio::test]
async fn a_failed_prune_is_an_error_of_its_own_category() {
    let mls = mlservice(dashboard_off());
    let mut harness = converged(&mls);
    let scenario = vec![
        Expect::delete(path::MLS_DASHBOARD)
            .body(json!({"propagationPolicy": "Background", "preconditions": {"uid": "uid-cm"}}))
            .reply(Reply::failure(500)),
    ];
    let error = harness
        .reconcile_mlservice(&mls, scenario)
        .await
        .unwrap_err();
    assert_eq!(error.category(), "prune");
}

#[tokio::test]
async fn a_new_slo_gets_its_rule_and_dashboard_applied_then_its_status() {
    let (target, mut slo) = (mlservice(serving_spec()), slo());
    let children = SloChildren::of(&slo, &target);
    let mut harness = Harness::new();
    harness.cache_mlservice(&target);
    let mut scenario = name_lookups(&SLO_CHILDREN);
    scenario.extend([
        Expect::apply(path::RULE)
            .body(children.rule.clone())
            .reply(Reply::applied("1")),
        Expect::apply(path::SLO_DASHBOARD)
            .body(children.dashboard.clone())
            .reply(Reply::applied("2")),
        status_write(
            path::SLO_STATUS,
            &slo,
            json!({
                "apiVersion": "tidewatch.io/v1alpha1", "kind": "SLO",
                "status": {
                    "observedGeneration": 1,
                    "children": child_refs(&[
                        ("PrometheusRule", "slo-fraud-detector-availability"),
                        ("ConfigMap", "slo-fraud-detector-availability-dashboard"),
                    ]),
                    "conditions": conditions(("True", "Reconciled"), ("False", "Reconciled"), ("False", "Reconciled")),
                },
            }),
        ),
    ]);
    let action = harness.reconcile_slo(&slo, scenario).await;
    assert_eq!(action.unwrap(), Action::requeue(REQUEUE_AFTER));
    let written: SloStatus = harness.sent(4, "/status");
    assert!(written.rule_names.iter().any(|n| n == "SLOErrorBudgetBurn"));
    assert_eq!(
        written.conditions[0].message,
        format!(
            "{} rules in PrometheusRule slo-fraud-detector-availability",
            written.rule_names.len()
        )
    );

    // Once the watches deliver both children and the status is stored: no request at all.
    harness.cache(&live(&children.rule, "uid-r", "1", &json!({})));
    harness.cache(&live(&children.dashboard, "uid-slo-cm", "2", &json!({})));
    slo.status = Some(written);
    harness.reconcile_slo(&slo, Vec::new()).await.unwrap();
}
