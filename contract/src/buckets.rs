//! Histogram bucket boundaries of the inference metrics, in seconds or in score units. The
//! server builds its histograms from them; the operator accepts a latency SLO threshold only
//! when it equals one of [`REQUEST_DURATION_BUCKETS`], so that the SLI
//! `rate(bucket{le="T"}) / rate(count)` is exact rather than interpolated.

/// `tidewatch_request_duration_seconds` boundaries, in seconds.
///
/// The server answers a prediction in well under a millisecond on a CPU, and the
/// performance target is p99 <= 5 ms. Latency SLOs for a fraud check in a payment path are
/// usually written at 5, 10, 25, 50, 100 or 250 ms, so each of those is a boundary; the
/// sub-millisecond boundaries show regressions long before an SLO burns, and the
/// 0.5 s - 2.5 s tail catches feature-store timeouts and stalls. Eleven buckets keep the
/// series count per route and method small.
pub const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// `tidewatch_inference_duration_seconds` boundaries: one batched forward pass of the
/// small model takes tens of microseconds on a CPU; the upper boundaries catch contention.
pub const INFERENCE_DURATION_BUCKETS: &[f64] = &[
    0.000_025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
];

/// `tidewatch_feature_store_duration_seconds` boundaries: a Redis hash read on the same
/// network answers in well under a millisecond; the default lookup timeout is 50 ms
/// ([`FEATURE_TIMEOUT_MS`](crate::defaults::FEATURE_TIMEOUT_MS)), so the buckets end just
/// past the timeouts operators are likely to configure.
pub const FEATURE_STORE_DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/// `tidewatch_prediction_score` boundaries: twenty equal-width bins over [0, 1], so the
/// score distribution is readable on a dashboard heatmap and comparable with the model's
/// reference score histogram.
pub const PREDICTION_SCORE_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85,
    0.9, 0.95, 1.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_strictly_increasing_and_positive() {
        for buckets in [
            REQUEST_DURATION_BUCKETS,
            INFERENCE_DURATION_BUCKETS,
            FEATURE_STORE_DURATION_BUCKETS,
            PREDICTION_SCORE_BUCKETS,
        ] {
            assert!(buckets[0] > 0.0);
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
        }
    }

    #[test]
    fn common_latency_slo_thresholds_are_boundaries() {
        for threshold in [0.005, 0.01, 0.025, 0.05, 0.1, 0.25] {
            assert!(REQUEST_DURATION_BUCKETS.contains(&threshold), "{threshold}");
        }
    }
}
