//! The inference server binary of this workspace as a local process on 127.0.0.1, started
//! with the flags the stack test varies.

use std::path::{Path, PathBuf};

use tidewatch_testkit::InferenceLaunch;

use crate::wait::off_runtime;

/// `TIDEWATCH_INFERENCE_BIN`, else built once per test process.
pub fn inference_binary() -> anyhow::Result<PathBuf> {
    crate::workspace_binary("TIDEWATCH_INFERENCE_BIN", "tidewatch-inference")
}

/// How the server is started.
#[derive(Debug, Clone)]
pub struct InferenceOptions {
    pub port: u16,
    /// `--fault-error-ratio`: share of predictions answered 500.
    pub fault_error_ratio: f64,
    /// `--fault-latency-ms`: holds each prediction's permit, so that bursts get 429.
    pub fault_latency_ms: u64,
    /// `--redis-url`; the in-memory feature store when `None`.
    pub redis_url: Option<String>,
    /// `--max-concurrency`: small, so that bursts get 429.
    pub max_concurrency: usize,
    /// `--drift-min-samples`: small, so that drift is reported within seconds.
    pub drift_min_samples: usize,
}

/// A running server; stopped when dropped.
pub struct InferenceServer {
    pub base_url: String,
    server: tidewatch_testkit::InferenceServer,
}

impl InferenceServer {
    /// Starts `serve` and waits for `/readyz`.
    pub async fn start(options: &InferenceOptions, log: &Path) -> anyhow::Result<Self> {
        let mut launch = InferenceLaunch::new(inference_binary()?)
            .port(options.port)
            .log(log)
            .args(["--max-concurrency", &options.max_concurrency.to_string()])
            .args([
                "--drift-min-samples",
                &options.drift_min_samples.to_string(),
            ])
            .args([
                "--fault-error-ratio",
                &options.fault_error_ratio.to_string(),
            ])
            .args(["--fault-latency-ms", &options.fault_latency_ms.to_string()])
            .args(["--gpu-poll-seconds", "1"])
            .args(["--log-format", "text", "--log-filter", "warn"]);
        if let Some(url) = &options.redis_url {
            launch = launch.args(["--redis-url", url, "--breaker-cool-down-ms", "60000"]);
        }
        let server = off_runtime(move || launch.start()).await?;
        Ok(Self {
            base_url: server.url(""),
            server,
        })
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.server.process().ensure_running()
    }

    /// SIGKILL now: no drain, no flush.
    pub fn kill(mut self) {
        self.server.process().kill();
    }
}
