//! Generated specs, from the schema's shape: names, unicode, label maps full of text YAML 1.1
//! retypes, ratio selectors with every string form and escape, regexes, windows and
//! objectives at the bounds. Each must render; every rule group must pass `promtool check
//! rules` (one run for all); every ratio selector must come out with the same matchers
//! (promtool's canonical text of the selector is found in the canonical text of the rules);
//! and the whole YAML stream must read back unchanged in PyYAML (YAML 1.1).

mod support;

use std::time::Instant;

use anyhow::Result;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::generated::{YAML_RETYPED, label_value, sample, selector};
use support::oracles::{
    promql_format, refused_rule_files, write_expr_rule_file, yaml_1_1_documents,
};
use tidewatch_contract::buckets::REQUEST_DURATION_BUCKETS;
use tidewatch_operator::promql::Selector;
use tidewatch_operator::render::{Manifest, render, to_yaml_stream};
use tidewatch_operator::validate::{OperatorSettings, RESERVED_ALERT_LABELS};

const CASES: usize = 64;

/// A Kubernetes label value (or model name): now and then a word YAML 1.1 retypes.
fn k8s_label_value() -> impl Strategy<Value = String> {
    let retyped: Vec<String> = YAML_RETYPED
        .iter()
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && w.starts_with(|c: char| c.is_ascii_alphanumeric())
                && w.ends_with(|c: char| c.is_ascii_alphanumeric())
        })
        .map(|w| (*w).to_owned())
        .collect();
    prop_oneof![
        1 => "[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,10}[a-zA-Z0-9])?",
        1 => prop::sample::select(retyped),
    ]
}

fn mlservice(namespace: &str, name: &str) -> impl Strategy<Value = Value> + use<> {
    let (namespace, name) = (namespace.to_owned(), name.to_owned());
    (
        k8s_label_value(),
        k8s_label_value(),
        prop::collection::btree_map(
            prop_oneof![
                "[a-z]{1,6}",
                k8s_label_value().prop_map(|v| v.to_lowercase())
            ]
            .prop_filter("a label key", |k| {
                k.len() <= 63 && k.ends_with(|c: char| c.is_ascii_alphanumeric())
            }),
            k8s_label_value(),
            0..4,
        ),
        prop::sample::select(vec!["10s", "15s", "30s", "1m"]),
        any::<bool>(),
    )
        .prop_map(move |(model, version, labels, interval, dashboard)| {
            json!({
                "apiVersion": "tidewatch.io/v1alpha1",
                "kind": "MLService",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "model": {"name": model, "version": version},
                    "monitoring": {
                        "scrapeInterval": interval,
                        "dashboard": dashboard,
                        "serviceMonitorLabels": labels,
                    },
                },
            })
        })
}

/// Alert labels: legal Prometheus names (none reserved) with any text as values.
fn tier() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::collection::btree_map(
            prop_oneof![
                "[a-z][a-z0-9_]{0,8}",
                prop::sample::select(vec!["yes", "on", "n", "y", "null", "true"])
                    .prop_map(str::to_owned),
            ]
            .prop_filter("not reserved", |k| {
                !RESERVED_ALERT_LABELS.contains(&k.as_str())
            }),
            prop_oneof![
                label_value().prop_filter("Prometheus drops empty labels", |v| !v.is_empty()),
                prop::sample::select(YAML_RETYPED.to_vec()).prop_map(str::to_owned)
            ],
            0..3,
        ),
    )
        .prop_map(|(enabled, labels)| json!({"enabled": enabled, "labels": labels}))
}

fn valid_selector() -> impl Strategy<Value = String> {
    selector().prop_filter("Tidewatch accepts it", |s| Selector::parse(s).is_ok())
}

fn indicator() -> impl Strategy<Value = Value> {
    let thresholds: Vec<String> = REQUEST_DURATION_BUCKETS
        .iter()
        .map(|b| format!("{b}s"))
        .collect();
    prop_oneof![
        Just(json!({"availability": {}})),
        prop::sample::select(thresholds).prop_map(|t| json!({"latency": {"threshold": t}})),
        (valid_selector(), valid_selector())
            .prop_map(|(e, t)| json!({"ratio": {"errors": e, "total": t}})),
    ]
}

fn slo(namespace: &str, name: &str, target: &str) -> impl Strategy<Value = Value> + use<> {
    let (namespace, name, target) = (namespace.to_owned(), name.to_owned(), target.to_owned());
    (
        prop::sample::select(vec![
            0.001, 50.0, 90.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 99.99999,
        ]),
        prop::sample::select(vec!["7d", "28d", "30d", "4w", "90d", "52w", "365d"]),
        indicator(),
        tier(),
        tier(),
        prop::option::of("[a-z0-9/{}:#?=._-]{0,24}"),
        prop::sample::select(vec![0.0, 60.0, 1e9]),
        any::<bool>(),
    )
        .prop_map(
            move |(objective, window, indicator, page, ticket, runbook, minimum, absent)| {
                let mut alerting = json!({
                    "page": page, "ticket": ticket,
                    "minimumRequestsPerHour": minimum, "metricsAbsent": absent,
                });
                if let Some(path) = runbook {
                    alerting["runbookUrl"] = json!(format!("https://runbooks.example.com/{path}"));
                }
                let mut spec = json!({
                    "objective": objective, "window": window,
                    "indicator": indicator, "alerting": alerting,
                });
                if spec["indicator"].get("ratio").is_none() {
                    spec["target"] = json!({"mlService": target});
                }
                json!({
                    "apiVersion": "tidewatch.io/v1alpha1",
                    "kind": "SLO",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": spec,
                })
            },
        )
}

/// An MLService and an SLO on it, in one namespace.
fn case() -> impl Strategy<Value = (Value, Value)> {
    ("[a-z][a-z0-9]{0,10}", "[a-z]([-a-z0-9]{0,20}[a-z0-9])?").prop_flat_map(|(ns, name)| {
        (
            mlservice(&ns, &name),
            slo(&ns, &format!("{name}-slo"), &name),
        )
    })
}

fn rule_exprs(manifests: &[Manifest]) -> Vec<String> {
    manifests
        .iter()
        .filter(|m| m.kind == "PrometheusRule")
        .flat_map(|m| {
            m.object["spec"]["groups"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["expr"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn generated_specs_render_to_valid_rules_and_yaml_1_1_safe_manifests() -> Result<()> {
    let started = Instant::now();
    let cases = sample(case(), CASES);
    let dir = tempfile::tempdir()?;
    let mut rule_files = Vec::new();
    let mut all = Vec::new();
    let mut ratio_checks = 0;
    for (i, (mls, slo)) in cases.iter().enumerate() {
        let text = format!("{mls}\n---\n{slo}\n");
        let rendered = render(&[(format!("case-{i}"), text)], &OperatorSettings::default());
        assert!(
            rendered.errors.is_empty(),
            "case {i} refused: {:?}\n{mls}\n{slo}",
            rendered.errors
        );
        let exprs = rule_exprs(&rendered.manifests);
        assert!(!exprs.is_empty(), "case {i} has rules");
        rule_files.push(write_expr_rule_file(
            dir.path(),
            &format!("case-{i}"),
            &exprs,
        )?);
        if let Some(ratio) = slo["spec"]["indicator"].get("ratio") {
            let rules = promql_format(
                &exprs
                    .iter()
                    .map(|e| format!("({e})"))
                    .collect::<Vec<_>>()
                    .join(" or "),
            )
            .map_err(anyhow::Error::msg)?;
            for side in ["errors", "total"] {
                let original = ratio[side].as_str().expect("selector text");
                let canonical = promql_format(original).map_err(anyhow::Error::msg)?;
                assert!(
                    rules.contains(&canonical),
                    "case {i}: {side} selector {original} (Prometheus reads {canonical}) is not \
                     in the rules:\n{rules}"
                );
            }
            ratio_checks += 1;
        }
        all.extend(rendered.manifests);
    }
    let refused = refused_rule_files(&rule_files)?;
    assert!(refused.is_empty(), "promtool refused {refused:?}");

    let read_back = yaml_1_1_documents(&to_yaml_stream(&all))?;
    assert_eq!(read_back.len(), all.len());
    for (manifest, back) in all.iter().zip(&read_back) {
        assert_eq!(
            &manifest.object, back,
            "{} {}/{} reads back differently in YAML 1.1",
            manifest.kind, manifest.namespace, manifest.name
        );
    }
    println!(
        "{CASES} generated MLService+SLO cases ({ratio_checks} ratio): {} manifests, {} rule \
         groups through promtool, YAML 1.1 round trip, in {:.2?}",
        all.len(),
        rule_files.len(),
        started.elapsed()
    );
    Ok(())
}
