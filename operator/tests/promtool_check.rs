//! Every rule group `render` produces passes `promtool check rules`: for the examples and
//! for hostile specs (quotes, braces, backslashes, newlines, unicode, long names and label
//! values, extreme objectives and windows). A hostile spec is either refused with a message
//! naming the field, or renders to valid rules; the expected outcome of each is asserted.

mod support;

use anyhow::Result;
use serde_json::{Value, json};
use support::*;
use tidewatch_operator::monitoring_types::RuleGroup;
use tidewatch_operator::render::{Manifest, render};
use tidewatch_operator::validate::OperatorSettings;

fn groups(manifests: &[Manifest]) -> Vec<RuleGroup> {
    manifests
        .iter()
        .filter(|m| m.kind == "PrometheusRule")
        .flat_map(|m| {
            serde_json::from_value::<Vec<RuleGroup>>(m.object["spec"]["groups"].clone())
                .expect("groups parse")
        })
        .collect()
}

fn check_all(manifests: &[Manifest]) -> Result<usize> {
    let dir = tempfile::tempdir()?;
    let groups = groups(manifests);
    for (i, group) in groups.iter().enumerate() {
        let file = write_rule_file(
            dir.path(),
            &format!("group-{i}.yaml"),
            std::slice::from_ref(group),
        )?;
        check_rules(&file)?;
    }
    Ok(groups.len())
}

#[test]
fn examples_render_to_valid_rules() -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples");
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(&root)? {
        let path = entry?.path();
        inputs.push((path.display().to_string(), std::fs::read_to_string(&path)?));
    }
    inputs.sort();
    let rendered = render(&inputs, &OperatorSettings::default());
    assert!(
        rendered.errors.is_empty(),
        "examples refused: {:?}",
        rendered.errors
    );
    assert_eq!(
        check_all(&rendered.manifests)?,
        4,
        "two SLOs, two groups each (rules and tiles)"
    );
    for count in &rendered.rule_counts {
        assert!(
            count.recording + count.alerting <= 17,
            "{count:?} is more than Sloth's 17"
        );
    }
    Ok(())
}

fn base_slo() -> Value {
    json!({
        "apiVersion": "tidewatch.io/v1alpha1",
        "kind": "SLO",
        "metadata": {"name": "hostile", "namespace": "fraud"},
        "spec": {
            "target": {"mlService": "fraud-detector"},
            "objective": 99.9,
            "window": "30d",
            "indicator": {"availability": {}},
            "alerting": {"page": {"labels": {"team": "fraud"}}, "ticket": {}}
        }
    })
}

fn ratio(errors: &str, total: &str) -> Value {
    let mut v = base_slo();
    v["spec"].as_object_mut().expect("object").remove("target");
    v["spec"]["indicator"] = json!({"ratio": {"errors": errors, "total": total}});
    v
}

fn with(path: &[&str], value: Value) -> Value {
    let mut v = base_slo();
    let mut cursor = &mut v;
    for key in &path[..path.len() - 1] {
        cursor = &mut cursor[*key];
    }
    cursor[path[path.len() - 1]] = value;
    v
}

fn page_label(key: &str, value: &str) -> Value {
    with(
        &["spec", "alerting", "page", "labels"],
        json!({ key: value }),
    )
}

enum Expect {
    Renders,
    Refused(&'static str),
}
use Expect::{Refused, Renders};

fn hostile_cases() -> Vec<(&'static str, Value, Expect)> {
    let long_value = "x\"{{}}\\".repeat(146); // 1022 bytes of quotes, braces, backslashes
    vec![
        (
            "name with a quote",
            with(&["metadata", "name"], json!("a\"b")),
            Refused("metadata.name"),
        ),
        (
            "name with braces",
            with(&["metadata", "name"], json!("{{x}}")),
            Refused("metadata.name"),
        ),
        (
            "name with unicode",
            with(&["metadata", "name"], json!("ñandú")),
            Refused("metadata.name"),
        ),
        (
            "name of 49 characters",
            with(&["metadata", "name"], json!(format!("a{}", "b".repeat(48)))),
            Renders,
        ),
        (
            "name of 50 characters",
            with(&["metadata", "name"], json!("a".repeat(50))),
            Refused("metadata.name"),
        ),
        (
            "name of 300 characters",
            with(&["metadata", "name"], json!("a".repeat(300))),
            Refused("metadata.name"),
        ),
        (
            "namespace with uppercase",
            with(&["metadata", "namespace"], json!("Fraud")),
            Refused("metadata.namespace"),
        ),
        (
            "label value with quotes",
            page_label("team", "a\"b'c"),
            Renders,
        ),
        (
            "label value with a template",
            page_label("team", "{{ $labels.instance }}"),
            Renders,
        ),
        (
            "label value with unbalanced braces",
            page_label("team", "}}{{ {{"),
            Renders,
        ),
        (
            "label value with backslashes",
            page_label("team", "C:\\path\\\\x\\"),
            Renders,
        ),
        (
            "label value with newlines",
            page_label("team", "line1\nline2\r\n\t"),
            Renders,
        ),
        (
            "label value with unicode",
            page_label("team", "équipe 🚨 チーム \u{202e}"),
            Renders,
        ),
        (
            "label value of 1022 hostile bytes",
            page_label("team", &long_value),
            Renders,
        ),
        (
            "label value of 1025 characters",
            page_label("team", &"v".repeat(1025)),
            Refused("spec.alerting.page.labels.team"),
        ),
        (
            "label name with a dash",
            page_label("team-name", "x"),
            Refused("spec.alerting.page.labels"),
        ),
        (
            "label name with a quote",
            page_label("te\"am", "x"),
            Refused("spec.alerting.page.labels"),
        ),
        (
            "reserved label name",
            page_label("severity", "info"),
            Refused("spec.alerting.page.labels"),
        ),
        (
            "label name starting with __",
            page_label("__name__", "x"),
            Refused("spec.alerting.page.labels"),
        ),
        (
            "runbook with template braces",
            with(
                &["spec", "alerting", "runbookUrl"],
                json!("https://x.example/{{.Labels.slo}}/\"q\"/{{"),
            ),
            Renders,
        ),
        (
            "runbook with a space",
            with(
                &["spec", "alerting", "runbookUrl"],
                json!("https://x.example/a b"),
            ),
            Refused("spec.alerting.runbookUrl"),
        ),
        (
            "runbook not http",
            with(
                &["spec", "alerting", "runbookUrl"],
                json!("javascript:alert(1)"),
            ),
            Refused("spec.alerting.runbookUrl"),
        ),
        (
            "objective 99.99999",
            with(&["spec", "objective"], json!(99.99999)),
            Renders,
        ),
        (
            "objective 0.001",
            with(&["spec", "objective"], json!(0.001)),
            Renders,
        ),
        (
            "objective 100",
            with(&["spec", "objective"], json!(100)),
            Refused("spec.objective"),
        ),
        (
            "objective 0",
            with(&["spec", "objective"], json!(0)),
            Refused("spec.objective"),
        ),
        (
            "objective -5",
            with(&["spec", "objective"], json!(-5)),
            Refused("spec.objective"),
        ),
        (
            "objective with no measurable budget",
            with(&["spec", "objective"], json!(99.99999999999)),
            Refused("spec.objective"),
        ),
        (
            "window 1h",
            with(&["spec", "window"], json!("1h")),
            Refused("spec.window"),
        ),
        (
            "window 1d",
            with(&["spec", "window"], json!("1d")),
            Refused("spec.window"),
        ),
        ("window 7d", with(&["spec", "window"], json!("7d")), Renders),
        (
            "window 28d",
            with(&["spec", "window"], json!("28d")),
            Renders,
        ),
        (
            "window 52w",
            with(&["spec", "window"], json!("52w")),
            Renders,
        ),
        (
            "window 365d",
            with(&["spec", "window"], json!("365d")),
            Renders,
        ),
        (
            "window 366d",
            with(&["spec", "window"], json!("366d")),
            Refused("spec.window"),
        ),
        (
            "window without unit",
            with(&["spec", "window"], json!("30")),
            Refused("spec.window"),
        ),
        (
            "window 0d",
            with(&["spec", "window"], json!("0d")),
            Refused("spec.window"),
        ),
        (
            "latency 100ms",
            with(
                &["spec", "indicator"],
                json!({"latency": {"threshold": "100ms"}}),
            ),
            Renders,
        ),
        (
            "latency 2.5s",
            with(
                &["spec", "indicator"],
                json!({"latency": {"threshold": "2.5s"}}),
            ),
            Renders,
        ),
        (
            "latency 0.001s",
            with(
                &["spec", "indicator"],
                json!({"latency": {"threshold": "0.001s"}}),
            ),
            Renders,
        ),
        (
            "latency not a bucket",
            with(
                &["spec", "indicator"],
                json!({"latency": {"threshold": "300ms"}}),
            ),
            Refused("spec.indicator.latency.threshold"),
        ),
        (
            "latency not a duration",
            with(
                &["spec", "indicator"],
                json!({"latency": {"threshold": "fast"}}),
            ),
            Refused("spec.indicator.latency.threshold"),
        ),
        (
            "two indicators",
            with(
                &["spec", "indicator"],
                json!({"availability": {}, "latency": {"threshold": "1s"}}),
            ),
            Refused("spec.indicator"),
        ),
        (
            "no indicator",
            with(&["spec", "indicator"], json!({})),
            Refused("spec.indicator"),
        ),
        (
            "missing target MLService",
            with(&["spec", "target", "mlService"], json!("ghost")),
            Refused("spec.target.mlService"),
        ),
        (
            "ratio with escaped quotes",
            ratio(
                r#"http_requests_total{job="a\"b\\c", code=~"5.."}"#,
                r#"http_requests_total{job="a\"b\\c"}"#,
            ),
            Renders,
        ),
        (
            "ratio with unicode",
            ratio(
                "http_requests_total{job=\"ñandú🚨\", code=\"500\"}",
                "http_requests_total{job=\"ñandú🚨\"}",
            ),
            Renders,
        ),
        (
            "ratio with single quotes",
            ratio("errors_total{job='api'}", "requests_total{job='api'}"),
            Renders,
        ),
        (
            "ratio injection",
            ratio("up) or vector(1", "up"),
            Refused("spec.indicator.ratio.errors"),
        ),
        (
            "ratio with a newline",
            ratio("errors_total{job=\"a\"}\n or vector(1)", "requests_total"),
            Refused("spec.indicator.ratio.errors"),
        ),
        (
            "ratio with a bad regex",
            ratio("errors_total{code=~\"(5\"}", "requests_total"),
            Refused("spec.indicator.ratio.errors"),
        ),
        (
            "ratio with a range",
            ratio("errors_total[5m]", "requests_total"),
            Refused("spec.indicator.ratio.errors"),
        ),
        (
            "ratio with a target too",
            {
                let mut v = ratio("errors_total", "requests_total");
                v["spec"]["target"] = json!({"mlService": "fraud-detector"});
                v
            },
            Refused("spec.target"),
        ),
        (
            "every alert off",
            with(
                &["spec", "alerting"],
                json!({"page": {"enabled": false}, "ticket": {"enabled": false}, "metricsAbsent": false}),
            ),
            Renders,
        ),
        (
            "guard off",
            with(&["spec", "alerting", "minimumRequestsPerHour"], json!(0)),
            Renders,
        ),
        (
            "guard beyond range",
            with(&["spec", "alerting", "minimumRequestsPerHour"], json!(1e12)),
            Refused("spec.alerting.minimumRequestsPerHour"),
        ),
    ]
}

fn mlservice_doc() -> String {
    "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {name: fraud-detector, namespace: fraud}\nspec:\n  model: {name: fraud, version: '1'}\n".into()
}

#[test]
fn hostile_specs_are_refused_clearly_or_render_valid_rules() -> Result<()> {
    let cases = hostile_cases();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    let (mut rendered_count, mut refused_count) = (0, 0);
    for (name, spec, expect) in cases {
        let inputs = vec![
            ("mls.yaml".to_owned(), mlservice_doc()),
            ("slo.yaml".to_owned(), serde_json::to_string(&spec)?),
        ];
        let out = render(&inputs, &OperatorSettings::default());
        match (&expect, out.errors.is_empty()) {
            (Renders, true) => {
                rendered_count += 1;
                if let Err(e) = check_all(&out.manifests) {
                    failures.push(format!("{name}: {e:#}"));
                }
            }
            (Refused(field), false) => {
                refused_count += 1;
                let message = out
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n");
                println!("HOSTILE {name}: {message}");
                let ok = out
                    .errors
                    .iter()
                    .all(|e| e.origin.file == "slo.yaml" && !e.reason.is_empty())
                    && out.errors.iter().any(|e| e.field == *field)
                    && message.starts_with("slo.yaml:1: ");
                if !ok {
                    failures.push(format!(
                        "{name}: expected a refusal on {field}, got {message}"
                    ));
                }
                if out.manifests.iter().any(|m| m.kind == "PrometheusRule") {
                    failures.push(format!("{name}: refused yet produced rules"));
                }
            }
            (Renders, false) => {
                failures.push(format!("{name}: refused unexpectedly: {:?}", out.errors));
            }
            (Refused(field), true) => {
                failures.push(format!("{name}: rendered, expected a refusal on {field}"));
            }
        }
    }
    println!(
        "HOSTILE summary: {rendered_count} rendered and passed promtool, {refused_count} refused"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
