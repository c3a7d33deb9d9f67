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

/// With live figures: the SLO's error budget over the window is spent.
pub const BUDGET_EXHAUSTED: &str = "BudgetExhausted";
/// With live figures: a burn-rate alert of the SLO fires.
pub const BURNING: &str = "Burning";

/// `Burning=True`: a page-tier burn alert fires.
pub const REASON_PAGE: &str = "Page";
/// `Burning=True`: only ticket-tier burn alerts fire.
pub const REASON_TICKET: &str = "Ticket";
/// `Burning=False`: no burn alert fires.
pub const REASON_NOT_BURNING: &str = "NotBurning";
/// `BudgetExhausted=True`.
pub const REASON_EXHAUSTED: &str = "Exhausted";
/// `BudgetExhausted=False`.
pub const REASON_WITHIN_BUDGET: &str = "WithinBudget";
/// `Unknown`: the SLO's recorded series hold no data yet (no traffic, rules not evaluated).
pub const REASON_NO_DATA: &str = "NoData";
/// `Unknown`: Prometheus could not be reached (connection refused, DNS, TLS).
pub const REASON_PROMETHEUS_UNREACHABLE: &str = "PrometheusUnreachable";
/// `Unknown`: Prometheus did not answer within the timeout.
pub const REASON_PROMETHEUS_TIMEOUT: &str = "PrometheusTimeout";
/// `Unknown`: Prometheus answered with an HTTP error status.
pub const REASON_PROMETHEUS_HTTP_ERROR: &str = "PrometheusHttpError";
/// `Unknown`: Prometheus answered something that is not a query result.
pub const REASON_PROMETHEUS_BAD_ANSWER: &str = "PrometheusBadAnswer";
