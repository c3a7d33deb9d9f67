//! Grafana JSON helpers shared by the dashboards: panels, targets, variables.

use serde_json::{Value, json};

pub(crate) const DATASOURCE: &str = "${datasource}";

/// A panel position on the 24-column grid.
#[derive(Clone, Copy)]
pub(crate) struct Grid {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Grid {
    /// The panel at column `x`, row `y`, `w` columns wide and `h` rows high.
    pub(crate) const fn at(x: u32, y: u32, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }
}

pub(crate) fn target(expr: &str, legend: &str, ref_id: char) -> Value {
    json!({
        "datasource": {"type": "prometheus", "uid": DATASOURCE},
        "expr": expr,
        "legendFormat": legend,
        "refId": ref_id.to_string(),
    })
}

fn targets(queries: &[(&str, &str)]) -> Vec<Value> {
    queries
        .iter()
        .zip('A'..='Z')
        .map(|((expr, legend), id)| target(expr, legend, id))
        .collect()
}

fn grid(g: Grid) -> Value {
    json!({"x": g.x, "y": g.y, "w": g.w, "h": g.h})
}

pub(crate) fn row(id: u32, title: &str, y: u32) -> Value {
    json!({"type": "row", "id": id, "title": title, "collapsed": false, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
}

pub(crate) fn timeseries(
    id: u32,
    title: &str,
    description: &str,
    unit: &str,
    g: Grid,
    queries: &[(&str, &str)],
) -> Value {
    json!({
        "type": "timeseries",
        "id": id,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": DATASOURCE},
        "gridPos": grid(g),
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"lineWidth": 1, "fillOpacity": 10}}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]}, "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": targets(queries),
    })
}

pub(crate) fn timeseries_with_thresholds(
    id: u32,
    title: &str,
    description: &str,
    unit: &str,
    g: Grid,
    queries: &[(&str, &str)],
    steps: &[(Option<f64>, &str)],
) -> Value {
    let mut panel = timeseries(id, title, description, unit, g, queries);
    panel["fieldConfig"]["defaults"]["thresholds"] = thresholds(steps);
    panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] = json!({"mode": "line"});
    panel
}

fn thresholds(steps: &[(Option<f64>, &str)]) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .map(|(value, color)| json!({"value": value, "color": color}))
        .collect();
    json!({"mode": "absolute", "steps": steps})
}

pub(crate) fn stat(
    id: u32,
    title: &str,
    description: &str,
    unit: &str,
    g: Grid,
    expr: &str,
    steps: &[(Option<f64>, &str)],
) -> Value {
    json!({
        "type": "stat",
        "id": id,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": DATASOURCE},
        "gridPos": grid(g),
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 3, "thresholds": thresholds(steps), "color": {"mode": "thresholds"}}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}, "colorMode": "background", "graphMode": "area", "textMode": "value"},
        "targets": [target(expr, "", 'A')],
    })
}

pub(crate) fn heatmap(id: u32, title: &str, description: &str, g: Grid, expr: &str) -> Value {
    json!({
        "type": "heatmap",
        "id": id,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": DATASOURCE},
        "gridPos": grid(g),
        "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
        "options": {"calculate": false, "yAxis": {"unit": "short"}, "cellGap": 1, "color": {"scheme": "Oranges", "mode": "scheme"}},
        "targets": [{
            "datasource": {"type": "prometheus", "uid": DATASOURCE},
            "expr": expr,
            "format": "heatmap",
            "legendFormat": "{{le}}",
            "refId": "A",
        }],
    })
}

pub(crate) fn datasource_variable() -> Value {
    json!({"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {}, "hide": 0})
}

pub(crate) fn query_variable(name: &str, label: &str, query: &str, current: Option<&str>) -> Value {
    let current = current.map_or_else(|| json!({}), |c| json!({"text": c, "value": c}));
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": DATASOURCE},
        "query": {"query": query, "refId": "variable"},
        "definition": query,
        "current": current,
        "refresh": 2,
        "sort": 1,
        "hide": 0,
    })
}

pub(crate) fn constant_variable(name: &str, label: &str, value: &str) -> Value {
    json!({"name": name, "label": label, "type": "textbox", "query": value, "current": {"text": value, "value": value}, "hide": 0})
}

pub(crate) fn dashboard(
    uid: &str,
    title: &str,
    tags: &[&str],
    variables: &[Value],
    panels: &[Value],
) -> Value {
    json!({
        "uid": uid,
        "title": title,
        "tags": tags,
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        // Every Tidewatch dashboard carries the tag, so each lists the others.
        "links": [{
            "title": "Tidewatch",
            "type": "dashboards",
            "tags": ["tidewatch"],
            "asDropdown": true,
            "includeVars": false,
            "keepTime": true,
            "targetBlank": false,
        }],
        "panels": panels,
    })
}
