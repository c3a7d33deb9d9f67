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
    shorten_tiles(&mut groups);
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

/// The tile span these tests give the SLO tile groups instead of the generated 10 minutes.
pub const TEST_TILE_SPAN: &str = "5s";

/// Shortens every SLO tile group (`tidewatch-slo-<name>-tiles`) to `TEST_TILE_SPAN`: its
/// evaluation interval and the range of its `increase()`. A 10-minute group is first
/// evaluated up to 10 minutes after Prometheus starts, longer than these tests wait; the
/// construction is the same at any span (ratios of sums of tiles), and the 10-minute span
/// itself is proven by the operator's promtool and backfilled-history tests.
pub fn shorten_tiles(groups: &mut [Value]) {
    for group in groups {
        let Some(interval) = group["interval"].as_str().map(str::to_owned) else {
            continue;
        };
        let is_tiles = group["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("-tiles"));
        if !is_tiles {
            continue;
        }
        group["interval"] = Value::from(TEST_TILE_SPAN);
        let range = format!("[{interval}]");
        let short = format!("[{TEST_TILE_SPAN}]");
        if let Some(rules) = group["rules"].as_sequence_mut() {
            for rule in rules {
                if let Some(expr) = rule["expr"].as_str() {
                    rule["expr"] = Value::from(expr.replace(&range, &short));
                }
            }
        }
    }
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
