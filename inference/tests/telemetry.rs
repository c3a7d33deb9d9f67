//! Traces and logs of the real server: spans reach an OTLP/HTTP receiver with the caller's
//! trace id, and logs are JSON with trace ids but without personal data or secrets.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{Redis, Server, client, transaction};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::{Value, json};
use tidewatch_inference::secret::Secret;
use tidewatch_inference::telemetry::privacy::Pseudonymizer;

/// A minimal OTLP/HTTP receiver: answers 200 to every POST and hands over path and body.
fn otlp_receiver() -> (u16, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let sender = sender.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = request_line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("")
                        .to_string();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let _ = sender.send((path, body));
                    writer
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (port, receiver)
}

#[derive(Debug)]
struct ReceivedSpan {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn spans_reach_an_otlp_receiver_under_the_callers_trace() {
    let (port, received) = otlp_receiver();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut server = Server::start(
        &[
            "--otlp-endpoint",
            &endpoint,
            "--trace-sample-ratio",
            "0",
            "--service-name",
            "fraud-test",
        ],
        &[],
    );
    let trace_id = "5b8efff798038103d269b633813fc60c";
    let parent_span = "eee19b7ec3c1b174";
    let response = client()
        .post(server.url("/v1/predict"))
        .header("traceparent", format!("00-{trace_id}-{parent_span}-01"))
        .json(&transaction("user-000003"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    // Ratio 0 samples nothing new: an untraced request must not be exported.
    client()
        .post(server.url("/v1/predict"))
        .json(&transaction("user-000004"))
        .send()
        .unwrap();
    // Export work runs below the request threads' priority (see `priority.rs`).
    #[cfg(target_os = "linux")]
    {
        let threads = server.thread_priorities();
        let nice = |prefix: &str| {
            threads
                .iter()
                .find(|(name, _)| name.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} thread in {threads:?}"))
                .1
        };
        let base = nice("actix-rt");
        assert!(
            nice("OpenTelemetry") > base && nice("reqwest") > base,
            "export threads not below the request threads: {threads:?}"
        );
        assert_eq!(nice("model"), base, "{threads:?}");
    }
    // Shutdown flushes the batch exporter.
    assert!(server.terminate(Duration::from_secs(15)));

    let mut spans = Vec::new();
    let mut service_names = Vec::new();
    while let Ok((path, body)) = received.recv_timeout(Duration::from_secs(2)) {
        assert_eq!(path, "/v1/traces");
        let export = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        for resource_spans in export.resource_spans {
            for attribute in resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
            {
                if attribute.key == "service.name"
                    && let Some(AnyValue::StringValue(name)) =
                        attribute.value.as_ref().and_then(|v| v.value.clone())
                {
                    service_names.push(name);
                }
            }
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                });
            }
        }
    }
    let request = spans
        .iter()
        .find(|s| s.name == "POST /v1/predict")
        .unwrap_or_else(|| panic!("no request span in {spans:?}"));
    assert_eq!(request.trace_id, trace_id);
    assert_eq!(request.parent_span_id, parent_span);
    for child in ["feature_fetch", "inference"] {
        let span = spans
            .iter()
            .find(|s| s.name == child)
            .unwrap_or_else(|| panic!("no {child} span in {spans:?}"));
        assert_eq!(span.trace_id, trace_id);
        assert_eq!(
            span.parent_span_id, request.span_id,
            "{child} is a child of the request"
        );
    }
    assert!(
        spans.iter().all(|s| s.trace_id == trace_id),
        "an unsampled trace was exported: {spans:?}"
    );
    assert!(service_names.iter().all(|n| n == "fraud-test") && !service_names.is_empty());
}

#[test]
fn logs_are_json_with_trace_ids_and_without_personal_data_or_secrets() {
    let url_password = "url-secret-55d2";
    let redis = Redis::start(Some(url_password));
    let redis_url = format!("redis://default:{url_password}@127.0.0.1:{}", redis.port);
    let email = "alice.smith@example.com";
    let card = "4111111111111111";
    let pseudonym_key = "pseudonym-key-7f3a9c";
    let mut server = Server::start(
        &["--redis-url", &redis_url],
        &[
            ("RUST_LOG", "debug"),
            ("TIDEWATCH_PSEUDONYM_KEY", pseudonym_key),
        ],
    );
    let http = client();
    let send = |body: String| {
        http.post(server.url("/v1/predict"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let mut by_email = transaction(email);
    by_email["transaction_id"] = json!("bob@example.org");
    assert_eq!(send(by_email.to_string()), 200);
    assert_eq!(send(transaction(card).to_string()), 200);
    let mut with_card = transaction(email);
    with_card["card_number"] = json!(card);
    assert_eq!(send(with_card.to_string()), 400);
    let mut card_as_amount = transaction(email);
    card_as_amount["amount"] = json!(card);
    assert_eq!(send(card_as_amount.to_string()), 400);
    let mut bad_country = transaction(email);
    bad_country["merchant_country"] = json!(email);
    assert_eq!(send(bad_country.to_string()), 422);
    assert!(server.terminate(Duration::from_secs(10)));

    let logs = server.logs();
    for forbidden in [
        email,
        "alice",
        "example.com",
        "bob@example.org",
        card,
        url_password,
        pseudonym_key,
    ] {
        assert!(
            !logs.contains(forbidden),
            "`{forbidden}` appears in the logs:\n{logs}"
        );
    }
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let predictions: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "prediction")
        .collect();
    assert_eq!(predictions.len(), 2, "{logs}");
    let pseudonyms = Pseudonymizer::keyed(&Secret::new(pseudonym_key)).unwrap();
    assert_eq!(predictions[0]["user"], pseudonyms.pseudonym(email));
    assert_eq!(predictions[1]["user"], pseudonyms.pseudonym(card));
    for line in &predictions {
        assert_eq!(line["trace_id"].as_str().map(str::len), Some(32), "{line}");
    }
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request refused")
        .collect();
    assert!(
        refused.iter().any(|l| l["field"] == "card_number"),
        "{logs}"
    );
    for line in &refused {
        assert_eq!(line["trace_id"].as_str().map(str::len), Some(32), "{line}");
    }
    assert!(
        logs.contains("redis://[redacted]@127.0.0.1"),
        "the Redis URL is logged redacted"
    );
}
