//! Rule files for a plain Prometheus: the `spec.groups` of the PrometheusRules that
//! `tidewatch-operator render` produces, and the static rule files of `alerts/`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize as _;
use serde_yaml::Value;

use super::repo_root;
use crate::operator::operator_output;

/// Renders `manifests/examples` with the operator binary and writes the groups of every
/// PrometheusRule into `dir/slo.rules.yaml`; returns the file and the recording rule names.
pub fn rendered_slo_rules(dir: &Path) -> anyhow::Result<(PathBuf, Vec<String>)> {
    let examples = repo_root().join("manifests/examples");
    let stream = operator_output(&["render", "-f", &examples.display().to_string()])?;
    let mut groups = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&stream) {
        let doc = Value::deserialize(doc)?;
        if doc["kind"] == "PrometheusRule" {
            let spec_groups = doc["spec"]["groups"]
                .as_sequence()
                .context("PrometheusRule without spec.groups")?;
            groups.extend(spec_groups.iter().cloned());
        }
    }
    anyhow::ensure!(!groups.is_empty(), "render produced no PrometheusRule");
    let records = groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|r| r["record"].as_str().map(str::to_owned))
        .collect();
    let path = dir.join("slo.rules.yaml");
    let mut file = serde_yaml::Mapping::new();
    file.insert("groups".into(), Value::Sequence(groups));
    std::fs::write(&path, serde_yaml::to_string(&file)?)?;
    Ok((path, records))
}

/// Every `alerts/*.rules.yaml`, sorted.
pub fn static_rule_files() -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("alerts"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".rules.yaml"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no alerts/*.rules.yaml");
    Ok(files)
}
