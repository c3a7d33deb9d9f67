//! The observability stack without Kubernetes: the inference server as a local process, a
//! real Prometheus scraping it with the rendered SLO rules and `alerts/` loaded, traffic, and
//! the dashboards' queries. Every process is a child stopped by its PID when dropped.

pub mod dashboards;
pub mod inference;
pub mod prometheus;
pub mod rules;
pub mod traffic;

pub use crate::repo_root;
