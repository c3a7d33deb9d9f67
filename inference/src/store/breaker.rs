//! A circuit breaker for feature-store lookups: after consecutive failures it stops
//! calling the store for a cool-down, then lets a single probe through to test recovery.
//!
//! Pure state machine over an injected clock reading; no I/O, no metrics.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state, also exported as a gauge (`0` closed, `1` open, `2` half-open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn gauge_value(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Instant,
    probe_in_flight: bool,
}

/// Thread-safe circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    cool_down: Duration,
    inner: Mutex<Inner>,
}

/// Whether a call may go to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Call the store and report the outcome.
    Call,
    /// Do not call the store; use defaults.
    Reject,
}

impl CircuitBreaker {
    pub fn new(failure_threshold: u32, cool_down: Duration) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            cool_down,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at: Instant::now(),
                probe_in_flight: false,
            }),
        }
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// Asks to call the store at `now`.
    pub fn permit(&self, now: Instant) -> Permit {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => Permit::Call,
            BreakerState::Open if now.duration_since(inner.opened_at) >= self.cool_down => {
                inner.state = BreakerState::HalfOpen;
                inner.probe_in_flight = true;
                Permit::Call
            }
            BreakerState::Open => Permit::Reject,
            BreakerState::HalfOpen if !inner.probe_in_flight => {
                inner.probe_in_flight = true;
                Permit::Call
            }
            BreakerState::HalfOpen => Permit::Reject,
        }
    }

    /// Reports a successful call (a hit or a miss: the store answered).
    pub fn on_success(&self) {
        let mut inner = self.lock();
        inner.state = BreakerState::Closed;
        inner.consecutive_failures = 0;
        inner.probe_in_flight = false;
    }

    /// Reports a failed call (an error or a timeout) at `now`.
    pub fn on_failure(&self, now: Instant) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        inner.probe_in_flight = false;
        if inner.state == BreakerState::HalfOpen
            || inner.consecutive_failures >= self.failure_threshold
        {
            inner.state = BreakerState::Open;
            inner.opened_at = now;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain counters behind; keep going.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cool_down() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(100));
        let t0 = Instant::now();
        for _ in 0..2 {
            breaker.on_failure(t0);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.on_failure(t0);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            breaker.permit(t0 + Duration::from_millis(50)),
            Permit::Reject
        );
        let later = t0 + Duration::from_millis(150);
        assert_eq!(breaker.permit(later), Permit::Call);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(breaker.permit(later), Permit::Reject, "one probe at a time");
        breaker.on_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.permit(later), Permit::Call);
    }

    #[test]
    fn failed_probe_reopens() {
        let breaker = CircuitBreaker::new(1, Duration::from_millis(10));
        let t0 = Instant::now();
        breaker.on_failure(t0);
        let t1 = t0 + Duration::from_millis(20);
        assert_eq!(breaker.permit(t1), Permit::Call);
        breaker.on_failure(t1);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            breaker.permit(t1 + Duration::from_millis(5)),
            Permit::Reject
        );
    }

    #[test]
    fn success_resets_the_failure_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        breaker.on_failure(t0);
        breaker.on_success();
        breaker.on_failure(t0);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
