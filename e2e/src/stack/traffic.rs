//! Client traffic against the inference server: valid single and batch predictions for
//! known and unknown users, invalid bodies (400) and bursts beyond the concurrency limit
//! (429). Bounded in time; counts the answers by status code.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Requests sent at once in each round; above the server's concurrency limit.
const BURST: usize = 8;

/// A transaction; `n` varies the user (known or unknown to the feature store) and inputs.
pub fn transaction(n: usize) -> Value {
    let categories = [
        "grocery",
        "restaurant",
        "travel",
        "electronics",
        "gift_cards",
        "crypto",
    ];
    let user = if n.is_multiple_of(5) {
        format!("unknown-user-{n}")
    } else {
        format!("user-{:06}", n % 10_000)
    };
    json!({
        "user_id": user,
        "amount": 5.0 + (n % 97) as f64 * 13.0,
        "currency": "EUR",
        "merchant_category": categories[n % categories.len()],
        "merchant_country": if n.is_multiple_of(7) { "BR" } else { "DE" },
        "card_present": !n.is_multiple_of(3),
        "local_hour": (n % 24) as u8,
    })
}

/// A running traffic loop.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    codes: Arc<Mutex<BTreeMap<u16, u64>>>,
    task: JoinHandle<()>,
}

impl Traffic {
    /// Sends rounds to `base_url` until stopped or `limit` passes.
    pub fn start(http: reqwest::Client, base_url: String, limit: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let codes = Arc::new(Mutex::new(BTreeMap::new()));
        let task = tokio::spawn(run(http, base_url, limit, stop.clone(), codes.clone()));
        Self { stop, codes, task }
    }

    /// Answers so far by status code (0: no answer).
    pub async fn codes(&self) -> BTreeMap<u16, u64> {
        self.codes.lock().await.clone()
    }

    /// Stops the loop and returns the final counts.
    pub async fn stop(self) -> BTreeMap<u16, u64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.codes.lock().await.clone()
    }
}

async fn run(
    http: reqwest::Client,
    base_url: String,
    limit: Duration,
    stop: Arc<AtomicBool>,
    codes: Arc<Mutex<BTreeMap<u16, u64>>>,
) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
        let mut requests = Vec::new();
        for _ in 0..BURST {
            n += 1;
            requests.push(
                http.post(format!("{base_url}/v1/predict"))
                    .json(&transaction(n)),
            );
        }
        let batch: Vec<Value> = (0..4).map(|i| transaction(n + i)).collect();
        requests.push(
            http.post(format!("{base_url}/v1/predict/batch"))
                .json(&json!({"transactions": batch})),
        );
        let mut answers = futures::future::join_all(requests.into_iter().map(|r| r.send())).await;
        // After the burst, so that the permit is free: a client error (the amount must be a
        // number) and the model description.
        answers.push(
            http.post(format!("{base_url}/v1/predict"))
                .json(&json!({"user_id": "user-000001", "amount": "lots"}))
                .send()
                .await,
        );
        answers.push(http.get(format!("{base_url}/v1/model")).send().await);
        let mut counts = codes.lock().await;
        for answer in answers {
            let code = answer.map(|r| r.status().as_u16()).unwrap_or(0);
            *counts.entry(code).or_default() += 1;
        }
        drop(counts);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
