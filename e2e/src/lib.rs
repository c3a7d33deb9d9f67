//! Helpers for end-to-end tests against the local control plane: a client from its
//! kubeconfig, a temporary namespace per test, bounded waits, and the pinned tools.
//!
//! The tests never skip: when no control plane is reachable they fail and say how to
//! start one (`make cluster-up`, or `make e2e` which starts and stops it).

pub mod audit;
mod cluster;
pub mod helm;
mod namespace;
pub mod operator;
pub mod real_node;
pub mod stack;
mod wait;

pub use cluster::{
    Kubectl, client, client_from, kubeconfig_path, kubectl, repo_root, tool_path, workspace_binary,
};
pub use namespace::TestNamespace;
pub use wait::{await_condition, eventually};

/// A short random-enough suffix for names that must not collide between test runs.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}", (nanos ^ std::process::id()) & 0xfffff, n)
}
