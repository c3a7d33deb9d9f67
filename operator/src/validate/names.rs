//! Names and label checks: Kubernetes object names and labels, Prometheus label names.

use std::collections::BTreeMap;
use std::fmt;

use std::sync::OnceLock;

use regex::Regex;

use crate::api::MAX_NAME_LENGTH;
use crate::api::rules::{
    K8S_LABEL_KEY_MESSAGE, K8S_LABEL_KEY_PATTERN, MAX_LABEL_PREFIX, MAX_PROM_LABEL_VALUE,
    PROM_LABEL_NAME_MESSAGE, RESERVED_ALERT_LABEL_MESSAGE,
};

use super::errors::Collector;

/// A resource name that fits every child name derived from it (DNS-1035 label, at most
/// `MAX_NAME_LENGTH` characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceName(String);

impl ResourceName {
    /// Checks a resource name.
    pub fn new(name: &str) -> Result<Self, String> {
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.len() > MAX_NAME_LENGTH {
            return Err(format!(
                "{} characters is too long: at most {MAX_NAME_LENGTH}, so that child names stay within 63",
                name.len()
            ));
        }
        if !is_dns1035_label(name) {
            return Err(format!(
                "{name:?} must be lowercase letters, digits and '-', start with a letter and end with a letter or digit"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// DNS-1035 label: `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1035_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-'
}

/// DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn is_label_name_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The CEL rule of label keys, in Rust: the same pattern and prefix bound.
fn is_k8s_label_key(key: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(K8S_LABEL_KEY_PATTERN).expect("the pattern compiles"));
    re.is_match(key) && key.find('/').is_none_or(|i| i <= MAX_LABEL_PREFIX)
}

fn k8s_label_key(key: &str) -> Result<(), String> {
    if is_k8s_label_key(key) {
        Ok(())
    } else {
        Err(format!("{K8S_LABEL_KEY_MESSAGE}, got {key:?}"))
    }
}

fn k8s_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "label value {value:?} must be at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
        ))
    }
}

/// The namespace of an object, `default` when it has none; one that is not a DNS-1123 label
/// is reported under `metadata.namespace`.
pub(crate) fn checked_namespace(c: &mut Collector, namespace: Option<String>) -> String {
    let namespace = namespace.unwrap_or_else(|| "default".into());
    if !is_dns1123_label(&namespace) {
        c.push(
            "metadata.namespace",
            format!("{namespace:?} is not a valid namespace name"),
        );
    }
    namespace
}

/// Checks Kubernetes object labels: bad keys are reported under `field` (where the CRD's
/// CEL rule reports them), bad values under `field.key`.
pub(crate) fn check_k8s_labels_into(
    c: &mut Collector,
    field: &str,
    labels: &BTreeMap<String, String>,
) {
    if !labels.keys().all(|k| is_k8s_label_key(k)) {
        c.push(field, K8S_LABEL_KEY_MESSAGE);
    }
    for (key, value) in labels {
        if let Err(reason) = k8s_label_value(value) {
            c.push(format!("{field}.{key}"), reason);
        }
    }
}

/// Checks Kubernetes object labels.
pub fn check_k8s_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    labels
        .iter()
        .try_for_each(|(k, v)| k8s_label_key(k).and_then(|()| k8s_label_value(v)))
}

/// A legacy Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
pub fn is_prometheus_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && !name.starts_with("__")
}

/// Checks Prometheus alert labels: legal names, bounded values, none of the `reserved` keys.
/// Name and reserved-key errors carry the messages of the CRD's CEL rules; value lengths
/// count characters, as the schema's `maxLength` does.
pub fn check_prometheus_labels(
    labels: &BTreeMap<String, String>,
    reserved: &[&str],
) -> Result<(), String> {
    for (key, value) in labels {
        if !is_prometheus_label_name(key) {
            return Err(format!("{PROM_LABEL_NAME_MESSAGE}, got {key:?}"));
        }
        if reserved.contains(&key.as_str()) {
            return Err(format!("{RESERVED_ALERT_LABEL_MESSAGE}, got {key:?}"));
        }
        let length = value.chars().count();
        if length as u64 > MAX_PROM_LABEL_VALUE {
            return Err(format!(
                "value of label {key:?} is {length} characters long; at most {MAX_PROM_LABEL_VALUE}"
            ));
        }
        if value.is_empty() {
            return Err(format!(
                "value of label {key:?} is empty, which Prometheus treats as no label"
            ));
        }
    }
    Ok(())
}
