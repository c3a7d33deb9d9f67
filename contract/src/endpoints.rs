//! Where the inference server listens and what the Deployment's probes and the
//! ServiceMonitor ask it for.

/// The one port serving predictions, `/metrics` and the probes.
pub const PORT: u16 = 8080;
/// Liveness: the process answers. The startup and liveness probes ask for it.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: the model is warm and the server is not shutting down.
pub const READY_PATH: &str = "/readyz";
/// The OpenMetrics exposition the ServiceMonitor scrapes.
pub const METRICS_PATH: &str = "/metrics";
