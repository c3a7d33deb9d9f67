//! The two rule groups of one SLO. The main group records each window's error ratio and the
//! traffic-weighted period ratio, and holds one burn alert per enabled tier and the absent
//! alert. The tile group, evaluated every tile span (10 minutes), records the number of
//! events and of bad events in each span; the period and the day-long windows are sums of
//! those tiles, so they read one sample per 10 minutes instead of every raw sample.

use std::collections::{BTreeMap, BTreeSet};

use super::burn_rates::{Severity, Tier, rate_floor, tiers};
use super::sli::{
    error_increase, error_rate, error_ratio, presence_selector, total_increase, total_rate,
};
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

/// Recorded number of events in each tile of `span`.
pub fn requests_tile_record(span: PromDuration) -> String {
    format!("{RECORD_PREFIX}:requests:increase{span}")
}

/// Recorded number of bad events in each tile of `span`.
pub fn errors_tile_record(span: PromDuration) -> String {
    format!("{RECORD_PREFIX}:errors:increase{span}")
}

/// Span of a tile when the target is scraped often enough.
const TILE_SPAN: u64 = 600;
/// Windows at least this long are read from tiles.
const TILED_FROM: u64 = 86_400;

/// Span of each tile and evaluation interval of the tile group: 10 minutes, or the rate
/// floor (four scrape intervals) when that is longer, so that every tile holds enough
/// samples for `increase`.
pub fn tile_span(slo: &ValidSlo) -> PromDuration {
    PromDuration::from_secs(TILE_SPAN.max(rate_floor(slo.scrape_interval).as_secs()))
}

/// Whether the error ratio over `window` is a sum of tiles rather than a rate of the raw
/// series: a day or longer, and at least six tiles.
pub fn is_tiled(slo: &ValidSlo, window: PromDuration) -> bool {
    window.as_secs() >= TILED_FROM && window.as_secs() >= 6 * tile_span(slo).as_secs()
}

/// Ratio of the summed tiles over `window`: errors and totals count the same spans, so
/// every span weighs by its traffic (a ratio of sums, never an average of ratios). It covers
/// the whole tiles recorded within the window: exactly `window` when it is a whole number
/// of spans, ending at the newest tile, so the events of the last span (at most 10 minutes)
/// join at the next tile.
fn tiled_ratio(slo: &ValidSlo, window: PromDuration) -> String {
    let ids = identity_matchers(slo);
    let span = tile_span(slo);
    format!(
        "sum_over_time({}{ids}[{window}])\n/\nsum_over_time({}{ids}[{window}])",
        errors_tile_record(span),
        requests_tile_record(span)
    )
}

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
        let expr = if is_tiled(slo, window) {
            tiled_ratio(slo, window)
        } else {
            error_ratio(&slo.sli, window)
        };
        rules.push(record(ratio_record(window), expr));
    }
    rules.push(record(
        PERIOD_RECORD.to_owned(),
        tiled_ratio(slo, slo.window.duration()),
    ));
    rules
}

/// The tile group's rules: events and bad events per span. `increase` counts a counter
/// reset from zero and extrapolates to the span's edges, so consecutive tiles add up to
/// the window's events without overlap.
fn tile_rules(slo: &ValidSlo) -> Vec<Rule> {
    let span = tile_span(slo);
    let record = |name: String, expr: String| Rule {
        record: Some(name),
        expr,
        labels: identity(slo),
        ..Rule::default()
    };
    vec![
        record(requests_tile_record(span), total_increase(&slo.sli, span)),
        record(errors_tile_record(span), error_increase(&slo.sli, span)),
    ]
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
        let per_hour = if is_tiled(slo, tier.long) {
            // The mean tile over the window, as in the raw rate over the data present.
            let span = tile_span(slo);
            format!(
                "avg_over_time({}{ids}[{}]) * {}",
                requests_tile_record(span),
                tier.long,
                number(3600.0 / span.as_secs() as f64)
            )
        } else {
            format!("{} * 3600", total_rate(&slo.sli, tier.long))
        };
        expr.push_str(&format!("\nand on ()\n  ({per_hour} >= {})", number(guard)));
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

/// The main rule group of an SLO: ratios, the period SLI and the alerts.
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

/// The tile group of an SLO, evaluated every tile span.
pub fn tile_group(slo: &ValidSlo) -> RuleGroup {
    RuleGroup {
        name: format!("tidewatch-slo-{}-tiles", slo.name),
        interval: Some(tile_span(slo).to_string()),
        rules: tile_rules(slo),
    }
}

/// Both rule groups of an SLO: the main group, then the tiles it reads.
pub fn rule_groups(slo: &ValidSlo) -> Vec<RuleGroup> {
    vec![rule_group(slo), tile_group(slo)]
}

/// Distinct names of the rules of an SLO, in group order (for status).
pub fn rule_names(slo: &ValidSlo) -> Vec<String> {
    let mut seen = BTreeSet::new();
    rule_groups(slo)
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| r.name().to_owned())
        .filter(|n| seen.insert(n.clone()))
        .collect()
}
