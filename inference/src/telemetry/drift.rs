//! Online drift: population stability index (PSI) of live values against the model's
//! reference histograms, over a sliding window of the most recent observations.
//!
//! Holds counts only; it never sees user identifiers and exports nothing by itself.

use serde::{Deserialize, Serialize};

/// Smallest bin share used in the PSI sum; an empty bin would make the log infinite.
const MIN_SHARE: f64 = 1e-4;

/// A reference distribution: bin `i` holds values in `(edges[i-1], edges[i]]`, the first
/// bin everything up to `edges[0]` and the last everything above the last edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceHistogram {
    pub name: String,
    pub edges: Vec<f64>,
    pub shares: Vec<f64>,
}

impl ReferenceHistogram {
    /// Builds a histogram with (up to) `bins` quantile bins from `values`. Repeated
    /// quantiles collapse, so a binary feature gets two bins.
    pub fn from_values(name: &str, values: &[f64], bins: usize) -> Self {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..bins)
            .map(|q| sorted[(q * sorted.len() / bins).min(sorted.len() - 1)])
            .collect();
        edges.dedup();
        // An edge at the maximum would leave an always-empty top bin.
        if let Some(&max) = sorted.last() {
            edges.retain(|&edge| edge < max);
        }
        let mut histogram = Self {
            name: name.to_string(),
            shares: vec![0.0; edges.len() + 1],
            edges,
        };
        for &value in &sorted {
            let bin = histogram.bin(value);
            histogram.shares[bin] += 1.0;
        }
        let total = sorted.len().max(1) as f64;
        histogram.shares.iter_mut().for_each(|s| *s /= total);
        histogram
    }

    /// Why this histogram cannot be used for drift, if it cannot: bins must be ascending,
    /// one share per bin, at most [`MAX_BINS`] bins.
    pub fn problem(&self) -> Option<String> {
        let name = &self.name;
        if self.shares.len() != self.edges.len() + 1 {
            return Some(format!(
                "reference histogram `{name}` has {} shares for {} edges (needs edges + 1)",
                self.shares.len(),
                self.edges.len()
            ));
        }
        if self.shares.len() > MAX_BINS {
            return Some(format!(
                "reference histogram `{name}` has {} bins, at most {MAX_BINS} are supported",
                self.shares.len()
            ));
        }
        if !self.edges.windows(2).all(|pair| pair[0] < pair[1])
            || !self.edges.iter().all(|e| e.is_finite())
        {
            return Some(format!(
                "reference histogram `{name}` has edges that are not finite and ascending"
            ));
        }
        None
    }

    /// The bin a value falls in: the number of edges below it, as the edges ascend.
    pub fn bin(&self, value: f64) -> usize {
        // Models have about ten bins: counting them all without a branch beats a binary
        // search that mispredicts on every step, and it runs for every input of every
        // prediction.
        if self.edges.len() <= 32 {
            self.edges
                .iter()
                .map(|&edge| usize::from(edge < value))
                .sum()
        } else {
            self.edges.partition_point(|&edge| edge < value)
        }
    }
}

/// PSI between an expected and an actual distribution given as shares.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(MIN_SHARE), a.max(MIN_SHARE));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Most bins a reference histogram may have: the window stores a bin in one byte, which
/// keeps the default window of 5,000 predictions in about 50 KB.
pub const MAX_BINS: usize = 255;

/// Marks a value that was not finite and so was not counted.
const NOT_COUNTED: u8 = u8::MAX;

/// The drift monitor of one model: sliding-window bin counts per reference histogram.
///
/// The window is one ring of rows, a row holding the bin of every histogram for one
/// observation: recording or evicting an observation touches one place in memory rather
/// than one queue per histogram.
#[derive(Debug)]
pub struct DriftMonitor {
    references: Vec<ReferenceHistogram>,
    /// `counts[h][bin]`: observations in the window that fell in `bin` of histogram `h`.
    counts: Vec<Vec<u32>>,
    /// `capacity` rows of `references.len()` bins, oldest overwritten first.
    ring: Vec<u8>,
    capacity: usize,
    /// Rows held, up to `capacity`.
    rows: usize,
    /// The row the next observation goes to.
    next: usize,
}

impl DriftMonitor {
    /// `capacity` is the number of most recent observations the window keeps.
    pub fn new(references: Vec<ReferenceHistogram>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            counts: references.iter().map(|r| vec![0; r.shares.len()]).collect(),
            ring: vec![NOT_COUNTED; capacity * references.len()],
            capacity,
            rows: 0,
            next: 0,
            references,
        }
    }

    /// Records one observation per histogram, in the order the references were given.
    /// Values that are not finite are not counted.
    pub fn observe(&mut self, values: &[f64]) {
        let width = self.references.len();
        let row = &mut self.ring[self.next * width..(self.next + 1) * width];
        for (h, slot) in row.iter_mut().enumerate() {
            if self.rows == self.capacity && *slot != NOT_COUNTED {
                self.counts[h][usize::from(*slot)] -= 1;
            }
            *slot = match values.get(h) {
                Some(&value) if value.is_finite() => {
                    let bin = self.references[h].bin(value);
                    self.counts[h][bin] += 1;
                    // Fits: models with more than `MAX_BINS` bins are refused at load.
                    bin as u8
                }
                _ => NOT_COUNTED,
            };
        }
        self.next = (self.next + 1) % self.capacity;
        self.rows = (self.rows + 1).min(self.capacity);
    }

    /// `(name, psi)` for every histogram that has counted at least `min_samples` values
    /// in the window.
    pub fn psi(&self, min_samples: usize) -> Vec<(&str, f64)> {
        self.references
            .iter()
            .zip(&self.counts)
            .filter_map(|(reference, counts)| {
                // The values counted in the window; non-finite ones are in no bin.
                let counted: u32 = counts.iter().sum();
                if (counted as usize) < min_samples.max(1) {
                    return None;
                }
                let total = f64::from(counted);
                let actual: Vec<f64> = counts.iter().map(|&c| f64::from(c) / total).collect();
                Some((reference.name.as_str(), psi(&reference.shares, &actual)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(n: usize, offset: f64) -> Vec<f64> {
        (0..n).map(|i| (i % 100) as f64 + offset).collect()
    }

    #[test]
    fn binary_feature_gets_two_bins() {
        let values: Vec<f64> = (0..100).map(|i| f64::from(i % 4 == 0)).collect();
        let h = ReferenceHistogram::from_values("flag", &values, 10);
        assert_eq!(h.edges, vec![0.0]);
        assert!((h.shares[1] - 0.25).abs() < 1e-9);
    }

    #[test]
    fn same_distribution_has_low_psi_and_shifted_has_high() {
        let reference = ReferenceHistogram::from_values("x", &spread(1000, 0.0), 10);
        let mut same = DriftMonitor::new(vec![reference.clone()], 500);
        let mut shifted = DriftMonitor::new(vec![reference], 500);
        for v in spread(1000, 0.0) {
            same.observe(&[v]);
        }
        for v in spread(1000, 60.0) {
            shifted.observe(&[v]);
        }
        assert!(same.psi(1)[0].1 < 0.02);
        assert!(shifted.psi(1)[0].1 > 0.5);
    }

    #[test]
    fn window_forgets_old_values() {
        let reference = ReferenceHistogram::from_values("x", &spread(1000, 0.0), 10);
        let mut monitor = DriftMonitor::new(vec![reference], 200);
        for v in spread(400, 500.0) {
            monitor.observe(&[v]);
        }
        assert!(monitor.psi(1)[0].1 > 1.0);
        for v in spread(200, 0.0) {
            monitor.observe(&[v]);
        }
        assert!(monitor.psi(1)[0].1 < 0.1);
    }

    #[test]
    fn nothing_reported_below_min_samples() {
        let reference = ReferenceHistogram::from_values("x", &spread(100, 0.0), 10);
        let mut monitor = DriftMonitor::new(vec![reference], 100);
        monitor.observe(&[1.0]);
        assert!(monitor.psi(10).is_empty());
    }

    #[test]
    fn histograms_count_their_own_values_and_skip_non_finite_ones() {
        let x = ReferenceHistogram::from_values("x", &spread(1000, 0.0), 10);
        let y = ReferenceHistogram::from_values("y", &spread(1000, 0.0), 10);
        let mut monitor = DriftMonitor::new(vec![x, y], 300);
        for v in spread(600, 0.0) {
            monitor.observe(&[v + 500.0, if v < 50.0 { v } else { f64::NAN }]);
        }
        let psi = monitor.psi(100);
        assert_eq!(psi[0].0, "x");
        assert!(psi[0].1 > 1.0, "{psi:?}");
        assert_eq!(psi[1].0, "y");
        assert!(
            psi[1].1 > 0.5,
            "only the low half of y was counted: {psi:?}"
        );
        // The NaNs leave y with 150 counted values in the window.
        assert!(monitor.psi(151).iter().all(|(name, _)| *name != "y"));
        assert!(monitor.psi(150).iter().any(|(name, _)| *name == "y"));
    }

    #[test]
    fn short_and_long_histograms_bin_alike() {
        let short = ReferenceHistogram::from_values("x", &spread(1000, 0.0), 10);
        let long = ReferenceHistogram::from_values("x", &spread(1000, 0.0), 50);
        assert!(short.edges.len() <= 32 && long.edges.len() > 32);
        for histogram in [short, long] {
            for value in [-1.0, 0.0, 0.5, 9.0, 10.0, 55.5, 99.0, 1e9] {
                let expected = histogram.edges.iter().filter(|&&e| e < value).count();
                assert_eq!(histogram.bin(value), expected, "{value}");
            }
            assert_eq!(
                histogram.bin(histogram.edges[3]),
                3,
                "edges belong to the bin below"
            );
        }
    }

    #[test]
    fn unusable_references_are_named() {
        let good = ReferenceHistogram::from_values("x", &spread(100, 0.0), 10);
        assert_eq!(good.problem(), None);
        let mut short = good.clone();
        short.shares.pop();
        assert!(short.problem().unwrap().contains("`x`"));
        let mut unsorted = good;
        unsorted.edges.swap(0, 1);
        assert!(unsorted.problem().unwrap().contains("ascending"));
        let huge = ReferenceHistogram {
            name: "x".into(),
            edges: (0..MAX_BINS).map(|i| i as f64).collect(),
            shares: vec![0.0; MAX_BINS + 1],
        };
        assert!(huge.problem().unwrap().contains("at most"));
    }
}
