//! `tidewatch-operator run`: configuration, logging, the metrics and health server, leader
//! election and graceful shutdown around the controllers. Holds no reconcile logic.

pub mod config;
pub mod http;
pub mod leader;
#[cfg(test)]
mod lease_tests;
pub mod rbac;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::{self, BoxFuture, FutureExt, Shared};
use kube::Client;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing_subscriber::EnvFilter;

use crate::controller::metrics::Metrics;
use crate::controller::{self, Options};
use config::{LogFormat, RunArgs};
use http::Endpoints;
use leader::LeaseLock;

/// A future every controller can hold that resolves when they must stop.
type Stop = Shared<BoxFuture<'static, ()>>;

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,kube_runtime=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Resolves on SIGTERM or SIGINT.
async fn termination_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received; shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; shutting down"),
    }
}

fn stop_signal(receiver: &watch::Receiver<bool>) -> Stop {
    let mut receiver = receiver.clone();
    async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    }
    .boxed()
    .shared()
}

/// Runs the operator until SIGTERM/SIGINT. With leader election, the controllers run only
/// while this replica holds the Lease; losing it returns the replica to standby.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let settings = args.settings().context("invalid operator settings")?;
    let client = Client::try_default()
        .await
        .context("building the Kubernetes client")?;

    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let endpoints = Arc::new(Endpoints {
        registry,
        ready: AtomicBool::new(false),
    });
    let (address, server) = http::serve(args.metrics_address, endpoints.clone())
        .await
        .with_context(|| format!("binding {}", args.metrics_address))?;
    tokio::spawn(server);
    tracing::info!(%address, "serving /metrics, /healthz and /readyz");

    let (stop_sender, stop_receiver) = watch::channel(false);
    let stop = stop_signal(&stop_receiver);
    let signalled = {
        let stop_sender = stop_sender.clone();
        tokio::spawn(async move {
            termination_signal().await;
            let _ = stop_sender.send(true);
        })
    };

    let identity = args.identity();
    let options = Options {
        concurrency: args.concurrency,
        requeue_after: args.requeue_after(),
        instance: identity.clone(),
    };
    let run_controllers = |stop: Stop| {
        let runs = args.scopes().into_iter().map(|scope| {
            tracing::info!(?scope, "starting controllers");
            controller::run(
                client.clone(),
                scope,
                settings.clone(),
                options.clone(),
                metrics.clone(),
                stop.clone(),
            )
        });
        future::join_all(runs).map(|_| ())
    };

    if !args.leader_election {
        client
            .apiserver_version()
            .await
            .context("the API server does not answer")?;
        endpoints.set_ready(true);
        run_controllers(stop).await;
        signalled.abort();
        return Ok(());
    }

    let mut lock = LeaseLock::new(
        client.clone(),
        &args.lease_namespace,
        &args.lease_name,
        &identity,
        args.lease_duration(),
    );
    loop {
        tracing::info!(
            identity,
            lease = args.lease_name,
            namespace = args.lease_namespace,
            "waiting for leadership"
        );
        if !acquire(&mut lock, &endpoints, stop.clone()).await {
            break;
        }
        tracing::info!(identity, "became the leader");
        // One term of leadership: the controllers stop on shutdown or when the Lease is lost.
        let (term_sender, term_receiver) = watch::channel(false);
        let term_stop = {
            let (stop, term) = (stop.clone(), stop_signal(&term_receiver));
            future::select(stop, term).map(|_| ()).boxed().shared()
        };
        let renew = renew_until_lost(&mut lock, &endpoints, stop.clone());
        let controllers = run_controllers(term_stop);
        futures::pin_mut!(renew);
        futures::pin_mut!(controllers);
        match future::select(controllers, renew).await {
            future::Either::Left(((), _renew)) => break,
            future::Either::Right((lost, controllers)) => {
                let _ = term_sender.send(true);
                controllers.await;
                if !lost {
                    break;
                }
                // Back to standby, in the same process: an API server outage longer than the
                // renew deadline costs a term, not a restart.
                tracing::warn!(identity, "lost the leader Lease; controllers stopped");
            }
        }
    }
    signalled.abort();
    match lock.release().await {
        Ok(()) => tracing::info!("released the leader Lease"),
        Err(error) => {
            tracing::warn!(%error, "could not release the leader Lease; a standby takes over when it expires");
        }
    }
    Ok(())
}

/// Waits until this replica holds the Lease (true) or must stop (false).
async fn acquire(lock: &mut LeaseLock, endpoints: &Endpoints, stop: Stop) -> bool {
    loop {
        match lock.try_acquire_or_renew().await {
            Ok(true) => {
                endpoints.set_ready(true);
                return true;
            }
            Ok(false) => endpoints.set_ready(true),
            Err(error) => {
                endpoints.set_ready(false);
                tracing::warn!(%error, "cannot read the leader Lease");
            }
        }
        tokio::select! {
            _ = stop.clone() => return false,
            _ = tokio::time::sleep(lock.retry_period()) => {}
        }
    }
}

/// Renews the Lease every retry period. Returns true when leadership is lost (another holder,
/// or no successful renewal within the renew deadline), false when asked to stop.
async fn renew_until_lost(lock: &mut LeaseLock, endpoints: &Endpoints, stop: Stop) -> bool {
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            _ = stop.clone() => return false,
            _ = tokio::time::sleep(lock.retry_period()) => {}
        }
        let attempt = tokio::time::timeout(
            lock.retry_period().max(Duration::from_secs(1)),
            lock.try_acquire_or_renew(),
        )
        .await;
        match attempt {
            Ok(Ok(true)) => {
                renewed = Instant::now();
                endpoints.set_ready(true);
            }
            Ok(Ok(false)) => {
                tracing::error!("another replica holds the leader Lease");
                return true;
            }
            Ok(Err(error)) => tracing::warn!(%error, "renewing the leader Lease failed"),
            Err(_) => tracing::warn!("renewing the leader Lease timed out"),
        }
        if renewed.elapsed() > lock.renew_deadline() {
            endpoints.set_ready(false);
            tracing::error!(deadline = ?lock.renew_deadline(), "could not renew the leader Lease in time");
            return true;
        }
    }
}
