//! Grafana dashboards built from the metric contract: one function per dashboard. Pure JSON
//! values; the ConfigMap wrapper and `make generate` serialise them.

pub mod mlservice;
pub mod operator;
mod panels;
pub mod slo;

pub use mlservice::{MlServiceDashboard, mlservice_dashboard};
pub use operator::operator_dashboard;
pub use slo::{SloDashboard, slo_dashboard};

/// Grafana's limit on dashboard uids.
pub const MAX_UID_LENGTH: usize = 40;

/// A uid within Grafana's limit, stable for a given input.
pub(crate) fn uid(parts: &[&str]) -> String {
    let joined = parts.join("-");
    if joined.len() <= MAX_UID_LENGTH {
        return joined;
    }
    // Keep a readable head and make the tail unique with a checksum of the whole.
    let sum = joined.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let hash = format!("{sum:016x}");
    format!("{}-{}", &joined[..MAX_UID_LENGTH - 17], hash)
}
