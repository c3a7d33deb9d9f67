//! Wiring of `serve`: telemetry, model, feature store, backend thread, GPU poller and the
//! HTTP server, started and stopped in order. Owns no logic of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Data;

use crate::backend::Backend;
use crate::backend::model::{self, FraudModel, ModelError, ModelMetadata};
use crate::config::ServeConfig;
use crate::core::admission::{Admission, BodyBudget};
use crate::core::fault::FaultInjector;
use crate::core::feedback::{PredictionLog, QualityWindow, Unmatched};
use crate::core::predict::Predictor;
use crate::server::feedback::Outcome;
use crate::server::request_metrics::RequestMetrics;
use crate::server::{self, AppState, ConnectionLimits, ServerSettings};
use crate::store::{FeatureStore, MemoryStore, RedisStore, RedisStoreError};
use crate::telemetry::drift::DriftMonitor;
use crate::telemetry::gpu::GpuPoller;
use crate::telemetry::metrics::{DeviceLabels, Metrics};
use crate::telemetry::privacy::{KeyTooShort, Pseudonymizer};
use crate::telemetry::report::with_sources;
use crate::telemetry::trace::RequestTracer;
use crate::telemetry::{self, TelemetryError, TelemetrySettings};

/// How long readiness waits for a remote feature store at start-up. Past it the server
/// goes ready anyway: a dead Redis must not keep every replica out of service.
const STORE_CONNECT_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    #[error("cannot load the model")]
    Model(#[from] ModelError),
    #[error("cannot read the Redis password file")]
    PasswordFile(#[source] std::io::Error),
    #[error(transparent)]
    Redis(#[from] RedisStoreError),
    #[error(transparent)]
    PseudonymKey(#[from] KeyTooShort),
    #[error("server I/O")]
    Io(#[from] std::io::Error),
}

/// Runs the server until a stop signal; flushes telemetry before returning.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let telemetry = telemetry::init(&TelemetrySettings {
        log_filter: config.log_filter.clone(),
        log_format: config.log_format,
        otlp_endpoint: config.otlp_endpoint.clone(),
        service_name: config.service_name.clone(),
    })?;
    let result = serve_with_telemetry(&config, telemetry.tracer()).await;
    if let Err(error) = &result {
        tracing::error!(error = with_sources(error), "server stopped with an error");
    }
    telemetry.shutdown(Duration::from_secs(5));
    tracing::info!("stopped");
    result
}

async fn serve_with_telemetry(
    config: &ServeConfig,
    tracer: RequestTracer,
) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::new());
    let instrument = !config.disable_instrumentation;
    let model = load_model(config, &metrics)?;
    let drift = Arc::new(Mutex::new(drift_monitor(
        model.metadata(),
        config.drift_window,
    )));
    let store = feature_store(config)?;
    let (backend, model_thread) =
        Backend::start(model, metrics.clone(), drift.clone(), instrument)?;
    let _gpu = GpuPoller::start(
        metrics.gpu.clone(),
        Duration::from_secs(config.gpu_poll_seconds.max(1)),
    );
    let state = Data::new(AppState {
        predictor: Predictor::new(
            backend,
            Arc::new(store),
            pseudonymizer(config)?,
            &metrics,
            instrument,
            PredictionLog::new(
                config.feedback_capacity,
                Duration::from_secs(config.feedback_ttl_seconds),
            ),
        ),
        quality: Mutex::new(QualityWindow::new(config.quality_window)),
        request_metrics: RequestMetrics::new(metrics.clone()),
        metrics,
        drift,
        admission: Admission::new(config.max_concurrency),
        body_budget: BodyBudget::new(
            config
                .max_concurrency
                .max(1)
                .saturating_mul(config.max_body_bytes),
        ),
        body_timeout: Duration::from_millis(config.body_timeout_ms.max(1)),
        ready: AtomicBool::new(false),
        faults: fault_injector(config),
        instrument,
        tracer,
        trace_sample_ratio: config.trace_sample_ratio.clamp(0.0, 1.0),
        max_body_bytes: config.max_body_bytes,
        max_batch_size: config.max_batch_size.max(1),
        drift_min_samples: config.drift_min_samples,
        debug_routes: config.enable_debug_routes,
        synthetic_seed: config.synthetic_seed,
    });
    if config.enable_debug_routes {
        tracing::warn!(
            "debug routes are on: POST /debug/populate-cache/{{user_id}} writes into the feature store"
        );
    }
    tokio::spawn(warm_up(state.clone()));

    let served = server::run(state.clone(), &server_settings(config)).await;
    state.predictor.store().close().await;
    // The model thread ends once the last backend handle (inside the state) is gone.
    drop(state);
    let _ = tokio::task::spawn_blocking(move || model_thread.join()).await;
    served.map_err(ServeError::from)
}

/// The configured model (or the bundled one) on the selected device, announced in the
/// log and in `tidewatch_model_info`.
fn load_model(config: &ServeConfig, metrics: &Metrics) -> Result<FraudModel, ModelError> {
    let device = model::select_device();
    let model = match &config.model_dir {
        Some(dir) => FraudModel::load(dir, &device)?,
        None => FraudModel::bundled(&device)?,
    };
    let metadata = model.metadata();
    tracing::info!(model = %metadata.name, version = %metadata.version, device = model.device_label(), "model loaded");
    metrics
        .model_info
        .get_or_create(&DeviceLabels {
            model: metadata.name.clone(),
            version: metadata.version.clone(),
            device: model.device_label().to_string(),
        })
        .set(1);
    metrics.quality.start_at_zero(
        &metadata.name,
        &metadata.version,
        &Outcome::ALL.map(Outcome::as_str),
        &Unmatched::ALL.map(Unmatched::as_str),
    );
    Ok(model)
}

/// A drift window over every model input and the score, against the model's references.
fn drift_monitor(metadata: &ModelMetadata, window: usize) -> DriftMonitor {
    let mut references = metadata.feature_reference.clone();
    references.push(metadata.score_reference.clone());
    DriftMonitor::new(references, window)
}

/// Redis when a URL is configured, else the synthetic population in memory.
fn feature_store(config: &ServeConfig) -> Result<FeatureStore, ServeError> {
    let store = match config.redis.settings().map_err(ServeError::PasswordFile)? {
        Some(settings) => {
            tracing::info!(url = %settings.url, timeout_ms = settings.timeout.as_millis() as u64, "feature store: redis");
            FeatureStore::redis(
                RedisStore::start(&settings)?,
                settings.timeout,
                config.breaker(),
            )
        }
        None => {
            let memory = MemoryStore::synthetic(
                config.synthetic_seed,
                config.synthetic_users,
                config.synthetic_merchants,
            );
            tracing::info!(users = memory.len(), "feature store: in memory");
            FeatureStore::memory(memory)
        }
    };
    Ok(store)
}

/// Pseudonyms under the configured key, or under a key of this process alone.
fn pseudonymizer(config: &ServeConfig) -> Result<Pseudonymizer, KeyTooShort> {
    match &config.pseudonym_key {
        Some(key) => Pseudonymizer::keyed(key),
        None => {
            tracing::info!(
                "no pseudonym key configured; user pseudonyms in the logs change when the process restarts"
            );
            Ok(Pseudonymizer::ephemeral())
        }
    }
}

fn fault_injector(config: &ServeConfig) -> FaultInjector {
    let faults = FaultInjector::new(
        config.fault_error_ratio,
        Duration::from_millis(config.fault_latency_ms),
    );
    if faults.is_active() {
        tracing::warn!(
            error_ratio = config.fault_error_ratio,
            latency_ms = config.fault_latency_ms,
            "fault injection is on"
        );
    }
    faults
}

/// Marks the server ready once the feature store had its grace period to connect and a
/// throw-away prediction ran; a failed warm-up keeps it not ready.
async fn warm_up(state: Data<AppState>) {
    if !state
        .predictor
        .store()
        .wait_connected(STORE_CONNECT_GRACE)
        .await
    {
        tracing::warn!(
            "feature store not connected yet; serving with population defaults until it is"
        );
    }
    match state.predictor.backend().warm_up().await {
        Ok(()) => {
            state.ready.store(true, Ordering::Relaxed);
            tracing::info!("model warmed up; ready");
        }
        Err(error) => tracing::error!(%error, "model warm-up failed; staying not ready"),
    }
}

fn server_settings(config: &ServeConfig) -> ServerSettings {
    ServerSettings {
        listen: config.listen,
        workers: config.workers,
        shutdown_delay: Duration::from_secs(config.shutdown_delay_seconds),
        shutdown_timeout: Duration::from_secs(config.shutdown_timeout_seconds),
        connections: ConnectionLimits {
            header_timeout: Duration::from_millis(config.header_timeout_ms),
            keep_alive: Duration::from_secs(config.keep_alive_seconds),
            disconnect_timeout: Duration::from_millis(config.disconnect_timeout_ms),
            max_connections_per_worker: config.max_connections,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_start_names_each_cause_once() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = ServeError::from(ModelError::Read {
            path: "/models/metadata.json".into(),
            source: missing,
        });
        assert_eq!(
            with_sources(&error),
            "cannot load the model: cannot read model file /models/metadata.json: no such file"
        );
    }
}
