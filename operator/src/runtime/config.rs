//! Configuration of `tidewatch-operator run`: one clap struct, every flag also an
//! environment variable, checked once at start-up.

use std::net::SocketAddr;
use std::time::Duration;

use clap::ValueEnum;

use crate::controller::Scope;
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
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}

impl RunArgs {
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
