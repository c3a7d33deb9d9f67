//! `POST /v1/feedback`: the true outcome of a transaction, joined to its recent
//! prediction, and the quality gauges computed over those labels at scrape time.

use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::routes::read_body;
use crate::core::predict::decide;
use crate::core::schema::{self, FieldError, MAX_ID_LEN, Text};
use crate::telemetry::metrics::{FeedbackLabels, ModelLabels, QualityLabels, UnmatchedLabels};

/// The true outcome of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Fraud,
    Legitimate,
}

impl Outcome {
    pub const ALL: [Self; 2] = [Self::Fraud, Self::Legitimate];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fraud => "fraud",
            Self::Legitimate => "legitimate",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackRequest<'a> {
    #[serde(borrow)]
    transaction_id: Text<'a>,
    outcome: Outcome,
}

pub async fn feedback(
    state: Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (_body_bytes, body) = read_body(&state, &req, payload, true).await?;
    let request: FeedbackRequest<'_> = schema::parse(&body).map_err(ApiError::Malformed)?;
    if request.transaction_id.is_empty() || request.transaction_id.len() > MAX_ID_LEN {
        return Err(ApiError::Invalid(FieldError::new(
            "transaction_id",
            format!("must be 1 to {MAX_ID_LEN} characters"),
        )));
    }
    let metadata = state.predictor.backend().metadata();
    let quality = &state.metrics.quality;
    let recorded = state
        .predictor
        .log()
        .label(&request.transaction_id)
        .inspect_err(|unmatched| {
            quality
                .unmatched
                .get_or_create(&UnmatchedLabels {
                    reason: unmatched.as_str(),
                })
                .inc();
        })?;
    let fraud = request.outcome == Outcome::Fraud;
    state
        .quality
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(recorded.probability, fraud);
    quality
        .feedback
        .get_or_create(&FeedbackLabels {
            model: metadata.name.clone(),
            version: metadata.version.clone(),
            outcome: request.outcome.as_str(),
        })
        .inc();
    Ok(HttpResponse::Ok().json(json!({
        "transaction_id": &*request.transaction_id,
        "outcome": request.outcome.as_str(),
        "fraud_probability": recorded.probability,
        "decision": decide(recorded.probability, metadata.thresholds).as_str(),
        "model_version": metadata.version,
    })))
}

impl AppState {
    /// Precision, recall and false-positive rate over the quality window, at both
    /// thresholds; NaN where a ratio has no denominator yet.
    pub fn refresh_quality(&self) {
        let metadata = self.predictor.backend().metadata();
        let quality = &self.metrics.quality;
        quality.pending.set(self.predictor.log().len() as i64);
        let window = self
            .quality
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        quality
            .window_labels
            .get_or_create(&ModelLabels {
                model: metadata.name.clone(),
                version: metadata.version.clone(),
            })
            .set(window.len() as i64);
        for (threshold, confusion) in window.confusion(metadata.thresholds) {
            let labels = QualityLabels {
                model: metadata.name.clone(),
                version: metadata.version.clone(),
                threshold,
            };
            quality
                .precision
                .get_or_create(&labels)
                .set(confusion.precision());
            quality
                .recall
                .get_or_create(&labels)
                .set(confusion.recall());
            quality
                .false_positive_rate
                .get_or_create(&labels)
                .set(confusion.false_positive_rate());
        }
    }
}
