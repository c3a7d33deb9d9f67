//! Condition types and reasons shared by both kinds. Strings live here once so that the
//! controllers, status tests and documentation agree.

/// The resource's children exist and serve (MLService) or its rules are in place (SLO).
pub const READY: &str = "Ready";
/// A change is being rolled out.
pub const PROGRESSING: &str = "Progressing";
/// The spec is invalid or a child cannot be applied.
pub const DEGRADED: &str = "Degraded";

/// Reason used when the validation step refuses a spec.
pub const REASON_INVALID_SPEC: &str = "InvalidSpec";
/// Reason used when the SLO's target MLService does not exist.
pub const REASON_TARGET_NOT_FOUND: &str = "TargetNotFound";
/// Reason used when every child is applied and current.
pub const REASON_RECONCILED: &str = "Reconciled";
