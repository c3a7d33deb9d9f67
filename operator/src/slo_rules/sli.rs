//! PromQL of each indicator: the rate of all events, of bad events, their ratio, and the
//! series whose absence means the indicator cannot be computed. User text arrives only
//! inside `promql::Selector`s, which print it quoted.

use tidewatch_contract::metrics::label;

use crate::promql::{MatchOp, Matcher, Selector, le_regex};
use crate::validate::{PromDuration, Sli};

/// How counters are read over a window: per second, or as a count of events.
#[derive(Debug, Clone, Copy)]
enum Reading {
    Rate,
    Increase,
}

fn read(reading: Reading, selector: &Selector, window: PromDuration) -> String {
    let function = match reading {
        Reading::Rate => "rate",
        Reading::Increase => "increase",
    };
    format!("sum({function}({selector}[{window}]))")
}

fn total(reading: Reading, sli: &Sli, window: PromDuration) -> String {
    match sli {
        Sli::Availability { requests, .. } => read(reading, requests, window),
        Sli::Latency { histogram, .. } => read(
            reading,
            &histogram.on_metric(&format!("{}_count", histogram.metric)),
            window,
        ),
        Sli::Ratio { total, .. } => read(reading, total, window),
    }
}

fn errors(reading: Reading, sli: &Sli, window: PromDuration) -> String {
    match sli {
        Sli::Availability { requests, .. } => {
            let errors = requests.with(Matcher::new(label::CODE, MatchOp::Regex, "5.."));
            format!("({} or vector(0))", read(reading, &errors, window))
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
            format!(
                "({} - {})",
                read(reading, &count, window),
                read(reading, &fast, window)
            )
        }
        Sli::Ratio { errors, .. } => format!("({} or vector(0))", read(reading, errors, window)),
    }
}

/// Per-second rate of all events of the indicator over `window`.
pub fn total_rate(sli: &Sli, window: PromDuration) -> String {
    total(Reading::Rate, sli, window)
}

/// Per-second rate of bad events over `window`; 0 (not empty) when none were counted, so
/// ratios exist as soon as traffic does.
pub fn error_rate(sli: &Sli, window: PromDuration) -> String {
    errors(Reading::Rate, sli, window)
}

/// Number of events of the indicator over `window` (`increase`, so counter resets count
/// from zero).
pub fn total_increase(sli: &Sli, window: PromDuration) -> String {
    total(Reading::Increase, sli, window)
}

/// Number of bad events over `window`; 0 (not empty) when none were counted.
pub fn error_increase(sli: &Sli, window: PromDuration) -> String {
    errors(Reading::Increase, sli, window)
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
