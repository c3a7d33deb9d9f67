//! The `render` and `crds` subcommands as a user runs them: exit codes, error format,
//! summary on stderr, deterministic output, one file per object with `-o DIR`.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tidewatch-operator"))
}

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples")
}

#[test]
fn examples_render_cleanly_with_a_rule_summary() {
    let out = bin()
        .args(["render", "-f"])
        .arg(examples())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("slo fraud/fraud-detector-availability: 15 rules (10 recording, 5 alerting)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("slo fraud/fraud-detector-latency: 15 rules"),
        "{stderr}"
    );
    let again = bin()
        .args(["render", "-f"])
        .arg(examples())
        .output()
        .unwrap();
    assert_eq!(
        out.stdout, again.stdout,
        "byte-identical output on every run"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for kind in [
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    ] {
        assert!(
            text.contains(&format!("\nkind: {kind}\n")),
            "{kind} missing"
        );
    }
}

#[test]
fn output_directory_gets_one_file_per_object() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["render", "-f"])
        .arg(examples())
        .arg("-o")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 8, "{files:?}");
    assert!(files.contains(&"fraud_prometheusrule_slo-fraud-detector-latency.yaml".to_owned()));
}

#[test]
fn invalid_documents_are_reported_by_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {name: good, namespace: x}\nspec:\n  model: {name: m, version: '1'}\n---\n\
apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: bad, namespace: x}\nspec:\n  target: {mlService: good}\n  objective: 100\n  indicator: {availability: {}}\n---\n\
apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: typo, namespace: x}\nspec:\n  objective: 'high'\n  indicator: {availability: {}}\n",
    )
    .unwrap();
    let out = bin().args(["render", "-f"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "invalid input must exit non-zero");
    let f = file.display();
    assert!(
        stderr.contains(&format!(
            "{f}:2: spec.objective: must be strictly between 0 and 100"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{f}:3: spec.objective: invalid type")),
        "{stderr}"
    );
    assert!(
        !stdout.contains("name: slo-bad") && !stdout.contains("slo-typo"),
        "no output for refused resources"
    );
    assert!(
        stdout.contains("kind: Deployment"),
        "valid resources still render"
    );
}

#[test]
fn crds_subcommand_prints_both_crds() {
    let out = bin().arg("crds").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("name: mlservices.tidewatch.io") && text.contains("name: slos.tidewatch.io")
    );
}

#[test]
fn duplicate_objects_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {name: twice, namespace: x}\nspec:\n  model: {name: m, version: '1'}\n";
    std::fs::write(dir.path().join("a.yaml"), doc).unwrap();
    std::fs::write(dir.path().join("b.yaml"), doc).unwrap();
    let out = bin()
        .args(["render", "-f"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("b.yaml:1: metadata.name: MLService x/twice is already defined at"),
        "{stderr}"
    );
}
