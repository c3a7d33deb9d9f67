//! Every metric name queried by `alerts/`, `dashboards/` and the SLO rules the operator
//! renders exists in the inference server's or the operator's registry, as encoded by the
//! registries themselves, and the inference registry exports exactly the contract crate's
//! series. Names with a `:` are recording-rule outputs and must be recorded by one of the
//! rules; a few Prometheus built-ins are allowed by name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use prometheus_client::registry::Registry;
use regex::Regex;
use serde_json::Value;
use tidewatch_contract::metrics::CONTRACT;
use tidewatch_operator::render::render;
use tidewatch_operator::validate::OperatorSettings;

/// Series Prometheus itself writes: scrape health and alert state.
const PROMETHEUS_BUILTINS: &[&str] = &["up", "ALERTS", "ALERTS_FOR_STATE"];

/// PromQL words that look like names but are not metrics.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "Inf",
    "NaN",
    "start",
    "end",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Files under `dir` (recursively) whose name ends with one of `suffixes`, sorted.
fn files(dir: &Path, suffixes: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path, suffixes));
        } else if suffixes.iter().any(|s| path.to_string_lossy().ends_with(s)) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Series names a registry exposes, from the `# TYPE` lines of its text encoding: a counter
/// `x` is scraped as `x_total`, a histogram as `x_bucket`, `x_sum` and `x_count`.
fn exposed_series(encoded: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in encoded.lines() {
        let mut parts = line.split_whitespace();
        if (parts.next(), parts.next()) != (Some("#"), Some("TYPE")) {
            continue;
        }
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        match kind {
            "counter" => {
                out.insert(format!("{}_total", name.trim_end_matches("_total")));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                out.insert(name.to_owned());
            }
        }
    }
    out
}

/// The series of the contract crate's table, named as Prometheus stores them.
fn contract_series() -> BTreeSet<String> {
    CONTRACT.iter().flat_map(|m| m.series()).collect()
}

/// The inference server's registry with one series in every family: an empty family
/// encodes nothing, not even its `# TYPE` line.
fn inference_registry() -> String {
    let metrics = tidewatch_inference::telemetry::metrics::Metrics::new();
    metrics.sample_every_family();
    metrics.encode()
}

/// The operator's registry with one series in every family.
fn operator_registry() -> String {
    use tidewatch_operator::controller::metrics::{ControllerName, Metrics};
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    metrics.reconciled(ControllerName::slo, 0.1, Some("category"));
    metrics.set_managed(ControllerName::slo, "PrometheusRule", 1);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
    text
}

fn registries() -> BTreeSet<String> {
    let mut all = exposed_series(&inference_registry());
    assert_eq!(
        all,
        contract_series(),
        "the inference registry is the contract"
    );
    let inference_count = all.len();
    all.extend(exposed_series(&operator_registry()));
    assert!(inference_count > 20, "inference registry: {all:?}");
    assert!(
        all.len() >= inference_count + 6,
        "operator registry: {all:?}"
    );
    all
}

/// Metric names in a PromQL expression: identifiers outside strings, Grafana variables,
/// label matchers, grouping clauses and ranges that are neither functions nor keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let strings = Regex::new(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"#).unwrap();
    let matchers = Regex::new(r"\{[^}]*\}").unwrap();
    let grouping =
        Regex::new(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)").unwrap();
    let ranges = Regex::new(r"\[[^\]]*\]").unwrap();
    // Grafana variables stand for values (`$objective / 100`), never for metric names.
    let variables = Regex::new(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?").unwrap();
    let ident = Regex::new(r"[A-Za-z_:][A-Za-z0-9_:]*").unwrap();
    let text = strings.replace_all(expr, " ");
    let text = variables.replace_all(&text, " 1 ");
    let text = matchers.replace_all(&text, " ");
    let text = grouping.replace_all(&text, " ");
    let text = ranges.replace_all(&text, " ");
    let mut out = BTreeSet::new();
    for m in ident.find_iter(&text) {
        let followed_by_call = text[m.end()..].trim_start().starts_with('(');
        let preceded_by_digit = text[..m.start()]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_digit() || c == '.');
        if followed_by_call || preceded_by_digit || KEYWORDS.contains(&m.as_str()) {
            continue;
        }
        out.insert(m.as_str().to_owned());
    }
    out
}

/// `(where, expression, recorded name)` of every rule in a rule-group document.
fn rule_exprs(origin: &str, groups: &serde_yaml::Value) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for group in groups.as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            let name = rule["record"]
                .as_str()
                .or(rule["alert"].as_str())
                .unwrap_or_default();
            out.push((
                format!("{origin} {name}"),
                rule["expr"].as_str().unwrap_or_default().to_owned(),
                rule["record"].as_str().map(str::to_owned),
            ));
        }
    }
    out
}

/// Every rule of `alerts/` and of the PrometheusRules rendered from `manifests/examples`.
fn all_rules() -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    let static_rules = files(&repo_root().join("alerts"), &[".rules.yaml"]);
    assert!(!static_rules.is_empty(), "no alerts/*.rules.yaml");
    for path in static_rules {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        out.extend(rule_exprs(&path.display().to_string(), &doc["groups"]));
    }
    let inputs: Vec<(String, String)> = files(&repo_root().join("manifests/examples"), &[".yaml"])
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let rendered = render(&inputs, &OperatorSettings::default());
    assert!(rendered.errors.is_empty(), "{:?}", rendered.errors);
    let mut rule_objects = 0;
    for m in rendered
        .manifests
        .iter()
        .filter(|m| m.kind == "PrometheusRule")
    {
        rule_objects += 1;
        let groups: serde_yaml::Value =
            serde_json::from_value(m.object["spec"]["groups"].clone()).expect("JSON is YAML");
        out.extend(rule_exprs(&format!("rendered {}", m.name), &groups));
    }
    assert!(
        rule_objects >= 2,
        "render produced {rule_objects} PrometheusRules"
    );
    out
}

/// `(where, expression)` of every dashboard query and variable query.
fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(title: &str, panels: &Value, out: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            for t in panel["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push((format!("{title} / {}", panel["title"]), e.to_owned()));
                }
            }
            walk(title, &panel["panels"], out);
        }
    }
    let label_values = Regex::new(r"^label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\)$").unwrap();
    let mut out = Vec::new();
    let dashboards = files(&repo_root().join("dashboards"), &[".json"]);
    assert!(
        dashboards.len() >= 2,
        "dashboards/ holds {}",
        dashboards.len()
    );
    for path in dashboards {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let title = d["title"].as_str().unwrap_or_default().to_owned();
        walk(&title, &d["panels"], &mut out);
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            if v["type"] == "query" {
                let q = v["definition"].as_str().unwrap_or_default();
                let inner = label_values
                    .captures(q)
                    .map_or(q, |c| c.get(1).unwrap().as_str());
                out.push((format!("{title} / ${}", v["name"]), inner.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_queried_metric_is_exported() {
    let exported = registries();
    let rules = all_rules();
    let recorded: BTreeSet<String> = rules.iter().filter_map(|(_, _, r)| r.clone()).collect();
    let mut uses: Vec<(String, String)> = rules
        .into_iter()
        .map(|(origin, expr, _)| (origin, expr))
        .collect();
    uses.extend(dashboard_exprs());

    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut checked = BTreeSet::new();
    for (origin, expr) in &uses {
        for name in metric_names(expr) {
            let known = if name.contains(':') {
                recorded.contains(&name)
            } else {
                exported.contains(&name) || PROMETHEUS_BUILTINS.contains(&name.as_str())
            };
            if known {
                checked.insert(name);
            } else {
                unknown.entry(name).or_default().push(origin.clone());
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "queried but never exported or recorded: {unknown:#?}"
    );
    // The check saw the contract's main series, so the parsing above is not vacuous.
    for name in [
        "tidewatch_requests_total",
        "tidewatch_request_duration_seconds_bucket",
        "tidewatch_feature_drift_psi",
        "tidewatch_operator_reconcile_errors_total",
        "tidewatch_slo:error_ratio:rate1h",
    ] {
        assert!(
            checked.contains(name),
            "{name} never queried; checked {checked:?}"
        );
    }
    eprintln!(
        "{} uses, {} distinct names checked",
        uses.len(),
        checked.len()
    );
}

/// `tidewatch_*` names anywhere in a file's text (alert descriptions, promtool test series),
/// without recording-rule names (`tidewatch_slo:...`) and the operator's own metrics.
fn inference_names_in(text: &str) -> Vec<&str> {
    let name = Regex::new(r"tidewatch_[a-z0-9_]*").unwrap();
    name.find_iter(text)
        .filter(|m| !text[m.end()..].starts_with(':'))
        .map(|m| m.as_str())
        .filter(|n| !n.starts_with("tidewatch_operator_") && n.len() > "tidewatch_".len())
        .collect()
}

#[test]
fn every_inference_name_in_alerts_and_dashboards_is_exported() {
    let exported = exposed_series(&inference_registry());
    let root = repo_root();
    let mut sources = files(&root.join("alerts"), &[".yaml", ".yml"]);
    sources.extend(files(&root.join("dashboards"), &[".json"]));
    let mut checked = 0;
    for path in &sources {
        let text = std::fs::read_to_string(path).unwrap();
        for name in inference_names_in(&text) {
            assert!(
                exported.contains(name),
                "{} names `{name}`, which the inference server does not export",
                path.display()
            );
            checked += 1;
        }
    }
    // The promtool tests feed these series, so the scan reaches alerts/tests/ too.
    assert!(
        sources
            .iter()
            .any(|p| p.ends_with("tests/inference_test.yaml")),
        "{sources:?}"
    );
    assert!(checked > 50, "only {checked} names found");
}

#[test]
fn the_parsers_find_names_and_skip_the_rest() {
    let names = metric_names(
        r#"sum by (code) (rate(tidewatch_requests_total{code=~"5..", route!="/x"}[5m] offset 1m)) / on (ns) group_left(pod) up > bool 0.5e3 and ALERTS or absent(a:b:c) / (1 - $objective / 100)"#,
    );
    let expected: BTreeSet<String> = ["tidewatch_requests_total", "up", "ALERTS", "a:b:c"]
        .map(str::to_owned)
        .into();
    assert_eq!(names, expected);
    let series =
        exposed_series("# TYPE a counter\n# TYPE b histogram\n# TYPE c gauge\na_total 1\n");
    let expected: BTreeSet<String> = ["a_total", "b_bucket", "b_sum", "b_count", "c"]
        .map(str::to_owned)
        .into();
    assert_eq!(series, expected);
    assert_eq!(
        inference_names_in(
            "rate(tidewatch_requests_total[5m]) tidewatch_slo:x tidewatch_operator_up tidewatch_"
        ),
        ["tidewatch_requests_total"]
    );
}
