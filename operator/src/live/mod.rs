//! Live SLO figures from Prometheus: the SLI over the window, the error budget left and
//! spent, the burn rate of every alert window, the firing alerts and the time to exhaustion,
//! read from the SLO's recording rules (the series its dashboard reads) and published to the
//! SLO's status through the SLO controller. Reads Prometheus only; writes nothing itself.

pub mod board;
pub mod client;
pub mod figures;
pub mod metrics;
pub mod poller;
pub mod snapshot;

pub use board::{Board, Published, Thresholds, Trouble};
pub use client::{Prometheus, PrometheusConfig};
pub use metrics::LiveMetrics;
pub use poller::LiveSettings;
