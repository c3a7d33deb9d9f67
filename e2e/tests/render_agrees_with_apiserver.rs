//! One validation, two front doors: `render` accepts exactly what the real API server
//! (schema and CEL rules, strict field validation) and the operator's validate step accept,
//! and refuses the rest naming the same fields.
//!
//! The inputs are generated: every field of both CRDs, walked from `crds/`, gets hostile
//! strings, out-of-range and wrongly typed numbers, nulls, unknown keys, too many map
//! entries, and credentials in URLs, each in an otherwise valid document. For each input:
//!
//! - the API server's verdict is a server-side dry-run create (`fieldValidation=Strict`);
//! - the operator's verdict is its validate step on the object the API server would store
//!   (read through `render`, whose schema check must then find nothing);
//! - `render` on the input must accept exactly when both do; when the API server refuses,
//!   every field `render` names must appear in the API server's message, and a CEL rule's
//!   message as the API server words it; when validate refuses, `render` gives the same
//!   fields and reasons as validate does on the stored object.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde_json::{Map, Value, json};
use tidewatch_e2e::operator::{install_crds, operator_binary};
use tidewatch_e2e::{TestNamespace, client, repo_root};

const API: &str = "tidewatch.io/v1alpha1";

fn base_mlservice() -> Value {
    json!({
        "model": {"name": "fraud", "version": "v1", "weightsVolumeClaim": "weights"},
        "image": "registry.example/tidewatch-inference:1",
        "replicas": 2,
        "resources": {"cpu": "500m", "cpuLimit": "1", "memory": "512Mi", "gpu": 0},
        "featureStore": {
            "address": "redis://redis.data:6379/0",
            "credentialsSecret": {"name": "redis", "key": "password"},
            "timeoutMs": 50
        },
        "tracing": {"otlpEndpoint": "http://otel-collector.observability:4318", "samplingRatio": 0.1},
        "monitoring": {
            "scrapeInterval": "30s",
            "dashboard": true,
            "drift": {"warning": 0.1, "critical": 0.25},
            "serviceMonitorLabels": {"release": "kube-prometheus-stack"}
        }
    })
}

fn base_latency_slo() -> Value {
    json!({
        "target": {"mlService": "svc"},
        "objective": 99.9,
        "window": "30d",
        "indicator": {"latency": {"threshold": "250ms"}},
        "alerting": {
            "page": {"enabled": true, "labels": {"team": "fraud"}},
            "ticket": {"enabled": true, "labels": {"team": "fraud"}},
            "runbookUrl": "https://runbooks.example/slo",
            "minimumRequestsPerHour": 60,
            "metricsAbsent": true
        }
    })
}

fn base_ratio_slo() -> Value {
    json!({
        "objective": 99,
        "indicator": {"ratio": {
            "errors": "http_requests_total{job=\"api\",code=~\"5..\"}",
            "total": "http_requests_total{job=\"api\"}"
        }}
    })
}

/// Strings every string field is tried with: malformed, boundary, and secret-bearing.
fn hostile_strings() -> Vec<Value> {
    [
        "",
        " ",
        "a b",
        "x\u{a0}y",
        "x\ty",
        "é",
        "-a",
        "a-",
        "A",
        "Bad_Name",
        "a..b",
        "a.b",
        "../../etc/passwd",
        "0",
        "-1",
        "0.5",
        "2",
        "1.5.5",
        "500m",
        "0m",
        "0Mi",
        "2Gi",
        "lots",
        "0s",
        "30s",
        "1h30m",
        "500ms",
        "1y",
        "7d",
        "7d12h",
        "6d",
        "366d",
        "52w",
        "0ms",
        "300ms",
        "0.25s",
        "severity",
        "alertname",
        "on-call",
        "__x",
        "redis://r:6379",
        "redis://r:6379/0",
        "rediss://[::1]:6379/1",
        "redis://:pw@r:6379",
        "redis://r:6379/0?password=pw",
        "http://c:4318",
        "https://u:tok@c:4318",
        "https://c:4318/v1/traces?api_key=k",
        "https://c/?keyboard=1",
        "ftp://c",
        "rate(x[5m])",
        "x{a=\"b\"}",
        "x{",
    ]
    .into_iter()
    .map(Value::from)
    .collect()
}

fn numbers() -> Vec<Value> {
    vec![
        json!(-1),
        json!(0),
        json!(1),
        json!(0.5),
        json!(16),
        json!(17),
        json!(100),
        json!(101),
        json!(10000),
        json!(10001),
        json!(1e10),
        json!("1"),
        json!(true),
    ]
}

fn set(doc: &mut Value, path: &[String], value: Value) {
    let mut node = doc;
    for key in &path[..path.len() - 1] {
        if !node.get(key).is_some_and(Value::is_object) {
            node[key] = json!({});
        }
        node = &mut node[key];
    }
    node[&path[path.len() - 1]] = value;
}

fn remove(doc: &mut Value, path: &[String]) {
    let mut node = doc;
    for key in &path[..path.len() - 1] {
        match node.get_mut(key) {
            Some(next) => node = next,
            None => return,
        }
    }
    if let Some(object) = node.as_object_mut() {
        object.remove(&path[path.len() - 1]);
    }
}

/// Records one input: a description and an edit of the base spec.
type Push<'a> = dyn FnMut(String, &dyn Fn(&mut Value)) + 'a;

/// One generated input: what was changed, and the spec.
struct Case {
    what: String,
    kind: &'static str,
    spec: Value,
}

/// Walks a CRD schema below `spec` and mutates `base` at every field.
fn mutations(
    kind: &'static str,
    schema: &Value,
    path: &mut Vec<String>,
    base: &dyn Fn(&[String]) -> Value,
    out: &mut Vec<Case>,
) {
    let mut push = |what: String, f: &dyn Fn(&mut Value)| {
        let mut spec = base(path);
        f(&mut spec);
        out.push(Case { what, kind, spec });
    };
    let here = path.join(".");
    if !path.is_empty() {
        push(format!("{here} = null"), &|s| set(s, path, Value::Null));
        push(format!("{here} removed"), &|s| remove(s, path));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => {
            let mut strings = hostile_strings();
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                strings.push(Value::from("a".repeat(max as usize)));
                strings.push(Value::from("a".repeat(max as usize + 1)));
            }
            for value in strings {
                push(format!("{here} = {value}"), &|s| {
                    set(s, path, value.clone());
                });
            }
            push(format!("{here} = 1"), &|s| set(s, path, json!(1)));
        }
        Some("integer" | "number") => {
            for value in numbers() {
                push(format!("{here} = {value}"), &|s| {
                    set(s, path, value.clone());
                });
            }
        }
        Some("boolean") => {
            for value in [json!("yes"), json!(1), json!(false)] {
                push(format!("{here} = {value}"), &|s| {
                    set(s, path, value.clone());
                });
            }
        }
        Some("object") => {
            let mut unknown = path.clone();
            unknown.push("unexpected".into());
            push(format!("{here}.unexpected = 1"), &|s| {
                set(s, &unknown, json!(1));
            });
            if let Some(values) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                map_mutations(&here, schema, values, path, &mut push);
            }
            for (name, child) in schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                path.push(name.clone());
                mutations(kind, child, path, base, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A map field: too many entries, hostile keys, hostile values.
fn map_mutations(here: &str, schema: &Value, values: &Value, path: &[String], push: &mut Push<'_>) {
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
        for n in [max, max + 1] {
            let entries: Map<String, Value> =
                (0..n).map(|i| (format!("k{i}"), json!("v"))).collect();
            push(format!("{here} with {n} entries"), &|s| {
                set(s, path, Value::Object(entries.clone()));
            });
        }
    }
    for key in hostile_strings().iter().filter_map(Value::as_str) {
        let entry = json!({key: "v"});
        push(format!("{here} key {key:?}"), &|s| {
            set(s, path, entry.clone());
        });
    }
    let mut strings = hostile_strings();
    if let Some(max) = values.get("maxLength").and_then(Value::as_u64) {
        strings.push(Value::from("a".repeat(max as usize)));
        strings.push(Value::from("a".repeat(max as usize + 1)));
        strings.push(Value::from("é".repeat(max as usize)));
    }
    strings.push(json!(1));
    for value in strings {
        let entry = json!({"team": value});
        push(format!("{here}.team = {value}"), &|s| {
            set(s, path, entry.clone());
        });
    }
}

fn crd_schema(file: &str) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(repo_root().join("crds").join(file))?;
    let crd: Value = serde_yaml::from_str(&text)?;
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec")
        .cloned()
        .context("the CRD has a spec schema")
}

fn generated_cases() -> anyhow::Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mls = crd_schema("mlservices.tidewatch.io.yaml")?;
    mutations(
        "MLService",
        &mls,
        &mut Vec::new(),
        &|_| base_mlservice(),
        &mut cases,
    );
    let slo = crd_schema("slos.tidewatch.io.yaml")?;
    let slo_base = |path: &[String]| {
        let ratio = path.len() >= 2 && path[0] == "indicator" && path[1] == "ratio";
        if ratio {
            base_ratio_slo()
        } else {
            base_latency_slo()
        }
    };
    mutations("SLO", &slo, &mut Vec::new(), &slo_base, &mut cases);
    // Cross-field rules, which no single-field mutation reaches.
    let mut pair = |what: &str, kind: &'static str, mut spec: Value, edits: &[(&str, Value)]| {
        for (path, value) in edits {
            let path: Vec<String> = path.split('.').map(String::from).collect();
            set(&mut spec, &path, value.clone());
        }
        cases.push(Case {
            what: what.into(),
            kind,
            spec,
        });
    };
    pair(
        "cpu limit below request",
        "MLService",
        base_mlservice(),
        &[
            ("resources.cpu", json!("2")),
            ("resources.cpuLimit", json!("1500m")),
        ],
    );
    pair(
        "cpu limit equal to request",
        "MLService",
        base_mlservice(),
        &[
            ("resources.cpu", json!("1")),
            ("resources.cpuLimit", json!("1000m")),
        ],
    );
    pair(
        "drift warning at critical",
        "MLService",
        base_mlservice(),
        &[("monitoring.drift.warning", json!(0.25))],
    );
    pair(
        "two indicators",
        "SLO",
        base_latency_slo(),
        &[("indicator.availability", json!({}))],
    );
    pair(
        "ratio with a target",
        "SLO",
        base_ratio_slo(),
        &[("target.mlService", json!("svc"))],
    );
    pair(
        "availability without a target",
        "SLO",
        base_ratio_slo(),
        &[("indicator", json!({"availability": {}}))],
    );
    pair(
        "objective leaving no budget",
        "SLO",
        base_latency_slo(),
        &[("objective", json!(99.99999999995))],
    );
    Ok(cases)
}

fn document(kind: &str, name: &str, namespace: Option<&str>, spec: &Value) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": API, "kind": kind, "metadata": metadata, "spec": spec})
}

/// The API server's answer to a strict, server-side dry-run create: the object it would
/// store, or its message.
async fn dry_run_create(
    client: &kube::Client,
    namespace: &str,
    doc: &Value,
) -> anyhow::Result<Result<Value, String>> {
    let plural = if doc["kind"] == "SLO" {
        "slos"
    } else {
        "mlservices"
    };
    let path = format!("/apis/{API}/namespaces/{namespace}/{plural}");
    let params = kube::api::PostParams {
        dry_run: true,
        field_manager: Some("tidewatch-e2e".into()),
    };
    let mut request = kube::core::Request::new(path).create(&params, serde_json::to_vec(doc)?)?;
    let uri = format!("{}&fieldValidation=Strict", request.uri());
    *request.uri_mut() = uri.parse()?;
    match client.request::<Value>(request).await {
        Ok(stored) => Ok(Ok(stored)),
        Err(kube::Error::Api(status)) => Ok(Err(status.message.clone())),
        Err(other) => Err(other.into()),
    }
}

/// One refusal by `render`: the field and the reason.
#[derive(Debug, PartialEq)]
struct Refusal {
    field: String,
    reason: String,
}

/// Reasons `render` words like the API server's schema errors, whose message the API server
/// frames differently (`spec.x: Invalid value: "v": spec.x in body should match …`).
fn is_schema_wording(reason: &str) -> bool {
    [
        "Invalid value",
        "Too long",
        "Too many",
        "Required value",
        "unknown field",
        "Unsupported value",
    ]
    .iter()
    .any(|p| reason.starts_with(p))
}

/// `render -f dir`: the refusals of each file, by file name.
fn render(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<Refusal>>> {
    let out = Command::new(operator_binary()?)
        .args(["render", "-o"])
        .arg(dir.join("out"))
        .arg("-f")
        .arg(dir)
        .output()
        .context("running render")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut refused: BTreeMap<String, Vec<Refusal>> = BTreeMap::new();
    let prefix = format!("{}/", dir.display());
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let mut parts = rest.splitn(3, ": ");
        let (Some(origin), Some(field), Some(reason)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let file = origin.split(':').next().unwrap_or_default().to_owned();
        refused.entry(file).or_default().push(Refusal {
            field: field.to_owned(),
            reason: reason.to_owned(),
        });
    }
    Ok(refused)
}

fn write_yaml(dir: &Path, file: &str, doc: &Value) -> anyhow::Result<()> {
    std::fs::write(dir.join(file), serde_yaml::to_string(doc)?)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_accepts_exactly_what_the_api_server_and_validate_accept() -> anyhow::Result<()> {
    let client = client().await?;
    install_crds()?;
    let ns = TestNamespace::create(&client, "agree").await?;
    let cases = generated_cases()?;
    assert!(cases.len() > 1000, "only {} inputs", cases.len());

    let inputs = tempfile::tempdir()?;
    let stored = tempfile::tempdir()?;
    // Inputs name the test namespace, so that an SLO's target is looked up in the same
    // namespace in both renders.
    let target = document(
        "MLService",
        "svc",
        Some(ns.name()),
        &json!({"model": {"name": "m", "version": "v1"}}),
    );
    write_yaml(inputs.path(), "target.yaml", &target)?;
    write_yaml(stored.path(), "target.yaml", &target)?;
    let mut server = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let file = format!("case-{i:04}.yaml");
        let input = document(case.kind, &format!("c{i}"), Some(ns.name()), &case.spec);
        write_yaml(inputs.path(), &file, &input)?;
        let answer = dry_run_create(&client, ns.name(), &input).await?;
        if let Ok(object) = &answer {
            write_yaml(stored.path(), &file, object)?;
        }
        server.push((file, answer));
    }
    let refused_input = render(inputs.path())?;
    let refused_stored = render(stored.path())?;
    assert!(
        !refused_input.contains_key("target.yaml"),
        "{refused_input:?}"
    );

    let mut failures = Vec::new();
    let mut tally = BTreeMap::<&str, usize>::new();
    for (case, (file, answer)) in cases.iter().zip(&server) {
        let by_render = refused_input.get(file);
        let what = format!("{} {}: {}", case.kind, file, case.what);
        match answer {
            Err(message) => {
                *tally.entry("refused by the API server").or_default() += 1;
                match by_render {
                    None => failures.push(format!("{what}: render accepts, the API server says {message}")),
                    Some(refusals) => {
                        for Refusal { field, reason } in refusals {
                            let named = message.contains(&format!("{field}:"))
                                || message.contains(&format!("unknown field \"{field}\""));
                            // A CEL rule's twin answers with the rule's message (validate
                            // may add the value after it).
                            let opening: String = reason.chars().take(40).collect();
                            let worded = is_schema_wording(reason) || message.contains(&opening);
                            if !(named && worded) {
                                failures.push(format!("{what}: render says {field}: {reason}; the API server says {message}"));
                            }
                        }
                    }
                }
            }
            Ok(_) => match (refused_stored.get(file), by_render) {
                (None, None) => *tally.entry("accepted by all").or_default() += 1,
                (Some(by_validate), Some(refusals)) if by_validate == refusals => {
                    *tally.entry("refused by validate only").or_default() += 1;
                }
                (by_validate, refusals) => failures.push(format!(
                    "{what}: the API server accepts; validate on the stored object refuses {by_validate:?}, render on the input refuses {refusals:?}"
                )),
            },
        }
    }
    eprintln!("{} generated inputs: {tally:?}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} inputs disagree:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for class in [
        "refused by the API server",
        "accepted by all",
        "refused by validate only",
    ] {
        assert!(
            tally.get(class).copied().unwrap_or(0) > 0,
            "no input is {class}: {tally:?}"
        );
    }
    Ok(())
}
