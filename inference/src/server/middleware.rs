//! Per-request instrumentation: the trace (a request span joined to a W3C parent when
//! sampled) handed to handlers, in-flight and RED metrics by route, and the log line of
//! a failed request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage};

use super::error::ApiError;
use super::{AppState, OIP_INFER_PATH, ROUTES};
use crate::telemetry::trace::{self, RequestTrace};

/// Routes by pattern; anything else is `unmatched` so labels stay bounded.
fn route_label(pattern: Option<&str>) -> &'static str {
    pattern.and_then(known_route).unwrap_or("unmatched")
}

/// The route label of a registered pattern.
fn known_route(pattern: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .find(|route| route.pattern == pattern)
        .map(|route| route.pattern)
}

/// The request's route label. Asking actix for the matched pattern walks the route table
/// and allocates, so that is left to paths that are not a route verbatim (404s, odd
/// encodings).
fn request_route(req: &ServiceRequest) -> &'static str {
    let path = req.path();
    known_route(path)
        .or_else(|| oip_infer_route(path))
        .unwrap_or_else(|| route_label(req.match_pattern().as_deref()))
}

/// The label of `/v2/models/<name>/infer`, read from the path's shape: a pattern with a
/// `{...}` segment costs actix a regex match per route it tries, which was about a third of
/// that route's CPU when the router was asked again here.
fn oip_infer_route(path: &str) -> Option<&'static str> {
    let name = path.strip_prefix("/v2/models/")?.strip_suffix("/infer")?;
    (!name.is_empty() && !name.contains('/')).then_some(OIP_INFER_PATH)
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
    let decision = trace::head_sample(req.headers(), state.trace_sample_ratio);
    if !state.instrument {
        let trace_id = decision.trace_id;
        req.extensions_mut()
            .insert(RequestTrace::unsampled(trace_id));
        let response = next.call(req).await?;
        log_failure(&response, trace_id.as_str());
        return Ok(response);
    }
    let route = request_route(&req);
    let method = method_label(req.method());
    let trace = state.tracer.start(decision, req.headers(), method, route);
    req.extensions_mut().insert(trace.clone());

    let in_flight = &state.metrics.in_flight;
    in_flight.inc();
    let started = Instant::now();
    let result = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    in_flight.dec();
    let code = match &result {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.as_response_error().status_code().as_u16(),
    };
    trace.end(code);
    state.request_metrics.record(route, method, code, elapsed);
    let mut response = result?;
    log_failure(&response, trace.trace_id.as_str());
    if !trace.trace_id.is_empty()
        && let Ok(value) = HeaderValue::from_str(trace.trace_id.as_str())
    {
        response.headers_mut().insert(TRACE_ID_HEADER, value);
    }
    Ok(response)
}

const TRACE_ID_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// Logs a handler's error with the request's trace id; the error's own response is
/// built without it.
fn log_failure<B>(response: &ServiceResponse<B>, trace_id: &str) {
    if let Some(error) = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        error.log(trace_id);
    }
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
        assert_eq!(route("/v2/models/fraud-mlp/infer"), OIP_INFER_PATH);
        assert_eq!(route("/v2/models/other/infer?x=1"), OIP_INFER_PATH);
        assert_eq!(route("/v2/models//infer"), "unmatched");
        assert_eq!(route("/v2/models/a/b/infer"), "unmatched");
        // A pattern's label is the pattern, never the path.
        let debug = "/debug/populate-cache/someone";
        assert_eq!(
            route_label(Some(super::super::POPULATE_CACHE_PATH)),
            super::super::POPULATE_CACHE_PATH
        );
        assert_eq!(known_route(debug), None);
    }
}
