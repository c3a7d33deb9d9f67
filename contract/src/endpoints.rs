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

/// The `route` label values of the requests that serve predictions. An MLService's
/// availability and latency SLIs count these routes only: probes, scrapes and model
/// metadata answer the platform, not a client, and must neither burn nor pad the budget.
/// The Open Inference Protocol route is listed by its pattern, as the server labels it.
pub const SERVING_ROUTES: &[&str] = &[
    "/v1/predict",
    "/v1/predict/batch",
    "/v2/models/{name}/infer",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_routes_exclude_probes_and_scrapes() {
        for path in [HEALTH_PATH, READY_PATH, METRICS_PATH] {
            assert!(
                !SERVING_ROUTES.contains(&path),
                "{path} is not a serving route"
            );
        }
    }
}
