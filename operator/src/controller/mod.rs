//! The controllers: MLService (owns Deployment, Service, ServiceMonitor, dashboard ConfigMap)
//! and SLO (owns PrometheusRule and dashboard ConfigMap, re-checked when its MLService
//! changes), wired to the watches that feed them (`watches`). Each reconciliation is a
//! pipeline of steps, one module per step; only the apply and update_status steps write.

pub mod apply;
pub mod cache;
pub mod context;
pub mod drift;
pub mod error;
pub mod events;
pub mod memory;
pub mod metrics;
pub mod mlservice;
pub mod outcome;
pub mod ownership;
#[cfg(test)]
mod reconcile_tests;
pub mod secret_policy;
pub mod slo;
pub mod status;
pub mod watches;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt, future};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::{Client, Resource};

use cache::ChildStores;
use context::Context;
use metrics::{ControllerName, Metrics};
use secret_policy::SecretPolicy;
use watches::Triggers;

use crate::api::{MLService, SLO};
use crate::labels::MANAGER;
use crate::live::{Board, LiveSettings, poller};
use crate::report::Report;
use crate::validate::OperatorSettings;

/// Where the controllers look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    AllNamespaces,
    Namespace(String),
}

/// Tuning of the controllers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reconciliations running at once, per controller.
    pub concurrency: u16,
    /// Periodic re-check of converged objects.
    pub requeue_after: Duration,
    /// Identity in Events (`reportingInstance`).
    pub instance: String,
    /// Live SLO figures from Prometheus, when configured.
    pub live: Option<LiveSettings>,
    /// Which Secrets an MLService may name.
    pub secrets: SecretPolicy,
}

/// Runs both controllers in `scope` until `shutdown` resolves.
pub async fn run(
    client: Client,
    scope: Scope,
    settings: OperatorSettings,
    options: Options,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Clone + Send + Sync + 'static,
) {
    let (mls_trigger, mls_triggers) = mpsc::unbounded();
    let (slo_trigger, slo_triggers) = mpsc::unbounded();
    let triggers = Triggers {
        mlservice: mls_trigger,
        slo: slo_trigger.clone(),
    };
    let slo_trigger_for_live = slo_trigger.clone();
    let (children, child_watches) = watches::children(&client, &scope, &triggers);
    let (mls_store, mls_writer) = reflector::store::<MLService>();
    let (slo_store, slo_writer) = reflector::store::<SLO>();
    let recheck = watches::recheck_slos(slo_store.clone(), slo_trigger);
    let mls_stream = watches::parents(&client, &scope, mls_writer, recheck);
    let slo_stream = watches::parents(&client, &scope, slo_writer, |_| {});

    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: Some(options.instance.clone()),
    };
    let mut ctx = Context::new(
        client.clone(),
        settings,
        children.clone(),
        mls_store.clone(),
        metrics,
        Recorder::new(client, reporter),
        options.requeue_after,
    )
    .with_secret_policy(options.secrets);
    let live = match options.live {
        Some(live) => {
            let board = Arc::new(Board::default());
            ctx = ctx.with_live(board.clone());
            let namespace = match &scope {
                Scope::AllNamespaces => None,
                Scope::Namespace(ns) => Some(ns.clone()),
            };
            poller::run(
                live,
                namespace,
                board,
                slo_store.clone(),
                mls_store.clone(),
                slo_trigger_for_live,
            )
            .boxed()
        }
        None => future::pending::<()>().boxed(),
    };
    let ctx = Arc::new(ctx);
    let config = ControllerConfig::default()
        .concurrency(options.concurrency)
        .debounce(Duration::from_millis(500));
    let mls_controller = Controller::for_stream(mls_stream, mls_store.clone())
        .reconcile_on(mls_triggers)
        .with_config(config.clone())
        .graceful_shutdown_on(shutdown.clone())
        .run(mlservice::reconcile, mlservice::error_policy, ctx.clone())
        .for_each(|result| log_failure("MLService", result));
    let slo_controller = Controller::for_stream(slo_stream, slo_store.clone())
        .reconcile_on(slo_triggers)
        .with_config(config)
        .graceful_shutdown_on(shutdown)
        .run(slo::reconcile, slo::error_policy, ctx.clone())
        .for_each(|result| log_failure("SLO", result));

    let controllers = once_cached(children, mls_store, mls_controller, slo_controller);
    let background = future::join3(child_watches, follow_caches(ctx, slo_store), live);
    futures::pin_mut!(controllers);
    futures::pin_mut!(background);
    future::select(controllers, background).await;
    tracing::info!("controllers stopped");
}

fn log_failure<T, E: std::error::Error + 'static>(
    controller: &str,
    result: Result<T, E>,
) -> future::Ready<()> {
    if let Err(error) = result {
        tracing::debug!(error = %Report(&error), "{controller} controller");
    }
    future::ready(())
}

/// Runs the controllers once the caches they read are filled: reconciling earlier would
/// re-apply every child and, for an SLO, report a target that is merely not cached yet as
/// missing.
async fn once_cached(
    children: ChildStores,
    mlservices: Store<MLService>,
    mls_controller: impl Future<Output = ()>,
    slo_controller: impl Future<Output = ()>,
) {
    children.wait_until_ready().await;
    tracing::info!("child caches filled; starting controllers");
    let slo_after_targets = async move {
        let _ = mlservices.wait_until_ready().await;
        slo_controller.await;
    };
    future::join(mls_controller, slo_after_targets).await;
}

/// Keeps what follows from the caches current: `tidewatch_operator_managed_objects`, and
/// the per-parent memory, which forgets parents that were deleted.
async fn follow_caches(ctx: Arc<Context>, slos: Store<SLO>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        ctx.memory
            .forget_absent(ControllerName::mlservice, &ctx.mlservices);
        ctx.memory.forget_absent(ControllerName::slo, &slos);
        let (mlservice, slo) = (MLService::kind(&()), SLO::kind(&()));
        ctx.metrics
            .set_managed(ControllerName::mlservice, &mlservice, ctx.mlservices.len());
        ctx.metrics
            .set_managed(ControllerName::slo, &slo, slos.len());
        for (controller, owner_kind) in [
            (ControllerName::mlservice, &mlservice),
            (ControllerName::slo, &slo),
        ] {
            for (kind, count) in ctx.children.count_owned_by_kind(owner_kind) {
                ctx.metrics.set_managed(controller, kind.name(), count);
            }
        }
    }
}
