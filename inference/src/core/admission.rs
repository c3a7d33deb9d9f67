//! Admission of prediction requests: a fixed number are served at once and the rest are
//! refused on the spot, never queued, so overload shows as refusals rather than as a
//! growing queue. How a refusal is answered is the server's business.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Bounds the prediction requests in flight.
#[derive(Debug)]
pub struct Admission {
    permits: Semaphore,
}

/// Held while an admitted request is served; dropping it admits the next one.
#[derive(Debug)]
#[must_use = "the request counts as admitted only while the permit is held"]
pub struct AdmissionPermit<'a> {
    _permit: SemaphorePermit<'a>,
}

impl Admission {
    /// Serves up to `limit` requests at once, and at least one.
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Semaphore::new(limit.max(1)),
        }
    }

    /// A permit if one is free; `None` means refuse the request now.
    pub fn try_admit(&self) -> Option<AdmissionPermit<'_>> {
        let permit = self.permits.try_acquire().ok()?;
        Some(AdmissionPermit { _permit: permit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_a_permit_is_returned() {
        let admission = Admission::new(2);
        let first = admission.try_admit().unwrap();
        let _second = admission.try_admit().unwrap();
        assert!(admission.try_admit().is_none());
        drop(first);
        assert!(admission.try_admit().is_some());
    }

    #[test]
    fn a_limit_of_zero_still_serves_one_request() {
        let admission = Admission::new(0);
        let _only = admission.try_admit().unwrap();
        assert!(admission.try_admit().is_none());
    }
}
