//! The prediction pipeline without HTTP: fetch each user's features and, when the request
//! leaves merchant inputs open, the merchant's profile (or defaults), score on the model
//! thread, decide, record prediction metrics and a privacy-safe log line.

use std::sync::Arc;

use futures::future::join_all;
use opentelemetry::KeyValue;
use opentelemetry::trace::Span as _;

use crate::backend::model::{Scored, Thresholds};
use crate::backend::{Backend, BackendError};
use crate::core::coalesce::Coalescer;
use crate::core::feedback::PredictionLog;
use crate::core::request::ValidRequest;
use crate::core::schema::{Contribution, Prediction, RiskLevel, TopFeatures};
use crate::features::inputs::{DefaultedInputs, TRANSACTION_DEFAULTS, complete};
use crate::features::{FEATURE_NAMES, FeatureVector, engineer};
use crate::store::{FeatureStore, Lookup, LookupResult, MerchantLookup};
use crate::telemetry::metrics::{
    AmountLabels, CurrencyLabel, Decision, FloatCounter, Metrics, ModelLabels, PredictionLabels,
    StoreLabels,
};
use crate::telemetry::privacy::Pseudonymizer;
use crate::telemetry::trace::RequestTrace;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

/// Metric handles resolved once, so the hot path neither hashes label sets nor clones
/// label strings.
#[derive(Debug)]
struct Handles {
    /// Indexed by [`Decision`] order: approve, review, block.
    decisions: [Counter; 3],
    /// Amounts by decision, then by [`CurrencyLabel::index`].
    amounts: [Vec<FloatCounter>; 3],
    score: Histogram,
    /// Indexed by [`LookupResult`] order.
    lookups: [Counter; 5],
    lookup_duration: Histogram,
}

impl Handles {
    /// Counts one lookup of either profile; both go to the same store.
    fn record_lookup(&self, result: LookupResult, elapsed: std::time::Duration) {
        self.lookups[result as usize].inc();
        self.lookup_duration.observe(elapsed.as_secs_f64());
    }

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
        let amounts = |decision| {
            CurrencyLabel::all()
                .map(|currency| {
                    metrics
                        .transaction_amount
                        .get_or_create(&AmountLabels {
                            model: model.to_string(),
                            version: version.to_string(),
                            decision,
                            currency,
                        })
                        .clone()
                })
                .collect()
        };
        Self {
            decisions: [
                decision(Decision::approve),
                decision(Decision::review),
                decision(Decision::block),
            ],
            amounts: [
                amounts(Decision::approve),
                amounts(Decision::review),
                amounts(Decision::block),
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
    /// Names users in the prediction log line.
    pseudonyms: Pseudonymizer,
    /// `None` when instrumentation is switched off.
    handles: Option<Handles>,
    /// Recent predictions by transaction id, for joining feedback.
    log: PredictionLog,
}

impl Predictor {
    pub fn new(
        backend: Backend,
        store: Arc<FeatureStore>,
        pseudonyms: Pseudonymizer,
        metrics: &Metrics,
        instrument: bool,
        log: PredictionLog,
    ) -> Self {
        let metadata = backend.metadata();
        let handles = instrument.then(|| Handles::new(metrics, &metadata.name, &metadata.version));
        Self {
            backend,
            store,
            pseudonyms,
            handles,
            log,
        }
    }

    /// Recent predictions, for joining feedback.
    pub fn log(&self) -> &PredictionLog {
        &self.log
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn store(&self) -> &FeatureStore {
        &self.store
    }

    /// The prediction for one request, scored through this worker's `coalescer`. A
    /// sampled request gets `feature_fetch` and `inference` spans under its request span.
    pub async fn predict_one<'a>(
        &'a self,
        coalescer: &Coalescer,
        request: &'a ValidRequest<'a>,
        trace: &RequestTrace,
    ) -> Result<Prediction<'a>, BackendError> {
        let lookup = self.lookup(request, trace).await;
        let (row, defaulted) = self.engineer(request, &lookup);
        let scored = self
            .score(coalescer, std::slice::from_ref(&row), trace)
            .await?;
        let scored = scored
            .into_iter()
            .next()
            .ok_or_else(|| BackendError::Scoring("the model returned no score".into()))?;
        Ok(self.answer(request, &lookup, &row, defaulted, scored, trace))
    }

    /// Predictions in request order, looked up concurrently and scored together.
    pub async fn predict_batch<'a>(
        &'a self,
        coalescer: &Coalescer,
        requests: &'a [ValidRequest<'a>],
        trace: &RequestTrace,
    ) -> Result<Vec<Prediction<'a>>, BackendError> {
        let lookups = join_all(requests.iter().map(|r| self.lookup(r, trace))).await;
        let (rows, defaulted): (Vec<_>, Vec<_>) = requests
            .iter()
            .zip(&lookups)
            .map(|(request, lookup)| self.engineer(request, lookup))
            .unzip();
        let scored = self.score(coalescer, &rows, trace).await?;
        Ok(requests
            .iter()
            .zip(&lookups)
            .zip(rows.iter().zip(defaulted))
            .zip(scored)
            .map(|(((request, lookup), (row, defaulted)), scored)| {
                self.answer(request, lookup, row, defaulted, scored, trace)
            })
            .collect())
    }

    /// Fraud probabilities of rows of model inputs given as they are (the Open Inference
    /// Protocol's tensor), with the same score and decision metrics as a transaction.
    pub async fn score_rows(
        &self,
        coalescer: &Coalescer,
        rows: &[FeatureVector],
        trace: &RequestTrace,
    ) -> Result<Vec<f32>, BackendError> {
        let scored = self.score(coalescer, rows, trace).await?;
        let thresholds = self.backend.metadata().thresholds;
        Ok(scored
            .into_iter()
            .map(|scored| {
                if let Some(handles) = &self.handles {
                    handles.score.observe(f64::from(scored.probability));
                    handles.decisions[decide(scored.probability, thresholds) as usize].inc();
                }
                scored.probability
            })
            .collect())
    }

    /// The model input of a request: its transaction completed from the merchant's
    /// profile and the defaults, with the user's stored features, or the population's
    /// when the lookup found none; and which inputs were defaulted.
    fn engineer(
        &self,
        request: &ValidRequest<'_>,
        lookup: &Profiles,
    ) -> (FeatureVector, DefaultedInputs) {
        let population = &self.backend.metadata().population_defaults;
        let user = lookup.user.features.as_ref().unwrap_or(population);
        let merchant = lookup.merchant.and_then(|m| m.profile);
        let (transaction, mut defaulted) = complete(
            &request.inputs,
            user,
            merchant.as_ref(),
            &TRANSACTION_DEFAULTS,
        );
        if lookup.user.features.is_none() {
            defaulted.insert(DefaultedInputs::USER_PROFILE);
        }
        (engineer(&transaction, user), defaulted)
    }

    async fn score(
        &self,
        coalescer: &Coalescer,
        rows: &[FeatureVector],
        trace: &RequestTrace,
    ) -> Result<Vec<Scored>, BackendError> {
        let _span = trace.child("inference", || {
            vec![
                KeyValue::new("rows", rows.len() as i64),
                KeyValue::new("device", self.backend.device()),
            ]
        });
        coalescer.score(rows).await
    }

    /// Decides on a scored request, records the prediction metrics and the privacy-safe
    /// log line, and builds the answer.
    fn answer<'a>(
        &'a self,
        request: &'a ValidRequest<'a>,
        lookup: &Profiles,
        row: &FeatureVector,
        defaulted_inputs: DefaultedInputs,
        scored: Scored,
        trace: &RequestTrace,
    ) -> Prediction<'a> {
        let metadata = self.backend.metadata();
        let probability = scored.probability;
        let decision = decide(probability, metadata.thresholds);
        if let Some(handles) = &self.handles {
            handles.score.observe(f64::from(probability));
            handles.decisions[decision as usize].inc();
            let currency = CurrencyLabel::of(request.currency.as_deref());
            handles.amounts[decision as usize][currency.index()].inc_by(request.inputs.amount);
        }
        if let Some(id) = request.transaction_id.as_deref() {
            self.log.record(id, probability);
        }
        let defaulted = lookup.user.features.is_none();
        tracing::debug!(
            trace_id = %trace.trace_id,
            user = %self.pseudonyms.pseudonym(&request.user_id),
            score = probability,
            decision = ?decision,
            features_defaulted = defaulted,
            "prediction"
        );
        let contributions = scored.contributions.unwrap_or_default();
        let top_features =
            TopFeatures::largest(contributions.iter().enumerate().map(|(i, contribution)| {
                Contribution {
                    feature: FEATURE_NAMES[i],
                    value: row[i],
                    contribution: *contribution,
                }
            }));
        Prediction {
            transaction_id: request.transaction_id.as_deref(),
            decision,
            fraud_probability: probability,
            risk_level: risk_level(probability, metadata.thresholds),
            model: &metadata.name,
            model_version: &metadata.version,
            top_features,
            features_defaulted: defaulted,
            feature_store_result: lookup.user.result,
            defaulted_inputs,
            latency_ms: 0.0,
            trace_id: trace.trace_id,
        }
    }

    /// The user's profile and, when the request leaves merchant inputs open, the
    /// merchant's, looked up at the same time.
    async fn lookup(&self, request: &ValidRequest<'_>, trace: &RequestTrace) -> Profiles {
        let mut span = trace.child("feature_fetch", || {
            vec![KeyValue::new("store", self.store.kind())]
        });
        let (user, merchant) = match request.merchant_id.as_deref() {
            Some(merchant_id) if request.needs_merchant() => {
                let (user, merchant) = futures::join!(
                    self.store.fetch(&request.user_id),
                    self.store.fetch_merchant(merchant_id)
                );
                (user, Some(merchant))
            }
            _ => (self.store.fetch(&request.user_id).await, None),
        };
        if let Some(span) = &mut span {
            span.set_attribute(KeyValue::new("result", user.result.as_str()));
            if let Some(merchant) = &merchant {
                span.set_attribute(KeyValue::new("merchant_result", merchant.result.as_str()));
            }
        }
        if let Some(handles) = &self.handles {
            handles.record_lookup(user.result, user.elapsed);
            if let Some(merchant) = &merchant {
                handles.record_lookup(merchant.result, merchant.elapsed);
            }
        }
        Profiles { user, merchant }
    }
}

/// What the feature store answered for one request.
#[derive(Debug, Clone)]
struct Profiles {
    user: Lookup,
    /// `None` when the request did not need the merchant's profile.
    merchant: Option<MerchantLookup>,
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
