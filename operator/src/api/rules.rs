//! CEL rules (`x-kubernetes-validations`) and value constraints of the CRDs, with the
//! messages they answer with. The validate step repeats every rule in Rust from the same
//! patterns and answers with the same message, so that `render` (no API server in front of
//! it) and objects stored before a rule existed are refused as `kubectl apply` refuses them.
//! Each `pub fn(&mut Schema)` is a schemars transform named by a field of the API types.

use schemars::Schema;
use serde_json::{Value, json};

/// Label names Tidewatch sets on every alert; tier labels must not override them.
pub const RESERVED_ALERT_LABELS: &[&str] = &[
    "severity",
    "slo",
    "namespace",
    "service",
    "long_window",
    "short_window",
    "alertname",
];

/// Query parameters taken for credentials in any URL field, compared without case: the
/// spellings of passwords, tokens, API keys and signatures that clients read from URLs.
pub const SECRET_QUERY_PARAMETERS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "authorization",
    "key",
    "apikey",
    "api_key",
    "api-key",
    "x-api-key",
    "sig",
    "signature",
    "credential",
    "credentials",
];

/// Message of the positive-quantity rule of `cpu`, `cpuLimit` and `memory`.
pub const POSITIVE_QUANTITY_MESSAGE: &str = "must be more than 0";
/// Message of the rule of `resources` that compares the CPU limit with the request.
pub const CPU_LIMIT_MESSAGE: &str =
    "cpuLimit must not be below cpu (the request): the Deployment would be refused";
/// Message of the positive-duration rule of durations made of whole units.
pub const POSITIVE_DURATION_MESSAGE: &str = "must be a positive duration";

/// Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name part.
pub const K8S_LABEL_KEY_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/// Kubernetes label value: empty, or a name part.
pub const K8S_LABEL_VALUE_PATTERN: &str = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";
/// Longest prefix of a Kubernetes label key (a DNS subdomain).
pub const MAX_LABEL_PREFIX: usize = 253;
/// Message of the label key rule of `serviceMonitorLabels`.
pub const K8S_LABEL_KEY_MESSAGE: &str = "label keys must be an optional DNS subdomain prefix (at most 253 characters) and '/', then 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric";

/// Prometheus label name (the legacy character set every Prometheus accepts).
pub const PROM_LABEL_NAME_PATTERN: &str = "^[a-zA-Z_][a-zA-Z0-9_]*$";
/// Message of the label name rule of alert tier labels.
pub const PROM_LABEL_NAME_MESSAGE: &str =
    "alert label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__'";
/// Message of the reserved-label rule of alert tier labels.
pub const RESERVED_ALERT_LABEL_MESSAGE: &str = "severity, slo, namespace, service, long_window, short_window and alertname are set by Tidewatch and cannot be overridden";
/// Longest value of an alert tier label, in characters.
pub const MAX_PROM_LABEL_VALUE: u64 = 1024;
/// Most labels in one map (ServiceMonitor labels, one tier's alert labels).
pub const MAX_LABELS: u64 = 32;

/// The DNS-1123 subdomain of Secret and PersistentVolumeClaim names: dot-separated labels
/// of at most 63 characters.
pub const DNS_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$";

/// Text without Unicode white space or control characters (image references). Spelled with
/// Unicode classes because `\s` is ASCII space in the API server's RE2 and Unicode space in
/// Rust's regex, and both front doors must read a pattern alike.
pub const NO_SPACE_PATTERN: &str = r"^[^\p{Z}\p{Cc}]+$";
/// An http(s) URL without white space or control characters.
pub const HTTP_URL_PATTERN: &str = r"^https?://[^\p{Z}\p{Cc}]+$";
/// A Redis URL as far as the schema's pattern reads it; its shape is a CEL rule, so that a
/// URL with credentials is refused with the credential message, not a pattern.
pub const REDIS_URL_PATTERN: &str = r"^rediss?://[^\p{Z}\p{Cc}]+$";
/// The Redis address: host (name or bracketed IPv6), optional port and database number.
pub const REDIS_SHAPE_PATTERN: &str =
    r"^rediss?://([-a-zA-Z0-9.]+|\[[0-9a-fA-F:.]+\])(:[0-9]{1,5})?(/[0-9]{1,2})?$";
/// Message of the shape rule of the Redis address.
pub const REDIS_SHAPE_MESSAGE: &str =
    "must be redis://host:port or rediss://host:port (TLS), optionally followed by /db";
/// A URL with `user[:password]@` before its host.
pub const USERINFO_PATTERN: &str = "^[a-z]+://[^/?#]*@";

/// Message of the credential rules of `featureStore.address`.
pub const REDIS_CREDENTIALS_MESSAGE: &str = "must not carry credentials (user:password@ or a query string): the address is written into the pod spec as text; put the password in a Secret and name it in spec.featureStore.credentialsSecret";
/// Message of the credential rules of `tracing.otlpEndpoint`.
pub const OTLP_CREDENTIALS_MESSAGE: &str = "must not carry credentials (user:token@ or a password, token or key query parameter): the endpoint is written into the pod spec as text; authenticate to the collector without secrets in the URL (a node-local collector, or mTLS)";
/// Message of the credential rules of `alerting.runbookUrl`.
pub const RUNBOOK_CREDENTIALS_MESSAGE: &str = "must not carry credentials (user:password@ or a password, token or key query parameter): the link is shown to everyone who receives the alert";

/// Message of the rule of `monitoring.drift` that orders its thresholds.
pub const DRIFT_ORDER_MESSAGE: &str = "drift.warning must be lower than drift.critical";
/// Message of the window bounds rule of an SLO.
pub const WINDOW_BOUNDS_MESSAGE: &str = "window must be between 7d and 365d: shorter windows would make the fast-burn alert windows shorter than a few scrape intervals";
/// Message of the rule of `indicator` that wants exactly one member.
pub const ONE_INDICATOR_MESSAGE: &str = "set exactly one of availability, latency, ratio";
/// Message of the rule of an SLO spec that wants a target for availability and latency.
pub const TARGET_NEEDED_MESSAGE: &str =
    "availability and latency indicators need spec.target.mlService";
/// Message of the rule of an SLO spec that refuses a target with a ratio indicator.
pub const TARGET_WITH_RATIO_MESSAGE: &str =
    "a ratio indicator carries its own selectors: remove spec.target";

/// A query string holding one of [`SECRET_QUERY_PARAMETERS`].
pub fn secret_query_pattern() -> String {
    format!("(?i)[?&]({})(=|&|#|$)", SECRET_QUERY_PARAMETERS.join("|"))
}

/// A CEL string literal holding `text` (single-quoted; backslashes and quotes escaped).
fn cel_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn cel_matches(pattern: &str) -> String {
    format!("self.matches({})", cel_string(pattern))
}

fn add_rule(schema: &mut Schema, rule: &str, message: &str) {
    add_rule_at(schema, rule, message, None);
}

/// A rule whose error names `field_path` (relative to the schema's node) instead of it.
fn add_rule_at(schema: &mut Schema, rule: &str, message: &str, field_path: Option<&str>) {
    let mut entry = json!({"rule": rule, "message": message});
    if let Some(path) = field_path {
        entry["fieldPath"] = json!(path);
    }
    let rules = schema
        .ensure_object()
        .entry("x-kubernetes-validations")
        .or_insert_with(|| Value::Array(Vec::new()));
    rules
        .as_array_mut()
        .expect("x-kubernetes-validations is a list")
        .push(entry);
}

fn set(schema: &mut Schema, key: &str, value: Value) {
    schema.ensure_object().insert(key.into(), value);
}

/// `cpu`, `cpuLimit`, `memory`: a positive quantity. The length bound keeps the CEL cost
/// estimate small.
pub fn positive_quantity(schema: &mut Schema) {
    set(schema, "maxLength", json!(32));
    add_rule(
        schema,
        "!isQuantity(self) || quantity(self).isGreaterThan(quantity('0'))",
        POSITIVE_QUANTITY_MESSAGE,
    );
}

/// `resources`: the CPU limit is not below the request.
pub fn cpu_limit_not_below_request(schema: &mut Schema) {
    add_rule(
        schema,
        "!has(self.cpuLimit) || !has(self.cpu) || !isQuantity(self.cpu) || !isQuantity(self.cpuLimit) || quantity(self.cpuLimit).compareTo(quantity(self.cpu)) >= 0",
        CPU_LIMIT_MESSAGE,
    );
}

/// A duration of whole units (`30s`, `1h30m`, `250ms`): a non-zero digit makes it positive.
pub fn positive_duration(schema: &mut Schema) {
    add_rule(schema, &cel_matches("[1-9]"), POSITIVE_DURATION_MESSAGE);
}

/// A label map: at most [`MAX_LABELS`] entries, values as `values` says, every key passing
/// the CEL `key_test` (an expression of `k`).
fn label_map(schema: &mut Schema, values: Value, key_test: &str, key_message: &str) {
    set(schema, "maxProperties", json!(MAX_LABELS));
    set(schema, "additionalProperties", values);
    add_rule(schema, &format!("self.all(k, {key_test})"), key_message);
}

/// `serviceMonitorLabels`: Kubernetes label keys and values.
pub fn k8s_labels(schema: &mut Schema) {
    label_map(
        schema,
        json!({"type": "string", "maxLength": 63, "pattern": K8S_LABEL_VALUE_PATTERN}),
        &format!(
            "k.matches({}) && (!k.contains('/') || k.indexOf('/') <= {MAX_LABEL_PREFIX})",
            cel_string(K8S_LABEL_KEY_PATTERN)
        ),
        K8S_LABEL_KEY_MESSAGE,
    );
}

/// An alert tier's `labels`: Prometheus label names, none reserved, bounded values.
pub fn alert_labels(schema: &mut Schema) {
    label_map(
        schema,
        json!({"type": "string", "minLength": 1, "maxLength": MAX_PROM_LABEL_VALUE}),
        &format!(
            "k.matches({}) && !k.startsWith('__')",
            cel_string(PROM_LABEL_NAME_PATTERN)
        ),
        PROM_LABEL_NAME_MESSAGE,
    );
    let reserved: Vec<String> = RESERVED_ALERT_LABELS
        .iter()
        .map(|l| cel_string(l))
        .collect();
    add_rule(
        schema,
        &format!("!self.exists(k, k in [{}])", reserved.join(", ")),
        RESERVED_ALERT_LABEL_MESSAGE,
    );
}

/// `featureStore.address`: shape, and no credentials.
pub fn redis_address(schema: &mut Schema) {
    add_rule(
        schema,
        &cel_matches(REDIS_SHAPE_PATTERN),
        REDIS_SHAPE_MESSAGE,
    );
    add_rule(
        schema,
        &format!("!{}", cel_matches(USERINFO_PATTERN)),
        REDIS_CREDENTIALS_MESSAGE,
    );
    add_rule(schema, "!self.contains('?')", REDIS_CREDENTIALS_MESSAGE);
}

fn no_url_credentials(schema: &mut Schema, message: &str) {
    add_rule(
        schema,
        &format!("!{}", cel_matches(USERINFO_PATTERN)),
        message,
    );
    add_rule(
        schema,
        &format!("!{}", cel_matches(&secret_query_pattern())),
        message,
    );
}

/// `tracing.otlpEndpoint`: no credentials.
pub fn otlp_endpoint(schema: &mut Schema) {
    no_url_credentials(schema, OTLP_CREDENTIALS_MESSAGE);
}

/// `alerting.runbookUrl`: no credentials.
pub fn runbook_url(schema: &mut Schema) {
    no_url_credentials(schema, RUNBOOK_CREDENTIALS_MESSAGE);
}

/// `monitoring.drift`: warning below critical.
pub fn drift_order(schema: &mut Schema) {
    add_rule(schema, "self.warning < self.critical", DRIFT_ORDER_MESSAGE);
}

/// An SLO's `window`: 7d to 365d, in whichever unit it is written.
pub fn window_bounds(schema: &mut Schema) {
    let n = "int(self.substring(0, self.size() - 1))";
    let rule = format!(
        "!self.matches('^[0-9]+[hdw]$') || (self.endsWith('h') ? {n} >= 168 && {n} <= 8760 : self.endsWith('d') ? {n} >= 7 && {n} <= 365 : {n} >= 1 && {n} <= 52)"
    );
    add_rule(schema, &rule, WINDOW_BOUNDS_MESSAGE);
}

/// An SLO's `indicator`: exactly one member.
pub fn one_indicator(schema: &mut Schema) {
    add_rule(
        schema,
        "[has(self.availability), has(self.latency), has(self.ratio)].filter(x, x).size() == 1",
        ONE_INDICATOR_MESSAGE,
    );
}

/// An SLO's spec: a target for availability and latency, none for a ratio; reported at
/// `spec.target`.
pub fn target_matches_indicator(schema: &mut Schema) {
    add_rule_at(
        schema,
        "has(self.indicator.ratio) || has(self.target)",
        TARGET_NEEDED_MESSAGE,
        Some(".target"),
    );
    add_rule_at(
        schema,
        "!(has(self.indicator.ratio) && has(self.target))",
        TARGET_WITH_RATIO_MESSAGE,
        Some(".target"),
    );
}
