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
            .contains("slo fraud/fraud-detector-availability: 17 rules (12 recording, 5 alerting)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("slo fraud/fraud-detector-latency: 17 rules"),
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
            "{f}:2: spec.objective: Invalid value: 100: should be less than 100"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{f}:3: spec.objective: Invalid value: \"string\": must be of type number"
        )),
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

/// `render` refuses what the API server refuses, naming the field as it does: unknown
/// fields, patterns, bounds, map limits, and the CRDs' CEL rules (credentials in URLs, a
/// CPU limit below the request).
#[test]
fn render_refuses_what_the_api_server_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.yaml");
    let labels: String = (0..33).map(|i| format!("k{i}: v, ")).collect();
    let mls = |name: &str, spec: &str| {
        format!(
            "---\napiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {{name: {name}}}\nspec:\n  model: {{name: m, version: '1'}}\n{spec}"
        )
    };
    let text = [
        mls("typo", "  replica: 50\n"),
        mls("labels", &format!("  monitoring: {{serviceMonitorLabels: {{{labels}}}}}\n")),
        mls(
            "traversal",
            "  featureStore: {address: 'redis://r:6379', credentialsSecret: {name: s, key: ../../etc/passwd}}\n",
        ),
        mls("userinfo", "  featureStore: {address: 'redis://:pw@r:6379'}\n"),
        mls("query", "  tracing: {otlpEndpoint: 'https://c:4318/v1/traces?token=abc'}\n"),
        mls("limit", "  resources: {cpu: '2', cpuLimit: 500m}\n"),
        "---\napiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: window}\nspec:\n  objective: 99\n  window: 7d12h\n  indicator: {ratio: {errors: a, total: b}}\n".into(),
    ]
    .concat();
    std::fs::write(&file, text).unwrap();
    let out = bin().args(["render", "-f"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let f = file.display();
    for expected in [
        format!("{f}:1: spec.replica: unknown field \"spec.replica\""),
        format!(
            "{f}:2: spec.monitoring.serviceMonitorLabels: Too many: 33: must have at most 32 items"
        ),
        format!(
            "{f}:3: spec.featureStore.credentialsSecret.key: Invalid value: \"../../etc/passwd\""
        ),
        format!("{f}:4: spec.featureStore.address: must not carry credentials"),
        format!("{f}:5: spec.tracing.otlpEndpoint: must not carry credentials"),
        format!("{f}:6: spec.resources: cpuLimit must not be below cpu"),
        format!("{f}:7: spec.window: Invalid value: \"7d12h\": should match"),
    ] {
        assert!(stderr.contains(&expected), "{expected}\nnot in:\n{stderr}");
    }
    assert!(
        stderr.contains("rendered 0 manifests, 7 errors"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "a refused resource renders nothing: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
