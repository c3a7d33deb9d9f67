//! Labelled feedback joined to recent predictions, and the model's quality over a rolling
//! window of those labels: precision, recall and false-positive rate at the review and
//! block thresholds. No I/O and no HTTP.
//!
//! Predictions are remembered by a keyed 64-bit hash of their transaction id, in shards of
//! fixed capacity that drop their oldest entry when full, so memory is bounded whatever
//! clients send and recording a prediction allocates nothing once the shards are warm. A
//! feedback for an id the store does not hold inserts nothing.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backend::model::Thresholds;

const SHARDS: usize = 16;

/// A prediction waiting for its label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recorded {
    pub probability: f32,
    /// Seconds since the store started when the prediction was made.
    at: u32,
    labelled: bool,
}

/// Why a feedback could not be joined to a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unmatched {
    #[error("no recent prediction has this transaction id (never seen, or evicted)")]
    Unknown,
    #[error("the prediction of this transaction is older than the feedback window")]
    Expired,
    #[error("feedback for this transaction was already recorded")]
    Duplicate,
}

impl Unmatched {
    pub const ALL: [Self; 3] = [Self::Unknown, Self::Expired, Self::Duplicate];

    /// The `reason` label of the unmatched-feedback counter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Expired => "expired",
            Self::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug)]
struct Shard {
    entries: HashMap<u64, Recorded>,
    /// The keys of `entries` in insertion order, for eviction.
    order: VecDeque<u64>,
    capacity: usize,
}

impl Shard {
    /// Inserts or replaces an entry. A replaced entry keeps its place in the eviction
    /// order, so the queue holds exactly the keys of the map and never outgrows it.
    fn insert(&mut self, key: u64, recorded: Recorded) {
        if let Some(entry) = self.entries.get_mut(&key) {
            *entry = recorded;
            return;
        }
        if self.entries.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.entries.remove(&oldest);
        }
        self.entries.insert(key, recorded);
        self.order.push_back(key);
    }
}

/// Recent predictions by transaction id.
#[derive(Debug)]
pub struct PredictionLog {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    started: Instant,
    ttl: Duration,
}

impl PredictionLog {
    /// Holds at most `capacity` predictions (rounded up to a multiple of the shard count),
    /// each joinable for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    entries: HashMap::with_capacity(per_shard),
                    order: VecDeque::with_capacity(per_shard),
                    capacity: per_shard,
                })
            })
            .collect();
        Self {
            shards,
            hasher: RandomState::new(),
            started: Instant::now(),
            ttl,
        }
    }

    fn locate(&self, transaction_id: &str) -> (u64, &Mutex<Shard>) {
        let key = self.hasher.hash_one(transaction_id);
        (key, &self.shards[(key % SHARDS as u64) as usize])
    }

    fn now(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Remembers the prediction of a transaction; a later one of the same id replaces it.
    pub fn record(&self, transaction_id: &str, probability: f32) {
        let (key, shard) = self.locate(transaction_id);
        let recorded = Recorded {
            probability,
            at: self.now(),
            labelled: false,
        };
        shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, recorded);
    }

    /// The prediction a feedback refers to, marked as labelled.
    pub fn label(&self, transaction_id: &str) -> Result<Recorded, Unmatched> {
        let (key, shard) = self.locate(transaction_id);
        let now = self.now();
        let mut shard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = shard.entries.get_mut(&key).ok_or(Unmatched::Unknown)?;
        if u64::from(now.saturating_sub(entry.at)) > self.ttl.as_secs() {
            return Err(Unmatched::Expired);
        }
        if entry.labelled {
            return Err(Unmatched::Duplicate);
        }
        entry.labelled = true;
        Ok(*entry)
    }

    /// Predictions held now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.entries.len()).unwrap_or_default())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Confusion counts of "score >= threshold" as the fraud prediction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub true_negatives: u64,
}

impl Confusion {
    /// Counts of `labels` (score, is fraud) at `threshold`.
    pub fn of(labels: impl IntoIterator<Item = (f32, bool)>, threshold: f32) -> Self {
        let mut c = Self::default();
        for (score, fraud) in labels {
            match (score >= threshold, fraud) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, true) => c.false_negatives += 1,
                (false, false) => c.true_negatives += 1,
            }
        }
        c
    }

    /// Share of flagged transactions that were fraud; NaN when none was flagged.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Share of frauds flagged; NaN when there was no fraud.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// Share of legitimate transactions flagged; NaN when there was none.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(
            self.false_positives,
            self.false_positives + self.true_negatives,
        )
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        f64::NAN
    } else {
        part as f64 / whole as f64
    }
}

/// The most recent labels (score at prediction time, true outcome), at most `capacity`.
#[derive(Debug)]
pub struct QualityWindow {
    labels: VecDeque<(f32, bool)>,
    capacity: usize,
}

impl QualityWindow {
    pub fn new(capacity: usize) -> Self {
        Self {
            labels: VecDeque::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, score: f32, fraud: bool) {
        if self.labels.len() == self.capacity {
            self.labels.pop_front();
        }
        self.labels.push_back((score, fraud));
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Confusion counts at the review and block thresholds.
    pub fn confusion(&self, thresholds: Thresholds) -> [(&'static str, Confusion); 2] {
        [
            (
                "review",
                Confusion::of(self.labels.iter().copied(), thresholds.review),
            ),
            (
                "block",
                Confusion::of(self.labels.iter().copied(), thresholds.block),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_under_a_flood() {
        let log = PredictionLog::new(160, Duration::from_secs(60));
        for i in 0..5_000 {
            log.record(&format!("txn-{i}"), 0.5);
        }
        assert!(log.len() <= 160, "{}", log.len());
        assert_eq!(log.label("txn-0"), Err(Unmatched::Unknown), "evicted");
        assert!(log.label("txn-4999").is_ok(), "newest kept");
        assert_eq!(log.label("txn-4999"), Err(Unmatched::Duplicate));
        let before = log.len();
        for i in 0..100_000 {
            assert_eq!(log.label(&format!("nobody-{i}")), Err(Unmatched::Unknown));
        }
        assert_eq!(log.len(), before, "unknown ids insert nothing");
        // Overwriting one id over and over neither grows the store nor its queues.
        for _ in 0..10_000 {
            log.record("same", 0.1);
        }
        assert!(log.len() <= 160);
        let queued: usize = log
            .shards
            .iter()
            .map(|s| s.lock().unwrap().order.len())
            .sum();
        assert_eq!(queued, log.len());
    }

    #[test]
    fn old_predictions_expire() {
        let log = PredictionLog::new(16, Duration::ZERO);
        log.record("t", 0.9);
        std::thread::sleep(Duration::from_millis(1_100));
        assert_eq!(log.label("t"), Err(Unmatched::Expired));
    }

    #[test]
    fn confusion_ratios_follow_their_definitions() {
        let labels = [
            (0.9, true),
            (0.8, false),
            (0.2, true),
            (0.1, false),
            (0.05, false),
        ];
        let c = Confusion::of(labels, 0.5);
        assert_eq!((c.true_positives, c.false_positives), (1, 1));
        assert_eq!((c.false_negatives, c.true_negatives), (1, 2));
        assert_eq!(c.precision(), 0.5);
        assert_eq!(c.recall(), 0.5);
        assert!((c.false_positive_rate() - 1.0 / 3.0).abs() < 1e-12);
        assert!(Confusion::of([(0.1, false)], 0.5).precision().is_nan());
        let mut window = QualityWindow::new(2);
        for (s, f) in labels {
            window.push(s, f);
        }
        assert_eq!(window.len(), 2);
    }
}
