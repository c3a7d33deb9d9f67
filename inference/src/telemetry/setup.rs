//! Logs and the trace pipeline: JSON (or text) logs through tracing-subscriber, and the
//! OpenTelemetry tracer whose spans are exported over OTLP/HTTP when an endpoint is set.
//! Sets up and flushes; it decides nothing about what is logged or traced.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;
use crate::telemetry::priority;
use crate::telemetry::trace::RequestTracer;

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
    pub service_name: String,
}

/// Keeps the tracer provider; [`Telemetry::shutdown`] flushes pending spans.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// The tracer for request spans.
    pub fn tracer(&self) -> RequestTracer {
        RequestTracer::new(self.provider.tracer("tidewatch-inference"))
    }

    /// Flushes and stops the span exporter; bounded by `timeout`.
    pub fn shutdown(&self, timeout: Duration) {
        if let Err(error) = self.provider.force_flush() {
            tracing::warn!(%error, "flushing spans failed");
        }
        let _ = self.provider.shutdown_with_timeout(timeout);
    }
}

/// Installs the global log subscriber and builds the tracer provider.
pub fn init(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_new(&settings.log_filter)
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    // The ratio is applied by `trace::head_sample` before any span exists; the SDK records
    // whatever reaches it.
    let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    let builder = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(resource);
    let provider = match &settings.otlp_endpoint {
        // The batch processor's thread and the HTTP client's thread start while the
        // provider is built; building it at background priority lowers both.
        Some(endpoint) => priority::start_in_background(|| {
            let exporter = SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(traces_url(endpoint))
                .with_timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            Ok(builder.with_batch_exporter(exporter).build())
        })
        .map_err(|e| TelemetryError::Exporter(e.to_string()))??,
        None => builder.build(),
    };
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
}
