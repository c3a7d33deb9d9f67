//! The feature store against a real `redis-server`: hits, credentials from a file, an
//! outage during traffic with the circuit breaker and recovery, and a slow Redis.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Redis, Server, client, sample, transaction};
use serde_json::Value;

#[test]
fn hits_with_a_password_read_from_a_file() {
    let password = "pw-from-file-9d1c";
    let redis = Redis::start(Some(password));
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("redis-password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    redis.load_features(500, Some(&password_file));
    assert!(
        redis
            .command(&["EXISTS", "tidewatch:user:user-000042"])
            .contains(":1")
    );

    let server = Server::start(
        &[
            "--redis-url",
            &redis.url(),
            "--redis-password-file",
            password_file.to_str().unwrap(),
        ],
        &[("RUST_LOG", "debug")],
    );
    let http = client();
    for i in 0..20 {
        let body: Value = http
            .post(server.url("/v1/predict"))
            .json(&transaction(&format!("user-{i:06}")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(body["feature_store_result"], "hit", "{body}");
        assert_eq!(body["features_defaulted"], false);
    }
    let unknown: Value = http
        .post(server.url("/v1/predict"))
        .json(&transaction("user-999999"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(unknown["feature_store_result"], "miss");
    assert_eq!(unknown["features_defaulted"], true);
    let metrics = server.metrics();
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_feature_store_requests_total",
            &["result=\"hit\""]
        ),
        Some(20.0)
    );
    assert_eq!(
        sample(&metrics, "tidewatch_feature_store_breaker_state", &[]),
        Some(0.0)
    );
    assert!(
        !server.logs().contains(password),
        "password leaked into the logs"
    );
}

/// One answer seen by the traffic generator.
#[derive(Debug, Clone)]
struct Seen {
    /// When the request was sent.
    at: Instant,
    status: u16,
    result: String,
}

fn traffic(server_url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Seen>> {
    std::thread::spawn(move || {
        let http = client();
        let mut seen = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            // The send time: a request sent before Redis died may still be answered by it.
            let sent_at = Instant::now();
            let response = http
                .post(&server_url)
                .json(&transaction(&format!("user-{:06}", i % 300)))
                .send()
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().unwrap_or(Value::Null);
            if status == 200 {
                assert_eq!(
                    body["features_defaulted"],
                    body["feature_store_result"] != "hit",
                    "{body}"
                );
            }
            seen.push(Seen {
                at: sent_at,
                status,
                result: body["feature_store_result"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
            std::thread::sleep(Duration::from_millis(2));
        }
        seen
    })
}

#[test]
fn redis_outage_defaults_features_opens_the_breaker_and_recovers() {
    let mut redis = Redis::start(None);
    redis.load_features(300, None);
    let server = Server::start(
        &[
            "--redis-url",
            &redis.url(),
            "--feature-timeout-ms",
            "50",
            "--breaker-failures",
            "3",
            "--breaker-cool-down-ms",
            "500",
        ],
        &[],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| traffic(server.url("/v1/predict"), stop.clone()))
        .collect();

    std::thread::sleep(Duration::from_millis(500));
    redis.kill();
    // Taken once the process is reaped: requests sent after this cannot reach it.
    let killed_at = Instant::now();

    // The breaker opens while Redis is gone.
    let mut breaker_opened = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !breaker_opened {
        breaker_opened = sample(
            &server.metrics(),
            "tidewatch_feature_store_breaker_state",
            &[],
        ) == Some(1.0);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        breaker_opened,
        "breaker never opened:\n{}",
        server.metrics()
    );
    std::thread::sleep(Duration::from_millis(700));

    let restarting_at = Instant::now();
    redis.restart();
    let restarted_at = Instant::now();
    redis.load_features(300, None);

    // Recovery: hits again within 5 s of Redis coming back.
    let deadline = restarted_at + Duration::from_secs(8);
    let mut recovered_after = None;
    while Instant::now() < deadline && recovered_after.is_none() {
        let body: Value = client()
            .post(server.url("/v1/predict"))
            .json(&transaction("user-000007"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if body["feature_store_result"] == "hit" {
            recovered_after = Some(restarted_at.elapsed());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();

    let recovered_after =
        recovered_after.expect("no feature-store hit within 8 s of Redis restarting");
    assert!(
        recovered_after < Duration::from_secs(5),
        "recovery took {recovered_after:?}"
    );

    assert!(seen.len() > 100, "only {} requests", seen.len());
    let server_errors = seen.iter().filter(|s| s.status >= 500).count();
    assert_eq!(server_errors, 0, "5xx during the outage");
    assert!(seen.iter().all(|s| s.status == 200));
    let during: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.at > killed_at && s.at < restarting_at)
        .collect();
    assert!(!during.is_empty());
    assert!(
        during.iter().all(|s| s.result != "hit"),
        "hits while Redis was down"
    );
    assert!(
        during.iter().any(|s| s.result == "skipped"),
        "breaker never skipped the store"
    );
    assert!(seen.iter().any(|s| s.at < killed_at && s.result == "hit"));
    assert!(
        seen.iter()
            .any(|s| s.at > restarted_at && s.result == "hit")
    );

    let metrics = server.metrics();
    assert_eq!(
        sample(&metrics, "tidewatch_feature_store_breaker_state", &[]),
        Some(0.0),
        "breaker closed again"
    );
    let failed = ["error", "timeout"]
        .iter()
        .filter_map(|r| {
            sample(
                &metrics,
                "tidewatch_feature_store_requests_total",
                &[&format!("result=\"{r}\"")],
            )
        })
        .sum::<f64>();
    assert!(failed >= 3.0, "{metrics}");
    assert!(
        sample(
            &metrics,
            "tidewatch_feature_store_requests_total",
            &["result=\"skipped\""]
        )
        .unwrap_or(0.0)
            > 0.0
    );
    assert!(
        sample(
            &metrics,
            "tidewatch_requests_total",
            &["route=\"/v1/predict\"", "code=\"5"]
        )
        .is_none(),
        "{metrics}\n{}",
        server.logs()
    );
}

#[test]
fn slow_redis_latency_is_bounded_by_the_timeout() {
    let redis = Redis::start(None);
    redis.load_features(100, None);
    let timeout_ms = 100;
    let server = Server::start(
        &[
            "--redis-url",
            &redis.url(),
            "--feature-timeout-ms",
            &timeout_ms.to_string(),
            // Keep calling Redis so every request meets the slow store.
            "--breaker-failures",
            "1000",
        ],
        &[],
    );
    let http = client();
    let warm: Value = http
        .post(server.url("/v1/predict"))
        .json(&transaction("user-000001"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(warm["feature_store_result"], "hit");

    // Every client's commands stall for 3 s.
    assert!(
        redis
            .command(&["CLIENT", "PAUSE", "3000", "ALL"])
            .starts_with("+OK")
    );
    let paused_at = Instant::now();
    let mut latencies = Vec::new();
    for i in 0..8 {
        let started = Instant::now();
        let response = http
            .post(server.url("/v1/predict"))
            .json(&transaction(&format!("user-{i:06}")))
            .send()
            .unwrap();
        latencies.push(started.elapsed());
        assert_eq!(response.status(), 200);
        let body: Value = response.json().unwrap();
        assert_eq!(body["feature_store_result"], "timeout", "{body}");
        assert_eq!(body["features_defaulted"], true);
    }
    assert!(
        paused_at.elapsed() < Duration::from_millis(2_900),
        "requests outlasted the pause"
    );
    let bound = Duration::from_millis(timeout_ms + 150);
    for latency in &latencies {
        assert!(
            *latency >= Duration::from_millis(timeout_ms - 5),
            "{latency:?} shorter than the timeout: Redis was not slow"
        );
        assert!(*latency < bound, "{latency:?} exceeds timeout + 150 ms");
    }
    let metrics = server.metrics();
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_feature_store_requests_total",
            &["result=\"timeout\""]
        ),
        Some(8.0)
    );
    // The timeouts land in the last buckets of the lookup histogram, not beyond.
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_feature_store_duration_seconds_bucket",
            &["le=\"0.25\""]
        ),
        sample(
            &metrics,
            "tidewatch_feature_store_duration_seconds_count",
            &[]
        )
    );
}
