//! A ratio SLO's selectors mean to Tidewatch exactly what they mean to Prometheus: promtool
//! (the real PromQL parser) is the judge. For every selector Tidewatch accepts, promtool must
//! accept it too and print the selector Tidewatch renders back to the same canonical text
//! (Go-quoted values, sorted matchers); every selector Tidewatch refuses, promtool must
//! refuse, except the few refused on purpose (listed in `REFUSED_ON_PURPOSE`). Hand-picked
//! cases first, then generated ones.

mod support;

use std::time::Instant;

use anyhow::Result;
use support::generated::{sample, selector};
use support::oracles::{promql_format, refused_rule_files, write_expr_rule_file};
use tidewatch_operator::promql::Selector;

/// Phrases of Tidewatch's refusals of selectors that Prometheus would take but that cannot
/// mean what their author meant, or that older Prometheus releases refuse.
const REFUSED_ON_PURPOSE: &[&str] = &["not UTF-8", "`&&`", "write (?P<name>", "newer Go releases"];

/// Checks a batch of selector texts against promtool; returns the failures, one line each.
fn disagreements(cases: &[String]) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for case in cases {
        match Selector::parse(case) {
            Ok(sel) => accepted.push((case.clone(), sel.to_string())),
            Err(reason) => refused.push((case.clone(), reason)),
        }
    }
    // Accepted: one format run over all originals and one over all renderings, joined by
    // `or`; only when they differ are cases formatted one by one to name the culprit.
    let join = |texts: Vec<&String>| {
        texts
            .iter()
            .map(|t| format!("({t})"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let original = promql_format(&join(accepted.iter().map(|(c, _)| c).collect()));
    let rendered = promql_format(&join(accepted.iter().map(|(_, r)| r).collect()));
    if accepted.is_empty() || original.is_ok() && original == rendered {
        // every accepted case agrees
    } else {
        for (case, rendering) in &accepted {
            match (promql_format(case), promql_format(rendering)) {
                (Ok(a), Ok(b)) if a == b => {}
                (Err(e), _) => failures.push(format!("accepted but promtool refuses {case}: {e}")),
                (Ok(a), b) => failures.push(format!(
                    "{case} renders as {rendering}: promtool reads {a} and {b:?}"
                )),
            }
        }
    }
    // Refused: one rule file each, one promtool run for them all. Inside `rate(..[5m])` only
    // a series selector parses (`nan` alone is a valid expression, but a number).
    let dir = tempfile::tempdir()?;
    let mut files = Vec::new();
    for (i, (case, _)) in refused.iter().enumerate() {
        files.push(write_expr_rule_file(
            dir.path(),
            &format!("refused-{i}"),
            &[format!("rate({case}[5m])")],
        )?);
    }
    let promtool_refused = refused_rule_files(&files)?;
    for ((case, reason), file) in refused.iter().zip(&files) {
        let on_purpose = REFUSED_ON_PURPOSE.iter().any(|p| reason.contains(p));
        if !promtool_refused.contains(file) && !on_purpose {
            failures.push(format!("refused but promtool accepts {case}: {reason}"));
        }
    }
    Ok(failures)
}

fn hand_picked() -> Vec<String> {
    [
        // String literals.
        r#"x{job!="\x63anary"}"#,
        r#"x{job="\143anary"}"#,
        r#"x{job="\u00e9\U0001F6A8"}"#,
        r#"x{job="\xc3\xa9"}"#,
        r#"x{job="\a\b\f\n\r\t\v\\\""}"#,
        r"x{job='it\'s'}",
        r#"x{job='say "hi"'}"#,
        r#"x{job="it's"}"#,
        "x{job=`C:\\path\\`}",
        "x{job=`a\"b'c`}",
        "x{job=`line1\nline2`}",
        r#"x{job="\q"}"#,
        r#"x{job="\'"}"#,
        r#"x{job='\"'}"#,
        r#"x{job="\x6"}"#,
        r#"x{job="\400"}"#,
        r#"x{job="\18"}"#,
        r#"x{job="\uD800"}"#,
        r#"x{job="\U00110000"}"#,
        r#"x{job="\xff"}"#,
        "x{job=\"a\nb\"}",
        r#"x{path=~"\."}"#,
        r#"x{path=~"\\."}"#,
        // Regexes.
        r#"x{code=~"(?x) 5 . ."}"#,
        r#"x{path=~"a{1001}"}"#,
        r#"x{path=~"a{1000}"}"#,
        r#"x{path=~"(?:a{10}){100}"}"#,
        r#"x{path=~"(?:a{10}){101}"}"#,
        r#"x{path!~"(?:(?:a{10}){10}){10}"}"#,
        r#"x{path=~"(?:a{1000}){0}"}"#,
        r#"x{code=~"[0-9&&[^4]]"}"#,
        r#"x{a=~"(?i)get|post"}"#,
        r#"x{a=~"(?s).*(?U)a+(?m)^b$(?-i:c)"}"#,
        r#"x{a=~"(?)"}"#,
        r#"x{a=~"(?-)"}"#,
        r#"x{a=~"(?=a)"}"#,
        r#"x{a=~"(?!a)"}"#,
        r#"x{a=~"(?<=a)b"}"#,
        r#"x{a=~"(?>a)"}"#,
        r#"x{a=~"(?P<n>a)"}"#,
        r#"x{a=~"(?<n>a)"}"#,
        r#"x{a=~"a++"}"#,
        r#"x{a=~"a**"}"#,
        r#"x{a=~"a*?b{2}?"}"#,
        r#"x{a=~"a*??"}"#,
        r#"x{a=~"(a)\\1"}"#,
        r#"x{a=~"\\pL\\p{Greek}\\P{^Han}\\PN"}"#,
        r#"x{a=~"\\p{greek}"}"#,
        r#"x{a=~"\\p{LC}"}"#,
        r#"x{a=~"\\p{Cn}"}"#,
        r#"x{a=~"a{,5}b{01}"}"#,
        r#"x{a=~"a)|(b"}"#,
        r#"x{a=~"[[:alpha:][:^digit:]]"}"#,
        r#"x{a=~"[[:foo:]]"}"#,
        r#"x{a=~"\\Q.*+\\E"}"#,
        r#"x{a=~"a*\\Q\\E*"}"#,
        r#"x{a=~"\\C"}"#,
        r#"x{a=~"\\Z"}"#,
        r#"x{a=~"\\A\\z\\b\\B"}"#,
        r#"x{a=~"a(?i)*"}"#,
        r#"x{a=~"(?i)*"}"#,
        r#"x{a=~"^*"}"#,
        r#"x{a=~"\\x{1F6A8}\\x41\\101\\0\\12"}"#,
        r#"x{a=~"\\x{110000}"}"#,
        r#"x{a=~"[\\b]"}"#,
        r#"x{a=~"[z-a]"}"#,
        r#"x{a=~"[]a]|[^]a]|[a-]|[-a]|[a[b]"}"#,
        r#"x{a=~"\\_\\<\\8"}"#,
        "x{a=~`5\\d\\d`}",
        // Metric and label names.
        r#"bool{a="b"}"#,
        r#"on{a="b"}"#,
        r#"Inf{a="b"}"#,
        r#"nan"#,
        r#"atan2{a="b"}"#,
        r#"sum{a="b"}"#,
        r#"offset{by="c", bool="d", on="e"}"#,
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn hand_picked_selectors_mean_what_prometheus_reads() -> Result<()> {
    let failures = disagreements(&hand_picked())?;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn generated_selectors_mean_what_prometheus_reads() -> Result<()> {
    let count = 600;
    let started = Instant::now();
    let cases = sample(selector(), count);
    let accepted = cases.iter().filter(|c| Selector::parse(c).is_ok()).count();
    let failures = disagreements(&cases)?;
    println!(
        "{count} generated selectors ({accepted} accepted, {} refused) checked against \
         promtool in {:.2?}",
        count - accepted,
        started.elapsed()
    );
    assert!(
        accepted > count / 5 && accepted < count * 4 / 5,
        "the generator should produce both kinds: {accepted} of {count} accepted"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
