//! What the server tells operators about itself: Prometheus metrics, traces, logs, GPU
//! gauges and feature drift. Every other module may record here; nothing here calls the
//! model, the feature store or the HTTP server.

pub mod drift;
pub mod gpu;
pub mod metrics;
pub mod priority;
pub mod privacy;
pub mod report;
pub mod setup;
pub mod trace;

pub use setup::{Telemetry, TelemetryError, TelemetrySettings, init};
