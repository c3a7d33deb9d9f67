//! The feature store the server reads user and merchant profiles from: in memory, or
//! Redis behind a per-lookup timeout and a circuit breaker. Every lookup ends with a
//! profile or `None` and a bounded [`LookupResult`]; it never fails the request.

pub mod breaker;
pub mod memory;
pub mod redis;

use std::future::Future;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelValue;

pub use breaker::{BreakerState, CircuitBreaker, Permit};
pub use memory::{MemoryStore, OverlayFull};
pub use redis::{RedisSettings, RedisStore, RedisStoreError};

use crate::features::{MerchantProfile, UserFeatures};

/// Outcome of one lookup; the `result` label of `tidewatch_feature_store_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue, serde::Serialize)]
#[allow(non_camel_case_types)]
pub enum LookupResult {
    hit,
    miss,
    error,
    timeout,
    /// The breaker is open; the store was not called.
    skipped,
}

impl LookupResult {
    /// The name in answers and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::hit => "hit",
            Self::miss => "miss",
            Self::error => "error",
            Self::timeout => "timeout",
            Self::skipped => "skipped",
        }
    }
}

/// Features for one user, if the store had them.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub features: Option<UserFeatures>,
    pub result: LookupResult,
    pub elapsed: Duration,
}

/// A merchant's profile, if the store had it.
#[derive(Debug, Clone, Copy)]
pub struct MerchantLookup {
    pub profile: Option<MerchantProfile>,
    pub result: LookupResult,
    pub elapsed: Duration,
}

/// Why a profile could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Full(#[from] OverlayFull),
    #[error(transparent)]
    Redis(#[from] RedisStoreError),
}

/// Circuit-breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    pub failure_threshold: u32,
    pub cool_down: Duration,
}

#[derive(Debug)]
enum Backend {
    Memory(MemoryStore),
    Redis {
        store: RedisStore,
        timeout: Duration,
        breaker: CircuitBreaker,
    },
}

/// The server's feature store.
#[derive(Debug)]
pub struct FeatureStore {
    backend: Backend,
}

impl FeatureStore {
    pub fn memory(store: MemoryStore) -> Self {
        Self {
            backend: Backend::Memory(store),
        }
    }

    pub fn redis(store: RedisStore, timeout: Duration, breaker: BreakerSettings) -> Self {
        Self {
            backend: Backend::Redis {
                store,
                timeout,
                breaker: CircuitBreaker::new(breaker.failure_threshold, breaker.cool_down),
            },
        }
    }

    /// `memory` or `redis`, for logs and `/v1/model`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis { .. } => "redis",
        }
    }

    pub fn breaker_state(&self) -> BreakerState {
        match &self.backend {
            Backend::Memory(_) => BreakerState::Closed,
            Backend::Redis { breaker, .. } => breaker.state(),
        }
    }

    /// Looks a user up. Bounded by the configured timeout; never errors.
    pub async fn fetch(&self, user_id: &str) -> Lookup {
        let started = Instant::now();
        let (features, result) = match &self.backend {
            Backend::Memory(store) => found(store.get(user_id)),
            // Boxed: a Redis lookup's future is about 5 KB, and inline it would make the
            // future of every request that large, copied whenever actix boxes a handler's
            // future, even with the in-memory store.
            Backend::Redis {
                store,
                timeout,
                breaker,
            } => Box::pin(guarded(*timeout, breaker, store.get(user_id))).await,
        };
        Lookup {
            features,
            result,
            elapsed: started.elapsed(),
        }
    }

    /// Looks a merchant up, under the same timeout and breaker as users.
    pub async fn fetch_merchant(&self, merchant_id: &str) -> MerchantLookup {
        let started = Instant::now();
        let (profile, result) = match &self.backend {
            Backend::Memory(store) => found(store.merchant(merchant_id)),
            Backend::Redis {
                store,
                timeout,
                breaker,
            } => Box::pin(guarded(*timeout, breaker, store.get_merchant(merchant_id))).await,
        };
        MerchantLookup {
            profile,
            result,
            elapsed: started.elapsed(),
        }
    }

    /// Writes a user's profile and returns the one the store now holds (the in-memory
    /// population keeps its own users).
    pub async fn put_user(
        &self,
        user_id: &str,
        user: UserFeatures,
    ) -> Result<UserFeatures, WriteError> {
        match &self.backend {
            Backend::Memory(store) => Ok(store.put(user_id, user)?),
            Backend::Redis { store, timeout, .. } => {
                match tokio::time::timeout(*timeout * 4, store.put(user_id, &user)).await {
                    Ok(written) => written.map(|()| user).map_err(WriteError::from),
                    Err(_) => Err(RedisStoreError::Command("Timeout: write".into()).into()),
                }
            }
        }
    }

    /// Gives a remote store up to `limit` to connect before traffic is accepted, so the
    /// first requests are not all defaulted; false if it is still not connected.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        match &self.backend {
            Backend::Memory(_) => true,
            Backend::Redis { store, .. } => store.wait_connected(limit).await,
        }
    }

    pub async fn close(&self) {
        if let Backend::Redis { store, .. } = &self.backend {
            store.quit().await;
        }
    }
}

fn found<T>(value: Option<T>) -> (Option<T>, LookupResult) {
    let result = if value.is_some() {
        LookupResult::hit
    } else {
        LookupResult::miss
    };
    (value, result)
}

/// One Redis read behind the breaker and the timeout.
async fn guarded<T>(
    timeout: Duration,
    breaker: &CircuitBreaker,
    read: impl Future<Output = Result<Option<T>, RedisStoreError>>,
) -> (Option<T>, LookupResult) {
    if breaker.permit(Instant::now()) == Permit::Reject {
        return (None, LookupResult::skipped);
    }
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(value)) => {
            breaker.on_success();
            found(value)
        }
        Ok(Err(error)) => {
            breaker.on_failure(Instant::now());
            tracing::debug!(error = %error, "feature store lookup failed");
            let result = if matches!(&error, RedisStoreError::Command(m) if m.contains("Timeout")) {
                LookupResult::timeout
            } else {
                LookupResult::error
            };
            (None, result)
        }
        Err(_) => {
            breaker.on_failure(Instant::now());
            (None, LookupResult::timeout)
        }
    }
}
