//! Drift detection: does a live object already hold every field the operator wants? Pure
//! JSON comparison, so that a converged object costs no write request. Never talks to the API.

use serde_json::Value;

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

    use super::is_subset;

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
