//! Both request shapes of `/v1/predict` against the real server binary: the fraud API's
//! documented request, today's transaction, the unknown-field policy of each, a load
//! shaped like the fraud API's traffic, the `/health/*` probes and the debug route.

mod common;

use common::{Redis, Server, client, sample, transaction};
use serde_json::{Value, json};
use tidewatch_inference::features::synth;

/// The fields every prediction answer carries, in either shape.
const ANSWER_FIELDS: [&str; 7] = [
    "transaction_id",
    "decision",
    "fraud_probability",
    "risk_level",
    "latency_ms",
    "model_version",
    "trace_id",
];

fn fraud_api_request() -> Value {
    json!({"transaction_id": "txn_demo_001", "user_id": 12345, "amount": 149.99,
           "payment_method": "card", "merchant_id": "merchant_42"})
}

fn predict(server: &Server, body: &Value) -> (u16, Value) {
    let response = client()
        .post(server.url("/v1/predict"))
        .json(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

fn assert_answer_fields(body: &Value) {
    for field in ANSWER_FIELDS {
        assert!(!body[field].is_null(), "{field} missing: {body}");
    }
    let latency = body["latency_ms"].as_f64().unwrap();
    assert!(latency > 0.0 && latency < 1_000.0, "{body}");
    assert_eq!(body["model_version"], "1.0.0");
}

fn defaulted(body: &Value) -> Vec<&str> {
    body["defaulted_inputs"]
        .as_array()
        .unwrap_or_else(|| panic!("no defaulted_inputs: {body}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn the_fraud_api_request_is_answered_with_its_fields() {
    let server = Server::start(&[], &[]);
    let (status, body) = predict(&server, &fraud_api_request());
    assert_eq!(status, 200, "{body}");
    assert_answer_fields(&body);
    assert_eq!(body["transaction_id"], "txn_demo_001");
    assert_eq!(body["decision"], "approve", "{body}");
    assert!(
        ["low", "medium"].contains(&body["risk_level"].as_str().unwrap()),
        "{body}"
    );
    // User 12345 is not in the store; merchant_42 is, so its category and country are not
    // defaulted; `card` says nothing about card presence and no hour was sent.
    assert_eq!(
        defaulted(&body),
        ["user_profile", "card_present", "local_hour"]
    );
    assert_eq!(body["features_defaulted"], true);

    // The same merchant written out as a transaction scores the same.
    let merchant = synth::merchants(42, 1_000)[42];
    let (status, explicit) = predict(
        &server,
        &json!({"user_id": "12345", "amount": 149.99,
                "merchant_category": merchant.merchant_category,
                "merchant_country": merchant.merchant_country,
                "card_present": true, "local_hour": 12}),
    );
    assert_eq!(status, 200, "{explicit}");
    assert_eq!(explicit["fraud_probability"], body["fraud_probability"]);
    assert_eq!(defaulted(&explicit), ["user_profile"]);

    // An unknown merchant leaves both merchant inputs to the defaults.
    let mut unknown = fraud_api_request();
    unknown["merchant_id"] = json!("merchant_nobody");
    unknown["payment_method"] = json!("bank transfer");
    let (status, body) = predict(&server, &unknown);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        defaulted(&body),
        [
            "user_profile",
            "merchant_category",
            "merchant_country",
            "local_hour"
        ]
    );
    // A user and merchant lookup each: two lookups for each fraud-API request, one for
    // the transaction.
    let metrics = server.metrics();
    let lookups: f64 = ["hit", "miss"]
        .iter()
        .filter_map(|r| {
            sample(
                &metrics,
                "tidewatch_feature_store_requests_total",
                &[&format!("result=\"{r}\"")],
            )
        })
        .sum();
    assert_eq!(lookups, 5.0, "{metrics}");
}

#[test]
fn the_transaction_shape_is_unchanged_and_reports_no_defaults() {
    let server = Server::start(&[], &[]);
    let (status, body) = predict(&server, &transaction("user-000001"));
    assert_eq!(status, 200, "{body}");
    assert_answer_fields(&body);
    assert_eq!(defaulted(&body), Vec::<&str>::new());
    assert_eq!(body["feature_store_result"], "hit");
    let (_, unknown_user) = predict(&server, &transaction("nobody"));
    assert_eq!(defaulted(&unknown_user), ["user_profile"]);
}

#[test]
fn unknown_fields_are_refused_in_the_transaction_shape_and_ignored_in_the_fraud_apis() {
    let server = Server::start(&[], &[]);
    let mut strict = transaction("user-000001");
    strict["device_id"] = json!("d-1");
    let (status, body) = predict(&server, &strict);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "device_id", "{body}");

    let mut lenient = fraud_api_request();
    lenient["device_id"] = json!("d-1");
    lenient["metadata"] = json!({"channel": "app", "tags": [1, 2]});
    let (status, body) = predict(&server, &lenient);
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(!text.contains("d-1") && !text.contains("channel"), "{text}");
    // Neither is in the logs.
    assert!(!server.logs().contains("d-1"));
}

/// Traffic as the fraud API received it: synthetic transactions in its shape, with its
/// payment methods and merchant ids. Every answer is a 200 with the listed fields, and the
/// decisions have the population's shape (most approved, few blocked).
#[test]
fn a_load_shaped_like_the_fraud_apis_traffic_is_answered() {
    let server = Server::start(&[], &[]);
    let users = synth::users(42, 10_000);
    let examples = synth::examples(5, &users, 400);
    let http = client();
    let mut decisions = std::collections::HashMap::<String, usize>::new();
    let mut amounts = std::collections::HashMap::<String, f64>::new();
    for (i, example) in examples.iter().enumerate() {
        let method = match (example.transaction.card_present, i % 3) {
            (true, _) => "pos",
            (false, 0) => "wallet",
            (false, 1) => "online",
            (false, _) => "bank_transfer",
        };
        let body = json!({
            "transaction_id": format!("txn-{i}"),
            "user_id": synth::user_id(example.user_index),
            "amount": example.transaction.amount,
            "currency": "USD",
            "payment_method": method,
            "merchant_id": synth::merchant_id(i % 1_500),
        });
        let response = http
            .post(server.url("/v1/predict"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().unwrap();
        assert_answer_fields(&answer);
        let decision = answer["decision"].as_str().unwrap().to_string();
        *amounts.entry(decision.clone()).or_default() += example.transaction.amount;
        *decisions.entry(decision).or_default() += 1;
    }
    // The business counters add up the amounts of each decision, in the request's currency.
    let metrics = server.metrics();
    for (decision, amount) in &amounts {
        let counted = sample(
            &metrics,
            "tidewatch_transaction_amount_total",
            &[&format!("decision=\"{decision}\""), "currency=\"USD\""],
        )
        .unwrap();
        assert!(
            (counted - amount).abs() < 1e-6,
            "{decision}: {counted} vs {amount}"
        );
    }
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_transaction_amount_total",
            &["decision=\"approve\"", "currency=\"EUR\""]
        ),
        Some(0.0)
    );
    let approve = decisions.get("approve").copied().unwrap_or_default();
    let block = decisions.get("block").copied().unwrap_or_default();
    assert!(approve > examples.len() / 2, "{decisions:?}");
    assert!(block < examples.len() / 10, "{decisions:?}");
}

#[test]
fn health_probes_answer_under_both_paths() {
    let server = Server::start(&[], &[]);
    for path in ["/healthz", "/readyz", "/health/live", "/health/ready"] {
        let response = client().get(server.url(path)).send().unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().unwrap();
        assert!(body["status"].is_string(), "{path}: {body}");
    }
}

#[test]
fn the_debug_route_is_off_by_default_and_seeds_the_store_when_on() {
    let off = Server::start(&[], &[]);
    let response = client()
        .post(off.url("/debug/populate-cache/new-user"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "debug_routes_off", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--enable-debug-routes"),
        "{body}"
    );

    let on = Server::start(&["--enable-debug-routes"], &[]);
    let (_, before) = predict(&on, &transaction("new-user"));
    assert_eq!(before["feature_store_result"], "miss");
    let response = client()
        .post(on.url("/debug/populate-cache/new-user"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert_eq!(body["store"], "memory");
    assert!(body["profile"]["avg_amount_30d"].as_f64().unwrap() > 0.0);
    let (_, after) = predict(&on, &transaction("new-user"));
    assert_eq!(after["feature_store_result"], "hit", "{after}");
    // The label is the pattern, never the user id.
    let metrics = on.metrics();
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_requests_total",
            &["route=\"/debug/populate-cache/{user_id}\"", "code=\"200\""]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(!metrics.contains("new-user"));
}

/// `merchant_id` resolved through a real Redis: the profile `load-features` wrote is the
/// one scored, an unknown merchant is defaulted, and the debug route writes a user hash.
#[test]
fn merchant_profiles_come_from_redis() {
    let redis = Redis::start(None);
    redis.load_features(100, None);
    let stored = redis.command(&["HGETALL", "tidewatch:merchant:merchant_42"]);
    let merchant = synth::merchants(42, 1_000)[42];
    assert!(
        stored.contains(merchant.merchant_category.as_str())
            && stored.contains(merchant.merchant_country.as_str()),
        "{stored}"
    );
    let server = Server::start(&["--redis-url", &redis.url(), "--enable-debug-routes"], &[]);
    let mut request = fraud_api_request();
    request["user_id"] = json!("user-000007");
    let (status, body) = predict(&server, &request);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["feature_store_result"], "hit");
    assert_eq!(defaulted(&body), ["card_present", "local_hour"]);
    let (_, explicit) = predict(
        &server,
        &json!({"user_id": "user-000007", "amount": 149.99,
                "merchant_category": merchant.merchant_category,
                "merchant_country": merchant.merchant_country,
                "card_present": true, "local_hour": 12}),
    );
    assert_eq!(explicit["fraud_probability"], body["fraud_probability"]);

    request["merchant_id"] = json!("merchant_99999");
    let (_, unknown) = predict(&server, &request);
    assert_eq!(
        defaulted(&unknown),
        [
            "merchant_category",
            "merchant_country",
            "card_present",
            "local_hour"
        ]
    );
    let metrics = server.metrics();
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_feature_store_requests_total",
            &["result=\"miss\""]
        ),
        Some(1.0),
        "{metrics}"
    );

    let response = client()
        .post(server.url("/debug/populate-cache/12345"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert_eq!(body["store"], "redis");
    assert!(
        redis
            .command(&["HGET", "tidewatch:user:12345", "home_country"])
            .contains(body["profile"]["home_country"].as_str().unwrap())
    );
    let (_, seeded) = predict(&server, &fraud_api_request());
    assert_eq!(seeded["feature_store_result"], "hit", "{seeded}");
}
