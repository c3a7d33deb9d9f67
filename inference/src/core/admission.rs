//! Admission of prediction requests: a fixed number are served at once and the rest are
//! refused on the spot, never queued, so overload shows as refusals rather than as a
//! growing queue. Bodies are read before admission (a slow client must not hold a permit
//! while it sends), so the bytes of bodies held at once have a budget of their own. How a
//! refusal is answered is the server's business.

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

/// Bounds the bytes of request bodies held at once, over every request still being read
/// and every admitted one. Reading a body takes from it chunk by chunk; the bytes come
/// back when the body is dropped.
#[derive(Debug)]
pub struct BodyBudget {
    bytes: Semaphore,
}

/// The share of the [`BodyBudget`] one body holds; hold it as long as the body.
#[derive(Debug, Default)]
#[must_use = "the body's bytes count against the budget only while this is held"]
pub struct BodyBytes<'a> {
    held: Option<SemaphorePermit<'a>>,
}

impl BodyBudget {
    /// Holds up to `bytes` at once (capped at what a semaphore can count), and at least one.
    pub fn new(bytes: usize) -> Self {
        Self {
            bytes: Semaphore::new(bytes.clamp(1, Semaphore::MAX_PERMITS)),
        }
    }

    /// Adds `more` bytes to `body` if the budget has them; `false` means refuse the
    /// request now (what `body` already holds stays held until it is dropped).
    pub fn try_take<'a>(&'a self, body: &mut BodyBytes<'a>, more: usize) -> bool {
        let Ok(more) = u32::try_from(more) else {
            return false;
        };
        if more == 0 {
            return true;
        }
        let Ok(permit) = self.bytes.try_acquire_many(more) else {
            return false;
        };
        match &mut body.held {
            Some(held) => held.merge(permit),
            None => body.held = Some(permit),
        }
        true
    }
}

impl BodyBytes<'_> {
    /// Bytes held against the budget.
    pub fn len(&self) -> usize {
        self.held.as_ref().map_or(0, SemaphorePermit::num_permits)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_budget_refuses_past_its_bytes_until_a_body_is_dropped() {
        let budget = BodyBudget::new(1000);
        let mut first = BodyBytes::default();
        assert!(budget.try_take(&mut first, 600));
        assert!(budget.try_take(&mut first, 300));
        assert_eq!(first.len(), 900);
        let mut second = BodyBytes::default();
        assert!(!budget.try_take(&mut second, 101));
        assert!(budget.try_take(&mut second, 100));
        assert!(!budget.try_take(&mut second, 1));
        assert!(budget.try_take(&mut second, 0));
        drop(first);
        assert!(budget.try_take(&mut second, 900));
        assert_eq!(second.len(), 1000);
    }

    #[test]
    fn a_chunk_larger_than_a_semaphore_counts_is_refused() {
        let budget = BodyBudget::new(usize::MAX);
        let mut body = BodyBytes::default();
        assert!(!budget.try_take(&mut body, u32::MAX as usize + 1));
        assert!(body.is_empty());
    }

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
