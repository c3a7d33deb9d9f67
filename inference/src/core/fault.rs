//! Fault injection for end-to-end alert tests: answer a fixed share of predictions with a
//! server error, or slow every prediction down. Off unless configured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Decides which requests get an injected fault.
#[derive(Debug, Default)]
pub struct FaultInjector {
    error_ratio: f64,
    latency: Duration,
    seen: AtomicU64,
}

impl FaultInjector {
    /// `error_ratio` is clamped to `[0, 1]`.
    pub fn new(error_ratio: f64, latency: Duration) -> Self {
        let error_ratio = if error_ratio.is_finite() {
            error_ratio.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Self {
            error_ratio,
            latency,
            seen: AtomicU64::new(0),
        }
    }

    pub fn is_active(&self) -> bool {
        self.error_ratio > 0.0 || !self.latency.is_zero()
    }

    /// Added delay for every prediction.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Whether this request fails. Failures are spread evenly (request `n` fails when
    /// `floor((n+1)r) > floor(nr)`), so the observed error ratio is exact over any window
    /// of `1/r` requests, which keeps burn-rate alert tests deterministic.
    pub fn should_fail(&self) -> bool {
        if self.error_ratio <= 0.0 {
            return false;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * self.error_ratio).floor() > (n * self.error_ratio).floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_exactly_the_configured_share() {
        let faults = FaultInjector::new(0.25, Duration::ZERO);
        let failed = (0..1000).filter(|_| faults.should_fail()).count();
        assert_eq!(failed, 250);
    }

    #[test]
    fn off_by_default_and_clamped() {
        assert!(!FaultInjector::default().should_fail());
        let all = FaultInjector::new(7.0, Duration::ZERO);
        assert!((0..10).all(|_| all.should_fail()));
        assert!(!FaultInjector::new(f64::NAN, Duration::ZERO).is_active());
    }
}
