//! The HTTP server: shared state, routes, and a run loop with graceful shutdown
//! (not-ready first, then drain, then the caller flushes telemetry).

pub mod answer_json;
pub mod debug;
pub mod error;
pub mod feedback;
pub mod middleware;
pub mod oip;
pub mod request_metrics;
pub mod routes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::KeepAlive;
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data};
use actix_web::{App, HttpServer};
use tidewatch_contract::endpoints;

use crate::core::admission::{Admission, BodyBudget};
use crate::core::coalesce::Coalescer;
use crate::core::fault::FaultInjector;
use crate::core::feedback::QualityWindow;
use crate::core::predict::Predictor;
use crate::telemetry::drift::DriftMonitor;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::trace::RequestTracer;
use request_metrics::RequestMetrics;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub predictor: Predictor,
    pub metrics: Arc<Metrics>,
    pub request_metrics: RequestMetrics,
    pub drift: Arc<Mutex<DriftMonitor>>,
    /// Labelled predictions the quality gauges are computed over.
    pub quality: Mutex<QualityWindow>,
    /// Prediction requests served at once; the rest get 429.
    pub admission: Admission,
    /// Bytes of request bodies held at once; bodies are read before admission.
    pub body_budget: BodyBudget,
    /// How long a request's body may take to arrive once its headers have.
    pub body_timeout: Duration,
    pub ready: AtomicBool,
    pub faults: FaultInjector,
    pub instrument: bool,
    /// Starts the spans of sampled requests.
    pub tracer: RequestTracer,
    /// Share of new traces recorded (head sampling in the request middleware).
    pub trace_sample_ratio: f64,
    pub max_body_bytes: usize,
    pub max_batch_size: usize,
    pub drift_min_samples: usize,
    /// Serve the `/debug/` routes; off, they answer 404.
    pub debug_routes: bool,
    /// Seed of the profiles the debug route writes.
    pub synthetic_seed: u64,
}

/// What a route is for: the SLIs count serving routes only
/// ([`endpoints::SERVING_ROUTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// Answers a client's prediction request.
    Serving,
    /// Liveness and readiness, for the kubelet and load balancers.
    Probe,
    /// Describes the model or the server, or is the metrics scrape.
    Metadata,
    /// Demo help, off unless a flag turns it on.
    Debug,
    /// Labels of past predictions, for the model-quality metrics.
    Feedback,
}

/// A route: its actix pattern (also its `route` label), method and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub pattern: &'static str,
    pub method: &'static str,
    pub kind: RouteKind,
}

const fn route(pattern: &'static str, method: &'static str, kind: RouteKind) -> Route {
    Route {
        pattern,
        method,
        kind,
    }
}

/// Liveness and readiness under the paths the fraud API this server replaces used.
pub const HEALTH_LIVE_PATH: &str = "/health/live";
pub const HEALTH_READY_PATH: &str = "/health/ready";
/// Writes a synthetic profile for a user into the feature store.
pub const POPULATE_CACHE_PATH: &str = "/debug/populate-cache/{user_id}";

/// Every route. A request whose path is one of the static patterns matched that route;
/// one with `{...}` segments is labelled by its pattern, as actix matched it.
pub const ROUTES: [Route; 17] = [
    route("/v1/predict", "POST", RouteKind::Serving),
    route("/v1/predict/batch", "POST", RouteKind::Serving),
    route("/v1/model", "GET", RouteKind::Metadata),
    route(endpoints::HEALTH_PATH, "GET", RouteKind::Probe),
    route(endpoints::READY_PATH, "GET", RouteKind::Probe),
    route(HEALTH_LIVE_PATH, "GET", RouteKind::Probe),
    route(HEALTH_READY_PATH, "GET", RouteKind::Probe),
    route(endpoints::METRICS_PATH, "GET", RouteKind::Metadata),
    route(POPULATE_CACHE_PATH, "POST", RouteKind::Debug),
    route("/v2", "GET", RouteKind::Metadata),
    route("/v2/health/live", "GET", RouteKind::Probe),
    route("/v2/health/ready", "GET", RouteKind::Probe),
    route("/v2/models/{name}", "GET", RouteKind::Metadata),
    route("/v2/models/{name}/ready", "GET", RouteKind::Metadata),
    route(
        "/v2/models/{name}/versions/{version}",
        "GET",
        RouteKind::Metadata,
    ),
    route(OIP_INFER_PATH, "POST", RouteKind::Serving),
    route("/v1/feedback", "POST", RouteKind::Feedback),
];

/// The Open Inference Protocol's inference route; its pattern is its `route` label, as
/// `tidewatch_contract::endpoints::SERVING_ROUTES` lists it.
pub const OIP_INFER_PATH: &str = "/v2/models/{name}/infer";

/// Registers the routes on an app; the same set as [`ROUTES`] (a test checks each entry).
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/v1/predict", web::post().to(routes::predict))
        .route("/v1/predict/batch", web::post().to(routes::predict_batch))
        .route("/v1/model", web::get().to(routes::model))
        .route(endpoints::HEALTH_PATH, web::get().to(routes::healthz))
        .route(endpoints::READY_PATH, web::get().to(routes::readyz))
        .route(HEALTH_LIVE_PATH, web::get().to(routes::healthz))
        .route(HEALTH_READY_PATH, web::get().to(routes::readyz))
        .route(endpoints::METRICS_PATH, web::get().to(routes::metrics))
        .route(POPULATE_CACHE_PATH, web::post().to(debug::populate_cache))
        .route("/v2", web::get().to(oip::server_metadata))
        .route("/v2/health/live", web::get().to(oip::live))
        .route("/v2/health/ready", web::get().to(oip::ready))
        // Before the other `{name}` routes: actix tries routes in turn, and each pattern
        // with a `{...}` segment is a regex match.
        .route(OIP_INFER_PATH, web::post().to(oip::infer))
        .route("/v2/models/{name}", web::get().to(oip::model_metadata))
        .route("/v2/models/{name}/ready", web::get().to(oip::model_ready))
        .route(
            "/v2/models/{name}/versions/{version}",
            web::get().to(oip::version_metadata),
        )
        .route("/v1/feedback", web::post().to(feedback::feedback))
        .default_service(web::to(routes::not_found));
}

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: std::net::SocketAddr,
    pub workers: usize,
    pub shutdown_delay: Duration,
    pub shutdown_timeout: Duration,
    /// The bounds of a connection before the handlers see it.
    pub connections: ConnectionLimits,
}

/// How long a connection may take or idle at the HTTP layer, and how many a worker keeps.
/// A zero duration turns that bound off (actix's convention).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From a connection's first byte to the end of its first request's headers.
    pub header_timeout: Duration,
    /// Idle time between requests on a kept-alive connection.
    pub keep_alive: Duration,
    /// How long closing a connection may take (the client reading the last answer, or a
    /// request body still arriving after an early answer) before it is dropped.
    pub disconnect_timeout: Duration,
    /// Open connections per worker; past it, the worker stops accepting.
    pub max_connections_per_worker: usize,
}

/// Serves until SIGTERM or SIGINT, then: readiness fails, traffic keeps being served for
/// `shutdown_delay` (so endpoints are removed first), in-flight requests drain.
pub async fn run(state: Data<AppState>, settings: &ServerSettings) -> std::io::Result<()> {
    let app_state = state.clone();
    let mut server = HttpServer::new(move || {
        // Runs once per worker thread: each worker gathers its own requests.
        let coalescer = Data::new(Coalescer::new(app_state.predictor.backend().clone()));
        App::new()
            .app_data(app_state.clone())
            .app_data(coalescer)
            .wrap(from_fn(middleware::observe))
            .configure(configure)
    })
    .disable_signals()
    .shutdown_timeout(settings.shutdown_timeout.as_secs().max(1))
    .client_request_timeout(settings.connections.header_timeout)
    .client_disconnect_timeout(settings.connections.disconnect_timeout)
    .keep_alive(keep_alive(settings.connections.keep_alive))
    .max_connections(settings.connections.max_connections_per_worker.max(1))
    .backlog(4096);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    let server = server.bind(settings.listen)?.run();
    tracing::info!(listen = %settings.listen, "serving");
    tokio::spawn(stop_on_signal(
        server.handle(),
        state,
        settings.shutdown_delay,
    ));
    server.await
}

fn keep_alive(idle: Duration) -> KeepAlive {
    if idle.is_zero() {
        KeepAlive::Disabled
    } else {
        KeepAlive::Timeout(idle)
    }
}

async fn stop_on_signal(handle: ServerHandle, state: Data<AppState>, delay: Duration) {
    wait_for_signal().await;
    tracing::info!(
        delay_seconds = delay.as_secs_f64(),
        "stop signal received; no longer ready"
    );
    state.ready.store(false, Ordering::Relaxed);
    tokio::time::sleep(delay).await;
    tracing::info!("draining in-flight requests");
    handle.stop(true).await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, StatusCode};
    use actix_web::test::{TestRequest, call_service, init_service};

    use super::*;

    /// A concrete path of a route pattern.
    fn example_path(pattern: &str) -> String {
        pattern
            .replace("{name}", "fraud-mlp")
            .replace("{version}", "1.0.0")
            .replace("{user_id}", "user-1")
    }

    /// `ROUTES` feeds the route labels and the pre-resolved request series, so each entry
    /// must be served by `configure`, with that method only. Without app state a served
    /// route fails with 500; anything unrouted gets the JSON 404.
    #[actix_web::test]
    async fn every_listed_route_is_served_with_its_method_only() {
        let app = init_service(App::new().configure(configure)).await;
        for Route {
            pattern, method, ..
        } in ROUTES
        {
            let path = example_path(pattern);
            let method: Method = method.parse().unwrap();
            let served = TestRequest::default()
                .method(method.clone())
                .uri(&path)
                .to_request();
            let status = call_service(&app, served).await.status();
            assert_ne!(
                status,
                StatusCode::NOT_FOUND,
                "{method} {path} is not served"
            );
            let other = if method == Method::GET {
                Method::POST
            } else {
                Method::GET
            };
            let wrong = TestRequest::default()
                .method(other.clone())
                .uri(&path)
                .to_request();
            let status = call_service(&app, wrong).await.status();
            assert_eq!(status, StatusCode::NOT_FOUND, "{other} {path} is served");
        }
        let unknown = TestRequest::get().uri("/v1/unknown").to_request();
        assert_eq!(
            call_service(&app, unknown).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    /// The SLIs count the contract's serving routes; a prediction route missing there
    /// would go uncounted, and a probe listed there would pad the budget.
    #[test]
    fn serving_routes_are_the_contracts_and_nothing_else_is() {
        for Route { pattern, kind, .. } in ROUTES {
            assert_eq!(
                endpoints::SERVING_ROUTES.contains(&pattern),
                kind == RouteKind::Serving,
                "{pattern} ({kind:?})"
            );
        }
        for serving in endpoints::SERVING_ROUTES {
            assert!(
                ROUTES
                    .iter()
                    .any(|r| r.pattern == *serving && r.kind == RouteKind::Serving),
                "{serving} is not registered as a serving route"
            );
        }
    }
}
