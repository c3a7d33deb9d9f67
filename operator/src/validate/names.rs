//! Names and label checks: Kubernetes object names and labels, Prometheus label names.

use std::collections::BTreeMap;
use std::fmt;

use crate::api::MAX_NAME_LENGTH;

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

fn k8s_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok =
            !prefix.is_empty() && prefix.len() <= 253 && prefix.split('.').all(is_dns1123_label);
        if !ok {
            return Err(format!("label key {key:?}: prefix must be a DNS subdomain"));
        }
    }
    if !is_label_name_part(name) {
        return Err(format!(
            "label key {key:?}: name must be 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
        ));
    }
    Ok(())
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

/// Checks Kubernetes object labels, reporting each bad entry under `field`.
pub(crate) fn check_k8s_labels_into(
    c: &mut Collector,
    field: &str,
    labels: &BTreeMap<String, String>,
) {
    for (key, value) in labels {
        if let Err(reason) = k8s_label_key(key).and_then(|()| k8s_label_value(value)) {
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

/// Longest Prometheus label value accepted in alert labels.
pub const MAX_PROM_LABEL_VALUE: usize = 1024;

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
pub fn check_prometheus_labels(
    labels: &BTreeMap<String, String>,
    reserved: &[&str],
) -> Result<(), String> {
    for (key, value) in labels {
        if !is_prometheus_label_name(key) {
            return Err(format!(
                "label name {key:?} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__'"
            ));
        }
        if reserved.contains(&key.as_str()) {
            return Err(format!(
                "label {key:?} is set by Tidewatch and cannot be overridden"
            ));
        }
        if value.len() > MAX_PROM_LABEL_VALUE {
            return Err(format!(
                "value of label {key:?} is {} bytes long; at most {MAX_PROM_LABEL_VALUE}",
                value.len()
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
