//! Leader election on a `coordination.k8s.io/v1` Lease, so that two replicas are safe: only
//! the holder runs the controllers. Expiry is judged by when this replica last saw the
//! Lease change (local monotonic clock), never by comparing clocks across machines.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::time::Instant;

/// The Lease record this replica last saw, and when it saw it change.
#[derive(Debug, Default)]
struct Observed {
    record: Option<(Option<String>, Option<Timestamp>)>,
    at: Option<Instant>,
}

/// Where `acquireTime` and `renewTime` come from: the system clock, or a test's own.
type WallClock = Box<dyn Fn() -> Timestamp + Send + Sync>;

/// One replica's view of the Lease.
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    observed: Observed,
    wall_clock: WallClock,
}

impl LeaseLock {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            duration,
            observed: Observed::default(),
            wall_clock: Box::new(Timestamp::now),
        }
    }

    /// The same lock, writing times from `clock` (tests assert the exact Lease written).
    #[cfg(test)]
    pub fn with_wall_clock(self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Self {
            wall_clock: Box::new(clock),
            ..self
        }
    }

    /// How often to try to acquire or renew.
    pub fn retry_period(&self) -> Duration {
        self.duration / 5
    }

    /// How long a leader keeps leading without a successful renewal before it gives up
    /// (strictly less than the lease duration, so it stops before anyone may take over).
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }

    /// Takes or renews the Lease. Ok(true): this replica holds it now.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = (self.wall_clock)();
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, now, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(err) => Err(err),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let record = (holder.clone(), spec.renew_time.as_ref().map(|t| t.0));
        if self.observed.record.as_ref() != Some(&record) {
            self.observed = Observed {
                record: Some(record),
                at: Some(Instant::now()),
            };
        }
        let held_by_other = holder.as_deref().is_some_and(|h| h != self.identity);
        let lease_duration = spec
            .lease_duration_seconds
            .map_or(self.duration, |s| Duration::from_secs(s.max(1) as u64));
        let expired = self
            .observed
            .at
            .is_none_or(|at| at.elapsed() > lease_duration);
        if held_by_other && !expired {
            return Ok(false);
        }
        let ours = holder.as_deref() == Some(self.identity.as_str());
        let acquired = if ours {
            spec.acquire_time.map_or(now, |t| t.0)
        } else {
            now
        };
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let mut updated = lease;
        updated.spec = Some(self.spec(acquired, now, transitions));
        match self
            .api
            .replace(&self.name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Gives the Lease up at shutdown so that a standby takes over at once.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime((self.wall_clock)()));
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }

    fn spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.duration.as_secs() as i32),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}
