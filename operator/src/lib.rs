//! Tidewatch operator library. Most of it is pure — functions of typed values, no cluster
//! I/O — and is shared by the offline `render` command and the controllers:
//!
//! - the API and its validation: [`api`], [`validate`];
//! - the pure builders of every child and what they draw on: [`builders`], [`labels`],
//!   [`monitoring_types`], [`slo_rules`], [`promql`], [`dashboards`] (metric names and
//!   buckets come from the `tidewatch-contract` crate);
//! - offline rendering and the command line: [`render`], [`cli`], and [`report`], which
//!   prints an error with its causes.
//!
//! Three modules do I/O: [`controller`] (watches, server-side apply, status, Events),
//! [`live`] (reads SLO figures from Prometheus for the SLO status) and [`runtime`]
//! (`tidewatch-operator run`: configuration, leader election, the metrics and health server
//! around the controllers). No pure module imports them; [`cli`] only names the arguments
//! of `run`.

// The API and its validation.
pub mod api;
pub mod validate;

// Pure builders and what they draw on.
pub mod builders;
pub mod dashboards;
pub mod labels;
pub mod manifest_yaml;
pub mod monitoring_types;
pub mod promql;
pub mod slo_rules;

// Offline rendering and the command line.
pub mod cli;
pub mod render;
pub mod report;

// Cluster I/O.
pub mod controller;
pub mod live;
pub mod runtime;

// Test support: an API server answering the controllers' requests from a script.
#[cfg(test)]
mod mock_apiserver;
