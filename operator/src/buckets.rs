//! The inference server's request-duration histogram buckets, as the operator knows them.
//! A latency SLO's threshold must equal one of them, or the SLI could not be computed exactly.

/// Upper bounds (seconds) of `tidewatch_request_duration_seconds`. Kept equal to the inference
/// server's list; a cross-check test guards the pair.
pub const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
