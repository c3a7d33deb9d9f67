//! The rule group of one SLO: recording rules for each window's error ratio, the
//! traffic-weighted period ratio, one burn alert per enabled tier, and the absent alert.

use std::collections::{BTreeMap, BTreeSet};

use super::burn_rates::{Severity, Tier, tiers};
use super::sli::{error_rate, error_ratio, presence_selector, total_rate};
use crate::monitoring_types::{Rule, RuleGroup};
use crate::promql::{number, quote};
use crate::validate::{PromDuration, TierPolicy, ValidSlo};

/// Name of the burn-rate alerts.
pub const BURN_ALERT: &str = "SLOErrorBudgetBurn";
/// Name of the missing-data alert.
pub const ABSENT_ALERT: &str = "SLOMetricsAbsent";
/// Prefix of every recorded series.
pub const RECORD_PREFIX: &str = "tidewatch_slo";

/// Recorded per-second rate of all events over the shortest window.
pub fn requests_record(window: PromDuration) -> String {
    format!("{RECORD_PREFIX}:requests:rate{window}")
}

/// Recorded per-second rate of bad events over the shortest window.
pub fn errors_record(window: PromDuration) -> String {
    format!("{RECORD_PREFIX}:errors:rate{window}")
}

/// Recorded error ratio over `window`.
pub fn ratio_record(window: PromDuration) -> String {
    format!("{RECORD_PREFIX}:error_ratio:rate{window}")
}

/// Recorded traffic-weighted error ratio over the whole SLO window.
pub const PERIOD_RECORD: &str = "tidewatch_slo:error_ratio:period";

/// Makes user text literal inside a Go template (Prometheus expands alert labels and
/// annotations): every `{{` becomes an action printing `{{`.
pub fn template_literal(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

fn identity(slo: &ValidSlo) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("namespace".to_owned(), slo.namespace.clone()),
        ("slo".to_owned(), slo.name.to_string()),
    ])
}

fn identity_matchers(slo: &ValidSlo) -> String {
    format!(
        "{{namespace={}, slo={}}}",
        quote(&slo.namespace),
        quote(slo.name.as_str())
    )
}

/// Every window whose error ratio is recorded, shortest first.
fn windows(all: &[Tier]) -> BTreeSet<PromDuration> {
    all.iter().flat_map(|t| [t.short, t.long]).collect()
}

/// `for` of the absent alert: the time a total outage takes to trip the fastest page tier,
/// in whole minutes, at least 1m and at most that tier's long window.
pub fn absent_for(slo: &ValidSlo) -> PromDuration {
    let fastest = tiers(slo.window, slo.scrape_interval)[0];
    let threshold = fastest.error_ratio_threshold(slo.objective).min(1.0);
    let seconds = fastest.long.as_secs() as f64 * threshold;
    let minutes = (seconds / 60.0).ceil().max(1.0) as u64;
    PromDuration::from_secs((minutes * 60).min(fastest.long.as_secs().max(60)))
}

fn recording_rules(slo: &ValidSlo, all: &[Tier]) -> Vec<Rule> {
    let labels = identity(slo);
    let ids = identity_matchers(slo);
    let shortest = *windows(all).first().expect("four tiers");
    let record = |name: String, expr: String| Rule {
        record: Some(name),
        expr,
        labels: labels.clone(),
        ..Rule::default()
    };
    let mut rules = vec![
        record(requests_record(shortest), total_rate(&slo.sli, shortest)),
        record(errors_record(shortest), error_rate(&slo.sli, shortest)),
        record(
            ratio_record(shortest),
            format!(
                "{}{ids}\n/\n{}{ids}",
                errors_record(shortest),
                requests_record(shortest)
            ),
        ),
    ];
    for window in windows(all).into_iter().skip(1) {
        rules.push(record(ratio_record(window), error_ratio(&slo.sli, window)));
    }
    // Sums of the short-window rates over the period: numerator and denominator are sampled
    // identically, so the ratio weighs every interval by its traffic.
    let period = slo.window.duration();
    rules.push(record(
        PERIOD_RECORD.to_owned(),
        format!(
            "sum_over_time({}{ids}[{period}])\n/\nsum_over_time({}{ids}[{period}])",
            errors_record(shortest),
            requests_record(shortest)
        ),
    ));
    rules
}

fn tier_policy(slo: &ValidSlo, severity: Severity) -> Option<&TierPolicy> {
    match severity {
        Severity::Page => slo.alerting.page.as_ref(),
        Severity::Ticket => slo.alerting.ticket.as_ref(),
    }
}

fn common_annotations(slo: &ValidSlo) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    if let Some(url) = &slo.alerting.runbook_url {
        annotations.insert("runbook_url".to_owned(), template_literal(url));
    }
    annotations
}

fn burn_alert(slo: &ValidSlo, tier: &Tier, policy: &TierPolicy) -> Rule {
    let ids = identity_matchers(slo);
    let threshold = number(tier.error_ratio_threshold(slo.objective));
    let mut expr = format!(
        "(\n  {long}{ids} > {threshold}\nand\n  {short}{ids} > {threshold}\n)",
        long = ratio_record(tier.long),
        short = ratio_record(tier.short),
    );
    let guard = slo.alerting.minimum_requests_per_hour;
    if guard > 0.0 {
        expr.push_str(&format!(
            "\nand on ()\n  ({} * 3600 >= {})",
            total_rate(&slo.sli, tier.long),
            number(guard)
        ));
    }
    let mut labels: BTreeMap<String, String> = policy
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), template_literal(v)))
        .collect();
    labels.extend(identity(slo));
    labels.insert("severity".into(), tier.severity.as_str().into());
    labels.insert("long_window".into(), tier.long.to_string());
    labels.insert("short_window".into(), tier.short.to_string());
    let burn = number(tier.burn_rate);
    let mut annotations = common_annotations(slo);
    annotations.insert(
        "summary".into(),
        format!(
            "SLO {}/{} is burning its error budget at {burn}x",
            slo.namespace, slo.name
        ),
    );
    annotations.insert(
        "description".into(),
        format!(
            "Error ratio {{{{ $value | humanizePercentage }}}} over {} (and over {}) exceeds {burn}x the budget of a {}% objective over {}: {}% of the error budget goes in {} at this rate.",
            tier.long,
            tier.short,
            number(slo.objective.percent()),
            slo.window,
            number(tier.budget_share * 100.0),
            tier.long,
        ),
    );
    annotations.insert("burn_rate".into(), burn);
    Rule {
        alert: Some(BURN_ALERT.into()),
        expr,
        labels,
        annotations,
        ..Rule::default()
    }
}

fn absent_alert(slo: &ValidSlo) -> Rule {
    let severity = if slo.alerting.page.is_some() {
        Severity::Page
    } else {
        Severity::Ticket
    };
    let mut labels: BTreeMap<String, String> = tier_policy(slo, severity)
        .map(|p| {
            p.labels
                .iter()
                .map(|(k, v)| (k.clone(), template_literal(v)))
                .collect()
        })
        .unwrap_or_default();
    labels.extend(identity(slo));
    labels.insert("severity".into(), severity.as_str().into());
    let mut annotations = common_annotations(slo);
    annotations.insert(
        "summary".into(),
        format!(
            "SLO {}/{} has no data: its series are absent",
            slo.namespace, slo.name
        ),
    );
    annotations.insert(
        "description".into(),
        "No series of this SLO's indicator exist, so an outage would not be noticed. Check that the target is scraped.".into(),
    );
    Rule {
        alert: Some(ABSENT_ALERT.into()),
        expr: format!("absent({})", presence_selector(&slo.sli)),
        for_: Some(absent_for(slo).to_string()),
        labels,
        annotations,
        ..Rule::default()
    }
}

/// The rule group of an SLO.
pub fn rule_group(slo: &ValidSlo) -> RuleGroup {
    let all = tiers(slo.window, slo.scrape_interval);
    let mut rules = recording_rules(slo, &all);
    for tier in &all {
        if let Some(policy) = tier_policy(slo, tier.severity) {
            rules.push(burn_alert(slo, tier, policy));
        }
    }
    if slo.alerting.metrics_absent {
        rules.push(absent_alert(slo));
    }
    RuleGroup {
        name: format!("tidewatch-slo-{}", slo.name),
        interval: None,
        rules,
    }
}

/// Distinct names of the rules of an SLO, in group order (for status).
pub fn rule_names(slo: &ValidSlo) -> Vec<String> {
    let mut seen = BTreeSet::new();
    rule_group(slo)
        .rules
        .iter()
        .map(|r| r.name().to_owned())
        .filter(|n| seen.insert(n.clone()))
        .collect()
}
