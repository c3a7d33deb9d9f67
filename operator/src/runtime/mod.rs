//! `tidewatch-operator run`: configuration, logging, the metrics and health server, leader
//! election and graceful shutdown around the controllers. Holds no reconcile logic.

pub mod config;
pub mod http;
pub mod leader;
#[cfg(test)]
mod lease_tests;
pub mod rbac;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::{self, BoxFuture, FutureExt, Shared};
use kube::Client;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing_subscriber::EnvFilter;

use crate::controller::metrics::Metrics;
use crate::controller::secret_policy::SecretPolicy;
use crate::controller::{self, Options, Scope};
use crate::live::LiveMetrics;
use crate::validate::OperatorSettings;
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
    let (metrics, live_metrics, endpoints) = serve_endpoints(args.metrics_address).await?;
    let live = args
        .live(live_metrics)
        .context("invalid Prometheus settings")?;
    if let Some(live) = &live {
        tracing::info!(prometheus = ?live.prometheus, "reading live SLO figures");
    }
    let (stop, signalled) = stop_on_signal();
    let identity = args.identity();
    let controllers = Controllers {
        client: client.clone(),
        scopes: args.scopes(),
        settings,
        options: Options {
            concurrency: args.concurrency,
            requeue_after: args.requeue_after(),
            instance: identity.clone(),
            live,
            secrets: SecretPolicy::from_list(args.allowed_credentials_secrets.clone()),
        },
        metrics,
    };
    if args.leader_election {
        let lock = LeaseLock::new(
            client,
            &args.lease_namespace,
            &args.lease_name,
            &identity,
            args.lease_duration(),
        );
        lead_while_elected(lock, &args, &endpoints, stop, &controllers).await;
    } else {
        client
            .apiserver_version()
            .await
            .context("the API server does not answer")?;
        endpoints.set_ready(true);
        controllers.run(&stop).await;
    }
    signalled.abort();
    Ok(())
}

/// Registers the operator's metrics and serves them with the health endpoints, not ready yet.
async fn serve_endpoints(
    address: SocketAddr,
) -> anyhow::Result<(Metrics, LiveMetrics, Arc<Endpoints>)> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let live_metrics = LiveMetrics::register(&mut registry);
    let endpoints = Arc::new(Endpoints {
        registry,
        ready: AtomicBool::new(false),
    });
    let (bound, server) = http::serve(address, endpoints.clone())
        .await
        .with_context(|| format!("binding {address}"))?;
    tokio::spawn(server);
    tracing::info!(address = %bound, "serving /metrics, /healthz and /readyz");
    Ok((metrics, live_metrics, endpoints))
}

/// A stop that resolves on SIGTERM or SIGINT, and the task that waits for the signal.
fn stop_on_signal() -> (Stop, JoinHandle<()>) {
    let (sender, receiver) = watch::channel(false);
    let signalled = tokio::spawn(async move {
        termination_signal().await;
        let _ = sender.send(true);
    });
    (stop_signal(&receiver), signalled)
}

/// What the controllers of every watched scope need, to start them again each term.
struct Controllers {
    client: Client,
    scopes: Vec<Scope>,
    settings: OperatorSettings,
    options: Options,
    metrics: Metrics,
}

impl Controllers {
    /// Runs the controllers of every scope until `stop` resolves.
    fn run(&self, stop: &Stop) -> impl Future<Output = ()> + use<> {
        let runs: Vec<_> = self
            .scopes
            .iter()
            .map(|scope| {
                tracing::info!(?scope, "starting controllers");
                controller::run(
                    self.client.clone(),
                    scope.clone(),
                    self.settings.clone(),
                    self.options.clone(),
                    self.metrics.clone(),
                    stop.clone(),
                )
            })
            .collect();
        future::join_all(runs).map(|_| ())
    }
}

/// Waits for leadership and runs the controllers for each term, until `stop`; then gives the
/// Lease up so that a standby takes over at once.
async fn lead_while_elected(
    mut lock: LeaseLock,
    args: &RunArgs,
    endpoints: &Endpoints,
    stop: Stop,
    controllers: &Controllers,
) {
    let identity = controllers.options.instance.as_str();
    loop {
        tracing::info!(
            identity,
            lease = args.lease_name,
            namespace = args.lease_namespace,
            "waiting for leadership"
        );
        if !acquire(&mut lock, endpoints, stop.clone()).await {
            break;
        }
        tracing::info!(identity, "became the leader");
        if !lead_one_term(&mut lock, endpoints, stop.clone(), controllers).await {
            break;
        }
        // Back to standby, in the same process: an API server outage longer than the renew
        // deadline costs a term, not a restart.
        tracing::warn!(identity, "lost the leader Lease; controllers stopped");
    }
    match lock.release().await {
        Ok(()) => tracing::info!("released the leader Lease"),
        Err(error) => {
            tracing::warn!(%error, "could not release the leader Lease; a standby takes over when it expires");
        }
    }
}

/// One term of leadership: the controllers run until shutdown or until the Lease is lost,
/// whichever comes first. Returns whether it was lost.
async fn lead_one_term(
    lock: &mut LeaseLock,
    endpoints: &Endpoints,
    stop: Stop,
    controllers: &Controllers,
) -> bool {
    let (term_sender, term_receiver) = watch::channel(false);
    let term_stop = {
        let (stop, term) = (stop.clone(), stop_signal(&term_receiver));
        future::select(stop, term).map(|_| ()).boxed().shared()
    };
    let renew = renew_until_lost(lock, endpoints, stop);
    let running = controllers.run(&term_stop);
    futures::pin_mut!(renew);
    futures::pin_mut!(running);
    match future::select(running, renew).await {
        future::Either::Left(((), _renew)) => false,
        future::Either::Right((lost, running)) => {
            let _ = term_sender.send(true);
            running.await;
            lost
        }
    }
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
