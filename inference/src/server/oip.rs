//! The Open Inference Protocol (v2) REST routes that KServe, Triton and MLServer speak:
//! server and model health, model metadata, and inference on the model's FP32 input
//! tensor. Every failure answers the protocol's `{"error": "..."}` body. Thin adapters:
//! the tensor checks are in `core::tensor`, scoring in the predictor.

use std::sync::atomic::Ordering;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Data, Path};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::routes::{admit, request_trace};
use crate::core::coalesce::Coalescer;
use crate::core::tensor::{self, DATATYPE, INPUT_NAME, OUTPUT_NAME};
use crate::features::FEATURE_COUNT;

/// The header of the binary tensor data extension: the length of the JSON part.
const HEADER_LENGTH: &str = "inference-header-content-length";

/// A failure in the protocol's shape: a status and one message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct OipError {
    status: StatusCode,
    message: String,
}

impl OipError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<ApiError> for OipError {
    fn from(error: ApiError) -> Self {
        let status = error.status_code();
        let message = match &error {
            ApiError::Model(_) => "the model failed to score the request".to_string(),
            other => other.to_string(),
        };
        Self { status, message }
    }
}

impl ResponseError for OipError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            response.force_close();
        }
        response.json(json!({ "error": self.message }))
    }
}

/// The served model's name, or the protocol's 404 for any other.
fn check_model(state: &AppState, name: &str) -> Result<(), OipError> {
    let served = &state.predictor.backend().metadata().name;
    if name == served {
        Ok(())
    } else {
        Err(OipError::not_found(format!(
            "unknown model `{name}`; this server serves `{served}`"
        )))
    }
}

fn check_version(state: &AppState, version: &str) -> Result<(), OipError> {
    let metadata = state.predictor.backend().metadata();
    if version == metadata.version {
        Ok(())
    } else {
        Err(OipError::not_found(format!(
            "unknown version `{version}` of model `{}`; the served version is `{}`",
            metadata.name, metadata.version
        )))
    }
}

fn is_ready(state: &AppState) -> bool {
    state.ready.load(Ordering::Relaxed)
}

/// `GET /v2`: the server's name, version and protocol extensions.
pub async fn server_metadata() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "name": "tidewatch-inference",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
}

/// `GET /v2/health/live`.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "live": true }))
}

/// `GET /v2/health/ready`: 200 once warm, 503 before and during shutdown.
pub async fn ready(state: Data<AppState>) -> HttpResponse {
    let ready = is_ready(&state);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status).json(json!({ "ready": ready }))
}

/// `GET /v2/models/{name}`: the tensors the model takes and gives.
pub async fn model_metadata(
    state: Data<AppState>,
    name: Path<String>,
) -> Result<HttpResponse, OipError> {
    check_model(&state, &name)?;
    Ok(metadata_answer(&state))
}

/// `GET /v2/models/{name}/versions/{version}`.
pub async fn version_metadata(
    state: Data<AppState>,
    path: Path<(String, String)>,
) -> Result<HttpResponse, OipError> {
    let (name, version) = path.into_inner();
    check_model(&state, &name)?;
    check_version(&state, &version)?;
    Ok(metadata_answer(&state))
}

fn metadata_answer(state: &AppState) -> HttpResponse {
    let metadata = state.predictor.backend().metadata();
    let features = FEATURE_COUNT as i64;
    HttpResponse::Ok().json(json!({
        "name": metadata.name,
        "versions": [metadata.version],
        "platform": "candle",
        "inputs": [{"name": INPUT_NAME, "datatype": DATATYPE, "shape": [-1, features]}],
        "outputs": [{"name": OUTPUT_NAME, "datatype": DATATYPE, "shape": [-1, 1]}],
        "parameters": {"feature_names": metadata.feature_names},
    }))
}

/// `GET /v2/models/{name}/ready`.
pub async fn model_ready(
    state: Data<AppState>,
    name: Path<String>,
) -> Result<HttpResponse, OipError> {
    check_model(&state, &name)?;
    let ready = is_ready(&state);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(HttpResponse::build(status).json(json!({ "name": name.as_str(), "ready": ready })))
}

/// `POST /v2/models/{name}/infer`: one probability per input row, as an `[N, 1]` FP32
/// tensor. Admission, body limits and fault injection are those of `/v1/predict`.
pub async fn infer(
    state: Data<AppState>,
    coalescer: Data<Coalescer>,
    req: HttpRequest,
    name: Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, OipError> {
    check_model(&state, &name)?;
    check_content_type(&req)?;
    let (_admitted, body) = admit(&state, &req, payload, false).await?;
    let header_length = match req.headers().get(HEADER_LENGTH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    OipError::bad_request("Inference-Header-Content-Length: not a byte count")
                })?,
        ),
    };
    let bad = |e: tensor::TensorError| OipError::bad_request(e.0);
    let (header, binary) = tensor::split_body(&body, header_length).map_err(bad)?;
    let request = tensor::parse(header).map_err(bad)?;
    let rows = tensor::rows(&request, binary, state.max_batch_size).map_err(bad)?;
    let trace = request_trace(&req);
    let probabilities = state
        .predictor
        .score_rows(&coalescer, &rows, &trace)
        .await
        .map_err(|e| OipError::from(ApiError::Model(e)))?;
    let metadata = state.predictor.backend().metadata();
    let mut answer = json!({
        "model_name": metadata.name,
        "model_version": metadata.version,
        "outputs": [{
            "name": OUTPUT_NAME,
            "datatype": DATATYPE,
            "shape": [probabilities.len(), 1],
            "data": probabilities,
        }],
    });
    if let Some(id) = request.id {
        answer["id"] = json!(id);
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// JSON, or the octet stream of the binary extension; clients that send no type are
/// taken at their word.
fn check_content_type(req: &HttpRequest) -> Result<(), OipError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/json" || media == "application/octet-stream" {
        Ok(())
    } else {
        Err(OipError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!(
                "content type `{media}` is not supported; send application/json or \
                 application/octet-stream"
            ),
        })
    }
}
