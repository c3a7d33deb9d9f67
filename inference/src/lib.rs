//! `tidewatch-inference`: a fraud-detection inference server built on candle and
//! actix-web, instrumented with Prometheus metrics, drift detection, GPU telemetry,
//! OpenTelemetry traces and JSON logs.
//!
//! Layout follows a core / backend / server split: [`predict`] and [`store`] hold the
//! request pipeline without HTTP, [`backend`] owns the model on its own thread, [`coalesce`] gathers each HTTP
//! worker's requests into shared model jobs, and
//! [`server`] adapts HTTP to them.

pub mod backend;
pub mod buckets;
pub mod config;
pub mod core;
pub mod features;
pub mod secret;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
