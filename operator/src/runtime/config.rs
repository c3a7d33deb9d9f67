//! Configuration of `tidewatch-operator run`: one clap struct, every flag also an
//! environment variable, checked once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::controller::Scope;
use crate::controller::secret_policy::AllowedSecret;
use crate::live::client::ConfigError;
use crate::live::{LiveMetrics, LiveSettings, Prometheus, PrometheusConfig, Thresholds};
use crate::validate::{OperatorSettings, SettingsError};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log pipelines.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// Arguments of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Namespaces to watch, comma-separated; all namespaces when empty.
    #[arg(
        long = "namespace",
        env = "TIDEWATCH_NAMESPACES",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Secrets an MLService may name as `spec.featureStore.credentialsSecret`, as
    /// `namespace/name` or `namespace/*` (repeatable or comma-separated). When empty, any
    /// Secret of the MLService's namespace. An MLService naming another gets no children and
    /// a `Degraded` condition with reason `SecretNotAllowed`.
    #[arg(
        long,
        env = "TIDEWATCH_ALLOWED_CREDENTIALS_SECRETS",
        value_delimiter = ','
    )]
    pub allowed_credentials_secrets: Vec<AllowedSecret>,
    /// Image for MLServices that name none.
    #[arg(long, env = "TIDEWATCH_DEFAULT_IMAGE", default_value = crate::validate::settings_defaults::IMAGE)]
    pub default_image: String,
    /// Extra label on every ServiceMonitor and PrometheusRule, `key=value` (repeatable or
    /// comma-separated), e.g. `release=kube-prometheus-stack`.
    #[arg(long = "monitoring-label", env = "TIDEWATCH_MONITORING_LABELS", value_delimiter = ',', value_parser = parse_label)]
    pub monitoring_labels: Vec<(String, String)>,
    /// Grafana folder of the dashboards (annotation `grafana_folder`).
    #[arg(long, env = "TIDEWATCH_GRAFANA_FOLDER", default_value = crate::validate::settings_defaults::FOLDER)]
    pub grafana_folder: String,
    /// Address of the `/metrics`, `/healthz` and `/readyz` server.
    #[arg(
        long,
        env = "TIDEWATCH_METRICS_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_address: SocketAddr,
    /// Log format.
    #[arg(long, env = "TIDEWATCH_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
    /// Elect a leader through a Lease, so that only one replica reconciles.
    #[arg(long, env = "TIDEWATCH_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "TIDEWATCH_LEASE_NAME",
        default_value = "tidewatch-operator"
    )]
    pub lease_name: String,
    /// Namespace of the leader-election Lease (the operator's own namespace in a cluster).
    #[arg(long, env = "TIDEWATCH_LEASE_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease and in Events; the pod name in a cluster.
    #[arg(long, env = "TIDEWATCH_IDENTITY")]
    pub identity: Option<String>,
    /// How long a leader's Lease lasts without renewal, seconds. A standby takes over at most
    /// this long (plus one retry period) after the leader stops renewing.
    #[arg(long, env = "TIDEWATCH_LEASE_DURATION_SECONDS", default_value_t = 8)]
    pub lease_duration_seconds: u64,
    /// Reconciliations running at once, per controller.
    #[arg(long, env = "TIDEWATCH_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,
    /// Periodic re-check of converged resources, seconds.
    #[arg(long, env = "TIDEWATCH_REQUEUE_SECONDS", default_value_t = 300)]
    pub requeue_seconds: u64,
    /// Prometheus to read live SLO figures from (`http(s)://host:port[/prefix]`); without it
    /// the SLO status carries no figures.
    #[arg(long, env = "TIDEWATCH_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// PEM file of the CAs that sign Prometheus' certificate (system roots otherwise).
    #[arg(long, env = "TIDEWATCH_PROMETHEUS_CA_FILE")]
    pub prometheus_ca_file: Option<PathBuf>,
    /// File holding a bearer token for Prometheus or the proxy in front of it; re-read on
    /// every request.
    #[arg(long, env = "TIDEWATCH_PROMETHEUS_BEARER_TOKEN_FILE")]
    pub prometheus_bearer_token_file: Option<PathBuf>,
    /// Bound on each request to Prometheus, seconds.
    #[arg(
        long,
        env = "TIDEWATCH_PROMETHEUS_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub prometheus_timeout_seconds: u64,
    /// Time between two reads of the SLO figures, seconds; after a failed read the wait
    /// doubles, up to 10 times this.
    #[arg(long, env = "TIDEWATCH_PROMETHEUS_POLL_SECONDS", default_value_t = 30)]
    pub prometheus_poll_seconds: u64,
    /// Least time between two status writes of one SLO's figures, seconds.
    #[arg(
        long,
        env = "TIDEWATCH_SLO_STATUS_INTERVAL_SECONDS",
        default_value_t = 60
    )]
    pub slo_status_interval_seconds: u64,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}

impl RunArgs {
    /// The live-figures settings when a Prometheus URL is given; a bad URL or CA file is
    /// refused at start-up.
    pub fn live(&self, metrics: LiveMetrics) -> Result<Option<LiveSettings>, ConfigError> {
        let Some(url) = &self.prometheus_url else {
            return Ok(None);
        };
        let prometheus = Prometheus::new(&PrometheusConfig {
            url: url.clone(),
            ca_file: self.prometheus_ca_file.clone(),
            bearer_token_file: self.prometheus_bearer_token_file.clone(),
            timeout: Duration::from_secs(self.prometheus_timeout_seconds.max(1)),
        })?;
        let poll_interval = Duration::from_secs(self.prometheus_poll_seconds.max(1));
        Ok(Some(LiveSettings {
            prometheus,
            poll_interval,
            max_backoff: poll_interval * 10,
            thresholds: Thresholds {
                min_interval: Duration::from_secs(self.slo_status_interval_seconds),
                ..Thresholds::default()
            },
            metrics,
        }))
    }

    /// The builder settings, checked.
    pub fn settings(&self) -> Result<OperatorSettings, SettingsError> {
        OperatorSettings::new(
            &self.default_image,
            self.monitoring_labels.iter().cloned().collect(),
            &self.grafana_folder,
        )
    }

    /// One scope per watched namespace, or the whole cluster.
    pub fn scopes(&self) -> Vec<Scope> {
        let mut namespaces: Vec<&str> = self
            .namespaces
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        if namespaces.is_empty() {
            vec![Scope::AllNamespaces]
        } else {
            namespaces
                .into_iter()
                .map(|n| Scope::Namespace(n.to_owned()))
                .collect()
        }
    }

    /// This replica's identity: the flag, else `<hostname>-<pid>`.
    pub fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_else(|_| "tidewatch".into());
            format!("{}-{}", host.trim(), std::process::id())
        })
    }

    pub fn lease_duration(&self) -> Duration {
        Duration::from_secs(self.lease_duration_seconds.max(2))
    }

    pub fn requeue_after(&self) -> Duration {
        Duration::from_secs(self.requeue_seconds.max(1))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(args: &[&str]) -> RunArgs {
        Wrapper::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn defaults_watch_everything_and_log_json() {
        let args = parse(&[]);
        assert_eq!(args.scopes(), vec![Scope::AllNamespaces]);
        assert_eq!(args.log_format, LogFormat::Json);
        assert!(args.leader_election);
        assert!(args.settings().is_ok());
    }

    #[test]
    fn namespaces_and_labels_are_lists() {
        let args = parse(&[
            "--namespace",
            "b,a",
            "--namespace",
            "a",
            "--monitoring-label",
            "release=kps,team=ml",
        ]);
        assert_eq!(
            args.scopes(),
            vec![Scope::Namespace("a".into()), Scope::Namespace("b".into())]
        );
        let settings = args.settings().unwrap();
        assert_eq!(
            settings
                .monitoring_labels()
                .get("release")
                .map(String::as_str),
            Some("kps")
        );
        assert_eq!(
            settings.monitoring_labels().get("team").map(String::as_str),
            Some("ml")
        );
    }

    #[test]
    fn a_bad_label_is_refused() {
        let args = parse(&["--monitoring-label", "bad key=x"]);
        assert!(args.settings().is_err());
        assert!(Wrapper::try_parse_from(["run", "--monitoring-label", "novalue"]).is_err());
    }
}
