//! Request handlers: thin adapters from HTTP to the predictor, the model summary, health,
//! readiness and the metrics page.

use std::sync::atomic::Ordering;
use std::time::Instant;

use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut, Data};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde_json::json;

use super::AppState;
use super::answer_json;
use super::error::ApiError;
use crate::core::admission::{AdmissionPermit, BodyBytes};
use crate::core::coalesce::Coalescer;
use crate::core::request::{BatchRequest, PredictRequest};
use crate::core::schema::{self, BatchPrediction, FieldError};
use crate::telemetry::metrics::{CONTENT_TYPE, DriftLabels};
use crate::telemetry::trace::RequestTrace;

pub async fn predict(
    state: Data<AppState>,
    coalescer: Data<Coalescer>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let (_admitted, body) = admit(&state, &req, payload, true).await?;
    let request: PredictRequest<'_> = schema::parse(&body).map_err(ApiError::Malformed)?;
    let valid = request.validate("").map_err(ApiError::Invalid)?;
    let trace = request_trace(&req);
    let mut prediction = state
        .predictor
        .predict_one(&coalescer, &valid, &trace)
        .await?;
    prediction.latency_ms = milliseconds_since(started);
    let mut body = Vec::with_capacity(answer_json::ANSWER_BYTES);
    answer_json::prediction(&mut body, &prediction);
    Ok(json_ok(body))
}

pub async fn predict_batch(
    state: Data<AppState>,
    coalescer: Data<Coalescer>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let (_admitted, body) = admit(&state, &req, payload, true).await?;
    let batch: BatchRequest<'_> = schema::parse(&body).map_err(ApiError::Malformed)?;
    let count = batch.transactions.len();
    if count == 0 || count > state.max_batch_size {
        return Err(ApiError::Invalid(FieldError::new(
            "transactions",
            format!(
                "must hold 1 to {} transactions, got {count}",
                state.max_batch_size
            ),
        )));
    }
    let valid = batch
        .transactions
        .into_iter()
        .enumerate()
        .map(|(i, t)| t.validate(&format!("transactions[{i}].")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::Invalid)?;
    let trace = request_trace(&req);
    let mut predictions = state
        .predictor
        .predict_batch(&coalescer, &valid, &trace)
        .await?;
    let latency_ms = milliseconds_since(started);
    for prediction in &mut predictions {
        prediction.latency_ms = latency_ms;
    }
    let mut body = Vec::with_capacity(count * answer_json::ANSWER_BYTES);
    answer_json::batch(
        &mut body,
        &BatchPrediction {
            predictions,
            trace_id: trace.trace_id,
        },
    );
    Ok(json_ok(body))
}

/// Time since `started` in milliseconds, to the microsecond: finer digits would be noise.
fn milliseconds_since(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// A 200 with a JSON body.
fn json_ok(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ContentType::json())
        .body(body)
}

pub async fn model(state: Data<AppState>) -> HttpResponse {
    let backend = state.predictor.backend();
    let metadata = backend.metadata();
    HttpResponse::Ok().json(json!({
        "name": metadata.name,
        "version": metadata.version,
        "device": backend.device(),
        "features": metadata.feature_names,
        "thresholds": metadata.thresholds,
        "quality": metadata.quality,
        "feature_store": state.predictor.store().kind(),
        "ready": state.ready.load(Ordering::Relaxed),
    }))
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "alive" }))
}

pub async fn readyz(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.ready.load(Ordering::Relaxed) {
        Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::NotReady)
    }
}

pub async fn metrics(state: Data<AppState>) -> HttpResponse {
    state.refresh_gauges();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .body(state.metrics.encode())
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

impl AppState {
    /// Gauges computed at scrape time: drift PSI and the breaker state.
    pub fn refresh_gauges(&self) {
        let metadata = self.predictor.backend().metadata();
        let drift = self
            .drift
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (feature, psi) in drift.psi(self.drift_min_samples) {
            self.metrics
                .drift_psi
                .get_or_create(&DriftLabels {
                    model: metadata.name.clone(),
                    feature: feature.to_string(),
                })
                .set(psi);
        }
        self.metrics
            .breaker_state
            .set(self.predictor.store().breaker_state().gauge_value());
        self.refresh_quality();
    }
}

/// The trace the middleware attached to this request; taken, since only the handler
/// needs it from here on.
pub(super) fn request_trace(req: &HttpRequest) -> RequestTrace {
    req.extensions_mut()
        .remove::<RequestTrace>()
        .unwrap_or_default()
}

/// What an admitted request holds until its handler returns: its admission permit and
/// its body's share of the body budget.
#[derive(Debug)]
pub(super) struct Admitted<'a> {
    _permit: AdmissionPermit<'a>,
    _body: BodyBytes<'a>,
}

/// What every prediction route does before parsing: read the size-limited body under the
/// body deadline (refusing other content types than JSON when `json_only`), then take an
/// admission permit (429 when none is free, rather than queueing), then apply any fault
/// injection. The body comes first so that a client sending slowly holds no permit: the
/// permits stay with requests that are ready to be scored.
pub(super) async fn admit<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    payload: web::Payload,
    json_only: bool,
) -> Result<(Admitted<'a>, Bytes), ApiError> {
    let (body_bytes, body) = read_body(state, req, payload, json_only).await?;
    let permit = state.admission.try_admit().ok_or(ApiError::Overloaded)?;
    inject_faults(state).await?;
    let admitted = Admitted {
        _permit: permit,
        _body: body_bytes,
    };
    Ok((admitted, body))
}

async fn inject_faults(state: &AppState) -> Result<(), ApiError> {
    if !state.faults.is_active() {
        return Ok(());
    }
    if !state.faults.latency().is_zero() {
        tokio::time::sleep(state.faults.latency()).await;
    }
    if state.faults.should_fail() {
        return Err(ApiError::InjectedFault);
    }
    Ok(())
}

/// Reads the body up to the configured limit, within the body deadline and the body
/// budget; refuses non-JSON content types early when `json_only`. The returned share of
/// the budget must be held as long as the body.
pub(super) async fn read_body<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    payload: web::Payload,
    json_only: bool,
) -> Result<(BodyBytes<'a>, Bytes), ApiError> {
    if json_only && let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let limit = state.max_body_bytes;
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && length > limit
    {
        return Err(ApiError::TooLarge { limit });
    }
    // The timer is armed only if the body is not there at the first poll.
    let (held, body) = tokio::time::timeout(state.body_timeout, collect_body(state, payload))
        .await
        .map_err(|_| ApiError::BodyTimeout {
            limit_ms: u64::try_from(state.body_timeout.as_millis()).unwrap_or(u64::MAX),
        })??;
    if body.is_empty() {
        return Err(ApiError::Malformed(FieldError::new(
            "body",
            "the request body is empty",
        )));
    }
    Ok((held, body))
}

/// The body's chunks as one buffer, each chunk counted against the size limit and taken
/// from the body budget as it arrives.
async fn collect_body<'a>(
    state: &'a AppState,
    mut payload: web::Payload,
) -> Result<(BodyBytes<'a>, Bytes), ApiError> {
    let limit = state.max_body_bytes;
    let mut held = BodyBytes::default();
    // A small body usually arrives as one chunk, which is kept as it is; only a body in
    // several chunks is copied into one buffer.
    let mut body = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::Body)?;
        let length = joined.as_ref().map_or(body.len(), BytesMut::len) + chunk.len();
        if length > limit {
            return Err(ApiError::TooLarge { limit });
        }
        if !state.body_budget.try_take(&mut held, chunk.len()) {
            return Err(ApiError::Overloaded);
        }
        match &mut joined {
            Some(buffer) => buffer.extend_from_slice(&chunk),
            None if body.is_empty() => body = chunk,
            None => {
                let mut buffer = BytesMut::with_capacity(length);
                buffer.extend_from_slice(&body);
                buffer.extend_from_slice(&chunk);
                joined = Some(buffer);
            }
        }
    }
    Ok((held, joined.map_or(body, BytesMut::freeze)))
}
