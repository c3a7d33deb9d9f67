//! Command-line interface of the operator binary: subcommands and their arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Tidewatch operator: reconciles MLService and SLO resources.
#[derive(Debug, Parser)]
#[command(name = "tidewatch-operator", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinitions as YAML, or write one file per CRD.
    Crds {
        /// Directory to write `<plural>.<group>.yaml` files into; stdout when absent.
        #[arg(long, short = 'o')]
        output_dir: Option<PathBuf>,
    },
    /// Write the generic Grafana dashboards (`mlservice.json`, `slo.json`).
    Dashboards {
        /// Directory to write into.
        #[arg(long, short = 'o')]
        output_dir: PathBuf,
    },
    /// Render MLService and SLO resources into plain manifests, offline.
    Render(RenderArgs),
    /// Run the controllers against the cluster of the current kubeconfig or service account.
    Run(Box<crate::runtime::config::RunArgs>),
    /// Print the operator's RBAC: ServiceAccount, ClusterRole (or a Role per watched
    /// namespace), Role (Lease) and bindings.
    Rbac {
        /// Namespace the operator runs in.
        #[arg(long, default_value = "tidewatch-system")]
        namespace: String,
        /// ServiceAccount the operator runs as.
        #[arg(long, default_value = "tidewatch-operator")]
        service_account: String,
        /// Namespaces the operator watches (its `run --namespace`), comma-separated: a Role
        /// in each instead of a ClusterRole. All namespaces when empty.
        #[arg(long, value_delimiter = ',')]
        watch_namespace: Vec<String>,
    },
}

/// Arguments of `render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// A YAML file (multi-document allowed) or a directory of `.yaml`/`.yml` files.
    #[arg(long, short = 'f', required = true)]
    pub file: Vec<PathBuf>,
    /// Output directory (one file per object), or `-` for one YAML stream on stdout.
    #[arg(long, short = 'o', default_value = "-")]
    pub output: String,
    /// Image for MLServices that name none.
    #[arg(long, env = "TIDEWATCH_DEFAULT_IMAGE", default_value = crate::validate::settings_defaults::IMAGE)]
    pub default_image: String,
    /// Extra label on ServiceMonitors and PrometheusRules, `key=value` (repeatable).
    #[arg(long = "monitoring-label", value_parser = parse_label)]
    pub monitoring_labels: Vec<(String, String)>,
    /// Grafana folder of the dashboards.
    #[arg(long, env = "TIDEWATCH_GRAFANA_FOLDER", default_value = crate::validate::settings_defaults::FOLDER)]
    pub grafana_folder: String,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}
