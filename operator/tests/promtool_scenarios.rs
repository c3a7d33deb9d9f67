//! `promtool test rules` scenarios for one SLO at 99.9 % over 30d, on series shaped like the
//! metric contract. Each scenario records when alerts fire (promtool evaluates the generated
//! rules minute by minute) and compares the measured detection time with the theory:
//! a tier with burn rate b over long window L trips after b × budget × L / error ratio.

mod support;

use std::collections::BTreeMap;

use anyhow::Result;
use support::*;
use tidewatch_operator::slo_rules::{ABSENT_ALERT, BURN_ALERT};

const PER_MINUTE: f64 = 600.0; // 10 requests per second
/// Three clean days, so that every window (up to 3d) starts full: used by ticket scenarios.
const HISTORY: u64 = 3 * 1440;
/// Six clean hours: enough for the page tiers (windows up to 6h), and faster to evaluate.
const SHORT_HISTORY: u64 = 6 * 60;

type Firing = BTreeMap<u64, Vec<(String, String, String)>>;

/// Good and 5xx series: clean `history`, then `error_ratio` for `minutes`, then clean `after`.
fn traffic(history: u64, error_ratio: f64, minutes: u64, after: u64) -> Vec<Series> {
    outage_traffic(PER_MINUTE, history, error_ratio, minutes, after)
}

fn run(
    series: &[Series],
    extra_alerting: &str,
    evaluation: u64,
    window: (u64, u64, u64),
) -> Result<Firing> {
    let dir = tempfile::tempdir()?;
    let slo = availability_slo(extra_alerting);
    let rules = rule_file_of(dir.path(), &slo)?;
    let test = write_silence_test(
        dir.path(),
        &rules,
        evaluation,
        series,
        &[BURN_ALERT, ABSENT_ALERT],
        window,
    )?;
    let outcome = firing_alerts_run(&test)?;
    Ok(firing(&outcome))
}

fn first(f: &Firing, severity: &str) -> Option<(u64, String)> {
    f.iter().find_map(|(t, alerts)| {
        alerts
            .iter()
            .find(|a| a.0 == BURN_ALERT && a.1 == severity)
            .map(|a| (*t, a.2.clone()))
    })
}

fn report(name: &str, theory_minutes: f64, measured: u64) {
    println!("SCENARIO {name}: theory {theory_minutes:.1} min, measured {measured} min");
}

#[test]
fn total_outage_pages_in_about_one_minute() -> Result<()> {
    let f = run(
        &traffic(SHORT_HISTORY, 1.0, 60, 0),
        "",
        1,
        (SHORT_HISTORY - 10, SHORT_HISTORY + 60, 1),
    )?;
    let (at, window) = first(&f, "page").expect("a 100% error ratio must page");
    let measured = at - SHORT_HISTORY;
    report("100% errors -> page", 0.0144 * 60.0, measured);
    assert_eq!(window, "1h", "the fast 1h/5m tier pages first");
    assert!(
        (1..=2).contains(&measured),
        "paged after {measured} min, expected about 1"
    );
    assert!(
        f.range(..SHORT_HISTORY).next().is_none(),
        "nothing fires before the errors start"
    );
    Ok(())
}

#[test]
fn ten_percent_errors_page_in_about_nine_minutes() -> Result<()> {
    let f = run(
        &traffic(SHORT_HISTORY, 0.10, 60, 0),
        "",
        1,
        (SHORT_HISTORY - 10, SHORT_HISTORY + 60, 1),
    )?;
    let (at, window) = first(&f, "page").expect("10% errors must page");
    let measured = at - SHORT_HISTORY;
    report("10% errors -> page", 0.0144 * 60.0 / 0.10, measured);
    assert_eq!(window, "1h");
    assert!(
        (8..=11).contains(&measured),
        "paged after {measured} min, expected about 9"
    );
    Ok(())
}

#[test]
fn one_percent_errors_page_through_the_six_hour_pair_in_about_3_6_hours() -> Result<()> {
    let f = run(
        &traffic(SHORT_HISTORY, 0.01, 300, 0),
        "",
        1,
        (SHORT_HISTORY, SHORT_HISTORY + 300, 1),
    )?;
    let (at, window) = first(&f, "page").expect("1% errors must page");
    let measured = at - SHORT_HISTORY;
    report("1% errors -> page (6h/30m)", 0.006 * 360.0 / 0.01, measured);
    assert_eq!(window, "6h", "1% stays below the 1h tier's 1.44%");
    assert!(
        (206..=226).contains(&measured),
        "paged after {measured} min, expected about 216"
    );
    assert!(
        f.values()
            .flatten()
            .all(|a| !(a.1 == "page" && a.2 == "1h")),
        "the 1h/5m tier must not page at 1%"
    );
    Ok(())
}

#[test]
fn half_percent_errors_open_only_a_ticket_in_about_14_4_hours() -> Result<()> {
    let f = run(
        &traffic(HISTORY, 0.005, 1200, 0),
        "",
        5,
        (HISTORY, HISTORY + 1200, 5),
    )?;
    let (at, _) = first(&f, "ticket").expect("0.5% errors must open a ticket");
    let measured = at - HISTORY;
    report("0.5% errors -> ticket", 0.003 * 1440.0 / 0.005, measured);
    assert!(
        (840..=895).contains(&measured),
        "ticket after {measured} min, expected about 864"
    );
    assert!(first(&f, "page").is_none(), "0.5% must never page");
    Ok(())
}

#[test]
fn errors_within_budget_stay_silent() -> Result<()> {
    let f = run(
        &traffic(HISTORY, 0.0009, 3 * 1440, 0),
        "",
        10,
        (HISTORY, 2 * HISTORY, 10),
    )?;
    println!(
        "SCENARIO 0.09% errors: theory silent, measured {} firing evaluations",
        f.len()
    );
    assert!(
        f.is_empty(),
        "0.09% errors (below the 0.1% budget) fired: {f:?}"
    );
    Ok(())
}

#[test]
fn client_errors_do_not_count() -> Result<()> {
    let good = counter(&[(PER_MINUTE, HISTORY), (PER_MINUTE * 0.5, 1440)]);
    let client = counter(&[(0.0, HISTORY), (PER_MINUTE * 0.5, 1440)]);
    let f = run(
        &[requests("200", good), requests("404", client)],
        "",
        5,
        (HISTORY, HISTORY + 1440, 5),
    )?;
    println!(
        "SCENARIO 50% 4xx: theory silent, measured {} firing evaluations",
        f.len()
    );
    assert!(f.is_empty(), "4xx responses fired an alert: {f:?}");
    Ok(())
}

#[test]
fn a_ten_minute_outage_stops_paging_within_about_36_minutes() -> Result<()> {
    let f = run(
        &traffic(SHORT_HISTORY, 1.0, 10, 120),
        "",
        1,
        (SHORT_HISTORY, SHORT_HISTORY + 130, 1),
    )?;
    let paging: Vec<u64> = f
        .iter()
        .filter(|(_, a)| a.iter().any(|x| x.1 == "page"))
        .map(|(t, _)| *t)
        .collect();
    let last = *paging.last().expect("the outage pages");
    let end = SHORT_HISTORY + 10;
    let after = last.saturating_sub(end);
    report("10-minute outage -> last page after its end", 30.0, after);
    assert!(
        after <= 36,
        "still paging {after} min after the outage ended"
    );
    assert!(
        after >= 25,
        "stopped paging after {after} min: the 30m window should hold it"
    );
    Ok(())
}

#[test]
fn low_traffic_does_not_page_but_would_without_the_guard() -> Result<()> {
    // 10 requests an hour, one of which fails.
    let hours = 24;
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for _ in 0..hours {
        good.push((9.0 / 60.0, 60));
        bad.push((0.0, 59));
        bad.push((1.0, 1));
    }
    let series = vec![
        requests("200", counter(&good)),
        requests("500", counter(&bad)),
    ];
    let guarded = run(&series, "", 1, (60, hours * 60, 1))?;
    println!(
        "SCENARIO low traffic (1 of 10/h fails): guarded {} firing evaluations",
        guarded.len()
    );
    assert!(
        first(&guarded, "page").is_none(),
        "low traffic paged: {guarded:?}"
    );
    let unguarded = run(
        &series,
        "    minimumRequestsPerHour: 0\n",
        1,
        (60, hours * 60, 1),
    )?;
    assert!(
        first(&unguarded, "page").is_some(),
        "without the guard the same traffic pages (control)"
    );
    Ok(())
}

#[test]
fn vanished_series_fire_the_absent_alert() -> Result<()> {
    let good = format!("{} stale", counter(&[(PER_MINUTE, 120)]));
    let bad = format!("{} stale", counter(&[(0.0, 120)]));
    let f = run(
        &[requests("200", good), requests("500", bad)],
        "",
        1,
        (60, 150, 1),
    )?;
    let fired: Vec<u64> = f
        .iter()
        .filter(|(_, a)| a.iter().any(|x| x.0 == ABSENT_ALERT))
        .map(|(t, _)| *t)
        .collect();
    let at = *fired
        .first()
        .expect("SLOMetricsAbsent fires once the series are gone");
    println!("SCENARIO series vanish at 121m: SLOMetricsAbsent at {at}m (for: 1m)");
    assert!(at > 121 && at <= 125, "absent alert at {at}m");
    assert!(
        f.range(..121).next().is_none(),
        "nothing fires while series exist"
    );
    let severity = &f[&at]
        .iter()
        .find(|x| x.0 == ABSENT_ALERT)
        .expect("absent")
        .1;
    assert_eq!(severity, "page");
    Ok(())
}

#[test]
fn user_text_reaches_alerts_literally_not_as_templates() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let hostile = "{{ $labels.namespace }}/{{ 1 }}";
    let spec = format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {{name: fraud-availability, namespace: fraud}}\nspec:\n  target: {{mlService: fraud-detector}}\n  objective: 99.9\n  indicator: {{availability: {{}}}}\n  alerting:\n    page: {{labels: {{team: '{hostile}'}}}}\n    runbookUrl: 'https://runbooks.example.com/{{{{$labels.slo}}}}'\n"
    );
    let slo = tidewatch_operator::validate::validate_slo(
        &support::slo(&spec),
        Some(&mlservice("fraud", "fraud-detector")),
    )
    .expect("valid SLO");
    let rules = rule_file_of(dir.path(), &slo)?;
    let series = traffic(SHORT_HISTORY, 1.0, 10, 0);
    let at = SHORT_HISTORY + 5;
    let test = write_silence_test(dir.path(), &rules, 1, &series, &[BURN_ALERT], (at, at, 1))?;
    let run = test_rules(&test)?;
    assert!(
        run.output.contains(&format!("team=\"{hostile}\"")),
        "label not literal:\n{}",
        run.output
    );
    assert!(
        run.output
            .contains("runbook_url=\"https://runbooks.example.com/{{$labels.slo}}\""),
        "annotation not literal:\n{}",
        run.output
    );
    Ok(())
}

#[test]
fn latency_sli_counts_slow_requests_for_either_le_spelling() -> Result<()> {
    let spec = "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: fraud-latency, namespace: fraud}\nspec:\n  target: {mlService: fraud-detector}\n  objective: 99\n  window: 28d\n  indicator: {latency: {threshold: 250ms}}\n";
    let slo = tidewatch_operator::validate::validate_slo(
        &support::slo(spec),
        Some(&mlservice("fraud", "fraud-detector")),
    )
    .expect("valid SLO");
    // 10% of requests are slower than 250ms; the exporter spells the bound three ways.
    for le in ["0.25", "0.250", "0.2500"] {
        let dir = tempfile::tempdir()?;
        let rules = rule_file_of(dir.path(), &slo)?;
        let labels =
            r#"namespace="fraud", service="fraud-detector", route="/v1/predict", method="POST""#;
        let series = [
            (
                format!("tidewatch_request_duration_seconds_count{{{labels}}}"),
                counter(&[(600.0, 120)]),
            ),
            (
                format!("tidewatch_request_duration_seconds_bucket{{{labels}, le=\"{le}\"}}"),
                counter(&[(540.0, 120)]),
            ),
            (
                format!("tidewatch_request_duration_seconds_bucket{{{labels}, le=\"0.1\"}}"),
                counter(&[(300.0, 120)]),
            ),
            (
                format!("tidewatch_request_duration_seconds_bucket{{{labels}, le=\"+Inf\"}}"),
                counter(&[(600.0, 120)]),
            ),
        ];
        let expr = r#"tidewatch_slo:error_ratio:rate1h{namespace="fraud", slo="fraud-latency"}"#;
        let mut text = format!(
            "rule_files: [{}]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n",
            serde_json::to_string(&rules.display().to_string())?
        );
        for (name, values) in &series {
            text.push_str(&format!(
                "  - series: {}\n    values: {}\n",
                serde_json::to_string(name)?,
                serde_json::to_string(values)?
            ));
        }
        text.push_str(&format!(
            "  promql_expr_test:\n  - expr: {}\n    eval_time: 100m\n    exp_samples: [{{labels: '{{}}', value: 0}}]\n",
            serde_json::to_string(expr)?
        ));
        let test = dir.path().join("test.yaml");
        std::fs::write(&test, text)?;
        let run = test_rules(&test)?;
        let ratio = got_value(&run.output, expr)
            .unwrap_or_else(|| panic!("no value for le={le}:\n{}", run.output));
        println!("LATENCY le=\"{le}\": recorded 1h error ratio {ratio}");
        assert!(
            (ratio - 0.1).abs() < 1e-9,
            "le={le}: error ratio {ratio}, expected 0.1"
        );
    }
    Ok(())
}
