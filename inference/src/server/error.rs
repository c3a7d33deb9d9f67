//! HTTP errors: every failure maps to a status code and a JSON body naming the field and
//! the problem. Messages may echo client input back to the client; they are never logged.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::backend::BackendError;
use crate::core::feedback::Unmatched;
use crate::core::schema::FieldError;
use crate::store::OverlayFull;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    Malformed(FieldError),
    #[error("invalid request: {0}")]
    Invalid(FieldError),
    #[error("request body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("too many requests in flight")]
    Overloaded,
    #[error("the model is not ready")]
    NotReady,
    #[error("no such route")]
    NotFound,
    #[error("injected fault")]
    InjectedFault,
    #[error("the model failed")]
    Model(#[from] BackendError),
    #[error("cannot read the request body")]
    Body,
    #[error(
        "the request body did not arrive within {limit_ms} ms of its headers (--body-timeout-ms)"
    )]
    BodyTimeout { limit_ms: u64 },
    #[error(
        "the debug routes are off; start the server with --enable-debug-routes \
         (TIDEWATCH_ENABLE_DEBUG_ROUTES=true) to use them"
    )]
    DebugRoutesOff,
    #[error(transparent)]
    StoreFull(OverlayFull),
    #[error("the feature store did not take the write; try again")]
    StoreUnavailable,
    #[error(transparent)]
    Unmatched(#[from] crate::core::feedback::Unmatched),
}

impl ApiError {
    /// Stable code for clients and for the `code` field of the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_request",
            Self::Invalid(_) => "invalid_field",
            Self::TooLarge { .. } => "body_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Overloaded => "overloaded",
            Self::NotReady => "not_ready",
            Self::NotFound => "not_found",
            Self::InjectedFault => "injected_fault",
            Self::Model(_) => "model_error",
            Self::Body => "unreadable_body",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::DebugRoutesOff => "debug_routes_off",
            Self::StoreFull(_) => "feature_store_full",
            Self::StoreUnavailable => "feature_store_unavailable",
            Self::Unmatched(unmatched) => match unmatched {
                Unmatched::Unknown => "prediction_unknown",
                Unmatched::Expired => "prediction_expired",
                Unmatched::Duplicate => "feedback_duplicate",
            },
        }
    }

    /// Logs the failure of the request with `trace_id`: model failures as errors, refused
    /// requests at debug level, naming the field but never its value.
    pub fn log(&self, trace_id: &str) {
        if let Self::Model(error) = self {
            tracing::error!(trace_id, %error, "prediction failed");
        } else {
            tracing::debug!(
                trace_id,
                code = self.code(),
                field = self.field().as_deref(),
                "request refused"
            );
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Malformed(e) | Self::Invalid(e) => Some(e.field.clone()),
            Self::TooLarge { .. } | Self::Body | Self::BodyTimeout { .. } => Some("body".into()),
            Self::Unmatched(_) => Some("transaction_id".into()),
            _ => None,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Malformed(e) | Self::Invalid(e) => e.message.clone(),
            // Internal details stay in the server log.
            Self::Model(_) => "the model failed to score the request".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Malformed(_) | Self::Body => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            Self::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound | Self::DebugRoutesOff => StatusCode::NOT_FOUND,
            Self::StoreFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unmatched(Unmatched::Unknown) => StatusCode::NOT_FOUND,
            Self::Unmatched(Unmatched::Expired) => StatusCode::GONE,
            Self::Unmatched(Unmatched::Duplicate) => StatusCode::CONFLICT,
            Self::InjectedFault | Self::Model(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(
            self,
            Self::Overloaded | Self::NotReady | Self::StoreUnavailable
        ) {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if self.status_code() == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way; the connection cannot carry
            // another request after it.
            response.force_close();
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                field: self.field(),
                message: self.message(),
            },
        })
    }
}

/// The error body of every 4xx and 5xx answer.
#[derive(Debug, Clone, Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize)]
struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_field`.
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    message: String,
}
