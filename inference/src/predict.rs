//! The prediction pipeline without HTTP: fetch each user's features (or defaults), score
//! on the model thread, decide, record prediction metrics and a privacy-safe log line.

use std::sync::Arc;

use futures::future::join_all;
use opentelemetry::KeyValue;
use opentelemetry::trace::Span as _;

use crate::backend::{Backend, BackendError};
use crate::coalesce::Coalescer;
use crate::features::{FEATURE_NAMES, engineer};
use crate::metrics::{Decision, Metrics, ModelLabels, PredictionLabels, StoreLabels};
use crate::model::Thresholds;
use crate::privacy::pseudonymize;
use crate::schema::{Contribution, Prediction, RiskLevel, ValidRequest};
use crate::store::{FeatureStore, Lookup, LookupResult};
use crate::trace::RequestTrace;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

/// Contributions listed in a response.
const TOP_FEATURES: usize = 3;

/// Metric handles resolved once, so the hot path neither hashes label sets nor clones
/// label strings.
#[derive(Debug)]
struct Handles {
    /// Indexed by [`Decision`] order: approve, review, block.
    decisions: [Counter; 3],
    score: Histogram,
    /// Indexed by [`LookupResult`] order.
    lookups: [Counter; 5],
    lookup_duration: Histogram,
}

impl Handles {
    fn new(metrics: &Metrics, model: &str, version: &str) -> Self {
        let decision = |decision| {
            metrics
                .predictions
                .get_or_create(&PredictionLabels {
                    model: model.to_string(),
                    version: version.to_string(),
                    decision,
                })
                .clone()
        };
        let lookup = |result| {
            metrics
                .store_requests
                .get_or_create(&StoreLabels { result })
                .clone()
        };
        Self {
            decisions: [
                decision(Decision::approve),
                decision(Decision::review),
                decision(Decision::block),
            ],
            score: metrics
                .prediction_score
                .get_or_create(&ModelLabels {
                    model: model.to_string(),
                    version: version.to_string(),
                })
                .clone(),
            lookups: [
                lookup(LookupResult::hit),
                lookup(LookupResult::miss),
                lookup(LookupResult::error),
                lookup(LookupResult::timeout),
                lookup(LookupResult::skipped),
            ],
            lookup_duration: metrics.store_duration.clone(),
        }
    }
}

/// Scores validated requests end to end.
#[derive(Debug)]
pub struct Predictor {
    backend: Backend,
    store: Arc<FeatureStore>,
    /// `None` when instrumentation is switched off.
    handles: Option<Handles>,
}

impl Predictor {
    pub fn new(
        backend: Backend,
        store: Arc<FeatureStore>,
        metrics: &Metrics,
        instrument: bool,
    ) -> Self {
        let metadata = backend.metadata();
        let handles = instrument.then(|| Handles::new(metrics, &metadata.name, &metadata.version));
        Self {
            backend,
            store,
            handles,
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn store(&self) -> &FeatureStore {
        &self.store
    }

    /// Predictions in request order, scored through this worker's `coalescer`. Sampled
    /// requests get `feature_fetch` and `inference` spans under their request span.
    pub async fn predict(
        &self,
        coalescer: &Coalescer,
        requests: Vec<ValidRequest>,
        trace: &RequestTrace,
    ) -> Result<Vec<Prediction>, BackendError> {
        let lookups = join_all(requests.iter().map(|r| self.lookup(&r.user_id, trace))).await;
        let defaults = &self.backend.metadata().population_defaults;
        let rows = requests
            .iter()
            .zip(&lookups)
            .map(|(r, l)| engineer(&r.transaction, l.features.as_ref().unwrap_or(defaults)))
            .collect::<Vec<_>>();
        let span = trace.child("inference", || {
            vec![
                KeyValue::new("rows", rows.len() as i64),
                KeyValue::new("device", self.backend.device()),
            ]
        });
        let scored = coalescer.score(rows.clone()).await?;
        drop(span);

        let metadata = self.backend.metadata();
        let mut predictions = Vec::with_capacity(requests.len());
        for (((request, lookup), row), scored) in
            requests.into_iter().zip(lookups).zip(rows).zip(scored)
        {
            let probability = scored.probability;
            let decision = decide(probability, metadata.thresholds);
            if let Some(handles) = &self.handles {
                handles.score.observe(f64::from(probability));
                handles.decisions[decision as usize].inc();
            }
            let defaulted = lookup.features.is_none();
            tracing::debug!(
                trace_id = trace.trace_id,
                user = %pseudonymize(&request.user_id),
                score = probability,
                decision = ?decision,
                features_defaulted = defaulted,
                "prediction"
            );
            let mut top: Vec<Contribution> = scored
                .contributions
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0.0)
                .map(|(i, c)| Contribution {
                    feature: FEATURE_NAMES[i],
                    value: row[i],
                    contribution: *c,
                })
                .collect();
            top.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
            top.truncate(TOP_FEATURES);
            predictions.push(Prediction {
                transaction_id: request.transaction_id,
                decision,
                fraud_probability: probability,
                risk_level: risk_level(probability, metadata.thresholds),
                model: metadata.name.clone(),
                model_version: metadata.version.clone(),
                top_features: top,
                features_defaulted: defaulted,
                feature_store_result: lookup.result,
                trace_id: trace.trace_id.clone(),
            });
        }
        Ok(predictions)
    }

    async fn lookup(&self, user_id: &str, trace: &RequestTrace) -> Lookup {
        let mut span = trace.child("feature_fetch", || {
            vec![KeyValue::new("store", self.store.kind())]
        });
        let lookup = self.store.fetch(user_id).await;
        if let Some(span) = &mut span {
            span.set_attribute(KeyValue::new("result", format!("{:?}", lookup.result)));
        }
        if let Some(handles) = &self.handles {
            handles.lookups[lookup.result as usize].inc();
            handles
                .lookup_duration
                .observe(lookup.elapsed.as_secs_f64());
        }
        lookup
    }
}

/// Approve below `review`, review below `block`, else block.
pub fn decide(probability: f32, thresholds: Thresholds) -> Decision {
    if probability >= thresholds.block {
        Decision::block
    } else if probability >= thresholds.review {
        Decision::review
    } else {
        Decision::approve
    }
}

fn risk_level(probability: f32, thresholds: Thresholds) -> RiskLevel {
    if probability >= thresholds.block {
        RiskLevel::Critical
    } else if probability >= thresholds.review {
        RiskLevel::High
    } else if probability >= thresholds.review / 3.0 {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive() {
        let t = Thresholds {
            review: 0.3,
            block: 0.7,
        };
        assert_eq!(decide(0.29, t), Decision::approve);
        assert_eq!(decide(0.3, t), Decision::review);
        assert_eq!(decide(0.7, t), Decision::block);
        assert_eq!(risk_level(0.05, t), RiskLevel::Low);
        assert_eq!(risk_level(0.15, t), RiskLevel::Medium);
    }
}
