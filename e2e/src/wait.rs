//! Bounded waits: for a watched object to meet a condition, for any check to pass, or for
//! a blocking start-up (a process spawned and probed until ready) run off the async
//! runtime. A timeout is an error that names what was awaited, never a hang.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, anyhow};
use kube::runtime::wait::Condition;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Waits until the object `name` meets `condition`, watching it, for at most `timeout`.
/// Returns the object as last seen (None when the condition was met by deletion).
pub async fn await_condition<K>(
    api: &Api<K>,
    name: &str,
    condition: impl Condition<K>,
    timeout: Duration,
) -> anyhow::Result<Option<K>>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    let what = format!(
        "{} {name}",
        std::any::type_name::<K>()
            .rsplit("::")
            .next()
            .unwrap_or("object")
    );
    tokio::time::timeout(
        timeout,
        kube::runtime::wait::await_condition(api.clone(), name, condition),
    )
    .await
    .map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))?
    .map_err(|err| anyhow!("watching {what}: {err}"))
}

/// Retries `check` every 200 ms until it returns Ok, for at most `timeout`; the error of
/// the last attempt explains a timeout.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(err) if tokio::time::Instant::now() >= deadline => {
                return Err(err.context(format!("still failing after {timeout:?}")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Runs `start` (spawning a process and waiting, with a bound, until it is ready) on
/// tokio's blocking pool, so that the test's other tasks keep running meanwhile.
pub(crate) async fn off_runtime<T, F>(start: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(start)
        .await
        .context("the start-up task panicked")?
}
