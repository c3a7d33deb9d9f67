//! PromQL text for each indicator. Every user-derived string goes through `quote`; numbers
//! through `number`. Nothing else is interpolated.

use tidewatch_contract::metrics::label;

use crate::validate::{MatchOp, Matcher, PromDuration, Selector, Sli, round_sig};

/// A PromQL double-quoted string literal with `\`, `"` and control characters escaped.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A float as PromQL (and humans) read it: 12 significant digits, no exponent noise.
pub fn number(value: f64) -> String {
    let rounded = round_sig(value);
    let text = format!("{rounded}");
    if text.contains('e') {
        format!("{rounded:e}")
    } else {
        text
    }
}

/// A regular expression matching every spelling of the bucket bound `seconds` as an `le`
/// label: `0.1` and `0.10`, `1` and `1.0`. Prometheus 3 normalises `le` values of classic
/// histograms at scrape time while older servers keep the exporter's text; recording rules
/// must match both so that history across an upgrade stays continuous.
pub fn le_regex(seconds: f64) -> String {
    let canonical = format!("{}", round_sig(seconds));
    match canonical.split_once('.') {
        Some((int, frac)) => format!("{int}\\.{frac}0*"),
        None => format!("{canonical}(\\.0+)?"),
    }
}

fn rate(selector: &Selector, window: PromDuration) -> String {
    format!("sum(rate({selector}[{window}]))")
}

/// Per-second rate of all events of the indicator over `window`.
pub fn total_rate(sli: &Sli, window: PromDuration) -> String {
    match sli {
        Sli::Availability { requests } => rate(requests, window),
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
        Sli::Availability { requests } => {
            let errors = requests.with(Matcher::new(label::CODE, MatchOp::Regex, "5.."));
            format!("({} or vector(0))", rate(&errors, window))
        }
        Sli::Latency {
            histogram,
            threshold,
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

/// Selector of a series whose absence means the indicator cannot be computed.
pub fn presence_selector(sli: &Sli) -> Selector {
    match sli {
        Sli::Availability { requests } => requests.clone(),
        Sli::Latency { histogram, .. } => {
            histogram.on_metric(&format!("{}_count", histogram.metric))
        }
        Sli::Ratio { total, .. } => total.clone(),
    }
}
