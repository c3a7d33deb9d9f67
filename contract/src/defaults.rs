//! Defaults spelled on both sides of the contract: the operator's API applies them to a
//! field left out of an MLService, and the inference server to a flag left out of `serve`
//! or to the readings of its metrics.

/// Upper bound of one feature lookup, in milliseconds. A `u16` so that it converts without
/// loss to the CRD's integer and to the flag's `u64`.
pub const FEATURE_TIMEOUT_MS: u16 = 50;
/// Share of new traces sampled. Each sampled request costs about as much CPU as one whole
/// unsampled request, so 1 % keeps tracing near 1 % of the server's time.
pub const TRACE_SAMPLE_RATIO: f64 = 0.01;
/// Population stability index above which a feature is drifting: the customary "moderate
/// shift" reading of `tidewatch_feature_drift_psi` (`alerts/drift.rules.yaml` uses the same).
pub const DRIFT_WARNING_PSI: f64 = 0.1;
/// Population stability index above which a feature has shifted significantly.
pub const DRIFT_CRITICAL_PSI: f64 = 0.25;
/// Seconds a stopping inference pod keeps serving (not ready) before it closes its listener.
/// The pod's removal travels kubelet → API server → EndpointSlice → kube-proxy before new
/// connections stop arriving. On a loaded two-core node, rolling restarts lost requests
/// with the server's own 2 s default (refused connections) and still a few with 5 s
/// (connections queued when the listener closed), so the operator asks for 10 s. The pod's
/// termination grace period (30 s) covers it plus the 20 s drain.
pub const SHUTDOWN_DELAY_SECONDS: u16 = 10;
