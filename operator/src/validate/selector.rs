//! Parsing of the series selectors a `ratio` indicator names into a [`Selector`]: a metric
//! name and matchers, values unquoted as PromQL unquotes them, regexes compiled. Printing
//! them back escaped is `promql`'s job.

use super::names::is_prometheus_label_name;
use super::promql_string::string_literal;
use crate::promql::{MatchOp, Matcher, Selector};

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
                    regex::Regex::new(&format!("^(?:{value})$")).map_err(|_| {
                        format!("{text:?}: {value:?} is not a valid regular expression")
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
