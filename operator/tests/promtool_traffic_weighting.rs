//! The period SLI is traffic-weighted: with 10:1 day/night traffic and errors only at night,
//! the recorded 30d error ratio (a sum of 10-minute tiles) must be within 1% of the true
//! ratio (errors over requests), and within 1% of the former construction, the sums of the
//! 5-minute rates over the window. An average of short-window ratios (what Sloth's
//! optimised period rule computes) is several times off; the test prints all three.

mod support;

use anyhow::{Context, Result};
use support::*;
use tidewatch_operator::slo_rules::rules::PERIOD_RECORD;
use tidewatch_operator::slo_rules::{rule_group, tile_group};

const DAYS: u64 = 30;
const NIGHT_MINUTES: u64 = 8 * 60;
const DAY_MINUTES: u64 = 16 * 60;
const DAY_RATE: f64 = 600.0;
const NIGHT_RATE: f64 = 60.0;
const NIGHT_ERROR_RATIO: f64 = 0.05;

#[test]
fn period_error_ratio_is_traffic_weighted() -> Result<()> {
    let slo = availability_slo("");
    let mut group = rule_group(&slo);
    // Only the rules the period ratio reads: the 30d evaluation stays quick.
    group.rules.retain(|r| {
        r.record
            .as_deref()
            .is_some_and(|n| n.contains(":rate5m") || n == PERIOD_RECORD)
    });
    assert_eq!(
        group.rules.len(),
        4,
        "requests, errors, ratio at 5m and the period ratio"
    );
    let groups = promtool_groups(vec![group, tile_group(&slo)]);

    let mut good = Vec::new();
    let mut bad = Vec::new();
    for _ in 0..DAYS {
        good.push((NIGHT_RATE * (1.0 - NIGHT_ERROR_RATIO), NIGHT_MINUTES));
        bad.push((NIGHT_RATE * NIGHT_ERROR_RATIO, NIGHT_MINUTES));
        good.push((DAY_RATE, DAY_MINUTES));
        bad.push((0.0, DAY_MINUTES));
    }
    let per_day_errors = NIGHT_RATE * NIGHT_ERROR_RATIO * NIGHT_MINUTES as f64;
    let per_day_total = NIGHT_RATE * NIGHT_MINUTES as f64 + DAY_RATE * DAY_MINUTES as f64;
    let truth = per_day_errors / per_day_total;

    let dir = tempfile::tempdir()?;
    let rules = write_rule_file(dir.path(), "rules.yaml", &groups)?;
    let ids = r#"{namespace="fraud", slo="fraud-availability"}"#;
    let period_expr = format!("{PERIOD_RECORD}{ids}");
    let rates_expr = format!(
        "sum_over_time(tidewatch_slo:errors:rate5m{ids}[30d]) / sum_over_time(tidewatch_slo:requests:rate5m{ids}[30d])"
    );
    let averaged_expr = format!("avg_over_time(tidewatch_slo:error_ratio:rate5m{ids}[30d])");
    let mut text = format!(
        "rule_files: [{}]\nevaluation_interval: 5m\n{}tests:\n- interval: 1m\n  input_series:\n",
        serde_json::to_string(&rules.display().to_string())?,
        group_eval_order(&rules)?
    );
    for s in [
        requests("200", counter(&good)),
        requests("500", counter(&bad)),
    ] {
        text.push_str(&format!(
            "  - series: {}\n    values: {}\n",
            serde_json::to_string(&s.name)?,
            serde_json::to_string(&s.values)?
        ));
    }
    // Expect 0 on purpose: promtool then prints the value it computed, which is what we read.
    text.push_str("  promql_expr_test:\n");
    for expr in [&period_expr, &rates_expr, &averaged_expr] {
        text.push_str(&format!(
            "  - expr: {}\n    eval_time: 30d\n    exp_samples: [{{labels: '{{}}', value: 0}}]\n",
            serde_json::to_string(expr)?
        ));
    }
    let test = dir.path().join("test.yaml");
    std::fs::write(&test, text)?;
    let run = test_rules(&test)?;
    let recorded = got_value(&run.output, &period_expr)
        .with_context(|| format!("no period value in:\n{}", run.output))?;
    let rates = got_value(&run.output, &rates_expr)
        .with_context(|| format!("no sum of rates in:\n{}", run.output))?;
    let averaged = got_value(&run.output, &averaged_expr)
        .with_context(|| format!("no average in:\n{}", run.output))?;
    let error = (recorded / truth - 1.0).abs();
    let apart = (recorded / rates - 1.0).abs();
    println!(
        "WEIGHTING true 30d error ratio {truth:.6}, recorded from tiles {recorded:.6} ({:.3}% off), sums of 5m rates {rates:.6} ({:.3}% apart), average of 5m ratios {averaged:.6} ({:.1}x the truth)",
        error * 100.0,
        apart * 100.0,
        averaged / truth
    );
    assert!(
        apart < 0.01,
        "tiles {recorded} and sums of rates {rates} disagree by {:.2}%",
        apart * 100.0
    );
    assert!(
        error < 0.01,
        "recorded period ratio {recorded} is {:.2}% away from the true {truth}",
        error * 100.0
    );
    assert!(
        averaged / truth > 2.0,
        "the averaged ratio should be far off, else the scenario proves nothing"
    );
    Ok(())
}
