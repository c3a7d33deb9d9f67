//! Tidewatch operator library: API types, validation, pure builders and the SLO rule
//! generator. Nothing here talks to a cluster; the controllers and `render` share it.

pub mod api;
pub mod builders;
pub mod cli;
pub mod controller;
pub mod dashboards;
pub mod labels;
pub mod monitoring_types;
pub mod render;
pub mod runtime;
pub mod slo_rules;
pub mod validate;
