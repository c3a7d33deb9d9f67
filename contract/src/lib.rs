//! The contract between the Tidewatch operator and the inference server it deploys: the
//! names and numbers both sides must spell alike — metric and label names, histogram
//! buckets, the environment the operator writes and the flags that read it, the HTTP port
//! and paths, and the defaults both apply.
//!
//! Names and numbers only. No dependencies, no I/O and no logic beyond spelling a name out
//! (a metric's stored series): anything that behaves belongs to one side or the other. A
//! value changes here or not at all, and then changes for both crates at once.

pub mod buckets;
pub mod defaults;
pub mod endpoints;
pub mod env;
pub mod metrics;
