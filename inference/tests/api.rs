//! The HTTP API of the real server binary: predictions, malformed input, backpressure,
//! metrics, drift, fault injection and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Server, client, sample, transaction};
use serde_json::{Value, json};
use tidewatch_inference::features::synth;

#[test]
fn predict_batch_model_and_probes() {
    let server = Server::start(&[], &[]);
    let http = client();

    let response = http
        .post(server.url("/v1/predict"))
        .json(&transaction("user-000001"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    let p = body["fraud_probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    assert!(["approve", "review", "block"].contains(&body["decision"].as_str().unwrap()));
    assert_eq!(body["features_defaulted"], false);
    assert_eq!(body["feature_store_result"], "hit");
    assert_eq!(body["model_version"], "1.0.0");
    assert_eq!(body["transaction_id"], "txn-1");
    assert_eq!(body["trace_id"].as_str().unwrap().len(), 32);
    assert!(body["top_features"].is_array());

    // A clearly risky transaction scores higher than a routine one.
    let mut risky = transaction("user-000001");
    risky["amount"] = json!(4000.0);
    risky["merchant_category"] = json!("gift_cards");
    risky["merchant_country"] = json!("NG");
    risky["card_present"] = json!(false);
    risky["local_hour"] = json!(3);
    let risky: Value = http
        .post(server.url("/v1/predict"))
        .json(&risky)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(risky["fraud_probability"].as_f64().unwrap() > p);
    assert_eq!(risky["decision"], "block");
    assert_eq!(risky["top_features"][0]["feature"], "amount_to_user_avg");

    let unknown: Value = http
        .post(server.url("/v1/predict"))
        .json(&transaction("someone-new"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(unknown["features_defaulted"], true);
    assert_eq!(unknown["feature_store_result"], "miss");

    let batch = json!({ "transactions": [transaction("user-000002"), transaction("user-000003"), transaction("nobody")] });
    let batch: Value = http
        .post(server.url("/v1/predict/batch"))
        .json(&batch)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let predictions = batch["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 3);
    assert_eq!(predictions[2]["features_defaulted"], true);

    let model: Value = http
        .get(server.url("/v1/model"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(model["name"], "fraud-mlp");
    assert_eq!(model["device"], "cpu");
    assert_eq!(model["features"].as_array().unwrap().len(), 9);
    assert!(model["quality"]["auc"].as_f64().unwrap() > 0.8);

    assert_eq!(
        http.get(server.url("/healthz")).send().unwrap().status(),
        200
    );
    assert_eq!(
        http.get(server.url("/readyz")).send().unwrap().status(),
        200
    );
}

#[test]
fn traceparent_trace_id_is_honoured() {
    let server = Server::start(&["--trace-sample-ratio", "0"], &[]);
    let response = client()
        .post(server.url("/v1/predict"))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&transaction("user-000004"))
        .send()
        .unwrap();
    assert_eq!(
        response.headers()["x-trace-id"].to_str().unwrap(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    let body: Value = response.json().unwrap();
    assert_eq!(body["trace_id"], "0af7651916cd43dd8448eb211c80319c");
}

/// `(name, path, content type, body, expected status, expected field)`.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    String,
    u16,
    Option<&'static str>,
);

fn with(field: &str, value: Value) -> String {
    let mut t = transaction("user-000001");
    t[field] = value;
    t.to_string()
}

fn without(field: &str) -> String {
    let mut t = transaction("user-000001");
    t.as_object_mut().unwrap().remove(field);
    t.to_string()
}

/// The request the fraud API this server replaces documented.
fn fraud_api_request() -> Value {
    json!({"transaction_id": "txn_demo_001", "user_id": 12345, "amount": 149.99,
           "payment_method": "card", "merchant_id": "merchant_42"})
}

fn fraud_api_with(field: &str, value: Value) -> String {
    let mut t = fraud_api_request();
    t[field] = value;
    t.to_string()
}

fn fraud_api_without(field: &str) -> String {
    let mut t = fraud_api_request();
    t.as_object_mut().unwrap().remove(field);
    t.to_string()
}

fn malformed_cases() -> Vec<Case> {
    const P: &str = "/v1/predict";
    const B: &str = "/v1/predict/batch";
    const J: &str = "application/json";
    let valid = transaction("user-000001").to_string();
    let mut cases: Vec<Case> = vec![
        ("not json", P, J, "hello".into(), 400, Some("body")),
        ("empty body", P, J, String::new(), 400, Some("body")),
        ("truncated", P, J, "{\"user_id\":".into(), 400, Some("user_id")),
        ("array", P, J, "[]".into(), 400, Some("body")),
        ("null", P, J, "null".into(), 400, Some("body")),
        ("number", P, J, "42".into(), 400, Some("body")),
        ("trailing garbage", P, J, format!("{valid} trailing"), 400, Some("body")),
        ("NaN literal", P, J, valid.replace("42.5", "NaN"), 400, None),
        ("Infinity literal", P, J, valid.replace("42.5", "Infinity"), 400, None),
        ("number out of range", P, J, valid.replace("42.5", "1e400"), 400, Some("amount")),
        ("amount string", P, J, with("amount", json!("42.5")), 400, Some("amount")),
        ("amount null", P, J, with("amount", Value::Null), 400, Some("amount")),
        ("amount bool", P, J, with("amount", json!(true)), 400, Some("amount")),
        ("amount object", P, J, with("amount", json!({"value": 1})), 400, Some("amount")),
        ("amount negative", P, J, with("amount", json!(-5.0)), 422, Some("amount")),
        ("amount zero", P, J, with("amount", json!(0)), 422, Some("amount")),
        ("amount huge", P, J, with("amount", json!(1e12)), 422, Some("amount")),
        ("user_id negative number", P, J, with("user_id", json!(-5)), 400, Some("user_id")),
        ("user_id fraction", P, J, with("user_id", json!(1.5)), 400, Some("user_id")),
        ("user_id bool", P, J, with("user_id", json!(true)), 400, Some("user_id")),
        ("payment_method unknown", P, J, fraud_api_with("payment_method", json!("cheque")), 422, Some("payment_method")),
        ("payment_method number", P, J, fraud_api_with("payment_method", json!(7)), 400, Some("payment_method")),
        ("merchant_id empty", P, J, fraud_api_with("merchant_id", json!("")), 422, Some("merchant_id")),
        ("merchant_id object", P, J, fraud_api_with("merchant_id", json!({})), 400, Some("merchant_id")),
        ("fraud API amount missing", P, J, fraud_api_without("amount"), 400, Some("amount")),
        ("fraud API user_id missing", P, J, fraud_api_without("user_id"), 400, Some("user_id")),
        ("user_id empty", P, J, with("user_id", json!("")), 422, Some("user_id")),
        ("user_id blank", P, J, with("user_id", json!("   ")), 422, Some("user_id")),
        ("user_id too long", P, J, with("user_id", json!("u".repeat(300))), 422, Some("user_id")),
        ("category unknown", P, J, with("merchant_category", json!("casino")), 400, Some("merchant_category")),
        ("category number", P, J, with("merchant_category", json!(3)), 400, Some("merchant_category")),
        ("country three letters", P, J, with("merchant_country", json!("USA")), 422, Some("merchant_country")),
        ("country digits", P, J, with("merchant_country", json!("1A")), 422, Some("merchant_country")),
        ("card_present string", P, J, with("card_present", json!("yes")), 400, Some("card_present")),
        ("local_hour 24", P, J, with("local_hour", json!(24)), 422, Some("local_hour")),
        ("local_hour negative", P, J, with("local_hour", json!(-1)), 400, Some("local_hour")),
        ("local_hour fraction", P, J, with("local_hour", json!(3.5)), 400, Some("local_hour")),
        ("local_hour 300", P, J, with("local_hour", json!(300)), 400, Some("local_hour")),
        ("currency lowercase", P, J, with("currency", json!("usd")), 422, Some("currency")),
        ("currency four letters", P, J, with("currency", json!("EURO")), 422, Some("currency")),
        ("transaction_id empty", P, J, with("transaction_id", json!("")), 422, Some("transaction_id")),
        ("unknown field card_number", P, J, with("card_number", json!("4111111111111111")), 400, Some("card_number")),
        ("unknown field email", P, J, with("email", json!("a@b.c")), 400, Some("email")),
        ("duplicate field", P, J, valid.replace("{", "{\"amount\":1,"), 400, Some("amount")),
        ("huge body", P, J, format!("{{\"user_id\":\"{}\"}}", "x".repeat(2 * 1024 * 1024)), 413, Some("body")),
        ("text content type", P, "text/plain", valid.clone(), 415, None),
        ("form content type", P, "application/x-www-form-urlencoded", "a=b".into(), 415, None),
        ("batch missing transactions", B, J, "{}".into(), 400, Some("transactions")),
        ("batch transactions not array", B, J, "{\"transactions\":{}}".into(), 400, Some("transactions")),
        ("batch empty", B, J, "{\"transactions\":[]}".into(), 422, Some("transactions")),
        (
            "batch bad element",
            B,
            J,
            json!({"transactions": [transaction("a"), {"user_id": "b"}]}).to_string(),
            400,
            Some("transactions[1].amount"),
        ),
        (
            "batch invalid amount",
            B,
            J,
            json!({"transactions": [transaction("a"), serde_json::from_str::<Value>(&with("amount", json!(-1))).unwrap()]}).to_string(),
            422,
            Some("transactions[1].amount"),
        ),
        (
            "batch too large",
            B,
            J,
            json!({"transactions": vec![transaction("a"); 300]}).to_string(),
            422,
            Some("transactions"),
        ),
        ("unknown route", "/v1/nothing", J, valid.clone(), 404, None),
    ];
    for field in [
        "user_id",
        "amount",
        "merchant_category",
        "merchant_country",
        "card_present",
        "local_hour",
    ] {
        let name: &'static str = Box::leak(format!("missing {field}").into_boxed_str());
        let field: &'static str = Box::leak(field.to_string().into_boxed_str());
        cases.push((name, P, J, without(field), 400, Some(field)));
    }
    cases
}

#[test]
fn malformed_requests_get_4xx_json_naming_the_field() {
    let server = Server::start(&[], &[]);
    let http = client();
    let cases = malformed_cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    for (name, path, content_type, body, status, field) in &cases {
        let response = http
            .post(server.url(path))
            .header("content-type", *content_type)
            .body(body.clone())
            .send()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(response.status().as_u16(), *status, "{name}");
        let text = response.text().unwrap();
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: not JSON: {text}"));
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{name}: no message: {text}");
        assert!(json["error"]["code"].is_string(), "{name}: {text}");
        if let Some(field) = field {
            assert_eq!(json["error"]["field"], *field, "{name}: {text}");
        }
        if name.starts_with("missing ") {
            let missing = name.trim_start_matches("missing ");
            assert!(
                message.contains(missing),
                "{name}: message does not name the field: {message}"
            );
        }
    }
    // Still serving, and every refusal was counted as a 4xx.
    let ok = http
        .post(server.url("/v1/predict"))
        .json(&transaction("user-000001"))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let metrics = server.metrics();
    assert!(
        sample(
            &metrics,
            "tidewatch_requests_total",
            &["route=\"/v1/predict", "code=\"5"]
        )
        .is_none(),
        "{metrics}"
    );
    let refused: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("tidewatch_requests_total{") && l.contains("code=\"4"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(refused as usize, cases.len());
}

#[test]
fn concurrency_limit_answers_429_with_retry_after() {
    let server = Server::start(
        &["--max-concurrency", "1", "--fault-latency-ms", "400"],
        &[],
    );
    let url = server.url("/v1/predict");
    let slow = std::thread::spawn(move || {
        client()
            .post(url)
            .json(&transaction("user-000001"))
            .send()
            .unwrap()
            .status()
            .as_u16()
    });
    std::thread::sleep(Duration::from_millis(150));
    let response = client()
        .post(server.url("/v1/predict"))
        .json(&transaction("user-000002"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    assert_eq!(slow.join().unwrap(), 200);
}

#[test]
fn metrics_page_has_every_contract_metric_after_traffic() {
    let server = Server::start(&["--drift-min-samples", "1"], &[]);
    let http = client();
    for i in 0..20 {
        let user = if i % 5 == 0 {
            "nobody".to_string()
        } else {
            synth::user_id(i)
        };
        http.post(server.url("/v1/predict"))
            .json(&transaction(&user))
            .send()
            .unwrap();
    }
    http.post(server.url("/v1/predict"))
        .body("oops")
        .send()
        .unwrap();
    // Raw paths never become labels: both of these count under `unmatched`.
    for path in ["/v1/predict/", "/users/1234"] {
        http.get(server.url(path)).send().unwrap();
    }
    let response = http.get(server.url("/metrics")).send().unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let text = response.text().unwrap();
    assert!(text.trim_end().ends_with("# EOF"));
    for (name, kind) in [
        ("tidewatch_requests", "counter"),
        ("tidewatch_request_duration_seconds", "histogram"),
        ("tidewatch_requests_in_flight", "gauge"),
        ("tidewatch_predictions", "counter"),
        ("tidewatch_prediction_score", "histogram"),
        ("tidewatch_inference_duration_seconds", "histogram"),
        ("tidewatch_feature_store_requests", "counter"),
        ("tidewatch_feature_store_duration_seconds", "histogram"),
        ("tidewatch_feature_drift_psi", "gauge"),
        ("tidewatch_model_info", "gauge"),
        ("tidewatch_feature_store_breaker_state", "gauge"),
        ("tidewatch_gpu_telemetry_available", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} missing:\n{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "tidewatch_requests_total",
            &["route=\"/v1/predict\"", "method=\"POST\"", "code=\"200\""]
        ),
        Some(20.0)
    );
    assert_eq!(
        sample(&text, "tidewatch_requests_total", &["code=\"400\""]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "tidewatch_requests_total",
            &["route=\"unmatched\"", "method=\"GET\"", "code=\"404\""]
        ),
        Some(2.0)
    );
    assert!(!text.contains("/users/1234"), "a raw path became a label");
    assert_eq!(
        sample(
            &text,
            "tidewatch_feature_store_requests_total",
            &["result=\"hit\""]
        ),
        Some(16.0)
    );
    assert_eq!(
        sample(
            &text,
            "tidewatch_feature_store_requests_total",
            &["result=\"miss\""]
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            "tidewatch_prediction_score_count",
            &["model=\"fraud-mlp\""]
        ),
        Some(20.0)
    );
    assert_eq!(
        sample(
            &text,
            "tidewatch_model_info",
            &["device=\"cpu\"", "version=\"1.0.0\""]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "tidewatch_request_duration_seconds_bucket",
            &["le=\"0.005\"", "route=\"/v1/predict\""]
        )
        .is_some()
    );
    assert!(
        sample(
            &text,
            "tidewatch_feature_drift_psi",
            &["feature=\"amount_to_user_avg\""]
        )
        .is_some()
    );
    // No GPU on the test machine: telemetry says so and no GPU series are invented.
    assert_eq!(
        sample(&text, "tidewatch_gpu_telemetry_available", &[]),
        Some(0.0)
    );
    assert!(!text.contains("tidewatch_gpu_utilization_ratio{"));
    // Predictions by decision add up to the requests.
    let decisions: f64 = ["approve", "review", "block"]
        .iter()
        .filter_map(|d| {
            sample(
                &text,
                "tidewatch_predictions_total",
                &[&format!("decision=\"{d}\"")],
            )
        })
        .sum();
    assert_eq!(decisions, 20.0);
}

fn typical_transactions(count: usize, amount_factor: f64) -> Vec<Value> {
    let users = synth::users(42, 10_000);
    synth::examples(9, &users, count)
        .into_iter()
        .map(|e| {
            json!({
                "user_id": synth::user_id(e.user_index),
                "amount": (e.transaction.amount * amount_factor).min(900_000.0),
                "merchant_category": e.transaction.merchant_category,
                "merchant_country": e.transaction.merchant_country,
                "card_present": e.transaction.card_present,
                "local_hour": e.transaction.local_hour,
            })
        })
        .collect()
}

fn psi(server: &Server, feature: &str) -> f64 {
    sample(
        &server.metrics(),
        "tidewatch_feature_drift_psi",
        &[&format!("feature=\"{feature}\"")],
    )
    .unwrap_or_else(|| panic!("no PSI for {feature}"))
}

#[test]
fn psi_rises_when_inputs_shift() {
    let server = Server::start(
        &["--drift-window", "400", "--drift-min-samples", "100"],
        &[],
    );
    let http = client();
    let send = |transactions: Vec<Value>| {
        for chunk in transactions.chunks(100) {
            let response = http
                .post(server.url("/v1/predict/batch"))
                .json(&json!({ "transactions": chunk }))
                .send()
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    send(typical_transactions(400, 1.0));
    let amount_before = psi(&server, "amount_to_user_avg");
    let score_before = psi(&server, "prediction_score");
    assert!(amount_before < 0.1, "in-distribution PSI {amount_before}");

    send(typical_transactions(400, 25.0));
    let amount_after = psi(&server, "amount_to_user_avg");
    let score_after = psi(&server, "prediction_score");
    assert!(amount_after > 1.0, "shifted PSI {amount_after}");
    assert!(amount_after > 10.0 * amount_before.max(0.01));
    assert!(
        score_after > score_before,
        "{score_after} <= {score_before}"
    );
    // A feature that did not move stays low.
    assert!(psi(&server, "card_not_present") < 0.1);
}

#[test]
fn fault_injection_fails_the_configured_share() {
    let server = Server::start(&["--fault-error-ratio", "0.25"], &[]);
    let http = client();
    let mut failures = 0;
    for _ in 0..40 {
        let response = http
            .post(server.url("/v1/predict"))
            .json(&transaction("user-000001"))
            .send()
            .unwrap();
        if response.status() == 500 {
            let body: Value = response.json().unwrap();
            assert_eq!(body["error"]["code"], "injected_fault");
            failures += 1;
        } else {
            assert_eq!(response.status(), 200);
        }
    }
    assert_eq!(failures, 10);
    let metrics = server.metrics();
    assert_eq!(
        sample(&metrics, "tidewatch_requests_total", &["code=\"500\""]),
        Some(10.0)
    );
}

#[test]
fn shutdown_turns_not_ready_then_drains_in_flight_requests() {
    let mut server = Server::start(
        &[
            "--shutdown-delay-seconds",
            "1",
            "--fault-latency-ms",
            "1500",
        ],
        &[],
    );
    let url = server.url("/v1/predict");
    let in_flight = std::thread::spawn(move || {
        let started = Instant::now();
        let status = client()
            .post(url)
            .json(&transaction("user-000001"))
            .send()
            .unwrap()
            .status();
        (status.as_u16(), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    server.signal_terminate();
    std::thread::sleep(Duration::from_millis(300));
    let ready = client().get(server.url("/readyz")).send().unwrap();
    assert_eq!(ready.status(), 503, "not ready during the shutdown delay");
    let (status, _) = in_flight.join().unwrap();
    assert_eq!(status, 200, "the in-flight request finished");
    assert!(
        server.terminate(Duration::from_secs(10)),
        "clean exit:\n{}",
        server.logs()
    );
    assert!(server.logs().contains("draining in-flight requests"));
}

/// Hands out `bytes` at most `piece` at a time, so a request body built from it is sent
/// with chunked transfer encoding in many small chunks.
struct Trickle {
    bytes: std::io::Cursor<Vec<u8>>,
    piece: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let end = buf.len().min(self.piece);
        self.bytes.read(&mut buf[..end])
    }
}

fn trickled(body: Vec<u8>) -> reqwest::blocking::Body {
    reqwest::blocking::Body::new(Trickle {
        bytes: std::io::Cursor::new(body),
        piece: 500,
    })
}

#[test]
fn bodies_sent_in_chunks_are_joined_and_still_limited() {
    let server = Server::start(&["--max-body-bytes", "65536"], &[]);
    let http = client();
    let batch = json!({ "transactions": typical_transactions(50, 1.0) });
    let response = http
        .post(server.url("/v1/predict/batch"))
        .header("content-type", "application/json")
        .body(trickled(serde_json::to_vec(&batch).unwrap()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert_eq!(body["predictions"].as_array().unwrap().len(), 50);

    // No Content-Length to refuse it early: the running total must stop it.
    let huge = format!("{{\"user_id\":\"{}\"}}", "x".repeat(100 * 1024)).into_bytes();
    let response = http
        .post(server.url("/v1/predict"))
        .header("content-type", "application/json")
        .body(trickled(huge))
        .send()
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["field"], "body", "{body}");
}
