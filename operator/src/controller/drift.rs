//! Drift detection: does a live object already hold every field the operator wants? Pure
//! JSON comparison, so that a converged object costs no write request. Strings are only ever
//! compared for equality, so a long one can stand in as its digest: the child caches keep
//! digests of dashboards, PromQL and long annotations instead of the text (`condense`), and
//! the desired object is condensed the same way before the comparison. Never talks to the API.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::Value;

/// Strings longer than this (bytes) are compared, and cached, as their digest.
pub const LONG_STRING: usize = 64;

/// The stand-in of a long string: a 64-bit digest, short enough never to be condensed again.
pub fn condensed_string(text: &str) -> String {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    format!("digest:{:016x}", hasher.finish())
}

/// Replaces every string of `value` longer than `LONG_STRING` by its digest, at any depth.
/// Map keys, numbers and the shape stay as they are, so `is_subset` of two condensed values
/// answers as it would of the originals (up to a digest collision).
pub fn condense(value: &mut Value) {
    match value {
        Value::String(text) if text.len() > LONG_STRING => *text = condensed_string(text),
        Value::Array(items) => items.iter_mut().for_each(condense),
        Value::Object(map) => map.values_mut().for_each(condense),
        _ => {}
    }
}

/// True when every field of `desired` is present in `live` with the same value. Fields the
/// API server or other managers add (defaults, status, annotations) are ignored; lists must
/// match element by element, each element compared the same way.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            want.iter().all(|(key, value)| match have.get(key) {
                Some(present) => is_subset(value, present),
                None => is_empty(value),
            })
        }
        (Value::Object(want), Value::Null) => want.values().all(is_empty),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| is_subset(w, h))
        }
        (Value::Array(want), Value::Null) => want.is_empty(),
        (Value::Number(want), Value::Number(have)) => {
            want == have
                || want
                    .as_f64()
                    .zip(have.as_f64())
                    .is_some_and(|(w, h)| w == h)
        }
        (Value::Null, _) => true,
        (want, have) => want == have,
    }
}

/// Fields that the API server drops when they are empty, so their absence is no drift.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.values().all(is_empty),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{LONG_STRING, condense, is_subset};

    fn condensed(mut value: serde_json::Value) -> serde_json::Value {
        condense(&mut value);
        value
    }

    #[test]
    fn condensed_values_compare_as_the_originals() {
        let long = "x".repeat(LONG_STRING + 1);
        let edited = format!("{long}y");
        let desired = json!({"data": {"d.json": long}, "spec": {"replicas": 2, "name": "short"}});
        let same = json!({"data": {"d.json": long, "other": "kept"}, "spec": {"replicas": 2, "name": "short"}});
        let changed = json!({"data": {"d.json": edited}, "spec": {"replicas": 2, "name": "short"}});
        for live in [&same, &changed] {
            assert_eq!(
                is_subset(&condensed(desired.clone()), &condensed(live.clone())),
                is_subset(&desired, live)
            );
        }
        assert!(is_subset(&condensed(desired.clone()), &condensed(same)));
        assert!(!is_subset(&condensed(desired), &condensed(changed)));
    }

    #[test]
    fn condensing_shrinks_long_strings_only_and_is_idempotent() {
        let value = json!({"a": "x".repeat(10_000), "b": ["short", 1, {"c": "y".repeat(100)}]});
        let once = condensed(value.clone());
        assert!(once.to_string().len() < 200, "{once}");
        assert_eq!(once["b"][0], "short");
        assert_eq!(once["b"][1], 1);
        assert_ne!(
            once["a"], once["b"][2]["c"],
            "different strings, different digests"
        );
        assert_eq!(condensed(once.clone()), once);
        assert_eq!(condensed(value), once, "the same string, the same digest");
    }

    #[test]
    fn defaults_added_by_the_server_are_not_drift() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        let live = json!({
            "spec": {"replicas": 2, "progressDeadlineSeconds": 600,
                "template": {"spec": {"containers": [{"name": "a", "image": "x", "terminationMessagePath": "/dev/termination-log"}]}}},
            "status": {"readyReplicas": 2}
        });
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn a_changed_value_is_drift() {
        let desired = json!({"spec": {"replicas": 2}});
        assert!(!is_subset(&desired, &json!({"spec": {"replicas": 3}})));
        assert!(!is_subset(&desired, &json!({"spec": {}})));
        assert!(!is_subset(
            &json!({"data": {"a": "1"}}),
            &json!({"data": {"a": "2"}})
        ));
    }

    #[test]
    fn a_removed_or_added_list_element_is_drift() {
        let desired = json!({"ports": [{"port": 80}]});
        assert!(!is_subset(&desired, &json!({"ports": []})));
        assert!(!is_subset(
            &desired,
            &json!({"ports": [{"port": 80}, {"port": 81}]})
        ));
        assert!(is_subset(
            &desired,
            &json!({"ports": [{"port": 80, "protocol": "TCP"}]})
        ));
    }

    #[test]
    fn empty_desired_fields_match_absent_ones() {
        let desired =
            json!({"metadata": {"annotations": {}}, "spec": {"tolerations": [], "x": null}});
        assert!(is_subset(&desired, &json!({"metadata": {}, "spec": {}})));
    }

    #[test]
    fn integers_and_floats_of_equal_value_match() {
        assert!(is_subset(&json!({"a": 1.0}), &json!({"a": 1})));
        assert!(!is_subset(&json!({"a": 1.5}), &json!({"a": 1})));
    }
}
