//! Runs the pinned helm against the local control plane, with the chart's path at hand.
//! Only starts helm: what a release should contain is for the tests to say.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::{Kubectl, kubeconfig_path, tool_path};

/// `charts/tidewatch` of this repository.
pub fn chart_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/tidewatch")
}

/// Runs helm with the local control plane's kubeconfig; the outcome is kept whole so
/// assertions can quote it.
pub fn helm(args: &[&str]) -> anyhow::Result<Kubectl> {
    Ok(Command::new(tool_path("helm")?)
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running helm")?
        .into())
}
