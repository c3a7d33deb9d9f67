//! JSON parsing that names the offending field, the borrowed string type of request
//! bodies, and the prediction answers. The request shapes are in
//! [`request`](super::request). No I/O and no HTTP; error bodies belong to the server.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};

use crate::features::inputs::DefaultedInputs;
use crate::store::LookupResult;
use crate::telemetry::metrics::Decision;
use crate::telemetry::trace::TraceHex;

/// Largest amount accepted, in the transaction's currency.
pub const MAX_AMOUNT: f64 = 1_000_000.0;
/// Longest accepted identifier.
pub const MAX_ID_LEN: usize = 128;

/// A JSON string of a request: borrowed from the body when it holds no escapes, so a
/// request's identifiers cost no allocation; copied when it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        deserializer.deserialize_str(Visitor).map(Text)
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
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
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FieldError> {
    // Tracking the path costs time on every value; only a failed parse needs it.
    serde_json::from_slice(body).or_else(|_| parse_with_path(body))
}

fn parse_with_path<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FieldError> {
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
        .or_else(|| message.strip_prefix("duplicate field `"))
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
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

impl RiskLevel {
    /// The name in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// A feature that pushed the score up, and by how much.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Contribution {
    pub feature: &'static str,
    pub value: f32,
    pub contribution: f32,
}

/// The largest contributions of one answer, largest first: at most [`TOP_FEATURES`],
/// kept inline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TopFeatures {
    items: [Contribution; TOP_FEATURES],
    len: usize,
}

/// Contributions listed in a response.
pub const TOP_FEATURES: usize = 3;

impl TopFeatures {
    /// The positive contributions among `candidates`, largest first, at most
    /// [`TOP_FEATURES`] of them.
    pub fn largest(candidates: impl IntoIterator<Item = Contribution>) -> Self {
        let mut top = Self::default();
        for candidate in candidates {
            if candidate.contribution.is_nan() || candidate.contribution <= 0.0 {
                continue;
            }
            // Insertion into a short sorted array: the new value's rank among those kept.
            let rank = top.items[..top.len]
                .iter()
                .position(|kept| candidate.contribution > kept.contribution)
                .unwrap_or(top.len);
            if rank == TOP_FEATURES {
                continue;
            }
            let end = (top.len + 1).min(TOP_FEATURES);
            top.items.copy_within(rank..end - 1, rank + 1);
            top.items[rank] = candidate;
            top.len = end;
        }
        top
    }

    pub fn as_slice(&self) -> &[Contribution] {
        &self.items[..self.len]
    }
}

impl Serialize for TopFeatures {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.as_slice())
    }
}

/// The answer for one transaction, borrowing what it echoes from the request and the
/// model.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<&'a str>,
    pub decision: Decision,
    pub fraud_probability: f32,
    pub risk_level: RiskLevel,
    pub model: &'a str,
    pub model_version: &'a str,
    pub top_features: TopFeatures,
    /// True when the user's features were unavailable and population defaults were used.
    pub features_defaulted: bool,
    pub feature_store_result: LookupResult,
    /// The model inputs that came from population defaults.
    pub defaulted_inputs: DefaultedInputs,
    /// Server time for the request, from the handler receiving it to the answer written.
    pub latency_ms: f64,
    pub trace_id: TraceHex,
}

/// The answer for a batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchPrediction<'a> {
    pub predictions: Vec<Prediction<'a>>,
    pub trace_id: TraceHex,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_features_keep_the_largest_positive_contributions_in_order() {
        let c = |feature, contribution| Contribution {
            feature,
            value: 1.0,
            contribution,
        };
        let top = TopFeatures::largest([
            c("a", 0.1),
            c("b", -0.5),
            c("c", 0.4),
            c("d", f32::NAN),
            c("e", 0.2),
            c("f", 0.3),
            c("g", 0.0),
            c("h", 0.3),
        ]);
        let names: Vec<_> = top.as_slice().iter().map(|c| c.feature).collect();
        assert_eq!(names, ["c", "f", "h"], "ties keep their input order");
        assert!(TopFeatures::largest([c("a", -1.0)]).as_slice().is_empty());
        assert_eq!(
            serde_json::to_string(&TopFeatures::largest([c("a", 0.5)])).unwrap(),
            r#"[{"feature":"a","value":1.0,"contribution":0.5}]"#
        );
    }
}
