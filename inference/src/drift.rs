//! Online drift: population stability index (PSI) of live values against the model's
//! reference histograms, over a sliding window of the most recent observations.
//!
//! Holds counts only; it never sees user identifiers and exports nothing by itself.

use std::collections::VecDeque;

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

    /// The bin a value falls in.
    pub fn bin(&self, value: f64) -> usize {
        self.edges.partition_point(|&edge| edge < value)
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

/// Sliding-window bin counts for one histogram.
#[derive(Debug)]
struct Window {
    reference: ReferenceHistogram,
    recent: VecDeque<u16>,
    counts: Vec<u64>,
}

/// The drift monitor of one model: one window per reference histogram.
#[derive(Debug)]
pub struct DriftMonitor {
    capacity: usize,
    windows: Vec<Window>,
}

impl DriftMonitor {
    /// `capacity` is the number of most recent observations each window keeps.
    pub fn new(references: Vec<ReferenceHistogram>, capacity: usize) -> Self {
        let windows = references
            .into_iter()
            .map(|reference| Window {
                counts: vec![0; reference.shares.len()],
                recent: VecDeque::with_capacity(capacity),
                reference,
            })
            .collect();
        Self {
            capacity: capacity.max(1),
            windows,
        }
    }

    /// Records one observation per histogram, in the order the references were given.
    pub fn observe(&mut self, values: &[f64]) {
        for (window, &value) in self.windows.iter_mut().zip(values) {
            if !value.is_finite() {
                continue;
            }
            if window.recent.len() == self.capacity
                && let Some(old) = window.recent.pop_front()
            {
                window.counts[usize::from(old)] -= 1;
            }
            let bin = window.reference.bin(value);
            window.counts[bin] += 1;
            window.recent.push_back(bin as u16);
        }
    }

    /// `(name, psi)` for every histogram that has seen at least `min_samples` values.
    pub fn psi(&self, min_samples: usize) -> Vec<(&str, f64)> {
        self.windows
            .iter()
            .filter(|w| w.recent.len() >= min_samples.max(1))
            .map(|w| {
                let total = w.recent.len() as f64;
                let actual: Vec<f64> = w.counts.iter().map(|&c| c as f64 / total).collect();
                (w.reference.name.as_str(), psi(&w.reference.shares, &actual))
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
}
