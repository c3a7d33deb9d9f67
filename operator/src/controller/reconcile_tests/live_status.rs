//! Live figures on an SLO's status: what the board publishes is written by the update_status
//! step (figures, `BUDGET LEFT`, `BudgetExhausted`, `Burning`), once; Prometheus trouble is
//! one write and one Warning Event, the figures kept with their read time.

use std::time::Instant;

use kube::Resource;
use serde_json::json;

use super::*;
use crate::api::SloStatus;
use crate::live::board::{self, Board, Thresholds, Trouble};
use crate::live::figures::{FiringAlert, Readings, SloTerms, compute};
use crate::mock_apiserver::Reply;

const READ_AT: &str = "2026-12-04T01:00:00Z";

/// An SLO whose children are cached as applied, on a harness whose context reads `board`.
fn converged_slo(board: Arc<Board>) -> (Harness, SLO) {
    let target = mlservice(serving_spec());
    let slo = slo();
    let children = SloChildren::of(&slo, &target);
    let mut harness = Harness::new().with_live(board);
    harness.cache_mlservice(&target);
    harness.cache(&live(&children.rule, "uid-r", "1", &json!({})));
    harness.cache(&live(&children.dashboard, "uid-slo-cm", "2", &json!({})));
    (harness, slo)
}

fn key() -> board::SloKey {
    (NAMESPACE.into(), "fraud-detector-availability".into())
}

/// 99.9 % over 30d, a quarter of the budget spent, paging over 1h/5m.
fn paging_figures() -> board::Published {
    let target = mlservice(serving_spec());
    let valid = validate_slo(&slo(), Some(&target)).expect("valid");
    let readings = Readings {
        period_error_ratio: Some(0.00025),
        window_error_ratios: [("5m", 0.02), ("1h", 0.0150)]
            .map(|(w, r)| (w.to_owned(), r))
            .into(),
        firing: vec![FiringAlert {
            alertname: "SLOErrorBudgetBurn".into(),
            severity: "page".into(),
            long_window: "1h".into(),
            short_window: "5m".into(),
        }],
    };
    board::from_figures(
        compute(&SloTerms::of(&valid), &readings).expect("data"),
        READ_AT,
    )
}

fn live_conditions(exhausted: (&str, &str), burning: (&str, &str)) -> Value {
    let c = |type_: &str, (status, reason): (&str, &str)| json!({"type": type_, "status": status, "reason": reason, "observedGeneration": 1});
    let mut all = conditions(
        ("True", "Reconciled"),
        ("False", "Reconciled"),
        ("False", "Reconciled"),
    );
    let list = all.as_array_mut().expect("an array");
    list.push(c("BudgetExhausted", exhausted));
    list.push(c("Burning", burning));
    all
}

#[tokio::test]
async fn published_figures_are_written_once_and_trouble_once_with_one_event() {
    let board = Arc::new(Board::default());
    let (mut harness, mut slo) = converged_slo(board.clone());
    slo.metadata.resource_version = Some("4".into());
    let t0 = Instant::now();
    assert!(board.offer(key(), paging_figures(), t0, &Thresholds::default()));

    let expected = json!({"status": {
        "errorBudgetRemaining": "75.0%",
        "live": {
            "sli": 99.975, "errorBudgetRemaining": 0.75, "errorBudgetSpent": 0.25,
            "burnRates": {"5m": 20.0, "1h": 15.0},
            "budgetExhaustedIn": "1d12h",
            "firingAlerts": [{"alertname": "SLOErrorBudgetBurn", "severity": "page", "longWindow": "1h", "shortWindow": "5m"}],
            "observedAt": READ_AT,
        },
        "conditions": live_conditions(("False", "WithinBudget"), ("True", "Page")),
    }});
    harness
        .reconcile_slo(&slo, vec![status_write(path::SLO_STATUS, &slo, expected)])
        .await
        .unwrap();
    let written: SloStatus = harness.sent(0, "/status");
    assert_eq!(
        written.conditions[4].message,
        "page-tier burn alert firing over 1h/5m"
    );

    // Stored: a periodic re-check writes nothing.
    slo.status = Some(written.clone());
    harness.reconcile_slo(&slo, Vec::new()).await.unwrap();

    // Prometheus goes away: the conditions say so, the figures stay with their time, and
    // one Warning Event tells the story.
    let down = board::from_trouble(
        board.get(&key()).as_ref(),
        &Trouble::Unreachable("Connection refused".into()),
    );
    let later = t0 + Thresholds::default().min_interval;
    assert!(board.offer(key(), down, later, &Thresholds::default()));
    let message =
        format!("Prometheus is unreachable: Connection refused; figures as read at {READ_AT}");
    let meta = slo.meta();
    let event = Expect::post(path::EVENTS)
        .body_includes(json!({
            "type": "Warning", "reason": "PrometheusUnreachable", "action": "ReadFigures",
            "note": message,
            "regarding": {"kind": "SLO", "name": meta.name, "namespace": meta.namespace},
        }))
        .reply(Reply::applied("31"));
    let expected = json!({"status": {
        "errorBudgetRemaining": "75.0%",
        "live": {"observedAt": READ_AT, "errorBudgetRemaining": 0.75},
        "conditions": live_conditions(
            ("Unknown", "PrometheusUnreachable"),
            ("Unknown", "PrometheusUnreachable"),
        ),
    }});
    harness
        .reconcile_slo(
            &slo,
            vec![status_write(path::SLO_STATUS, &slo, expected), event],
        )
        .await
        .unwrap();
    let unknown: SloStatus = harness.sent(0, "/status");
    assert_eq!(unknown.conditions[4].message, message);

    // The same trouble on the next reconciliation: no write, no second Event.
    slo.status = Some(unknown);
    harness.reconcile_slo(&slo, Vec::new()).await.unwrap();
}
