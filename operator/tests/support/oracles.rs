//! The real readers that judge rendered output: promtool's PromQL parser (one query, or many
//! rule files in one run) and PyYAML, a YAML 1.1 reader like kubectl's, Argo CD's and Flux's.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::promtool;

/// Prometheus' canonical text of a query (`promtool promql format`): `Ok` when it parses,
/// `Err` with promtool's message otherwise. Two queries with the same canonical text select
/// the same series: values are printed back with Go's quoting.
pub fn promql_format(query: &str) -> Result<String, String> {
    let out = Command::new(promtool())
        .args(["promql", "format", "--experimental", query])
        .output()
        .expect("promtool runs");
    let stdout = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Runs one `promtool check rules` over many files and returns those it refused. One process
/// for the whole batch keeps hundreds of cases within a second or two.
pub fn refused_rule_files(files: &[PathBuf]) -> Result<BTreeSet<PathBuf>> {
    if files.is_empty() {
        return Ok(BTreeSet::new());
    }
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .args(files)
        .output()
        .context("running promtool")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let refused: BTreeSet<PathBuf> = files
        .iter()
        .filter(|f| stderr.contains(&format!("{}: ", f.display())))
        .cloned()
        .collect();
    if !out.status.success() && refused.is_empty() {
        bail!("promtool failed without naming a file:\n{stderr}");
    }
    Ok(refused)
}

/// A rule file with one recording rule per expression.
pub fn write_expr_rule_file(dir: &Path, name: &str, exprs: &[String]) -> Result<PathBuf> {
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({"record": format!("case:{i}"), "expr": e}))
        .collect();
    let file = serde_json::json!({"groups": [{"name": name, "rules": rules}]});
    let path = dir.join(format!("{name}.yaml"));
    // JSON is YAML; promtool reads it as such.
    std::fs::write(&path, serde_json::to_string(&file)?)?;
    Ok(path)
}

/// `python3` with PyYAML; panics with instructions when missing: these tests never skip.
fn python_with_yaml() -> &'static str {
    let ok = Command::new("python3")
        .args(["-c", "import yaml"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with PyYAML is needed (scripts/install-deps.sh installs it): the YAML 1.1 \
         reader of the round-trip tests"
    );
    "python3"
}

/// Every document of a YAML stream as PyYAML's safe loader (YAML 1.1) reads it, as JSON.
pub fn yaml_1_1_documents(stream: &str) -> Result<Vec<Value>> {
    // libyaml's loader when PyYAML was built with it: the same YAML 1.1 resolver, faster.
    let script = "import sys, json, yaml\n\
                  loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)\n\
                  docs = [d for d in yaml.load_all(sys.stdin.read(), Loader=loader) if d is not None]\n\
                  json.dump(docs, sys.stdout)\n";
    let mut child = Command::new(python_with_yaml())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stream.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "PyYAML refused the stream: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}
