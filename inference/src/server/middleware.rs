//! Per-request instrumentation: the request span (joined to a W3C parent), the trace id
//! handed to handlers, in-flight and RED metrics by route pattern.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

use super::AppState;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::telemetry;

/// The trace of the current request: its id, and whether spans are recorded for it.
#[derive(Debug, Clone, Default)]
pub struct RequestTrace {
    pub trace_id: String,
    pub sampled: bool,
}

/// Routes by pattern; anything else is `unmatched` so labels stay bounded.
fn route_label(pattern: Option<&str>) -> &'static str {
    pattern.and_then(known_route).unwrap_or("unmatched")
}

/// The route label of a registered pattern. Every route is a static path, so a request
/// whose path is one of these matched that route.
fn known_route(pattern: &str) -> Option<&'static str> {
    Some(match pattern {
        "/v1/predict" => "/v1/predict",
        "/v1/predict/batch" => "/v1/predict/batch",
        "/v1/model" => "/v1/model",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        _ => return None,
    })
}

/// The request's route label. Asking actix for the matched pattern walks the route table
/// and allocates, so that is left to paths that are not a route verbatim (404s, odd
/// encodings).
fn request_route(req: &ServiceRequest) -> &'static str {
    known_route(req.path()).unwrap_or_else(|| route_label(req.match_pattern().as_deref()))
}

fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let decision = telemetry::head_sample(req.headers(), state.trace_sample_ratio);
    if !state.instrument {
        req.extensions_mut().insert(RequestTrace {
            trace_id: decision.trace_id,
            sampled: false,
        });
        return next.call(req).await;
    }
    let route = request_route(&req);
    let method = method_label(req.method());
    let (span, trace_id) = if decision.sampled {
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{method} {route}"),
            otel.kind = "server",
            http.route = route,
            http.request.method = method,
            http.response.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        let trace_id = telemetry::attach(&span, req.headers());
        span.record("trace_id", trace_id.as_str());
        (span, trace_id)
    } else {
        (tracing::Span::none(), decision.trace_id)
    };
    req.extensions_mut().insert(RequestTrace {
        trace_id: trace_id.clone(),
        sampled: decision.sampled,
    });

    let metrics = &state.metrics;
    metrics.in_flight.inc();
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed().as_secs_f64();
    metrics.in_flight.dec();
    let code = match &result {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.as_response_error().status_code().as_u16(),
    };
    span.record("http.response.status_code", code);
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            code,
        })
        .inc();
    metrics
        .request_duration
        .get_or_create(&RouteLabels { route, method })
        .observe(elapsed);
    let mut response = result?;
    if !trace_id.is_empty()
        && let Ok(value) = HeaderValue::from_str(&trace_id)
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-trace-id"), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_routes_collapse_to_one_label() {
        assert_eq!(route_label(Some("/v1/predict")), "/v1/predict");
        assert_eq!(route_label(Some("/users/{id}")), "unmatched");
        assert_eq!(route_label(None), "unmatched");
    }

    #[test]
    fn routes_are_read_from_the_path_without_asking_the_router() {
        use actix_web::test::TestRequest;
        let route = |uri: &str| request_route(&TestRequest::with_uri(uri).to_srv_request());
        assert_eq!(route("/v1/predict"), "/v1/predict");
        assert_eq!(route("/v1/predict/batch?x=1"), "/v1/predict/batch");
        assert_eq!(route("/v1/predict/"), "unmatched");
        assert_eq!(route("/users/7"), "unmatched");
    }
}
