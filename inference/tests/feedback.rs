//! `POST /v1/feedback` against the real server binary: labels joined to predictions, the
//! quality gauges equal to the figures computed here from the same labels, unknown,
//! expired and duplicate feedback answered clearly, and memory bounded under a flood.

mod common;

use common::{Server, client, sample};
use serde_json::{Value, json};
use tidewatch_inference::features::synth;

fn feedback(server: &Server, id: &str, outcome: &str) -> (u16, Value) {
    let response = client()
        .post(server.url("/v1/feedback"))
        .json(&json!({"transaction_id": id, "outcome": outcome}))
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

/// Precision, recall and false-positive rate of `score >= threshold`, counted by hand.
fn offline(labels: &[(f64, bool)], threshold: f64) -> (f64, f64, f64) {
    let count = |flagged: bool, fraud: bool| {
        labels
            .iter()
            .filter(|(s, f)| (*s >= threshold) == flagged && *f == fraud)
            .count() as f64
    };
    let (tp, fp, fn_, tn) = (
        count(true, true),
        count(true, false),
        count(false, true),
        count(false, false),
    );
    (tp / (tp + fp), tp / (tp + fn_), fp / (fp + tn))
}

#[test]
fn quality_gauges_equal_the_offline_figures_of_the_same_labels() {
    let server = Server::start(&["--quality-window", "1000"], &[]);
    let http = client();
    let users = synth::users(42, 10_000);
    let examples = synth::examples(11, &users, 300);
    let mut labels = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        let id = format!("txn-{i}");
        let answer: Value = http
            .post(server.url("/v1/predict"))
            .json(&json!({
                "transaction_id": id, "user_id": synth::user_id(e.user_index),
                "amount": e.transaction.amount,
                "merchant_category": e.transaction.merchant_category,
                "merchant_country": e.transaction.merchant_country,
                "card_present": e.transaction.card_present,
                "local_hour": e.transaction.local_hour,
            }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let score = answer["fraud_probability"].as_f64().unwrap();
        // Labels drawn so both thresholds see frauds and legitimate flagged transactions.
        let fraud = e.is_fraud || (score > 0.3 && i % 2 == 0);
        let (status, body) = feedback(&server, &id, if fraud { "fraud" } else { "legitimate" });
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["fraud_probability"].as_f64().unwrap() as f32,
            score as f32
        );
        labels.push((f64::from(score as f32), fraud));
    }
    let metrics = server.metrics();
    for (threshold, value) in [("review", 0.15), ("block", 0.5)] {
        let (precision, recall, fpr) = offline(&labels, value);
        for (name, expected) in [
            ("tidewatch_model_precision", precision),
            ("tidewatch_model_recall", recall),
            ("tidewatch_model_false_positive_rate", fpr),
        ] {
            let got = sample(
                &metrics,
                name,
                &[&format!("threshold=\"{threshold}\""), "version=\"1.0.0\""],
            )
            .unwrap_or_else(|| panic!("{name} missing:\n{metrics}"));
            assert!(expected.is_finite(), "{name} {threshold}: {labels:?}");
            assert!(
                (got - expected).abs() < 1e-9,
                "{name} at {threshold}: {got} vs offline {expected}"
            );
        }
    }
    assert_eq!(
        sample(&metrics, "tidewatch_model_quality_window_labels", &[]),
        Some(300.0)
    );
    let frauds = labels.iter().filter(|(_, f)| *f).count() as f64;
    assert_eq!(
        sample(&metrics, "tidewatch_feedback_total", &["outcome=\"fraud\""]),
        Some(frauds)
    );
}

#[test]
fn unknown_expired_and_duplicate_feedback_is_answered_and_memory_stays_bounded() {
    let server = Server::start(
        &["--feedback-capacity", "160", "--feedback-ttl-seconds", "1"],
        &[],
    );
    let http = client();
    let predict = |id: &str| {
        let mut t = common::transaction("user-000001");
        t["transaction_id"] = json!(id);
        let status = http
            .post(server.url("/v1/predict"))
            .json(&t)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 200);
    };
    predict("kept");
    let (status, _) = feedback(&server, "kept", "legitimate");
    assert_eq!(status, 200);
    let (status, body) = feedback(&server, "kept", "fraud");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "feedback_duplicate");

    let (status, body) = feedback(&server, "never-seen", "fraud");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "prediction_unknown");
    assert_eq!(body["error"]["field"], "transaction_id");

    predict("old");
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let (status, body) = feedback(&server, "old", "fraud");
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "prediction_expired");

    let (status, body) = feedback(&server, "x", "maybe");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "outcome");

    // A flood of predictions and of feedback for unknown ids: the store stays at its
    // capacity and every unknown id is counted, not kept.
    for i in 0..1_000 {
        predict(&format!("flood-{i}"));
    }
    for i in 0..2_000 {
        let (status, _) = feedback(&server, &format!("nobody-{i}"), "fraud");
        assert_eq!(status, 404);
    }
    let metrics = server.metrics();
    let pending = sample(&metrics, "tidewatch_feedback_pending_predictions", &[]).unwrap();
    assert!(pending <= 160.0, "{pending} predictions held");
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_feedback_unmatched_total",
            &["reason=\"unknown\""]
        ),
        Some(2_001.0)
    );
    // Not a serving route: feedback never counts in the SLIs.
    assert!(
        !tidewatch_contract::endpoints::SERVING_ROUTES.contains(&"/v1/feedback"),
        "feedback is not a serving route"
    );
}
