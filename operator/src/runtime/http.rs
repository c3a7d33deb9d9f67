//! The operator's HTTP endpoints: `/metrics` (OpenMetrics), `/healthz` (the process
//! answers) and `/readyz` (the API server answered recently). Serves nothing else.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the endpoints report.
pub struct Endpoints {
    pub registry: Registry,
    pub ready: AtomicBool,
}

impl Endpoints {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

/// Answers one request.
pub fn handle(endpoints: &Endpoints, method: &Method, path: &str) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        );
    }
    match path {
        "/metrics" => {
            let mut text = String::new();
            match encode(&mut text, &endpoints.registry) {
                Ok(()) => respond(StatusCode::OK, OPENMETRICS, text),
                Err(_) => respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    "encoding failed\n",
                ),
            }
        }
        "/healthz" => respond(StatusCode::OK, "text/plain", "ok\n"),
        "/readyz" if endpoints.ready.load(Ordering::Relaxed) => {
            respond(StatusCode::OK, "text/plain", "ok\n")
        }
        "/readyz" => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "API server not reachable\n",
        ),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// Binds `address` and serves until the task is dropped. Returns the bound address (useful
/// with port 0).
pub async fn serve(
    address: SocketAddr,
    endpoints: Arc<Endpoints>,
) -> std::io::Result<(SocketAddr, impl Future<Output = ()>)> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let server = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let endpoints = endpoints.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let response = handle(&endpoints, request.method(), request.uri().path());
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    Ok((bound, server))
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::controller::metrics::Metrics;

    async fn body(response: Response<Full<Bytes>>) -> String {
        String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn routes() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        metrics.reconciled(crate::controller::metrics::ControllerName::slo, 0.1, None);
        let endpoints = Endpoints {
            registry,
            ready: AtomicBool::new(false),
        };
        assert_eq!(
            handle(&endpoints, &Method::GET, "/healthz").status(),
            StatusCode::OK
        );
        assert_eq!(
            handle(&endpoints, &Method::GET, "/readyz").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        endpoints.set_ready(true);
        assert_eq!(
            handle(&endpoints, &Method::GET, "/readyz").status(),
            StatusCode::OK
        );
        assert_eq!(
            handle(&endpoints, &Method::GET, "/nope").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            handle(&endpoints, &Method::POST, "/metrics").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let response = handle(&endpoints, &Method::GET, "/metrics");
        assert_eq!(response.headers()["content-type"], OPENMETRICS);
        let text = body(response).await;
        assert!(
            text.contains("# TYPE tidewatch_operator_reconcile_duration_seconds histogram"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
