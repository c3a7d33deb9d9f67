//! Logs and traces: JSON (or text) logs through tracing-subscriber, OpenTelemetry spans
//! exported over OTLP/HTTP when an endpoint is set, and W3C trace-context propagation.
//! Sets up and flushes; it decides nothing about what is logged.

use std::time::Duration;

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use actix_web::http::header::{HeaderMap, HeaderName};

use crate::config::LogFormat;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter: {0}")]
    Filter(String),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global subscriber is already installed")]
    AlreadyInstalled,
}

/// What `init` needs.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub log_filter: String,
    pub log_format: LogFormat,
    pub otlp_endpoint: Option<String>,
    pub sample_ratio: f64,
    pub service_name: String,
}

/// Keeps the tracer provider; [`Telemetry::shutdown`] flushes pending spans.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Flushes and stops the span exporter; bounded by `timeout`.
    pub fn shutdown(&self, timeout: Duration) {
        if let Err(error) = self.provider.force_flush() {
            tracing::warn!(%error, "flushing spans failed");
        }
        let _ = self.provider.shutdown_with_timeout(timeout);
    }
}

/// Installs the global subscriber and propagator.
pub fn init(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_new(&settings.log_filter)
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    // The ratio is applied by `head_sample` before any span exists; the SDK records
    // whatever reaches it.
    let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(resource);
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(endpoint))
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // Spans carry the attributes the handlers set and nothing else: source locations,
    // thread ids, busy/idle timings and per-poll context activation each cost time on
    // every sampled request and say nothing an operator asks of a prediction trace.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("tidewatch-inference"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let logs = match settings.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
    };
    tracing_subscriber::registry()
        .with(otel)
        .with(logs.with_filter(filter))
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(Telemetry { provider })
}

/// The OTLP/HTTP traces URL for a base endpoint, as the OTLP spec derives it.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

/// The tracing decision for one request, taken once when it arrives (head sampling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadSample {
    /// The caller's trace id, or a fresh one; empty for a sampled new trace until the
    /// span exists (see [`attach`]).
    pub trace_id: String,
    pub sampled: bool,
}

/// Decides whether a request is traced: a valid W3C `traceparent` decides by its sampled
/// flag, anything else by `ratio`. Unsampled requests create no spans at all, so tracing
/// costs nothing for the share that is not exported.
pub fn head_sample(headers: &HeaderMap, ratio: f64) -> HeadSample {
    if let Some((trace_id, sampled)) = parse_traceparent(headers) {
        return HeadSample { trace_id, sampled };
    }
    let (high, low) = (next_random(), next_random());
    let sampled = ratio >= 1.0 || (ratio > 0.0 && (low as f64) < ratio * u64::MAX as f64);
    HeadSample {
        trace_id: if sampled {
            String::new()
        } else {
            trace_id_hex(high, low)
        },
        sampled,
    }
}

/// A 128-bit trace id as 32 lowercase hex digits; runs on every unsampled request, where
/// `format!` cost more than the rest of the sampling decision.
fn trace_id_hex(high: u64, low: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, byte) in high
        .to_be_bytes()
        .into_iter()
        .chain(low.to_be_bytes())
        .enumerate()
    {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// Makes a sampled request's `span` a child of the caller's trace context (if any) and
/// returns the trace id the span belongs to.
pub fn attach(span: &tracing::Span, headers: &HeaderMap) -> String {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id == opentelemetry::trace::TraceId::INVALID {
        String::new()
    } else {
        trace_id.to_string()
    }
}

/// `(trace id, sampled)` of a valid `traceparent` header.
fn parse_traceparent(headers: &HeaderMap) -> Option<(String, bool)> {
    const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    let value = headers.get(TRACEPARENT)?.to_str().ok()?;
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if version == "ff"
        || !hex(version, 2)
        || !hex(trace_id, 32)
        || !hex(parent_id, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    if trace_id.bytes().all(|b| b == b'0') || parent_id.bytes().all(|b| b == b'0') {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    Some((trace_id.to_ascii_lowercase(), sampled))
}

/// A fast per-thread generator (SplitMix64) for trace ids and sampling draws; seeded from
/// the standard library's random hasher keys.
fn next_random() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new(std::collections::hash_map::RandomState::new().build_hasher().finish());
    }
    STATE.with(|state| {
        let mut z = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_follows_the_otlp_rules() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }

    fn headers(traceparent: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("traceparent"),
            actix_web::http::header::HeaderValue::from_static(traceparent),
        );
        headers
    }

    #[test]
    fn traceparent_decides_sampling() {
        let sampled = head_sample(
            &headers("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            0.0,
        );
        assert_eq!(sampled.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(sampled.sampled);
        let unsampled = head_sample(
            &headers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            1.0,
        );
        assert!(!unsampled.sampled);
        assert_eq!(unsampled.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn invalid_traceparent_is_ignored() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            let decision = head_sample(&headers(bad), 0.0);
            assert!(!decision.sampled, "{bad}");
            assert_eq!(decision.trace_id.len(), 32, "{bad}");
            assert!(!decision.trace_id.starts_with("4bf92f"), "{bad}");
        }
    }

    #[test]
    fn trace_ids_are_32_lowercase_hex_digits() {
        assert_eq!(
            trace_id_hex(0x4bf9_2f35_77b3_4da6, 0x00a3_ce92_9d0e_0e47),
            "4bf92f3577b34da600a3ce929d0e0e47"
        );
        assert_eq!(
            trace_id_hex(u64::MAX, 0),
            format!("{}{}", "f".repeat(16), "0".repeat(16))
        );
    }

    #[test]
    fn ratio_samples_about_that_share() {
        let empty = HeaderMap::new();
        let sampled = (0..20_000)
            .filter(|_| head_sample(&empty, 0.1).sampled)
            .count();
        assert!((1_600..2_400).contains(&sampled), "{sampled}");
        assert!((0..100).all(|_| head_sample(&empty, 1.0).sampled));
        assert!((0..100).all(|_| !head_sample(&empty, 0.0).sampled));
    }
}
