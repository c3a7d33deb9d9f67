//! Client traffic against the inference server: valid single and batch predictions for
//! known and unknown users, invalid bodies (400) and bursts beyond the concurrency limit
//! (429). Bounded in time; counts the answers by status code.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tidewatch_testkit::fixtures::varied_transaction;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Requests sent at once in each round; above the server's concurrency limit.
const BURST: usize = 8;

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
                    .json(&varied_transaction(n)),
            );
        }
        let batch: Vec<Value> = (0..4).map(|i| varied_transaction(n + i)).collect();
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
