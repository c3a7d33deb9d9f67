//! The inference server's histogram buckets, compiled from the inference crate's own
//! dependency-free `buckets.rs` so the two can never drift apart. A latency SLO's threshold
//! must equal one of [`REQUEST_DURATION_BUCKETS`], or the SLI could not be computed exactly.

#[path = "../../inference/src/buckets.rs"]
mod inference_buckets;

pub use inference_buckets::{
    FEATURE_STORE_DURATION_BUCKETS, INFERENCE_DURATION_BUCKETS, PREDICTION_SCORE_BUCKETS,
    REQUEST_DURATION_BUCKETS,
};
