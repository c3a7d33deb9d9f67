//! The HTTP API's request and response bodies, JSON parsing that names the offending
//! field, and validation into domain types. No I/O.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::features::{MerchantCategory, Transaction};
use crate::metrics::Decision;
use crate::store::LookupResult;

/// Largest amount accepted, in the transaction's currency.
pub const MAX_AMOUNT: f64 = 1_000_000.0;
/// Longest accepted identifier.
pub const MAX_ID_LEN: usize = 128;

/// A transaction to score.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Echoed back; never logged.
    #[serde(default)]
    pub transaction_id: Option<String>,
    pub user_id: String,
    pub amount: f64,
    /// ISO 4217 code; informational.
    #[serde(default)]
    pub currency: Option<String>,
    pub merchant_category: MerchantCategory,
    /// ISO 3166 alpha-2 code of the merchant.
    pub merchant_country: String,
    pub card_present: bool,
    /// Hour of day at the card holder's location, 0-23.
    pub local_hour: u8,
}

/// Several transactions scored together.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub transactions: Vec<PredictRequest>,
}

/// A client error about one field: the JSON path (`amount`, `transactions[2].user_id`,
/// or `body` for the document itself) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses JSON, naming the path of the first problem.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, FieldError> {
    // Tracking the path costs time on every value; only a failed parse needs it.
    serde_json::from_slice(body).or_else(|_| parse_with_path(body))
}

fn parse_with_path<T: DeserializeOwned>(body: &[u8]) -> Result<T, FieldError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        let inner = error.into_inner();
        let message = match inner.classify() {
            serde_json::error::Category::Eof => "the JSON document ends early".to_string(),
            serde_json::error::Category::Syntax => format!("not valid JSON ({inner})"),
            _ => strip_position(&inner.to_string()),
        };
        // serde reports a missing or repeated field at its parent; name the field itself.
        let field = match named_field(&message) {
            Some(name) if field == "body" => name.to_string(),
            Some(name) => format!("{field}.{name}"),
            None => field,
        };
        FieldError::new(field, message)
    })?;
    deserializer
        .end()
        .map_err(|_| FieldError::new("body", "unexpected data after the JSON document"))?;
    Ok(value)
}

fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))?;
    rest.split('`').next()
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub transaction_id: Option<String>,
    pub user_id: String,
    pub transaction: Transaction,
}

impl PredictRequest {
    /// Checks ranges; `prefix` is prepended to field names (`transactions[3].`).
    pub fn validate(self, prefix: &str) -> Result<ValidRequest, FieldError> {
        let field = |name: &str| format!("{prefix}{name}");
        if let Some(id) = &self.transaction_id
            && (id.is_empty() || id.len() > MAX_ID_LEN)
        {
            return Err(FieldError::new(
                field("transaction_id"),
                format!("must be 1 to {MAX_ID_LEN} characters"),
            ));
        }
        if self.user_id.trim().is_empty() || self.user_id.len() > MAX_ID_LEN {
            return Err(FieldError::new(
                field("user_id"),
                format!("must be 1 to {MAX_ID_LEN} characters"),
            ));
        }
        if !self.amount.is_finite() || self.amount <= 0.0 {
            return Err(FieldError::new(
                field("amount"),
                "must be a positive number",
            ));
        }
        if self.amount > MAX_AMOUNT {
            return Err(FieldError::new(
                field("amount"),
                format!("must not exceed {MAX_AMOUNT}"),
            ));
        }
        if let Some(currency) = &self.currency
            && !is_upper_code(currency, 3)
        {
            return Err(FieldError::new(
                field("currency"),
                "must be a three-letter ISO 4217 code such as \"EUR\"",
            ));
        }
        if !is_upper_code(&self.merchant_country.to_ascii_uppercase(), 2) {
            return Err(FieldError::new(
                field("merchant_country"),
                "must be a two-letter ISO 3166 country code such as \"DE\"",
            ));
        }
        if self.local_hour > 23 {
            return Err(FieldError::new(
                field("local_hour"),
                "must be between 0 and 23",
            ));
        }
        Ok(ValidRequest {
            transaction_id: self.transaction_id,
            user_id: self.user_id,
            transaction: Transaction {
                amount: self.amount,
                merchant_category: self.merchant_category,
                merchant_country: self.merchant_country.to_ascii_uppercase(),
                card_present: self.card_present,
                local_hour: self.local_hour,
            },
        })
    }
}

fn is_upper_code(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_uppercase())
}

/// Coarse risk band of a probability, for people reading the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

/// A feature that pushed the score up, and by how much.
#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    pub feature: &'static str,
    pub value: f32,
    pub contribution: f32,
}

/// The answer for one transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    pub decision: Decision,
    pub fraud_probability: f32,
    pub risk_level: RiskLevel,
    pub model: String,
    pub model_version: String,
    pub top_features: Vec<Contribution>,
    /// True when the user's features were unavailable and population defaults were used.
    pub features_defaulted: bool,
    pub feature_store_result: LookupResult,
    pub trace_id: String,
}

/// The answer for a batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchPrediction {
    pub predictions: Vec<Prediction>,
    pub trace_id: String,
}

/// The error body of every 4xx and 5xx answer.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_field`.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{"user_id":"u1","amount":12.5,"merchant_category":"grocery","merchant_country":"DE","card_present":true,"local_hour":14}"#;

    #[test]
    fn valid_request_parses_and_validates() {
        let request: PredictRequest = parse(VALID.as_bytes()).unwrap();
        let valid = request.validate("").unwrap();
        assert_eq!(valid.transaction.merchant_country, "DE");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let body = VALID.replace("12.5", "\"12.5\"");
        let error = parse::<PredictRequest>(body.as_bytes()).unwrap_err();
        assert_eq!(error.field, "amount");
        assert!(error.message.contains("expected f64"), "{}", error.message);
    }

    #[test]
    fn nested_batch_path_is_named() {
        let body = format!(r#"{{"transactions":[{VALID},{{"user_id":"x"}}]}}"#);
        let error = parse::<BatchRequest>(body.as_bytes()).unwrap_err();
        assert_eq!(error.field, "transactions[1].amount");
        assert!(error.message.contains("missing field"), "{}", error.message);
    }

    #[test]
    fn negative_amount_is_refused() {
        let body = VALID.replace("12.5", "-3");
        let error = parse::<PredictRequest>(body.as_bytes())
            .unwrap()
            .validate("")
            .unwrap_err();
        assert_eq!(error.field, "amount");
    }

    #[test]
    fn trailing_garbage_is_refused() {
        let body = format!("{VALID} x");
        assert_eq!(
            parse::<PredictRequest>(body.as_bytes()).unwrap_err().field,
            "body"
        );
    }
}
