//! Child names. Prefixes keep MLService and SLO children apart; `MAX_NAME_LENGTH` keeps the
//! longest within 63 characters.

/// Deployment, Service and ServiceMonitor of an MLService share its name (the Service name is
/// the `service` label of the scraped series, which SLO rules select on).
pub fn inference(mls: &str) -> String {
    mls.to_owned()
}

/// Dashboard ConfigMap of an MLService.
pub fn mlservice_dashboard(mls: &str) -> String {
    format!("mls-{mls}-dashboard")
}

/// PrometheusRule of an SLO.
pub fn slo_rule(slo: &str) -> String {
    format!("slo-{slo}")
}

/// Dashboard ConfigMap of an SLO.
pub fn slo_dashboard(slo: &str) -> String {
    format!("slo-{slo}-dashboard")
}
