//! Writes prediction answers as JSON. Every answer has the same shape, so the keys are
//! written as literals and only the values are formatted; serde's per-field path cost
//! more than scoring a request. Strings without characters JSON must escape (all but
//! hostile input) are copied as they are, the rest and every number go through
//! serde_json, so the bytes are what the derived `Serialize` impls write (a test holds
//! the two to each other).

use serde::Serialize;

use crate::core::schema::{BatchPrediction, Prediction};

/// Room for one answer (about 520 bytes with three top features, up to 600 with every
/// input defaulted), so writing it does not grow the buffer.
pub const ANSWER_BYTES: usize = 640;

/// One prediction as a JSON object.
pub fn prediction(out: &mut Vec<u8>, answer: &Prediction<'_>) {
    out.push(b'{');
    if let Some(id) = answer.transaction_id {
        out.extend_from_slice(br#""transaction_id":"#);
        string(out, id);
        out.push(b',');
    }
    out.extend_from_slice(br#""decision":"#);
    string(out, answer.decision.as_str());
    out.extend_from_slice(br#","fraud_probability":"#);
    value(out, &answer.fraud_probability);
    out.extend_from_slice(br#","risk_level":"#);
    string(out, answer.risk_level.as_str());
    out.extend_from_slice(br#","model":"#);
    string(out, answer.model);
    out.extend_from_slice(br#","model_version":"#);
    string(out, answer.model_version);
    out.extend_from_slice(br#","top_features":["#);
    for (i, contribution) in answer.top_features.as_slice().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"feature":"#);
        string(out, contribution.feature);
        out.extend_from_slice(br#","value":"#);
        value(out, &contribution.value);
        out.extend_from_slice(br#","contribution":"#);
        value(out, &contribution.contribution);
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"features_defaulted":"#);
    out.extend_from_slice(if answer.features_defaulted {
        b"true"
    } else {
        b"false"
    });
    out.extend_from_slice(br#","feature_store_result":"#);
    string(out, answer.feature_store_result.as_str());
    out.extend_from_slice(br#","defaulted_inputs":["#);
    for (i, name) in answer.defaulted_inputs.names().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, name);
    }
    out.extend_from_slice(br#"],"latency_ms":"#);
    value(out, &answer.latency_ms);
    out.extend_from_slice(br#","trace_id":"#);
    string(out, answer.trace_id.as_str());
    out.push(b'}');
}

/// A batch answer as a JSON object.
pub fn batch(out: &mut Vec<u8>, answer: &BatchPrediction<'_>) {
    out.extend_from_slice(br#"{"predictions":["#);
    for (i, one) in answer.predictions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        prediction(out, one);
    }
    out.extend_from_slice(br#"],"trace_id":"#);
    string(out, answer.trace_id.as_str());
    out.push(b'}');
}

/// A JSON string: copied between quotes when nothing in it needs escaping (JSON escapes
/// only control characters, `"` and `\`), else written by serde_json.
fn string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        value(out, text);
    }
}

/// A value written by serde_json. Strings and numbers cannot fail to serialise, and a
/// `Vec` cannot fail to take bytes, so there is no error to report.
fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::{Contribution, RiskLevel, TopFeatures};
    use crate::features::FEATURE_NAMES;
    use crate::features::inputs::DefaultedInputs;
    use crate::store::LookupResult;
    use crate::telemetry::metrics::Decision;
    use crate::telemetry::trace::TraceHex;

    fn written(answer: &Prediction<'_>) -> String {
        let mut out = Vec::new();
        prediction(&mut out, answer);
        String::from_utf8(out).unwrap()
    }

    /// A different set of defaulted inputs for each `i` below 32.
    fn defaulted(i: usize) -> DefaultedInputs {
        let mut set = DefaultedInputs::default();
        for (bit, input) in [
            DefaultedInputs::USER_PROFILE,
            DefaultedInputs::MERCHANT_CATEGORY,
            DefaultedInputs::MERCHANT_COUNTRY,
            DefaultedInputs::CARD_PRESENT,
            DefaultedInputs::LOCAL_HOUR,
        ]
        .into_iter()
        .enumerate()
        {
            if i & (1 << bit) != 0 {
                set.insert(input);
            }
        }
        set
    }

    fn answers() -> Vec<Prediction<'static>> {
        let top = |n: usize, value: f32| {
            TopFeatures::largest((0..n).map(|i| Contribution {
                feature: FEATURE_NAMES[i],
                value: value * i as f32,
                contribution: 0.5 / (i + 1) as f32,
            }))
        };
        let decisions = [Decision::approve, Decision::review, Decision::block];
        let risks = [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Critical,
        ];
        let results = [
            LookupResult::hit,
            LookupResult::miss,
            LookupResult::error,
            LookupResult::timeout,
            LookupResult::skipped,
        ];
        let ids = [
            None,
            Some("tx-1"),
            Some("quote \" and backslash \\"),
            Some("control \u{1} tab \t newline \n"),
            Some("unicode é 漢字 / slash"),
            Some(""),
        ];
        let probabilities = [0.0, 1.0, 0.348_298_8, 1e-7, 0.999_999_9, f32::MIN_POSITIVE];
        (0..30)
            .map(|i| Prediction {
                transaction_id: ids[i % ids.len()],
                decision: decisions[i % 3],
                fraud_probability: probabilities[i % probabilities.len()],
                risk_level: risks[i % 4],
                model: if i % 2 == 0 {
                    "fraud-mlp"
                } else {
                    "odd \"name\""
                },
                model_version: "1.0.0",
                top_features: top(i % 4, 1.117_555_4 * i as f32 - 3.0),
                features_defaulted: i % 2 == 1,
                feature_store_result: results[i % 5],
                defaulted_inputs: defaulted(i),
                latency_ms: [0.0, 0.123, 12.5, 1e-4, 1234.567][i % 5],
                trace_id: if i % 3 == 0 {
                    TraceHex::EMPTY
                } else {
                    TraceHex::of(opentelemetry::trace::TraceId::from(i as u128 * 7919))
                },
            })
            .collect()
    }

    #[test]
    fn answers_are_written_as_serde_would_write_them() {
        for answer in answers() {
            let expected = serde_json::to_string(&answer).unwrap();
            assert_eq!(written(&answer), expected);
            let parsed: serde_json::Value = serde_json::from_str(&written(&answer)).unwrap();
            assert_eq!(parsed["transaction_id"].as_str(), answer.transaction_id);
        }
    }

    #[test]
    fn batches_are_written_as_serde_would_write_them() {
        for predictions in [Vec::new(), answers()] {
            let answer = BatchPrediction {
                predictions,
                trace_id: TraceHex::of(opentelemetry::trace::TraceId::from(42)),
            };
            let mut out = Vec::new();
            batch(&mut out, &answer);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&answer).unwrap()
            );
        }
    }

    #[test]
    fn an_answer_fits_the_buffer_it_is_given() {
        let answer = Prediction {
            transaction_id: Some("bench-transaction-000001"),
            decision: Decision::review,
            fraud_probability: 0.348_298_8,
            risk_level: RiskLevel::High,
            model: "fraud-mlp",
            model_version: "1.0.0",
            top_features: TopFeatures::largest(FEATURE_NAMES.iter().map(|&feature| Contribution {
                feature,
                value: 1.117_555_4,
                contribution: 0.256_459_18,
            })),
            features_defaulted: true,
            feature_store_result: LookupResult::hit,
            defaulted_inputs: defaulted(31),
            latency_ms: 123.456_789,
            trace_id: TraceHex::of(opentelemetry::trace::TraceId::from(u128::MAX)),
        };
        assert!(written(&answer).len() <= ANSWER_BYTES);
    }
}
