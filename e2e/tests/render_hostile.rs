//! `render` output of hostile specs is what the real API server stores: the MLService and SLO
//! documents pass the schema (`kubectl apply --dry-run=server`), and every rendered child
//! applies server-side with its labels, annotations and env values unchanged. Label names
//! and values such as `yes`, `on`, `1.10` and `2024_01_15` are where a YAML 1.1 reader
//! (kubectl's) would turn a plain scalar into a boolean or number.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tidewatch_e2e::operator::{install_crds, operator_output};
use tidewatch_e2e::{TestNamespace, client, kubectl};

/// Words and numbers YAML 1.1 retypes when written plain, all legal Kubernetes label values.
const RETYPED: &[&str] = &[
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "False",
    "null",
    "2024_01_15",
    "0o17",
    "017",
    "0x1F",
    "1e3",
    "1.10",
    "1_000",
    "0",
];

/// One MLService per retyped word (as model version, label name and label value) and an SLO
/// on each whose alert labels and runbook carry more of them. U+0085 is left out: `render`
/// writes it escaped and kubectl reads it back, but server-side apply parses its JSON body
/// as YAML 1.1, where a raw U+0085 inside a string is a line break folded into a space.
fn hostile_inputs(namespace: &str) -> String {
    let mut docs = String::new();
    for (i, word) in RETYPED.iter().enumerate() {
        let next = RETYPED[(i + 1) % RETYPED.len()];
        let key = word.to_ascii_lowercase().replace(['.', '_'], "-");
        docs.push_str(&format!(
            "---\napiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {{name: svc-{i}, namespace: {namespace}}}\nspec:\n  model: {{name: {word:?}, version: {next:?}}}\n  monitoring:\n    serviceMonitorLabels: {{{key:?}: {word:?}, \"x{key}\": {next:?}}}\n"
        ));
        docs.push_str(&format!(
            "---\napiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {{name: slo-{i}, namespace: {namespace}}}\nspec:\n  target: {{mlService: svc-{i}}}\n  objective: 99.9\n  indicator: {{availability: {{}}}}\n  alerting:\n    runbookUrl: \"https://runbooks.example.com/{word}#1:20\"\n    page: {{labels: {{\"on\": {word:?}, team: \"1:20\", note: \"line\\u2028sep\\u00a0nbsp\\u0007bell\"}}}}\n    ticket: {{labels: {{\"y\": {next:?}}}}}\n"
        ));
    }
    docs
}

/// `kubectl apply --dry-run=server -o json` of a YAML stream: the objects as the API server
/// would store them.
fn dry_run(yaml: &str) -> Result<Vec<Value>> {
    let out = kubectl(
        &[
            "apply",
            "--dry-run=server",
            "--server-side",
            "--field-manager",
            "tidewatch-e2e",
            "-o",
            "json",
            "-f",
            "-",
        ],
        Some(yaml),
    )?;
    if !out.success {
        bail!("the API server refused the stream: {}", out.stderr);
    }
    let parsed: Value = serde_json::from_str(&out.stdout).context("kubectl -o json")?;
    Ok(match parsed.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![parsed],
    })
}

/// Labels, annotations and container env values of an object: the strings YAML 1.1 retypes.
fn retypable_strings(object: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for pointer in [
        "/metadata/labels",
        "/metadata/annotations",
        "/spec/template/metadata/labels",
    ] {
        out.push((
            pointer.to_owned(),
            object.pointer(pointer).cloned().unwrap_or(Value::Null),
        ));
    }
    if let Some(Value::Array(containers)) = object.pointer("/spec/template/spec/containers") {
        for (i, c) in containers.iter().enumerate() {
            out.push((format!("container {i} env"), c["env"].clone()));
        }
    }
    if let Some(Value::Array(groups)) = object.pointer("/spec/groups") {
        for (g, group) in groups.iter().enumerate() {
            for (r, rule) in group["rules"].as_array().into_iter().flatten().enumerate() {
                out.push((format!("group {g} rule {r} labels"), rule["labels"].clone()));
                out.push((
                    format!("group {g} rule {r} annotations"),
                    rule["annotations"].clone(),
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn hostile_specs_render_to_manifests_the_api_server_stores_unchanged() -> Result<()> {
    install_crds()?;
    let client = client().await?;
    let ns = TestNamespace::create(&client, "render-hostile").await?;
    let inputs = hostile_inputs(ns.name());
    dry_run(&inputs).context("the hostile inputs themselves must pass the schema")?;

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hostile.yaml");
    std::fs::write(&file, &inputs)?;
    let rendered_yaml = operator_output(&["render", "-f", &file.display().to_string()])?;
    let rendered: Vec<Value> = serde_yaml::Deserializer::from_str(&rendered_yaml)
        .map(<Value as serde::Deserialize>::deserialize)
        .collect::<Result<_, _>>()?;
    assert_eq!(
        rendered.len(),
        RETYPED.len() * 6,
        "every MLService renders 4 children and every SLO 2"
    );

    let stored = dry_run(&rendered_yaml)?;
    assert_eq!(stored.len(), rendered.len());
    for (want, got) in rendered.iter().zip(&stored) {
        let name = format!("{} {}", want["kind"], want["metadata"]["name"]);
        assert_eq!(got["metadata"]["name"], want["metadata"]["name"]);
        for ((field, w), (_, g)) in retypable_strings(want).iter().zip(retypable_strings(got)) {
            assert_eq!(w, &g, "{name}: {field} stored differently");
        }
    }
    println!(
        "{} hostile inputs rendered to {} manifests, all stored unchanged by the API server",
        RETYPED.len() * 2,
        rendered.len()
    );
    Ok(())
}
