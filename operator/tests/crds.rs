//! The generated CRDs: names, printer columns, subresources, list-maps, CEL rules, and a
//! description on every field (they are `kubectl explain` text).

use serde_json::Value;
use tidewatch_operator::api::{crds, mlservice_crd, slo_crd};

fn schema(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
}

fn undocumented(path: &str, node: &Value, out: &mut Vec<String>) {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let here = format!("{path}.{name}");
            let top_level =
                path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&name.as_str());
            if !top_level
                && prop
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                out.push(here.clone());
            }
            undocumented(&here, prop, out);
        }
    }
    if let Some(items) = node.get("items") {
        undocumented(&format!("{path}[]"), items, out);
    }
    if let Some(extra) = node.get("additionalProperties").filter(|v| v.is_object()) {
        undocumented(&format!("{path}{{}}"), extra, out);
    }
}

#[test]
fn every_field_is_documented() {
    for crd in crds() {
        let v = serde_json::to_value(&crd).unwrap();
        let mut missing = Vec::new();
        undocumented("", schema(&v), &mut missing);
        assert!(
            missing.is_empty(),
            "{}: undocumented fields {missing:?}",
            crd.metadata.name.unwrap()
        );
    }
}

#[test]
fn names_columns_and_subresources() {
    let m = serde_json::to_value(mlservice_crd()).unwrap();
    assert_eq!(m["spec"]["group"], "tidewatch.io");
    assert_eq!(m["spec"]["scope"], "Namespaced");
    assert_eq!(m["spec"]["names"]["shortNames"][0], "mls");
    assert_eq!(m["spec"]["names"]["categories"][0], "tidewatch");
    let version = &m["spec"]["versions"][0];
    assert!(version["subresources"]["status"].is_object());
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Model",
            "Version",
            "Replicas",
            "Ready Replicas",
            "Ready",
            "Age"
        ]
    );

    let s = serde_json::to_value(slo_crd()).unwrap();
    assert_eq!(s["spec"]["names"]["shortNames"][0], "slo");
    assert_eq!(s["spec"]["names"]["plural"], "slos");
    let columns: Vec<&str> = s["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Target",
            "Objective",
            "Window",
            "Budget Left",
            "Burning",
            "Ready",
            "Age"
        ]
    );
}

#[test]
fn conditions_are_list_maps_and_rules_are_in_the_schema() {
    for crd in crds() {
        let v = serde_json::to_value(&crd).unwrap();
        let conditions = &schema(&v)["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(conditions["x-kubernetes-list-map-keys"][0], "type");
        let root_rules = schema(&v)["x-kubernetes-validations"].to_string();
        assert!(root_rules.contains("self.metadata.name.size() <= 49"));
    }
    let s = serde_json::to_value(slo_crd()).unwrap();
    let spec = &schema(&s)["properties"]["spec"];
    let objective = &spec["properties"]["objective"];
    assert_eq!(
        (
            objective["minimum"].as_f64(),
            objective["exclusiveMinimum"].as_bool()
        ),
        (Some(0.0), Some(true))
    );
    assert_eq!(
        (
            objective["maximum"].as_f64(),
            objective["exclusiveMaximum"].as_bool()
        ),
        (Some(100.0), Some(true))
    );
    assert!(
        spec["properties"]["indicator"]["x-kubernetes-validations"]
            .to_string()
            .contains("size() == 1")
    );
    assert!(spec["properties"]["window"]["pattern"].is_string());
    assert!(
        spec["properties"]["window"]["x-kubernetes-validations"]
            .to_string()
            .contains(">= 7")
    );
    assert_eq!(spec["properties"]["window"]["default"], "30d");
    assert!(
        spec["x-kubernetes-validations"]
            .to_string()
            .contains("has(self.indicator.ratio)")
    );
    let m = serde_json::to_value(mlservice_crd()).unwrap();
    let replicas = &schema(&m)["properties"]["spec"]["properties"]["replicas"];
    assert_eq!(
        (replicas["minimum"].as_f64(), replicas["maximum"].as_f64()),
        (Some(0.0), Some(100.0))
    );
}

#[test]
fn committed_crds_are_fresh() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap();
        let committed =
            std::fs::read_to_string(dir.join(format!("{name}.yaml"))).expect("crds/ is generated");
        assert_eq!(
            committed,
            serde_yaml::to_string(&crd).unwrap(),
            "crds/{name}.yaml is stale: run make generate"
        );
    }
}
