//! A real Prometheus (the pinned build of `e2e/cluster`) on 127.0.0.1 with a temporary TSDB,
//! and the parts of its HTTP API the tests read, also of a Prometheus running elsewhere
//! (the Prometheus Operator's pod on the real node).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tidewatch_testkit::{ChildGuard, free_port, loopback, wait_for_http_ok};

use crate::tool_path;
use crate::wait::off_runtime;

/// One scrape job with the target labels a ServiceMonitor would add.
#[derive(Debug, Clone)]
pub struct ScrapeJob {
    pub job: String,
    pub target: String,
    pub namespace: String,
    pub service: String,
    pub pod: String,
}

/// The configuration file: 1 s scrapes and rule evaluations so that a test sees rates,
/// recorded series and pending alerts within seconds.
pub fn config_yaml(jobs: &[ScrapeJob], rule_files: &[PathBuf]) -> String {
    let rules: Vec<Value> = rule_files
        .iter()
        .map(|p| Value::String(p.display().to_string()))
        .collect();
    let scrape: Vec<Value> = jobs
        .iter()
        .map(|j| {
            serde_json::json!({
                "job_name": j.job,
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{
                    "targets": [j.target],
                    "labels": {"namespace": j.namespace, "service": j.service, "pod": j.pod},
                }],
            })
        })
        .collect();
    let config = serde_json::json!({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": rules,
        "scrape_configs": scrape,
    });
    serde_yaml::to_string(&config).expect("JSON values serialise as YAML")
}

/// Opening the TSDB and loading the rule files takes a second or two.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running Prometheus; stopped when dropped. Its API is [`PrometheusApi`]'s.
pub struct Prometheus {
    api: PrometheusApi,
    child: ChildGuard,
}

/// The HTTP API of a Prometheus at `base_url`.
pub struct PrometheusApi {
    pub base_url: String,
    http: reqwest::Client,
}

impl std::ops::Deref for Prometheus {
    type Target = PrometheusApi;

    fn deref(&self) -> &PrometheusApi {
        &self.api
    }
}

impl Prometheus {
    /// Writes the configuration into `dir`, starts Prometheus with its TSDB there and waits
    /// for `/-/ready`.
    pub async fn start(
        http: &reqwest::Client,
        dir: &Path,
        jobs: &[ScrapeJob],
        rule_files: &[PathBuf],
    ) -> anyhow::Result<Self> {
        Self::start_on(free_port(), http, dir, jobs, rule_files).await
    }

    /// As `start`, on a given port: a Prometheus restarted on the same address and TSDB is
    /// the same Prometheus to its clients.
    pub async fn start_on(
        port: u16,
        http: &reqwest::Client,
        dir: &Path,
        jobs: &[ScrapeJob],
        rule_files: &[PathBuf],
    ) -> anyhow::Result<Self> {
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_yaml(jobs, rule_files))?;
        let mut command = Command::new(tool_path("prometheus")?);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={}", loopback(port)))
            .arg("--log.level=warn");
        let log = dir.join("prometheus.log");
        let child = off_runtime(move || {
            let mut child = ChildGuard::spawn("prometheus", command, &log)?;
            wait_for_http_ok(&mut child, loopback(port), "/-/ready", READY_WITHIN)?;
            Ok(child)
        })
        .await?;
        Ok(Self {
            api: PrometheusApi::new(http, format!("http://{}", loopback(port))),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    pub fn log_tail(&self) -> String {
        self.child.log_tail()
    }
}

impl PrometheusApi {
    pub fn new(http: &reqwest::Client, base_url: String) -> Self {
        Self {
            base_url,
            http: http.clone(),
        }
    }

    async fn api(&self, path: &str, params: &[(&str, &str)]) -> anyhow::Result<Value> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base_url))?;
        for (k, v) in params {
            url.query_pairs_mut().append_pair(k, v);
        }
        let body: Value = self
            .http
            .get(url)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?
            .json()
            .await?;
        if body["status"] != "success" {
            bail!("{path} {params:?}: {body}");
        }
        Ok(body["data"].clone())
    }

    /// Instant query: the result vector (a scalar or string result counts as one element).
    pub async fn query(&self, expr: &str) -> anyhow::Result<Vec<Value>> {
        let data = self.api("/api/v1/query", &[("query", expr)]).await?;
        Ok(match data["resultType"].as_str() {
            Some("vector" | "matrix") => data["result"].as_array().cloned().unwrap_or_default(),
            _ => vec![data["result"].clone()],
        })
    }

    /// Value of the first sample of an instant query, if any.
    pub async fn value(&self, expr: &str) -> anyhow::Result<Option<f64>> {
        Ok(self
            .query(expr)
            .await?
            .first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse().ok()))
    }

    /// `/api/v1/alerts`: every pending or firing alert.
    pub async fn alerts(&self) -> anyhow::Result<Vec<Value>> {
        let data = self.api("/api/v1/alerts", &[]).await?;
        Ok(data["alerts"].as_array().cloned().unwrap_or_default())
    }

    /// `/api/v1/rules`: every loaded rule group.
    pub async fn rule_groups(&self) -> anyhow::Result<Vec<Value>> {
        let data = self.api("/api/v1/rules", &[]).await?;
        Ok(data["groups"].as_array().cloned().unwrap_or_default())
    }

    /// `/api/v1/targets`: the active targets.
    pub async fn targets(&self) -> anyhow::Result<Vec<Value>> {
        let data = self.api("/api/v1/targets", &[("state", "active")]).await?;
        Ok(data["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}
