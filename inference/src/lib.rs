//! `tidewatch-inference`: a fraud-detection inference server built on candle and
//! actix-web, instrumented with Prometheus metrics, drift detection, GPU telemetry,
//! OpenTelemetry traces and JSON logs.
//!
//! The modules are the layers, and dependencies point one way: [`server`] adapts HTTP to
//! [`core`], the request pipeline without HTTP (admission, coalescing, prediction), which
//! calls [`backend`] (the model on its own thread) and [`store`] (the feature store).
//! [`features`] is the vocabulary they share and [`telemetry`] is what all of them record
//! into. [`config`] is the command line and [`service`] wires `serve` together. Training
//! is no part of this library: it is a module of the `tidewatch-inference` binary.

pub mod backend;
pub mod config;
pub mod core;
pub mod features;
pub mod secret;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
