//! The API server's schema check, repeated offline for `render`: a document is read against
//! the structural OpenAPI schema of the generated CRD — the very value `crds/` is written
//! from, so the two cannot drift — in the API server's order: unknown fields first (strict
//! decoding), then nulls pruned, then types, patterns, lengths, bounds and map limits.
//! CEL rules are not evaluated here: the validate step repeats each of them in Rust with
//! the rule's message. Only the schema subset the Tidewatch CRDs use is implemented; a test
//! walks both CRDs and fails on any keyword this module does not know.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::errors::FieldError;
use crate::api;

/// The kinds whose schema this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrdKind {
    /// `MLService`.
    MlService,
    /// `SLO`.
    Slo,
}

/// Schema keywords this module implements; any other keyword in a CRD fails a test.
pub const KNOWN_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "nullable",
    "default",
    "description",
    "title",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "maxProperties",
    "enum",
    // Evaluated by the validate step (CEL) or about storage, not values.
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
];

/// Fields of `metadata` (ObjectMeta) that strict decoding knows.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// The `openAPIV3Schema` of a kind's generated CRD.
pub fn crd_schema(kind: CrdKind) -> &'static Value {
    static MLSERVICE: OnceLock<Value> = OnceLock::new();
    static SLO: OnceLock<Value> = OnceLock::new();
    let (cell, crd) = match kind {
        CrdKind::MlService => (&MLSERVICE, api::mlservice_crd as fn() -> _),
        CrdKind::Slo => (&SLO, api::slo_crd as fn() -> _),
    };
    cell.get_or_init(|| {
        let crd = serde_json::to_value(crd()).expect("a CRD serialises");
        crd.pointer("/spec/versions/0/schema/openAPIV3Schema")
            .cloned()
            .expect("every version has a schema")
    })
}

/// Checks `document` as the API server checks a create request, pruning the nulls it would
/// prune. Every error is returned; CEL rules are left to the validate step.
pub fn check_document(document: &mut Value, kind: CrdKind) -> Result<(), Vec<FieldError>> {
    let schema = crd_schema(kind);
    let mut errors = Vec::new();
    unknown_fields(document, schema, "", &mut errors);
    if let Some(meta) = document.get("metadata").and_then(Value::as_object) {
        for key in meta.keys() {
            if !OBJECT_META_FIELDS.contains(&key.as_str()) {
                errors.push(unknown(&join("metadata", key)));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    prune_nulls(document, schema);
    // The status of a create request is dropped (status subresource), never validated.
    if let Some(object) = document.as_object_mut() {
        object.remove("status");
    }
    check(document, schema, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn error(field: &str, reason: String) -> FieldError {
    FieldError {
        field: field.to_owned(),
        reason,
    }
}

fn unknown(field: &str) -> FieldError {
    error(field, format!("unknown field {field:?}"))
}

/// The API server's strict decoding: a key the schema does not declare is refused.
fn unknown_fields(value: &Value, schema: &Value, path: &str, out: &mut Vec<FieldError>) {
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in object {
                let field = join(path, key);
                if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                    unknown_fields(child, child_schema, &field, out);
                } else if let Some(child_schema) = additional {
                    unknown_fields(child, child_schema, &field, out);
                } else if !(path.is_empty()
                    && matches!(key.as_str(), "apiVersion" | "kind" | "metadata"))
                {
                    out.push(unknown(&field));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(item, item_schema, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// Drops `key: null` where the schema does not allow null, as the API server does before
/// defaulting (the field then takes its default, or is missing).
fn prune_nulls(value: &mut Value, schema: &Value) {
    let Value::Object(object) = value else { return };
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    object.retain(|key, child| {
        let child_schema = properties.and_then(|p| p.get(key)).or(additional);
        !(child.is_null() && child_schema.is_some_and(|s| !is_nullable(s)))
    });
    for (key, child) in object.iter_mut() {
        if let Some(child_schema) = properties.and_then(|p| p.get(key)).or(additional) {
            prune_nulls(child, child_schema);
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An integral float (`2.0` in YAML) is an integer to the API server, which reads JSON.
fn normalise_integer(value: &mut Value) {
    if let Some(f) = value.as_f64()
        && !(value.is_i64() || value.is_u64())
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        *value = Value::from(f as i64);
    }
}

fn check(value: &mut Value, schema: &Value, path: &str, out: &mut Vec<FieldError>) {
    if value.is_null() && is_nullable(schema) {
        return;
    }
    let Some(expected) = schema.get("type").and_then(Value::as_str) else {
        return;
    };
    if expected == "integer" {
        normalise_integer(value);
    }
    let actual = json_type(value);
    let fits = actual == expected || (expected == "number" && actual == "integer");
    if !fits {
        let hint = match value.as_str() {
            Some(word) if expected == "boolean" && is_yaml11_boolean(word) => {
                format!(
                    " (kubectl reads a plain {word} as a boolean, render does not: write true or false)"
                )
            }
            _ => String::new(),
        };
        out.push(error(
            path,
            format!("Invalid value: {actual:?}: must be of type {expected}{hint}"),
        ));
        return;
    }
    match value {
        Value::Object(object) => check_object(object, schema, path, out),
        Value::String(text) => check_string(text, schema, path, out),
        Value::Number(number) => check_number(number, schema, path, out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    check(item, item_schema, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// Words YAML 1.1 (kubectl's reader) takes for booleans and YAML 1.2 (render's) for strings.
fn is_yaml11_boolean(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "y" | "yes" | "n" | "no" | "on" | "off"
    )
}

fn check_object(
    object: &mut Map<String, Value>,
    schema: &Value,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    for key in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !object.contains_key(key) {
            out.push(error(&join(path, key), "Required value".into()));
        }
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && object.len() as u64 > max
    {
        out.push(error(
            path,
            format!("Too many: {}: must have at most {max} items", object.len()),
        ));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, child) in object.iter_mut() {
        // metadata is ObjectMeta: the validate step checks its name and namespace.
        if path.is_empty() && key == "metadata" {
            continue;
        }
        if let Some(child_schema) = properties.and_then(|p| p.get(key)).or(additional) {
            check(child, child_schema, &join(path, key), out);
        }
    }
}

/// Compiles a schema pattern once per thread.
fn matches(pattern: &str, text: &str) -> bool {
    thread_local! {
        static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        cache
            .borrow_mut()
            .entry(pattern.to_owned())
            .or_insert_with(|| Regex::new(pattern).expect("the CRD patterns compile"))
            .is_match(text)
    })
}

fn check_string(text: &str, schema: &Value, path: &str, out: &mut Vec<FieldError>) {
    // Lengths count characters, as the API server's `maxLength` does.
    let length = text.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        out.push(error(
            path,
            format!("Invalid value: {text:?}: should be at least {min} chars long"),
        ));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        out.push(error(
            path,
            format!("Too long: may not be more than {max} bytes"),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && !matches(pattern, text)
    {
        out.push(error(
            path,
            format!("Invalid value: {text:?}: should match '{pattern}'"),
        ));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| a.as_str() == Some(text))
    {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        out.push(error(
            path,
            format!(
                "Unsupported value: {text:?}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
}

fn check_number(
    number: &serde_json::Number,
    schema: &Value,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let Some(value) = number.as_f64() else { return };
    if schema.get("format").and_then(Value::as_str) == Some("int32")
        && !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&value)
    {
        out.push(error(
            path,
            format!("Invalid value: {number}: must be of type int32"),
        ));
        return;
    }
    let exclusive = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let (refused, words) = if exclusive("exclusiveMinimum") {
            (value <= min, "greater than")
        } else {
            (value < min, "greater than or equal to")
        };
        if refused {
            out.push(error(
                path,
                format!("Invalid value: {number}: should be {words} {min}"),
            ));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let (refused, words) = if exclusive("exclusiveMaximum") {
            (value >= max, "less than")
        } else {
            (value > max, "less than or equal to")
        };
        if refused {
            out.push(error(
                path,
                format!("Invalid value: {number}: should be {words} {max}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keywords(schema: &Value, path: &str, out: &mut Vec<String>) {
        let Some(object) = schema.as_object() else {
            return;
        };
        for (key, child) in object {
            if !KNOWN_KEYWORDS.contains(&key.as_str()) {
                out.push(format!("{path}: {key}"));
            }
            match key.as_str() {
                "properties" => {
                    for (name, property) in child.as_object().into_iter().flatten() {
                        keywords(property, &join(path, name), out);
                    }
                }
                "additionalProperties" | "items" => keywords(child, &join(path, key), out),
                _ => {}
            }
        }
    }

    #[test]
    fn every_keyword_of_both_crds_is_implemented() {
        for kind in [CrdKind::MlService, CrdKind::Slo] {
            let mut unknown = Vec::new();
            keywords(crd_schema(kind), "", &mut unknown);
            assert!(unknown.is_empty(), "{kind:?}: {unknown:?}");
        }
    }

    /// `\s`, `\d`, `\w` and `\b` mean ASCII in the API server's RE2 and Unicode in Rust's
    /// regex: a pattern that used them would be read differently by the two front doors.
    #[test]
    fn no_pattern_uses_a_class_the_two_regex_engines_read_differently() {
        for kind in [CrdKind::MlService, CrdKind::Slo] {
            let text = crd_schema(kind).to_string();
            for class in [r"\\s", r"\\d", r"\\w", r"\\b", r"\\S", r"\\D", r"\\W"] {
                assert!(!text.contains(class), "{kind:?} uses {class}");
            }
        }
    }

    fn mls(spec: Value) -> Value {
        let mut doc = json!({"apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
                             "metadata": {"name": "m"}});
        doc["spec"] = spec;
        doc
    }

    fn fields(result: Result<(), Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn unknown_fields_are_refused_before_anything_else() {
        let mut doc =
            mls(json!({"model": {"name": "m", "version": "v"}, "replica": 50, "replicas": 500}));
        doc["metadata"]["labelz"] = json!({});
        assert_eq!(
            fields(check_document(&mut doc, CrdKind::MlService)),
            [
                "spec.replica: unknown field \"spec.replica\"",
                "metadata.labelz: unknown field \"metadata.labelz\""
            ]
        );
    }

    #[test]
    fn patterns_bounds_lengths_and_map_limits_apply() {
        let labels: Map<String, Value> = (0..33).map(|i| (format!("k{i}"), json!("v"))).collect();
        let mut doc = mls(json!({
            "model": {"name": "a b", "version": "v".repeat(64)},
            "replicas": 101,
            "featureStore": {"address": "redis://r:6379",
                             "credentialsSecret": {"name": "s", "key": "../../etc/passwd"}},
            "monitoring": {"serviceMonitorLabels": labels, "dashboard": "yes"},
        }));
        let got = fields(check_document(&mut doc, CrdKind::MlService));
        for expected in [
            "spec.model.name: Invalid value: \"a b\": should match",
            "spec.model.version: Too long: may not be more than 63 bytes",
            "spec.replicas: Invalid value: 101: should be less than or equal to 100",
            "spec.featureStore.credentialsSecret.key: Invalid value: \"../../etc/passwd\"",
            "spec.monitoring.serviceMonitorLabels: Too many: 33: must have at most 32 items",
            "spec.monitoring.dashboard: Invalid value: \"string\": must be of type boolean",
        ] {
            assert!(
                got.iter().any(|g| g.starts_with(expected)),
                "{expected} not in {got:#?}"
            );
        }
        assert_eq!(got.len(), 6, "{got:#?}");
    }

    #[test]
    fn a_yaml_1_1_boolean_word_gets_a_hint() {
        let mut doc = mls(json!({"model": {"name": "m", "version": "v"},
                                 "monitoring": {"dashboard": "yes"}}));
        assert_eq!(
            fields(check_document(&mut doc, CrdKind::MlService)),
            [
                "spec.monitoring.dashboard: Invalid value: \"string\": must be of type boolean (kubectl reads a plain yes as a boolean, render does not: write true or false)"
            ]
        );
    }

    #[test]
    fn nulls_are_pruned_unless_nullable_and_required_fields_are_named() {
        let mut doc = mls(json!({"model": null, "replicas": null, "tracing": null}));
        assert_eq!(
            fields(check_document(&mut doc, CrdKind::MlService)),
            ["spec.model: Required value"]
        );
        assert_eq!(doc["spec"], json!({"tracing": null}));
    }

    #[test]
    fn integral_floats_are_integers_and_exclusive_bounds_hold() {
        let mut doc = mls(json!({"model": {"name": "m", "version": "v"}, "replicas": 2.0}));
        assert!(check_document(&mut doc, CrdKind::MlService).is_ok());
        assert_eq!(doc["spec"]["replicas"], json!(2));
        let mut slo = json!({"apiVersion": "tidewatch.io/v1alpha1", "kind": "SLO",
            "metadata": {"name": "s"},
            "spec": {"objective": 100, "window": "7d12h", "indicator": {"availability": {}}}});
        assert_eq!(
            fields(check_document(&mut slo, CrdKind::Slo)),
            [
                "spec.objective: Invalid value: 100: should be less than 100",
                "spec.window: Invalid value: \"7d12h\": should match '^[1-9][0-9]{0,4}(h|d|w)$'"
            ]
        );
    }
}
