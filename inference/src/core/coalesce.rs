//! Per-worker coalescing of scoring requests. Each HTTP worker runs its connections on one
//! thread; the requests it reads in the same turn of its event loop are sent to the model
//! thread as one job. Under load that turns one model-thread wake-up, one forward pass and
//! one cross-thread reply per request into one per turn; a lone request waits only for the
//! tasks already queued on its thread.
//!
//! A [`Coalescer`] belongs to one worker thread and is deliberately not `Send`.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::sync::oneshot;

use crate::backend::model::Scored;
use crate::backend::{Backend, BackendError, MAX_BATCH_ROWS};
use crate::features::FeatureVector;

type Reply = Result<Vec<Scored>, BackendError>;

/// Rows gathered during one turn, and where each request's answer goes.
#[derive(Default)]
struct OpenBatch {
    rows: Vec<FeatureVector>,
    /// `(first row, row count, reply)` per request.
    requests: Vec<(usize, usize, oneshot::Sender<Reply>)>,
}

type Slot = Rc<RefCell<Option<Rc<RefCell<OpenBatch>>>>>;

/// Gathers the scoring requests of one worker thread into shared model-thread jobs.
pub struct Coalescer {
    backend: Backend,
    /// The batch still taking requests this turn, if any.
    open: Slot,
}

impl std::fmt::Debug for Coalescer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

impl Coalescer {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            open: Slot::default(),
        }
    }

    /// Scores `rows`, sharing a model-thread job with the other requests of this turn.
    /// Results come back in the order of `rows`. Must run inside a `LocalSet` (every
    /// actix-web worker is one).
    pub async fn score(&self, rows: &[FeatureVector]) -> Reply {
        self.join(rows).await.map_err(|_| BackendError::Stopped)?
    }

    /// Adds `rows` to the open batch, opening one (and spawning its flush) when there is
    /// none or it is full. The flush is its own task, so a request whose client goes away
    /// cannot take the others in its batch down with it.
    fn join(&self, rows: &[FeatureVector]) -> oneshot::Receiver<Reply> {
        let mut open = self.open.borrow_mut();
        let batch = match open.as_ref() {
            Some(batch) if batch.borrow().rows.len() + rows.len() <= MAX_BATCH_ROWS => {
                batch.clone()
            }
            _ => {
                let batch = Rc::new(RefCell::new(OpenBatch::default()));
                *open = Some(batch.clone());
                tokio::task::spawn_local(flush(
                    self.backend.clone(),
                    self.open.clone(),
                    batch.clone(),
                ));
                batch
            }
        };
        let mut batch = batch.borrow_mut();
        let (reply, receiver) = oneshot::channel();
        let start = batch.rows.len();
        batch.rows.extend_from_slice(rows);
        batch.requests.push((start, rows.len(), reply));
        receiver
    }
}

/// Scores the batch and answers each request with its own rows. Spawned when the batch
/// opens, it runs after the tasks that were already ready on this thread, so the requests
/// read in the same turn have joined by then; no timer is involved.
async fn flush(backend: Backend, open: Slot, batch: Rc<RefCell<OpenBatch>>) {
    {
        let mut open = open.borrow_mut();
        if open.as_ref().is_some_and(|o| Rc::ptr_eq(o, &batch)) {
            *open = None;
        }
    }
    let OpenBatch { rows, requests } = std::mem::take(&mut *batch.borrow_mut());
    match backend.score(rows).await {
        Ok(scored) => {
            for (start, count, reply) in requests {
                let _ = reply.send(Ok(scored[start..start + count].to_vec()));
            }
        }
        Err(error) => {
            for (_, _, reply) in requests {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use candle_core::Device;

    use super::*;
    use crate::backend::model::FraudModel;
    use crate::telemetry::drift::DriftMonitor;
    use crate::telemetry::metrics::Metrics;

    fn backend() -> (Backend, Arc<Metrics>) {
        let model = FraudModel::bundled(&Device::Cpu).unwrap();
        let metrics = Arc::new(Metrics::new());
        let drift = Arc::new(Mutex::new(DriftMonitor::new(Vec::new(), 10)));
        let (backend, _thread) = Backend::start(model, metrics.clone(), drift, true).unwrap();
        (backend, metrics)
    }

    /// Forward passes run so far, read from the inference duration histogram.
    fn forward_passes(metrics: &Metrics) -> u64 {
        let page = metrics.encode();
        page.lines()
            .find(|l| l.starts_with("tidewatch_inference_duration_seconds_count"))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0, |v| v.parse().unwrap())
    }

    /// Coalesced scores equal the scores of the same rows in a job of their own.
    fn assert_same_as_scored_alone(model: &FraudModel, rows: &[FeatureVector], answer: &[Scored]) {
        let alone = model.score(rows, true).unwrap();
        assert_eq!(answer.len(), rows.len());
        for (a, b) in answer.iter().zip(&alone) {
            assert!((a.probability - b.probability).abs() < 1e-5);
        }
    }

    fn row(seed: f32) -> FeatureVector {
        std::array::from_fn(|i| seed + i as f32)
    }

    fn run_local<F: std::future::Future>(future: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, future)
    }

    #[test]
    fn requests_of_one_turn_share_a_forward_pass_and_keep_their_rows() {
        let (backend, metrics) = backend();
        let model = FraudModel::bundled(&Device::Cpu).unwrap();
        let coalescer = Coalescer::new(backend);
        let requests: Vec<Vec<FeatureVector>> = (0..20)
            .map(|i| (0..(i % 3 + 1)).map(|j| row((i * 10 + j) as f32)).collect())
            .collect();
        let answers = run_local(futures::future::join_all(
            requests.iter().map(|rows| coalescer.score(rows)),
        ));
        assert_eq!(forward_passes(&metrics), 1, "one job for the whole turn");
        for (rows, answer) in requests.iter().zip(answers) {
            assert_same_as_scored_alone(&model, rows, &answer.unwrap());
        }
    }

    #[test]
    fn a_full_batch_starts_another_and_rows_stay_with_their_request() {
        let (backend, _metrics) = backend();
        let model = FraudModel::bundled(&Device::Cpu).unwrap();
        let coalescer = Coalescer::new(backend);
        let requests = [
            vec![row(1.0); MAX_BATCH_ROWS - 1],
            vec![row(20.0), row(-3.0)],
            vec![row(7.0)],
        ];
        let answers = run_local(futures::future::join_all(
            requests.iter().map(|rows| coalescer.score(rows)),
        ));
        for (rows, answer) in requests.iter().zip(answers) {
            assert_same_as_scored_alone(&model, rows, &answer.unwrap());
        }
        assert!(coalescer.open.borrow().is_none(), "every batch was flushed");
    }

    #[test]
    fn a_request_that_goes_away_does_not_fail_its_batch() {
        let (backend, _metrics) = backend();
        let coalescer = Coalescer::new(backend);
        let answer = run_local(async {
            // The first request opens the batch, then its caller gives up on it.
            let rows = [row(1.0)];
            let abandoned = Box::pin(coalescer.score(&rows));
            let mut abandoned = Some(abandoned);
            futures::future::poll_fn(|cx| {
                let _ = abandoned.as_mut().unwrap().as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            drop(abandoned.take());
            coalescer.score(&[row(2.0)]).await
        });
        assert_eq!(answer.unwrap().len(), 1);
    }
}
