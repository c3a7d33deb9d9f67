//! PromQL text from typed values: string literals with every special character escaped,
//! numbers at a fixed precision, series selectors printed back from their parts, and the `le`
//! regex of a histogram bound. A leaf: it depends on nothing else in the crate and parses no
//! user input (that is `validate`'s job).

use std::fmt;

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

/// Rounds to 12 significant digits so that `(100 - 99.9) / 100` prints as `0.001`.
pub fn round_sig(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    format!("{value:.11e}").parse().unwrap_or(value)
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

/// `text` as a regular expression matching exactly itself: every RE2 metacharacter escaped,
/// so that a route such as `/v2/models/{name}/infer` matches its braces literally.
pub fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if "\\.+*?()|[]{}^$".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A regular expression matching exactly one of `texts` (Prometheus anchors label regexes).
pub fn regex_alternatives(texts: &[&str]) -> String {
    texts
        .iter()
        .map(|t| regex_literal(t))
        .collect::<Vec<_>>()
        .join("|")
}

/// A label matcher operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// One label matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Unescaped value (or regular expression).
    pub value: String,
}

impl Matcher {
    /// A matcher; the caller guarantees the name is a legal label name.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
        }
    }
}

/// An instant-vector selector: a metric name and label matchers. Printed with every value
/// quoted, so user text never reaches PromQL verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Metric name.
    pub metric: String,
    /// Label matchers, in the order given.
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// A selector of `metric` with `matchers`.
    pub fn new(metric: &str, matchers: Vec<Matcher>) -> Self {
        Self {
            metric: metric.to_owned(),
            matchers,
        }
    }

    /// The same selector with one more matcher.
    pub fn with(&self, matcher: Matcher) -> Self {
        let mut out = self.clone();
        out.matchers.push(matcher);
        out
    }

    /// The same selector on another metric (e.g. `_bucket` of a histogram).
    pub fn on_metric(&self, metric: &str) -> Self {
        Self {
            metric: metric.to_owned(),
            matchers: self.matchers.clone(),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.metric)?;
        if self.matchers.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = self
            .matchers
            .iter()
            .map(|m| format!("{}{}{}", m.name, m.op.as_str(), quote(&m.value)))
            .collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}
