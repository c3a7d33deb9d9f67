//! What every reconciliation shares: the client (used by the apply and update_status steps,
//! and to read a rollout the cache shows unfinished), the operator settings, the caches of
//! parents and children, the per-parent memory, metrics and the event recorder. Holds no
//! logic of its own. The live-figures board, when there is one, is read by the SLO status.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;

use super::cache::ChildStores;
use super::memory::Memory;
use super::metrics::Metrics;
use super::secret_policy::SecretPolicy;
use crate::api::MLService;
use crate::live::Board;
use crate::validate::OperatorSettings;

/// Shared by every reconciliation of both controllers.
pub struct Context {
    pub client: Client,
    pub settings: OperatorSettings,
    pub children: ChildStores,
    pub mlservices: Store<MLService>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    /// Applied children and failures, per parent.
    pub memory: Memory,
    /// Periodic re-check of a converged object.
    pub requeue_after: Duration,
    /// Live SLO figures published for status, when the operator reads a Prometheus.
    pub live: Option<Arc<Board>>,
    /// Which Secrets an MLService may name.
    pub secrets: SecretPolicy,
}

impl Context {
    /// A context with nothing remembered yet.
    pub fn new(
        client: Client,
        settings: OperatorSettings,
        children: ChildStores,
        mlservices: Store<MLService>,
        metrics: Metrics,
        recorder: Recorder,
        requeue_after: Duration,
    ) -> Self {
        Self {
            client,
            settings,
            children,
            mlservices,
            metrics,
            recorder,
            memory: Memory::default(),
            requeue_after,
            live: None,
            secrets: SecretPolicy::default(),
        }
    }

    /// The same context, admitting only the Secret references `secrets` allows.
    #[must_use]
    pub fn with_secret_policy(mut self, secrets: SecretPolicy) -> Self {
        self.secrets = secrets;
        self
    }

    /// The same context, with SLO statuses carrying the figures published on `board`.
    #[must_use]
    pub fn with_live(mut self, board: Arc<Board>) -> Self {
        self.live = Some(board);
        self
    }
}
