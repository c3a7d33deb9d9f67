//! The environment the operator writes into the inference container, each variable with
//! the `serve` flag that reads it (clap's `#[arg(long, env)]`). The inference server has
//! more flags; only the ones the operator sets are part of the contract.

/// `--listen`: the address to listen on (`0.0.0.0:` and [`PORT`](crate::endpoints::PORT)).
pub const LISTEN: &str = "TIDEWATCH_LISTEN";
/// `--log-format`: [`LOG_FORMAT_JSON`] or [`LOG_FORMAT_TEXT`].
pub const LOG_FORMAT: &str = "TIDEWATCH_LOG_FORMAT";
/// `--model-dir`: a directory with `model.safetensors` and `metadata.json`.
pub const MODEL_DIR: &str = "TIDEWATCH_MODEL_DIR";
/// `--redis-url`: the feature store.
pub const REDIS_URL: &str = "TIDEWATCH_REDIS_URL";
/// `--redis-password`: from a Secret, never written as a value.
pub const REDIS_PASSWORD: &str = "TIDEWATCH_REDIS_PASSWORD";
/// `--feature-timeout-ms`: upper bound of one feature lookup.
pub const FEATURE_TIMEOUT_MS: &str = "TIDEWATCH_FEATURE_TIMEOUT_MS";
/// `--otlp-endpoint`: the OTLP/HTTP collector (the OpenTelemetry SDKs' own variable).
pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `--service-name`: the service name in traces (the OpenTelemetry SDKs' own variable).
pub const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `--trace-sample-ratio`: share of new traces sampled.
pub const TRACE_SAMPLE_RATIO: &str = "TIDEWATCH_TRACE_SAMPLE_RATIO";
/// `--shutdown-delay-seconds`: how long a stopping pod keeps serving while not ready.
pub const SHUTDOWN_DELAY_SECONDS: &str = "TIDEWATCH_SHUTDOWN_DELAY_SECONDS";

/// Each variable above with the long name of the `serve` flag it feeds.
pub const SERVE_FLAGS: &[(&str, &str)] = &[
    (LISTEN, "listen"),
    (LOG_FORMAT, "log-format"),
    (MODEL_DIR, "model-dir"),
    (REDIS_URL, "redis-url"),
    (REDIS_PASSWORD, "redis-password"),
    (FEATURE_TIMEOUT_MS, "feature-timeout-ms"),
    (OTLP_ENDPOINT, "otlp-endpoint"),
    (SERVICE_NAME, "service-name"),
    (TRACE_SAMPLE_RATIO, "trace-sample-ratio"),
    (SHUTDOWN_DELAY_SECONDS, "shutdown-delay-seconds"),
];

/// Structured logs, one JSON object a line: what the operator asks for.
pub const LOG_FORMAT_JSON: &str = "json";
/// Human-readable logs, for a terminal.
pub const LOG_FORMAT_TEXT: &str = "text";
