//! The model backend: a dedicated thread owns the [`model`] and scores queued requests in
//! micro-batches, so candle never runs on the async runtime. It records inference time
//! and feeds the drift monitor; it knows nothing about HTTP or the request pipeline.

pub mod model;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::backend::model::{FraudModel, ModelMetadata, Scored};
use crate::features::{FEATURE_COUNT, FeatureVector};
use crate::telemetry::drift::DriftMonitor;
use crate::telemetry::metrics::{DeviceLabels, Metrics};
use crate::telemetry::report::with_sources;

/// Most rows scored in one forward pass; a batch request may exceed it on its own.
pub const MAX_BATCH_ROWS: usize = 256;

#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    #[error("the model thread has stopped")]
    Stopped,
    /// A forward pass failed; every request in that batch gets the same message.
    #[error("scoring failed: {0}")]
    Scoring(String),
}

struct Job {
    rows: Vec<FeatureVector>,
    /// Warm-up jobs stay out of metrics and drift.
    record: bool,
    reply: oneshot::Sender<Result<Vec<Scored>, BackendError>>,
}

/// A handle to the model thread. Cloning shares the thread.
#[derive(Clone, Debug)]
pub struct Backend {
    sender: mpsc::UnboundedSender<Job>,
    metadata: Arc<ModelMetadata>,
    device: &'static str,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl Backend {
    /// Moves the model onto its own thread. The thread ends when every handle is dropped.
    pub fn start(
        model: FraudModel,
        metrics: Arc<Metrics>,
        drift: Arc<Mutex<DriftMonitor>>,
        record_metrics: bool,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let metadata = Arc::new(model.metadata().clone());
        let device = model.device_label();
        let thread = std::thread::Builder::new()
            .name("model".into())
            .spawn(move || run(&model, receiver, &metrics, &drift, record_metrics))?;
        Ok((
            Self {
                sender,
                metadata,
                device,
            },
            thread,
        ))
    }

    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    pub fn device(&self) -> &'static str {
        self.device
    }

    /// Scores rows with per-feature contributions.
    pub async fn score(&self, rows: Vec<FeatureVector>) -> Result<Vec<Scored>, BackendError> {
        self.submit(rows, true).await
    }

    /// Runs one throw-away prediction so the first real request does not pay for
    /// allocation and page faults.
    pub async fn warm_up(&self) -> Result<(), BackendError> {
        let row = self
            .metadata
            .mean
            .as_slice()
            .try_into()
            .unwrap_or([0.0; FEATURE_COUNT]);
        self.submit(vec![row; 8], false).await.map(|_| ())
    }

    async fn submit(
        &self,
        rows: Vec<FeatureVector>,
        record: bool,
    ) -> Result<Vec<Scored>, BackendError> {
        let (reply, response) = oneshot::channel();
        self.sender
            .send(Job {
                rows,
                record,
                reply,
            })
            .map_err(|_| BackendError::Stopped)?;
        response.await.map_err(|_| BackendError::Stopped)?
    }
}

fn run(
    model: &FraudModel,
    mut receiver: mpsc::UnboundedReceiver<Job>,
    metrics: &Metrics,
    drift: &Mutex<DriftMonitor>,
    record_metrics: bool,
) {
    let metadata = model.metadata();
    let labels = DeviceLabels {
        model: metadata.name.clone(),
        version: metadata.version.clone(),
        device: model.device_label().to_string(),
    };
    let duration = metrics.inference_duration.get_or_create(&labels).clone();
    while let Some(first) = receiver.blocking_recv() {
        let mut jobs = vec![first];
        let mut rows = jobs[0].rows.len();
        while rows < MAX_BATCH_ROWS {
            match receiver.try_recv() {
                Ok(job) => {
                    rows += job.rows.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let batch: Vec<FeatureVector> = jobs.iter().flat_map(|j| j.rows.iter().copied()).collect();
        let started = Instant::now();
        let scored = model.score(&batch, true);
        // Warm-up jobs, and every job when instrumentation is off, stay out of the
        // metrics and the drift window.
        let recorded = record_metrics && jobs.iter().any(|j| j.record);
        if recorded {
            duration.observe(started.elapsed().as_secs_f64());
        }
        match scored {
            Ok(scored) => {
                if recorded {
                    observe_drift(drift, &jobs, &scored);
                }
                let mut rest = scored.as_slice();
                for job in jobs {
                    let (mine, tail) = rest.split_at(job.rows.len());
                    rest = tail;
                    let _ = job.reply.send(Ok(mine.to_vec()));
                }
            }
            Err(error) => {
                let error = with_sources(&error);
                tracing::error!(error = %error, "model scoring failed");
                let error = BackendError::Scoring(error);
                for job in jobs {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

fn observe_drift(drift: &Mutex<DriftMonitor>, jobs: &[Job], scored: &[Scored]) {
    let mut monitor = drift
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut offset = 0;
    for job in jobs {
        if job.record {
            for (row, score) in job.rows.iter().zip(&scored[offset..]) {
                let mut values = [0.0f64; FEATURE_COUNT + 1];
                for (v, x) in values.iter_mut().zip(row) {
                    *v = f64::from(*x);
                }
                values[FEATURE_COUNT] = f64::from(score.probability);
                monitor.observe(&values);
            }
        }
        offset += job.rows.len();
    }
}
