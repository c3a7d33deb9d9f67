//! Validation of an SLO into `ValidSlo`: objective, window, target, indicator and alerting
//! policy, one function per spec section.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};
use tidewatch_contract::endpoints::SERVING_ROUTES;
use tidewatch_contract::metrics::{REQUEST_DURATION_METRIC, REQUESTS_TOTAL_METRIC, label};

use super::errors::{Collector, ValidationErrors};
use super::names::{ResourceName, check_prometheus_labels, checked_namespace};
use super::newtypes::{LatencyThreshold, Objective, PromDuration, Window};
use super::urls::{has_secret_query, has_userinfo};
use crate::api::rules::{
    ONE_INDICATOR_MESSAGE, RUNBOOK_CREDENTIALS_MESSAGE, TARGET_NEEDED_MESSAGE,
    TARGET_WITH_RATIO_MESSAGE,
};
use crate::api::slo::{AlertTier, Alerting, Indicator, SloTarget};
use crate::api::{MLService, SLO};
use crate::promql::{MatchOp, Matcher, Selector, regex_alternatives};

/// Prometheus' default `scrape_interval`.
pub const PROMETHEUS_DEFAULT_SCRAPE_INTERVAL: PromDuration = PromDuration::from_secs_const(60);

/// Labels the rule generator sets itself on alerts.
pub use crate::api::rules::RESERVED_ALERT_LABELS;

/// The indicator, resolved to series selectors.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// 5xx responses among the serving requests of an MLService.
    Availability {
        /// `tidewatch_requests_total` of the service's serving routes.
        requests: Selector,
        /// `tidewatch_requests_total` of every route: present whenever the service is scraped.
        scraped: Selector,
    },
    /// Serving requests slower than a bucket among all serving requests of an MLService.
    Latency {
        /// `tidewatch_request_duration_seconds` of the service's serving routes, without suffix.
        histogram: Selector,
        /// `tidewatch_request_duration_seconds_count` of every route.
        scraped: Selector,
        /// Threshold bucket.
        threshold: LatencyThreshold,
    },
    /// Errors over total, user-given selectors (parsed and re-escaped).
    Ratio {
        /// Counter of failed events.
        errors: Selector,
        /// Counter of all events.
        total: Selector,
    },
}

impl Sli {
    /// Short name used in labels and dashboards.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Availability { .. } => "availability",
            Self::Latency { .. } => "latency",
            Self::Ratio { .. } => "ratio",
        }
    }
}

/// One enabled alert tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierPolicy {
    /// Extra alert labels (checked: legal names, none reserved).
    pub labels: BTreeMap<String, String>,
}

/// Alerting choices of an SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingPolicy {
    /// Page tier, if enabled.
    pub page: Option<TierPolicy>,
    /// Ticket tier, if enabled.
    pub ticket: Option<TierPolicy>,
    /// Runbook URL.
    pub runbook_url: Option<String>,
    /// Minimum traffic guard, requests per hour (0: off).
    pub minimum_requests_per_hour: f64,
    /// Whether `SLOMetricsAbsent` is generated.
    pub metrics_absent: bool,
}

/// An SLO whose spec passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSlo {
    /// SLO name.
    pub name: ResourceName,
    /// Namespace (also the namespace of the target MLService).
    pub namespace: String,
    /// Controller owner reference, when the object came from a cluster.
    pub owner: Option<OwnerReference>,
    /// Target MLService, when the indicator measures one.
    pub target: Option<ResourceName>,
    /// Objective.
    pub objective: Objective,
    /// Compliance window.
    pub window: Window,
    /// How often the indicator's series are scraped: the target MLService's interval, or
    /// Prometheus' default for a ratio indicator. No rate window is shorter than four of it.
    pub scrape_interval: PromDuration,
    /// Indicator.
    pub sli: Sli,
    /// Alerting.
    pub alerting: AlertingPolicy,
}

/// Every series of `metric` scraped from the MLService `service`.
fn service_selector(metric: &str, namespace: &str, service: &str) -> Selector {
    Selector::new(
        metric,
        vec![
            Matcher::new(label::NAMESPACE, MatchOp::Equal, namespace),
            Matcher::new(label::SERVICE, MatchOp::Equal, service),
        ],
    )
}

/// The series of `metric` of the routes that serve predictions only: the kubelet's probes
/// and Prometheus' scrapes answer the platform, so a 503 from `/readyz` on a warming pod
/// must not burn the budget, and probes must not pad the traffic of an idle service.
fn serving_selector(metric: &str, namespace: &str, service: &str) -> Selector {
    service_selector(metric, namespace, service).with(Matcher::new(
        label::ROUTE,
        MatchOp::Regex,
        &regex_alternatives(SERVING_ROUTES),
    ))
}

fn runbook(text: &str) -> Result<String, String> {
    let ok = (text.starts_with("https://") || text.starts_with("http://"))
        && text.len() <= 2048
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        Err(format!(
            "{text:?} must be an http(s) URL without spaces, at most 2048 characters"
        ))
    } else if has_userinfo(text) || has_secret_query(text) {
        Err(RUNBOOK_CREDENTIALS_MESSAGE.into())
    } else {
        Ok(text.to_owned())
    }
}

/// Validates an SLO. `target` is the MLService named by `spec.target.mlService`, if it
/// exists (the caller looks it up in the cluster, or in the set being rendered). Every section
/// is checked, so that one answer names every refused field.
pub fn validate_slo(slo: &SLO, target: Option<&MLService>) -> Result<ValidSlo, ValidationErrors> {
    let mut c = Collector::default();
    let spec = &slo.spec;
    let name = c.take("metadata.name", ResourceName::new(&slo.name_any()));
    let namespace = checked_namespace(&mut c, slo.namespace());
    let objective = c.take("spec.objective", Objective::new(spec.objective));
    let window = c.take("spec.window", Window::parse(&spec.window));
    let target_name = checked_target(&mut c, spec.target.as_ref(), target, &namespace);
    let sli = indicator(
        &mut c,
        &spec.indicator,
        spec.target.is_some(),
        target_name.as_ref(),
        &namespace,
    );
    let alerting = alerting(&mut c, &spec.alerting);
    let owner = slo.controller_owner_ref(&());
    let scrape_interval = scrape_interval_of(target);
    c.finish(|| ValidSlo {
        name: name.expect("checked"),
        namespace,
        owner,
        target: target_name,
        objective: objective.expect("checked"),
        window: window.expect("checked"),
        scrape_interval,
        sli: sli.expect("checked"),
        alerting: alerting.expect("checked"),
    })
}

/// The scrape interval of the indicator's series. A ratio indicator names series Tidewatch
/// does not scrape, so Prometheus' own default (`scrape_interval: 1m`) is assumed; an
/// MLService whose interval does not parse is reported on the MLService, and its SLO
/// assumes that default too.
fn scrape_interval_of(target: Option<&MLService>) -> PromDuration {
    target
        .and_then(|m| PromDuration::parse(&m.spec.monitoring.scrape_interval).ok())
        .unwrap_or(PROMETHEUS_DEFAULT_SCRAPE_INTERVAL)
}

/// `spec.target`: a valid name of an MLService that exists in the SLO's namespace.
fn checked_target(
    c: &mut Collector,
    spec: Option<&SloTarget>,
    found: Option<&MLService>,
    namespace: &str,
) -> Option<ResourceName> {
    let name = spec.and_then(|t| c.take("spec.target.mlService", ResourceName::new(&t.ml_service)));
    if let Some(t) = &name {
        let exists = found.is_some_and(|m| {
            m.name_any() == t.as_str()
                && m.namespace().unwrap_or_else(|| "default".into()) == namespace
        });
        if !exists {
            c.push(
                "spec.target.mlService",
                format!(
                    "MLService {:?} does not exist in namespace {namespace:?}",
                    t.as_str()
                ),
            );
        }
    }
    name
}

/// `spec.indicator`: exactly one of availability and latency (of the target's series) or
/// ratio (of the user's own selectors). `has_target` says whether `spec.target` is set at all,
/// `target` is its name when valid.
fn indicator(
    c: &mut Collector,
    ind: &Indicator,
    has_target: bool,
    target: Option<&ResourceName>,
    namespace: &str,
) -> Option<Sli> {
    let set = [
        ind.availability.is_some(),
        ind.latency.is_some(),
        ind.ratio.is_some(),
    ];
    if set.iter().filter(|x| **x).count() != 1 {
        c.push("spec.indicator", ONE_INDICATOR_MESSAGE);
        return None;
    }
    if let Some(ratio) = &ind.ratio {
        if has_target {
            c.push("spec.target", TARGET_WITH_RATIO_MESSAGE);
        }
        let errors = c.take(
            "spec.indicator.ratio.errors",
            Selector::parse(&ratio.errors),
        );
        let total = c.take("spec.indicator.ratio.total", Selector::parse(&ratio.total));
        return Some(Sli::Ratio {
            errors: errors?,
            total: total?,
        });
    }
    let Some(t) = target else {
        if !has_target {
            c.push("spec.target", TARGET_NEEDED_MESSAGE);
        }
        return None;
    };
    match &ind.latency {
        Some(latency) => c
            .take(
                "spec.indicator.latency.threshold",
                LatencyThreshold::parse(&latency.threshold),
            )
            .map(|threshold| Sli::Latency {
                histogram: serving_selector(REQUEST_DURATION_METRIC, namespace, t.as_str()),
                scraped: service_selector(
                    &format!("{REQUEST_DURATION_METRIC}_count"),
                    namespace,
                    t.as_str(),
                ),
                threshold,
            }),
        None => Some(Sli::Availability {
            requests: serving_selector(REQUESTS_TOTAL_METRIC, namespace, t.as_str()),
            scraped: service_selector(REQUESTS_TOTAL_METRIC, namespace, t.as_str()),
        }),
    }
}

/// `spec.alerting`: tier labels (legal, none reserved), runbook URL, traffic guard.
fn alerting(c: &mut Collector, a: &Alerting) -> Option<AlertingPolicy> {
    let mut tier = |field: &str, t: &AlertTier| {
        if let Err(reason) = check_prometheus_labels(&t.labels, RESERVED_ALERT_LABELS) {
            c.push(format!("spec.alerting.{field}.labels"), reason);
        }
        t.enabled.then(|| TierPolicy {
            labels: t.labels.clone(),
        })
    };
    let page = tier("page", &a.page);
    let ticket = tier("ticket", &a.ticket);
    let runbook_url = match &a.runbook_url {
        None => Some(None),
        Some(u) => c.take("spec.alerting.runbookUrl", runbook(u)).map(Some),
    };
    if !(a.minimum_requests_per_hour.is_finite()
        && (0.0..=1e9).contains(&a.minimum_requests_per_hour))
    {
        c.push(
            "spec.alerting.minimumRequestsPerHour",
            format!(
                "must be between 0 and 1e9, got {}",
                a.minimum_requests_per_hour
            ),
        );
    }
    Some(AlertingPolicy {
        page,
        ticket,
        runbook_url: runbook_url?,
        minimum_requests_per_hour: a.minimum_requests_per_hour,
        metrics_absent: a.metrics_absent,
    })
}
