//! The queries of the generated dashboards (`dashboards/*.json`), with the dashboard
//! variables and Grafana's interval macros replaced by concrete values, as Grafana would
//! send them to Prometheus.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

use super::repo_root;

/// One query of one panel.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub panel: String,
    pub expr: String,
}

/// Grafana's macros for a 1 s scrape interval: `$__rate_interval` is at least four scrape
/// intervals; 10 s also spans a server restart's gap.
const MACROS: &[(&str, &str)] = &[
    ("__rate_interval", "10s"),
    ("__interval", "2s"),
    ("__range", "1m"),
];

/// Every `dashboards/*.json`, sorted, with its parsed JSON.
pub fn generated_dashboards() -> anyhow::Result<Vec<(PathBuf, Value)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("dashboards"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let json = serde_json::from_str(&std::fs::read_to_string(&p)?)
                .with_context(|| format!("parsing {}", p.display()))?;
            Ok((p, json))
        })
        .collect()
}

fn panels(list: &Value, out: &mut Vec<Value>) {
    for panel in list.as_array().into_iter().flatten() {
        out.push(panel.clone());
        panels(&panel["panels"], out);
    }
}

/// Replaces `$name`, `${name}` and `[[name]]`; longer names first, so `$service` never
/// eats the start of `$service_name`.
fn substitute(expr: &str, values: &BTreeMap<String, String>) -> String {
    let mut names: Vec<&String> = values.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = expr.to_owned();
    for name in names {
        let value = &values[name];
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("[[{name}]]"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// The queries of `dashboard`. `choices` gives the value of each query variable; text
/// variables keep their default. Fails on a variable without a value, or a `$` left over.
pub fn panel_queries(
    dashboard: &Value,
    choices: &[(&str, &str)],
) -> anyhow::Result<Vec<PanelQuery>> {
    let title = dashboard["title"].as_str().unwrap_or_default().to_owned();
    let mut values: BTreeMap<String, String> = MACROS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = variable["name"].as_str().context("variable without name")?;
        let value = match variable["type"].as_str() {
            Some("datasource") => continue,
            Some("textbox" | "constant" | "custom") => variable["current"]["value"]
                .as_str()
                .or(variable["query"].as_str())
                .map(str::to_owned),
            _ => choices
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()),
        };
        let Some(value) = value else {
            bail!("{title}: no value for variable ${name}");
        };
        values.insert(name.to_owned(), value);
    }
    let mut all = Vec::new();
    panels(&dashboard["panels"], &mut all);
    let mut out = Vec::new();
    for panel in all {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let Some(expr) = target["expr"].as_str() else {
                continue;
            };
            let expr = substitute(expr, &values);
            if expr.contains('$') {
                bail!("{title}: unreplaced variable in {expr}");
            }
            out.push(PanelQuery {
                dashboard: title.clone(),
                panel: panel["title"].as_str().unwrap_or_default().to_owned(),
                expr,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_names_are_replaced_first() {
        let values: BTreeMap<String, String> = [("s", "x"), ("service", "svc")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(
            substitute("a{service=\"$service\", s=\"${s}\"}", &values),
            "a{service=\"svc\", s=\"x\"}"
        );
    }
}
