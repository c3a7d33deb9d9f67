//! Small validated values: an objective, a window, durations and a latency threshold. Each
//! is only constructible through a check, so builders can trust them.

use std::fmt;

use tidewatch_contract::buckets::REQUEST_DURATION_BUCKETS;
use tidewatch_contract::metrics::REQUEST_DURATION_METRIC;

use crate::api::rules::{POSITIVE_DURATION_MESSAGE, WINDOW_BOUNDS_MESSAGE};
use crate::promql::round_sig;

/// Shortest SLO window: below it the scaled fast-burn windows would be shorter than a few
/// scrape intervals.
pub const MIN_WINDOW_SECONDS: u64 = 7 * 86_400;
/// Longest SLO window.
pub const MAX_WINDOW_SECONDS: u64 = 365 * 86_400;

/// An objective: the percentage of good events, strictly between 0 and 100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective(f64);

impl Objective {
    /// Checks that `percent` lies strictly between 0 and 100 and leaves a representable budget.
    pub fn new(percent: f64) -> Result<Self, String> {
        if !percent.is_finite() || percent <= 0.0 || percent >= 100.0 {
            return Err(format!("must be strictly between 0 and 100, got {percent}"));
        }
        if 100.0 - percent < 1e-9 {
            return Err(format!(
                "{percent} leaves an error budget below 1e-9 %, which no counter can measure"
            ));
        }
        Ok(Self(percent))
    }

    /// The objective as given, in percent.
    pub fn percent(self) -> f64 {
        self.0
    }

    /// Target ratio of good events (0.999 for 99.9 %).
    pub fn ratio(self) -> f64 {
        round_sig(self.0 / 100.0)
    }

    /// Allowed ratio of bad events (0.001 for 99.9 %).
    pub fn error_budget(self) -> f64 {
        round_sig((100.0 - self.0) / 100.0)
    }
}

/// A Prometheus duration in whole seconds, printed in Prometheus syntax (`1h`, `1m15s`, `3d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(u64);

impl PromDuration {
    /// A duration of `seconds` (at least one).
    pub fn from_secs(seconds: u64) -> Self {
        Self(seconds.max(1))
    }

    /// A duration of `seconds`, at compile time (`seconds` must be positive).
    pub const fn from_secs_const(seconds: u64) -> Self {
        assert!(seconds > 0, "a duration is positive");
        Self(seconds)
    }

    /// Whole seconds.
    pub fn as_secs(self) -> u64 {
        self.0
    }

    /// Parses `30s`, `5m`, `1h30m`, `7d`, `2w` (units ms are refused: rules work in seconds).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut total: u64 = 0;
        let mut number = String::new();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        for ch in text.chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let unit = match ch {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                'w' => 604_800,
                _ => {
                    return Err(format!(
                        "{text:?} is not a duration like 30s, 5m, 1h or 30d"
                    ));
                }
            };
            let value: u64 = number
                .parse()
                .map_err(|_| format!("{text:?} is not a duration like 30s, 5m, 1h or 30d"))?;
            number.clear();
            total = value
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("{text:?} is too long"))?;
        }
        if !number.is_empty() {
            return Err(format!("{text:?} lacks a unit (s, m, h, d or w)"));
        }
        if total == 0 {
            return Err(POSITIVE_DURATION_MESSAGE.into());
        }
        Ok(Self(total))
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

/// An SLO compliance window, between 7 and 365 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(PromDuration);

impl Window {
    /// Parses and bounds a window.
    pub fn parse(text: &str) -> Result<Self, String> {
        let duration = PromDuration::parse(text)?;
        if !(MIN_WINDOW_SECONDS..=MAX_WINDOW_SECONDS).contains(&duration.as_secs()) {
            return Err(format!("{WINDOW_BOUNDS_MESSAGE}, got {text}"));
        }
        Ok(Self(duration))
    }

    /// The window as a duration.
    pub fn duration(self) -> PromDuration {
        self.0
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A latency threshold equal to one of the request-duration buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyThreshold(f64);

impl LatencyThreshold {
    /// Parses `250ms` or `0.25s` and checks it against the bucket list.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
            (n, 1e-3)
        } else if let Some(n) = text.strip_suffix('s') {
            (n, 1.0)
        } else {
            return Err(format!("{text:?} is not a duration such as 250ms or 0.5s"));
        };
        let value: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0 && !number.starts_with('+'))
            .ok_or_else(|| format!("{text:?} is not a positive duration such as 250ms or 0.5s"))?;
        if value == 0.0 {
            return Err(POSITIVE_DURATION_MESSAGE.into());
        }
        let seconds = value * scale;
        REQUEST_DURATION_BUCKETS
            .iter()
            .copied()
            .find(|bucket| (bucket - seconds).abs() <= bucket * 1e-9)
            .map(Self)
            .ok_or_else(|| {
                let list: Vec<String> = REQUEST_DURATION_BUCKETS
                    .iter()
                    .map(|b| format!("{b}s"))
                    .collect();
                format!(
                    "{text} is not a bucket of {REQUEST_DURATION_METRIC}; use one of {}",
                    list.join(", ")
                )
            })
    }

    /// The bucket's upper bound in seconds.
    pub fn seconds(self) -> f64 {
        self.0
    }
}
