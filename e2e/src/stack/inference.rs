//! The inference server binary of this workspace as a local process on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::{ChildGuard, await_http_ok};

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

/// A running server; killed when dropped.
pub struct InferenceServer {
    pub base_url: String,
    child: ChildGuard,
}

impl InferenceServer {
    /// Starts `serve` with the in-memory feature store and waits for `/readyz`.
    pub async fn start(
        http: &reqwest::Client,
        options: &InferenceOptions,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(inference_binary()?);
        command
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{}", options.port)])
            .args(["--workers", "2"])
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
            .args(["--gpu-poll-seconds", "1", "--shutdown-delay-seconds", "0"])
            .args(["--log-format", "text", "--log-filter", "warn"])
            // The process environment must not reconfigure the server under test.
            .env_remove("TIDEWATCH_REDIS_URL")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        if let Some(url) = &options.redis_url {
            command.args(["--redis-url", url, "--breaker-cool-down-ms", "60000"]);
        }
        let mut child = ChildGuard::spawn("tidewatch-inference", command, log)?;
        let base_url = format!("http://127.0.0.1:{}", options.port);
        await_http_ok(
            http,
            &mut child,
            &format!("{base_url}/readyz"),
            Duration::from_secs(30),
        )
        .await?;
        Ok(Self { base_url, child })
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.child.ensure_running()
    }

    /// SIGKILL now (the drop does the same).
    pub fn kill(mut self) {
        self.child.kill();
    }
}
