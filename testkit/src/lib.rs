//! Test support shared by the inference tests, the e2e suite and the load generator: free
//! loopback ports, child processes stopped by PID, bounded readiness waits, the inference
//! server and Redis as processes, and request fixtures. Everything blocks (no async
//! runtime) and reports failures as errors that carry the process's log; it is never linked
//! into a shipped binary.

pub mod fixtures;
mod http;
mod inference;
mod port;
mod process;
mod redis;

pub use http::{http_get, wait_for_http_ok};
pub use inference::{InferenceLaunch, InferenceServer, load_features};
pub use port::{free_port, loopback};
pub use process::ChildGuard;
pub use redis::Redis;
