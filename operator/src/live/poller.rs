//! The live-figures loop of one watched scope: every poll interval, read the three answers,
//! compute each SLO's figures, offer them to the board, and ask the SLO controller to
//! reconcile the SLOs whose published figures changed (the update_status step writes them).
//! On Prometheus trouble the interval doubles up to a bound; nothing here panics or spins.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::board::{self, Board, SloKey, Thresholds, Trouble};
use super::client::Prometheus;
use super::figures::{SloTerms, compute};
use super::metrics::LiveMetrics;
use super::snapshot::Snapshot;
use crate::api::{MLService, SLO};
use crate::validate::{ValidSlo, validate_slo};

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// The Prometheus to read.
    pub prometheus: Prometheus,
    /// Time between two reads while Prometheus answers.
    pub poll_interval: Duration,
    /// Longest wait between two reads while it does not.
    pub max_backoff: Duration,
    /// When a change is worth a status write.
    pub thresholds: Thresholds,
    /// Counters of reads and publications.
    pub metrics: LiveMetrics,
}

/// The wait before the next read: the poll interval after a good read, doubled after each
/// failed one up to `max_backoff`.
pub fn next_delay(previous: Duration, failed: bool, settings: &LiveSettings) -> Duration {
    if failed {
        (previous * 2)
            .max(settings.poll_interval)
            .min(settings.max_backoff)
    } else {
        settings.poll_interval
    }
}

/// Runs until the future is dropped (the controllers' shutdown drops it).
pub async fn run(
    settings: LiveSettings,
    namespace: Option<String>,
    board: Arc<Board>,
    slos: Store<SLO>,
    mlservices: Store<MLService>,
    reconcile: UnboundedSender<ObjectRef<SLO>>,
) {
    let _ = slos.wait_until_ready().await;
    let _ = mlservices.wait_until_ready().await;
    let mut delay = settings.poll_interval;
    loop {
        let read = Snapshot::read(&settings.prometheus, namespace.as_deref()).await;
        settings.metrics.read(read.as_ref().err());
        if let Err(trouble) = &read {
            tracing::warn!(reason = trouble.reason(), message = %trouble.message(), "reading SLO figures from Prometheus");
        }
        let published = publish(&settings, &board, &slos, &mlservices, &read);
        for slo in published {
            let _ = reconcile.unbounded_send(slo);
        }
        delay = next_delay(delay, read.is_err(), &settings);
        tokio::time::sleep(delay).await;
    }
}

/// Offers every SLO's new figures (or trouble) to the board; returns the SLOs whose
/// published figures changed.
fn publish(
    settings: &LiveSettings,
    board: &Board,
    slos: &Store<SLO>,
    mlservices: &Store<MLService>,
    read: &Result<Snapshot, Trouble>,
) -> Vec<ObjectRef<SLO>> {
    let now = std::time::Instant::now();
    let read_at = crate::controller::status::now().to_string();
    // An invalid SLO has no rules, so no figures: its status says why already.
    let valid: Vec<(Arc<SLO>, ValidSlo)> = slos
        .state()
        .into_iter()
        .filter_map(|slo| {
            let target = slo.spec.target.as_ref().and_then(|t| {
                let namespace = slo.namespace().unwrap_or_default();
                mlservices.get(&ObjectRef::new(&t.ml_service).within(&namespace))
            });
            let checked = validate_slo(&slo, target.as_deref()).ok()?;
            Some((slo, checked))
        })
        .collect();
    board.retain(|key| valid.iter().any(|(s, _)| key_of(s) == *key));
    let mut changed = Vec::new();
    for (slo, valid) in &valid {
        let key = key_of(slo);
        let previous = board.get(&key);
        let candidate = match read {
            Ok(snapshot) => match compute(&SloTerms::of(valid), &snapshot.readings(&key)) {
                Some(figures) => board::from_figures(figures, &read_at),
                None => board::from_trouble(previous.as_ref(), &Trouble::NoData),
            },
            Err(trouble) => board::from_trouble(previous.as_ref(), trouble),
        };
        if board.offer(key, candidate, now, &settings.thresholds) {
            settings.metrics.published();
            changed.push(ObjectRef::from_obj(slo.as_ref()));
        }
    }
    changed
}

fn key_of(slo: &SLO) -> SloKey {
    (slo.namespace().unwrap_or_default(), slo.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::client::PrometheusConfig;

    fn settings() -> LiveSettings {
        LiveSettings {
            prometheus: Prometheus::new(&PrometheusConfig {
                url: "http://127.0.0.1:9".into(),
                ca_file: None,
                bearer_token_file: None,
                timeout: Duration::from_secs(1),
            })
            .unwrap(),
            poll_interval: Duration::from_secs(30),
            max_backoff: Duration::from_secs(300),
            thresholds: Thresholds::default(),
            metrics: LiveMetrics::default(),
        }
    }

    #[test]
    fn failures_back_off_to_a_bound_and_a_success_resets() {
        let s = settings();
        let mut delay = s.poll_interval;
        let mut waits = Vec::new();
        for _ in 0..6 {
            delay = next_delay(delay, true, &s);
            waits.push(delay.as_secs());
        }
        assert_eq!(waits, [60, 120, 240, 300, 300, 300]);
        assert_eq!(next_delay(delay, false, &s), Duration::from_secs(30));
    }
}
