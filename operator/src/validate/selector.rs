//! Parsing of the series selectors a `ratio` indicator names into a [`Selector`]: a metric
//! name and matchers, values unquoted as PromQL unquotes them and regexes checked as
//! Prometheus compiles them. Printing them back escaped is `promql`'s job.

use super::names::is_prometheus_label_name;
use super::promql_string::string_literal;
use super::re2;
use crate::promql::{MatchOp, Matcher, Selector};

/// Words PromQL's lexer reads as something other than a metric name even before `{`
/// (keywords are case-insensitive): `bool{..}` or `Inf{..}` is a parse error.
const NOT_METRIC_NAMES: &[&str] = &[
    "atan2",
    "bool",
    "group_left",
    "group_right",
    "ignoring",
    "inf",
    "nan",
    "on",
];

impl Selector {
    /// Parses `metric{label="value", other=~"re"}`. Only a metric name and quoted matchers
    /// are accepted: no functions, no offsets, no ranges.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut p = Parser {
            chars: text.trim().chars().collect(),
            pos: 0,
        };
        let metric = p.identifier(true);
        if metric.is_empty() {
            return Err(format!("{text:?} must start with a metric name"));
        }
        if NOT_METRIC_NAMES.contains(&metric.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{text:?}: {metric:?} is a PromQL keyword or number, not a metric name"
            ));
        }
        let mut matchers = Vec::new();
        p.skip_ws();
        if p.eat('{') {
            loop {
                p.skip_ws();
                if p.eat('}') {
                    break;
                }
                let name = p.identifier(false);
                if !is_prometheus_label_name(&name) {
                    return Err(format!(
                        "{text:?}: expected a label name at character {}",
                        p.pos + 1
                    ));
                }
                p.skip_ws();
                let op = if p.eat('=') {
                    if p.eat('~') {
                        MatchOp::Regex
                    } else {
                        MatchOp::Equal
                    }
                } else if p.eat('!') {
                    if p.eat('=') {
                        MatchOp::NotEqual
                    } else if p.eat('~') {
                        MatchOp::NotRegex
                    } else {
                        return Err(format!("{text:?}: expected != or !~ after {name}"));
                    }
                } else {
                    return Err(format!("{text:?}: expected =, !=, =~ or !~ after {name}"));
                };
                p.skip_ws();
                let value = p.string().map_err(|e| format!("{text:?}: {e}"))?;
                if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
                    re2::check(&value).map_err(|e| {
                        format!(
                            "{text:?}: {name}: {value:?} is not a regex Prometheus accepts: {e}"
                        )
                    })?;
                }
                matchers.push(Matcher { name, op, value });
                p.skip_ws();
                if p.eat(',') {
                    continue;
                }
                if p.eat('}') {
                    break;
                }
                return Err(format!(
                    "{text:?}: expected ',' or '}}' at character {}",
                    p.pos + 1
                ));
            }
        }
        p.skip_ws();
        if p.pos != p.chars.len() {
            return Err(format!(
                "{text:?} must be a plain series selector such as http_requests_total{{code=~\"5..\"}}: unexpected text at character {}",
                p.pos + 1
            ));
        }
        Ok(Self { metric, matchers })
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.pos += 1;
        }
    }

    fn identifier(&mut self, allow_colon: bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphabetic()
                || c == '_'
                || (allow_colon && c == ':')
                || (!out.is_empty() && c.is_ascii_digit());
            if !ok {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        out
    }

    fn string(&mut self) -> Result<String, String> {
        let (value, end) = string_literal(&self.chars, self.pos)?;
        self.pos = end;
        Ok(value)
    }
}
