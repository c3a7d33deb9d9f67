//! Burn-rate tiers, PromQL escaping and the `le` matcher, as pure functions.

mod support;

use regex::Regex;
use support::*;
use tidewatch_operator::promql::{le_regex, number, quote};
use tidewatch_operator::slo_rules::rules::{absent_for, template_literal};
use tidewatch_operator::slo_rules::{
    Severity, raised_windows, rate_floor, rule_group, rule_groups, rule_names, tiers, tile_group,
};
use tidewatch_operator::validate::{Objective, PromDuration, Window};

/// An MLService's default scrape interval: short enough that no Workbook window is raised.
const THIRTY_SECONDS: PromDuration = PromDuration::from_secs_const(30);

fn rates(window: &str) -> Vec<String> {
    tiers(Window::parse(window).unwrap(), THIRTY_SECONDS)
        .iter()
        .map(|t| number(t.burn_rate))
        .collect()
}

fn windows(window: &str) -> Vec<(String, String)> {
    tiers(Window::parse(window).unwrap(), THIRTY_SECONDS)
        .iter()
        .map(|t| (t.long.to_string(), t.short.to_string()))
        .collect()
}

#[test]
fn thirty_days_reproduces_the_workbook_table() {
    assert_eq!(rates("30d"), ["14.4", "6", "3", "1"]);
    assert_eq!(
        windows("30d"),
        [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]
            .map(|(a, b)| (a.into(), b.into()))
    );
    let severities: Vec<Severity> = tiers(Window::parse("30d").unwrap(), THIRTY_SECONDS)
        .iter()
        .map(|t| t.severity)
        .collect();
    assert_eq!(
        severities,
        [
            Severity::Page,
            Severity::Page,
            Severity::Ticket,
            Severity::Ticket
        ]
    );
}

#[test]
fn other_windows_derive_burn_rates_from_budget_share() {
    assert_eq!(rates("28d"), ["13.44", "5.6", "2.8", "0.933333333333"]);
    assert_eq!(rates("4w"), rates("28d"));
    assert_eq!(windows("28d")[0], ("1h".into(), "5m".into()));
    assert_eq!(rates("90d"), ["43.2", "18", "9", "3"]);
    // Below 28d windows shrink with the SLO window and keep the 28d rates.
    assert_eq!(rates("7d"), rates("28d"));
    assert_eq!(
        windows("7d")[0],
        ("15m".into(), "2m".into()),
        "raised to 4 × 30s"
    );
    assert_eq!(windows("14d")[3], ("1d12h".into(), "3h".into()));
}

#[test]
fn theoretical_detection_times() {
    let t = tiers(Window::parse("30d").unwrap(), THIRTY_SECONDS);
    let o = Objective::new(99.9).unwrap();
    assert!((t[0].detection_seconds(o, 1.0).unwrap() - 51.84).abs() < 1e-6);
    assert!((t[0].detection_seconds(o, 0.1).unwrap() - 518.4).abs() < 1e-6);
    assert!(
        t[0].detection_seconds(o, 0.01).is_none(),
        "1% never trips the 1h tier"
    );
    assert!((t[1].detection_seconds(o, 0.01).unwrap() / 3600.0 - 3.6).abs() < 1e-9);
    assert!((t[2].detection_seconds(o, 0.005).unwrap() / 3600.0 - 14.4).abs() < 1e-9);
    assert!(
        t.iter()
            .all(|tier| tier.detection_seconds(o, 0.0009).is_none())
    );
}

#[test]
fn absent_for_follows_the_fast_burn_detection_time() {
    assert_eq!(absent_for(&availability_slo("")).to_string(), "1m");
    let s = support::slo(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: l, namespace: fraud}\nspec:\n  target: {mlService: fraud-detector}\n  objective: 99\n  window: 28d\n  indicator: {latency: {threshold: 250ms}}\n",
    );
    let v =
        tidewatch_operator::validate::validate_slo(&s, Some(&mlservice("fraud", "fraud-detector")))
            .unwrap();
    assert_eq!(
        absent_for(&v).to_string(),
        "9m",
        "13.44 × 1% × 1h = 8.1 min, rounded up"
    );
}

#[test]
fn le_regex_matches_every_spelling_of_a_bucket() {
    for (bucket, good, bad) in [
        (
            0.1,
            &["0.1", "0.10", "0.100"][..],
            &["0.11", "10.1", "0.01", "1"][..],
        ),
        (
            1.0,
            &["1", "1.0", "1.00"][..],
            &["10", "0.1", "1.01", "11"][..],
        ),
        (0.25, &["0.25", "0.250"][..], &["0.2", "0.255", "2.5"][..]),
        (10.0, &["10", "10.0"][..], &["1", "100", "10.5"][..]),
        (0.0025, &["0.0025", "0.00250"][..], &["0.025", "0.002"][..]),
    ] {
        let re = Regex::new(&format!("^(?:{})$", le_regex(bucket))).unwrap();
        for g in good {
            assert!(re.is_match(g), "{bucket}: {g} must match");
        }
        for b in bad {
            assert!(!re.is_match(b), "{bucket}: {b} must not match");
        }
    }
}

#[test]
fn quoting_escapes_everything_promql_would_misread() {
    assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(quote("l1\nl2\t\r"), r#""l1\nl2\t\r""#);
    assert_eq!(quote("\u{0}"), r#""\u0000""#);
    assert_eq!(quote("ñ🚨"), "\"ñ🚨\"");
    assert_eq!(template_literal("{{ $x }}"), "{{ \"{{\" }} $x }}");
    assert_eq!(template_literal("no braces }}"), "no braces }}");
}

#[test]
fn durations_print_in_prometheus_syntax() {
    for (secs, text) in [
        (60, "1m"),
        (75, "1m15s"),
        (3600, "1h"),
        (86_400, "1d"),
        (129_600, "1d12h"),
        (2_592_000, "30d"),
    ] {
        assert_eq!(PromDuration::from_secs(secs).to_string(), text);
        assert_eq!(PromDuration::parse(text).unwrap().as_secs(), secs);
    }
}

#[test]
fn the_period_and_day_long_windows_sum_ten_minute_tiles() {
    let slo = availability_slo("");
    let tiles = tile_group(&slo);
    assert_eq!(tiles.name, "tidewatch-slo-fraud-availability-tiles");
    assert_eq!(tiles.interval.as_deref(), Some("10m"));
    let tile_records: Vec<_> = tiles
        .rules
        .iter()
        .filter_map(|r| r.record.clone())
        .collect();
    assert_eq!(
        tile_records,
        [
            "tidewatch_slo:requests:increase10m",
            "tidewatch_slo:errors:increase10m"
        ]
    );
    assert!(tiles.rules.iter().all(|r| r.expr.contains("increase(")
        && r.expr.contains("[10m]")
        && r.labels["slo"] == "fraud-availability"));
    let main = rule_group(&slo);
    let expr = |record: &str| {
        main.rules
            .iter()
            .find(|r| r.record.as_deref() == Some(record))
            .map(|r| r.expr.clone())
            .unwrap_or_else(|| panic!("no {record}"))
    };
    for (record, window) in [
        ("tidewatch_slo:error_ratio:period", "30d"),
        ("tidewatch_slo:error_ratio:rate1d", "1d"),
        ("tidewatch_slo:error_ratio:rate3d", "3d"),
    ] {
        let e = expr(record);
        assert!(
            e.starts_with("sum_over_time(tidewatch_slo:errors:increase10m{")
                && e.contains(&format!("sum_over_time(tidewatch_slo:requests:increase10m{{namespace=\"fraud\", slo=\"fraud-availability\"}}[{window}])")),
            "{record}: {e}"
        );
        assert!(
            !e.contains("tidewatch_requests_total"),
            "{record} reads raw series: {e}"
        );
    }
    for raw in ["6h", "2h", "30m"] {
        let e = expr(&format!("tidewatch_slo:error_ratio:rate{raw}"));
        assert!(e.contains(&format!("[{raw}]")) && e.contains("tidewatch_requests_total"));
    }
    // A target scraped every 5 minutes: four scrapes per tile.
    let mut target = mlservice("fraud", "fraud-detector");
    target.spec.monitoring.scrape_interval = "5m".into();
    let slow = tidewatch_operator::validate::validate_slo(
        &support::slo("apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: slow, namespace: fraud}\nspec:\n  target: {mlService: fraud-detector}\n  objective: 99.9\n  indicator: {availability: {}}\n"),
        Some(&target),
    )
    .expect("valid SLO");
    assert_eq!(tile_group(&slow).interval.as_deref(), Some("20m"));
    assert!(expr_of(&slow, "tidewatch_slo:error_ratio:period").contains("increase20m"));
    let names = rule_names(&slo);
    assert!(names.contains(&"tidewatch_slo:errors:increase10m".to_owned()));
    assert_eq!(rule_groups(&slo).len(), 2);
}

fn expr_of(slo: &tidewatch_operator::validate::ValidSlo, record: &str) -> String {
    rule_group(slo)
        .rules
        .iter()
        .find(|r| r.record.as_deref() == Some(record))
        .map(|r| r.expr.clone())
        .expect("record")
}

#[test]
fn an_slo_has_no_more_rules_than_sloth_and_tiers_switch_off() {
    let all = rule_group(&availability_slo(""));
    assert_eq!(all.rules.len(), 15, "10 recording + 4 burn alerts + absent");
    let with_tiles: usize = rule_groups(&availability_slo(""))
        .iter()
        .map(|g| g.rules.len())
        .sum();
    assert_eq!(with_tiles, 17, "and two tile records");
    let names = rule_names(&availability_slo(""));
    assert!(
        names.contains(&"SLOErrorBudgetBurn".to_owned())
            && names.contains(&"SLOMetricsAbsent".to_owned())
    );
    let no_ticket = rule_group(&availability_slo(
        "    ticket: {enabled: false}\n    metricsAbsent: false\n",
    ));
    let alerts: Vec<_> = no_ticket
        .rules
        .iter()
        .filter_map(|r| r.alert.as_ref().map(|_| r.labels["severity"].clone()))
        .collect();
    assert_eq!(alerts, ["page", "page"]);
    let page = &no_ticket.rules[10];
    assert_eq!(page.labels["long_window"], "1h");
    assert_eq!(page.labels["short_window"], "5m");
    assert_eq!(
        page.annotations["runbook_url"],
        "https://runbooks.example.com/slo"
    );
    assert_eq!(page.annotations["burn_rate"], "14.4");
    assert!(
        page.annotations["summary"].contains("fraud/fraud-availability")
            && page.annotations["summary"].contains("14.4x")
    );
    assert!(
        page.expr.contains("* 3600 >= 60"),
        "minimum-traffic guard on by default"
    );
}

fn scrape(text: &str) -> PromDuration {
    PromDuration::parse(text).unwrap()
}

#[test]
fn windows_shorter_than_four_scrape_intervals_are_raised() {
    let seven = Window::parse("7d").unwrap();
    let raised = tiers(seven, scrape("1m"));
    let pairs: Vec<(String, String)> = raised
        .iter()
        .map(|t| (t.long.to_string(), t.short.to_string()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("15m", "4m"),
            ("1h30m", "7m30s"),
            ("6h", "30m"),
            ("18h", "1h30m")
        ]
        .map(|(a, b)| (a.into(), b.into()))
    );
    assert_eq!(
        raised
            .iter()
            .map(|t| number(t.burn_rate))
            .collect::<Vec<_>>(),
        rates("28d"),
        "a raised short window leaves the burn rate alone"
    );
    assert_eq!(
        raised_windows(seven, scrape("1m")),
        [(scrape("1m15s"), scrape("4m"))]
    );
    assert_eq!(rate_floor(scrape("1m")), scrape("4m"));

    // A coarse scrape raises long windows too; their burn rate follows the window used.
    let coarse = tiers(seven, scrape("5m"));
    assert_eq!(
        (coarse[0].long, coarse[0].short),
        (scrape("20m"), scrape("20m"))
    );
    assert_eq!(number(coarse[0].burn_rate), "10.08", "2 % of 7d in 20m");
    assert_eq!(coarse[1].short, scrape("20m"));
    assert_eq!(
        raised_windows(seven, scrape("5m")),
        [
            (scrape("1m15s"), scrape("20m")),
            (scrape("7m30s"), scrape("20m")),
            (scrape("15m"), scrape("20m"))
        ]
    );
}

#[test]
fn windows_that_hold_four_scrapes_are_accepted_as_the_workbook_gives_them() {
    let thirty = Window::parse("30d").unwrap();
    assert!(raised_windows(thirty, scrape("1m")).is_empty());
    assert!(
        raised_windows(thirty, scrape("75s")).is_empty(),
        "5m = 4 × 75s"
    );
    assert_eq!(
        raised_windows(thirty, scrape("76s")),
        [(scrape("5m"), scrape("5m4s"))]
    );
    for scrape_interval in ["10s", "30s", "1m"] {
        let all = tiers(thirty, scrape(scrape_interval));
        assert_eq!(all[0].short, scrape("5m"), "{scrape_interval}");
        assert_eq!(number(all[0].burn_rate), "14.4");
    }
}

#[test]
fn the_slo_takes_its_scrape_interval_from_the_target() {
    let mut target = mlservice("fraud", "fraud-detector");
    target.spec.monitoring.scrape_interval = "1m".into();
    let spec = slo(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: weekly, namespace: fraud}\nspec:\n  target: {mlService: fraud-detector}\n  objective: 99\n  window: 7d\n  indicator: {availability: {}}\n",
    );
    let valid = tidewatch_operator::validate::validate_slo(&spec, Some(&target)).unwrap();
    assert_eq!(valid.scrape_interval, scrape("1m"));
    let group = rule_group(&valid);
    let exprs: String = group.rules.iter().map(|r| r.expr.clone()).collect();
    assert!(!exprs.contains("[1m15s]"), "no 75 s rate on a 1m scrape");
    assert!(exprs.contains("[4m]"));
}
