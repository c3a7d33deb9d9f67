//! Per-request traces: the head-sampling decision, the W3C trace context, and the
//! `request`, `feature_fetch` and `inference` spans, made with the OpenTelemetry API.
//!
//! Spans are built directly rather than through a `tracing` layer: a sampled request then
//! costs a few span records instead of a subscriber round trip per span event, and an
//! unsampled one costs nothing beyond the sampling draw.

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::http::header::{HeaderMap, HeaderName};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, TraceId, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, Span};

/// A trace id as the API shows it: 32 lowercase hex digits, or empty when there is none.
/// Kept inline and `Copy`, since every request carries one into its response, its
/// `x-trace-id` header and its log lines.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceHex {
    digits: [u8; 32],
    empty: bool,
}

impl TraceHex {
    /// No trace id.
    pub const EMPTY: Self = Self {
        digits: [b'0'; 32],
        empty: true,
    };

    /// The id of an OpenTelemetry trace; empty for the invalid (all-zero) id.
    pub fn of(trace_id: TraceId) -> Self {
        if trace_id == TraceId::INVALID {
            return Self::EMPTY;
        }
        let bits = u128::from_be_bytes(trace_id.to_bytes());
        Self::from_bits((bits >> 64) as u64, bits as u64)
    }

    fn from_bits(high: u64, low: u64) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 32];
        for (i, byte) in high
            .to_be_bytes()
            .into_iter()
            .chain(low.to_be_bytes())
            .enumerate()
        {
            digits[2 * i] = DIGITS[usize::from(byte >> 4)];
            digits[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
        }
        Self {
            digits,
            empty: false,
        }
    }

    /// 32 hex digits in any case, as a `traceparent` carries them.
    fn parse(hex: &str) -> Option<Self> {
        let bytes: [u8; 32] = hex.as_bytes().try_into().ok()?;
        if !bytes.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        Some(Self {
            digits: bytes.map(|b| b.to_ascii_lowercase()),
            empty: false,
        })
    }

    pub fn as_str(&self) -> &str {
        if self.empty {
            return "";
        }
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

impl Default for TraceHex {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl std::fmt::Display for TraceHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for TraceHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<&str> for TraceHex {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for TraceHex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The tracing decision for one request, taken once when it arrives (head sampling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadSample {
    /// The caller's trace id, or a fresh one; empty for a sampled new trace until the
    /// span exists (see [`RequestTracer::start`]).
    pub trace_id: TraceHex,
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
            TraceHex::EMPTY
        } else {
            TraceHex::from_bits(high, low)
        },
        sampled,
    }
}

/// Starts request spans; cheap to clone.
#[derive(Debug, Clone)]
pub struct RequestTracer {
    tracer: SdkTracer,
}

impl RequestTracer {
    pub fn new(tracer: SdkTracer) -> Self {
        Self { tracer }
    }

    /// The trace of an HTTP request with this `decision`: when sampled, a server span
    /// named "METHOD route", child of the caller's `traceparent` if there is one; only
    /// the id otherwise.
    pub fn start(
        &self,
        decision: HeadSample,
        headers: &HeaderMap,
        method: &'static str,
        route: &'static str,
    ) -> RequestTrace {
        if !decision.sampled {
            return RequestTrace::unsampled(decision.trace_id);
        }
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let span = self
            .tracer
            .span_builder(format!("{method} {route}"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.route", route),
                KeyValue::new("http.request.method", method),
            ])
            .start_with_context(&self.tracer, &parent);
        RequestTrace {
            trace_id: TraceHex::of(span.span_context().trace_id()),
            span: Some(Arc::new(SampledSpan {
                tracer: self.tracer.clone(),
                context: parent.with_span(span),
            })),
        }
    }
}

/// The trace of one request: its id (returned to the caller and logged) and, when
/// sampled, the request span that child spans hang from. Small and cheap to clone: it
/// travels with every request, sampled or not.
#[derive(Debug, Clone, Default)]
pub struct RequestTrace {
    pub trace_id: TraceHex,
    span: Option<Arc<SampledSpan>>,
}

#[derive(Debug, Clone)]
struct SampledSpan {
    tracer: SdkTracer,
    context: Context,
}

impl RequestTrace {
    /// A trace that records no spans.
    pub fn unsampled(trace_id: TraceHex) -> Self {
        Self {
            trace_id,
            span: None,
        }
    }

    pub fn is_sampled(&self) -> bool {
        self.span.is_some()
    }

    /// A span under the request span, ended when dropped; `None` for unsampled requests.
    /// The attributes are built only when the span is.
    pub fn child(
        &self,
        name: &'static str,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Option<Span> {
        let sampled = self.span.as_ref()?;
        Some(
            sampled
                .tracer
                .span_builder(Cow::Borrowed(name))
                .with_attributes(attributes())
                .start_with_context(&sampled.tracer, &sampled.context),
        )
    }

    /// Records the response status on the request span and ends it; server errors mark
    /// the span as failed.
    pub fn end(&self, status_code: u16) {
        let Some(sampled) = &self.span else { return };
        let span = sampled.context.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status_code),
        ));
        if status_code >= 500 {
            span.set_status(Status::error(format!("HTTP {status_code}")));
        }
        span.end();
    }
}

/// `(trace id, sampled)` of a valid `traceparent` header.
fn parse_traceparent(headers: &HeaderMap) -> Option<(TraceHex, bool)> {
    const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    let value = headers.get(TRACEPARENT)?.to_str().ok()?;
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let trace_id = TraceHex::parse(trace_id)?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if version == "ff" || !hex(version, 2) || !hex(parent_id, 16) || !hex(flags, 2) {
        return None;
    }
    let all_zero = |s: &str| s.bytes().all(|b| b == b'0');
    if all_zero(trace_id.as_str()) || all_zero(parent_id) {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    Some((trace_id, sampled))
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
    use std::sync::Mutex;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

    /// Keeps every exported span.
    #[derive(Debug, Clone, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collect {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
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
            assert_eq!(decision.trace_id.as_str().len(), 32, "{bad}");
            assert!(!decision.trace_id.as_str().starts_with("4bf92f"), "{bad}");
        }
    }

    #[test]
    fn trace_ids_are_32_lowercase_hex_digits_or_empty() {
        assert_eq!(
            TraceHex::from_bits(0x4bf9_2f35_77b3_4da6, 0x00a3_ce92_9d0e_0e47),
            "4bf92f3577b34da600a3ce929d0e0e47"
        );
        assert_eq!(
            TraceHex::from_bits(u64::MAX, 0).as_str(),
            format!("{}{}", "f".repeat(16), "0".repeat(16))
        );
        let id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(TraceHex::of(id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(TraceHex::of(TraceId::INVALID), "");
        assert!(TraceHex::of(TraceId::INVALID).is_empty());
        assert_eq!(
            TraceHex::parse("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(TraceHex::parse("4bf92f3577b34da6a3ce929d0e0e473g").is_none());
        assert!(TraceHex::parse("4bf9").is_none());
        assert_eq!(
            serde_json::to_string(&TraceHex::from_bits(1, 2)).unwrap(),
            format!("\"{:016x}{:016x}\"", 1, 2)
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

    /// Runs `requests` through a tracer that keeps finished spans in memory.
    fn finished_spans(requests: impl FnOnce(&RequestTracer)) -> Vec<SpanData> {
        let exporter = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        requests(&RequestTracer::new(provider.tracer("test")));
        exporter.0.lock().unwrap().clone()
    }

    #[test]
    fn sampled_requests_get_a_server_span_with_children_under_the_callers_trace() {
        let traceparent = headers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let spans = finished_spans(|tracer| {
            let trace = tracer.start(
                head_sample(&traceparent, 0.0),
                &traceparent,
                "POST",
                "/v1/predict",
            );
            assert_eq!(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
            let mut child = trace.child("inference", || vec![KeyValue::new("rows", 1)]);
            child
                .as_mut()
                .unwrap()
                .set_attribute(KeyValue::new("done", true));
            drop(child);
            trace.end(503);
        });
        let request = spans.iter().find(|s| s.name == "POST /v1/predict").unwrap();
        let child = spans.iter().find(|s| s.name == "inference").unwrap();
        assert_eq!(request.span_kind, SpanKind::Server);
        assert_eq!(
            request.parent_span_id.to_string(),
            "00f067aa0ba902b7",
            "the caller's span is the parent"
        );
        assert_eq!(child.parent_span_id, request.span_context.span_id());
        assert_eq!(
            child.span_context.trace_id(),
            request.span_context.trace_id()
        );
        for attribute in [
            KeyValue::new("http.route", "/v1/predict"),
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.response.status_code", 503_i64),
        ] {
            assert!(request.attributes.contains(&attribute), "{attribute:?}");
        }
        assert!(matches!(request.status, Status::Error { .. }));
        assert!(child.attributes.contains(&KeyValue::new("done", true)));
    }

    #[test]
    fn new_traces_get_fresh_ids_and_unsampled_ones_record_nothing() {
        let empty = HeaderMap::new();
        let spans = finished_spans(|tracer| {
            let sampled = tracer.start(head_sample(&empty, 1.0), &empty, "GET", "/healthz");
            assert_eq!(sampled.trace_id.as_str().len(), 32);
            assert!(sampled.is_sampled());
            sampled.end(200);
            let unsampled = tracer.start(head_sample(&empty, 0.0), &empty, "GET", "/healthz");
            assert_eq!(unsampled.trace_id.as_str().len(), 32);
            assert!(unsampled.child("inference", Vec::new).is_none());
            unsampled.end(200);
        });
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(spans[0].status, Status::Unset);
    }
}
