//! Failed requests: each answer class maps to the bounded category the error metric uses, a
//! failure is retried with per-object backoff, and a success resets the backoff.

use serde_json::json;

use super::*;
use crate::mock_apiserver::Reply;

/// One reconciliation of a new MLService whose first apply is answered with `code`.
async fn first_apply_answered(code: u16) -> (Harness, MLService, Error) {
    let mls = mlservice(serving_spec());
    let mut harness = Harness::new();
    let deployment = MlsChildren::of(&mls).deployment;
    let mut scenario = name_lookups(&MLS_CHILDREN);
    scenario.push(
        Expect::apply(path::DEPLOYMENT)
            .body(deployment)
            .reply(Reply::failure(code)),
    );
    let error = harness
        .reconcile_mlservice(&mls, scenario)
        .await
        .expect_err("the apply failed");
    (harness, mls, error)
}

fn error_series(controller: &str, category: &str) -> String {
    format!(
        r#"tidewatch_operator_reconcile_errors_total{{controller="{controller}",category="{category}"}} 1"#
    )
}

#[tokio::test]
async fn a_failed_apply_counts_under_the_category_of_its_answer() {
    for (code, category) in [
        (500, "apply_unavailable"),
        (503, "apply_unavailable"),
        (429, "apply_unavailable"),
        (409, "apply_conflict"),
        (403, "apply_forbidden"),
        (422, "apply_invalid"),
        (404, "apply"),
    ] {
        let (harness, _, error) = first_apply_answered(code).await;
        assert_eq!(error.category(), category, "answer {code}");
        let metrics = harness.metrics();
        assert!(
            metrics.contains(&error_series("mlservice", category)),
            "answer {code}: {metrics}"
        );
        assert!(metrics.contains(
            r#"tidewatch_operator_reconciliations_total{controller="mlservice",result="error"} 1"#
        ));
    }
}

#[tokio::test]
async fn a_failed_slo_apply_counts_for_the_slo_controller() {
    let (target, slo) = (mlservice(serving_spec()), slo());
    let mut harness = Harness::new();
    harness.cache_mlservice(&target);
    let rule = SloChildren::of(&slo, &target).rule;
    let mut scenario = name_lookups(&SLO_CHILDREN);
    scenario.push(
        Expect::apply(path::RULE)
            .body(rule)
            .reply(Reply::failure(503)),
    );
    let error = harness.reconcile_slo(&slo, scenario).await.unwrap_err();
    assert_eq!(error.category(), "apply_unavailable");
    assert!(
        harness
            .metrics()
            .contains(&error_series("slo", "apply_unavailable"))
    );
}

#[tokio::test]
async fn a_failed_status_write_counts_under_the_status_categories() {
    for (code, category) in [(409, "status_conflict"), (500, "status_unavailable")] {
        let mls = mlservice(serving_spec());
        let mut harness = converged(&mls);
        let scenario = vec![
            status_write(
                path::MLS_STATUS,
                &mls,
                json!({"status": {"observedGeneration": 1}}),
            )
            .reply(Reply::failure(code)),
        ];
        let error = harness
            .reconcile_mlservice(&mls, scenario)
            .await
            .unwrap_err();
        assert_eq!(error.category(), category, "answer {code}");
        assert!(
            harness
                .metrics()
                .contains(&error_series("mlservice", category))
        );
    }
}

#[tokio::test]
async fn failures_back_off_exponentially_and_a_success_resets_the_backoff() {
    let mls = Arc::new(mlservice(serving_spec()));
    let mut harness = converged(&mls);
    let write = || {
        status_write(
            path::MLS_STATUS,
            &*mls,
            json!({"status": {"observedGeneration": 1}}),
        )
    };
    let failed = |code| write().reply(Reply::failure(code));
    let mut retry_delays = Vec::new();
    for attempt in [failed(503), failed(503), failed(500), write(), failed(503)] {
        match harness.reconcile_mlservice(&mls, vec![attempt]).await {
            Ok(action) => assert_eq!(action, Action::requeue(REQUEUE_AFTER)),
            Err(error) => retry_delays.push(mlservice::error_policy(
                mls.clone(),
                &error,
                harness.ctx.clone(),
            )),
        }
    }
    let secs = |s| Action::requeue(Duration::from_secs(s));
    assert_eq!(retry_delays, [secs(2), secs(4), secs(8), secs(2)]);
}
