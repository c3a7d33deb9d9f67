//! PromQL of each indicator: the rate of all events, of bad events, their ratio, and the
//! series whose absence means the indicator cannot be computed. User text arrives only
//! inside `promql::Selector`s, which print it quoted.

use tidewatch_contract::metrics::label;

use crate::promql::{MatchOp, Matcher, Selector, le_regex};
use crate::validate::{PromDuration, Sli};

fn rate(selector: &Selector, window: PromDuration) -> String {
    format!("sum(rate({selector}[{window}]))")
}

/// Per-second rate of all events of the indicator over `window`.
pub fn total_rate(sli: &Sli, window: PromDuration) -> String {
    match sli {
        Sli::Availability { requests, .. } => rate(requests, window),
        Sli::Latency { histogram, .. } => rate(
            &histogram.on_metric(&format!("{}_count", histogram.metric)),
            window,
        ),
        Sli::Ratio { total, .. } => rate(total, window),
    }
}

/// Per-second rate of bad events over `window`; 0 (not empty) when none were counted, so
/// ratios exist as soon as traffic does.
pub fn error_rate(sli: &Sli, window: PromDuration) -> String {
    match sli {
        Sli::Availability { requests, .. } => {
            let errors = requests.with(Matcher::new(label::CODE, MatchOp::Regex, "5.."));
            format!("({} or vector(0))", rate(&errors, window))
        }
        Sli::Latency {
            histogram,
            threshold,
            ..
        } => {
            let count = histogram.on_metric(&format!("{}_count", histogram.metric));
            let fast = histogram
                .on_metric(&format!("{}_bucket", histogram.metric))
                .with(Matcher::new(
                    "le",
                    MatchOp::Regex,
                    &le_regex(threshold.seconds()),
                ));
            format!("({} - {})", rate(&count, window), rate(&fast, window))
        }
        Sli::Ratio { errors, .. } => format!("({} or vector(0))", rate(errors, window)),
    }
}

/// Ratio of bad events over `window`.
pub fn error_ratio(sli: &Sli, window: PromDuration) -> String {
    format!(
        "{}\n/\n{}",
        error_rate(sli, window),
        total_rate(sli, window)
    )
}

/// Selector of a series whose absence means the indicator cannot be computed. For an
/// MLService it spans every route: a service that is scraped but served no prediction yet
/// has data (zero traffic), not missing data.
pub fn presence_selector(sli: &Sli) -> Selector {
    match sli {
        Sli::Availability { scraped, .. } | Sli::Latency { scraped, .. } => scraped.clone(),
        Sli::Ratio { total, .. } => total.clone(),
    }
}
