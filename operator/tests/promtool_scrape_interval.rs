//! Every rate window holds at least four scrape intervals. A 7d SLO scales the Workbook's
//! 1h/5m page tier down to 15m/1m15s; on a target scraped every minute a 75 s `rate()` holds
//! one sample most of the time and yields nothing, so the fastest page flaps off during a
//! total outage. Rules are evaluated every 30 s here, off the scrape grid half of the time,
//! as Prometheus' own evaluations are.

mod support;

use std::collections::BTreeSet;

use anyhow::Result;
use support::*;
use tidewatch_operator::slo_rules::BURN_ALERT;
use tidewatch_operator::validate::validate_slo;

const CLEAN_MINUTES: u64 = 60;
const OUTAGE_MINUTES: u64 = 40;

/// Seconds of a promtool duration such as `1h42m30s`.
fn seconds(text: &str) -> u64 {
    let (mut total, mut number) = (0, 0);
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = number * 10 + u64::from(d);
            continue;
        }
        total += number
            * match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                _ => 1,
            };
        number = 0;
    }
    total
}

/// The evaluation times (seconds) at which the fastest page tier fired.
fn fastest_page_firing(scrape_interval: &str, from: u64, to: u64) -> Result<BTreeSet<u64>> {
    let mut target = mlservice("fraud", "fraud-detector");
    target.spec.monitoring.scrape_interval = scrape_interval.into();
    let spec = slo(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: fraud-availability, namespace: fraud}\nspec:\n  target: {mlService: fraud-detector}\n  objective: 99\n  window: 7d\n  indicator: {availability: {}}\n",
    );
    let valid = validate_slo(&spec, Some(&target)).expect("valid SLO");
    let dir = tempfile::tempdir()?;
    let rules = rule_file_of(dir.path(), &valid)?;
    let good = counter(&[(600.0, CLEAN_MINUTES), (0.0, OUTAGE_MINUTES)]);
    let bad = counter(&[(0.0, CLEAN_MINUTES), (600.0, OUTAGE_MINUTES)]);
    let mut text = format!(
        "rule_files: [{}]\nevaluation_interval: 30s\ntests:\n- interval: 1m\n  input_series:\n",
        serde_json::to_string(&rules.display().to_string())?
    );
    for s in [requests("200", good), requests("500", bad)] {
        text.push_str(&format!(
            "  - series: {}\n    values: {}\n",
            serde_json::to_string(&s.name)?,
            serde_json::to_string(&s.values)?
        ));
    }
    text.push_str("  alert_rule_test:\n");
    for t in (from..=to).step_by(30) {
        text.push_str(&format!(
            "  - {{eval_time: {t}s, alertname: {BURN_ALERT}, exp_alerts: []}}\n"
        ));
    }
    let test = dir.path().join("test.yaml");
    std::fs::write(&test, text)?;
    let run = test_rules(&test)?;
    let fastest_long = &valid_fastest_long(&valid);
    let mut fired = BTreeSet::new();
    let mut at = None;
    for line in run.output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("alertname: ") {
            at = rest
                .split("time: ")
                .nth(1)
                .map(|t| seconds(t.trim_end_matches([',', ' '])));
        } else if let (Some(t), Some(labels)) = (at, line.strip_prefix("Labels:{"))
            && labels.contains("severity=\"page\"")
            && labels.contains(&format!("long_window=\"{fastest_long}\""))
        {
            fired.insert(t);
        }
    }
    Ok(fired)
}

fn valid_fastest_long(slo: &tidewatch_operator::validate::ValidSlo) -> String {
    tidewatch_operator::slo_rules::tiers(slo.window, slo.scrape_interval)[0]
        .long
        .to_string()
}

#[test]
fn the_fastest_page_fires_at_every_evaluation_of_an_outage_on_a_one_minute_scrape() -> Result<()> {
    let start = CLEAN_MINUTES * 60;
    // From 3 minutes into the outage (the 4m short window filling) to its end.
    let (from, to) = (start + 180, start + OUTAGE_MINUTES * 60 - 60);
    let fired = fastest_page_firing("1m", start - 600, to)?;
    let expected: BTreeSet<u64> = (from..=to).step_by(30).collect();
    let missed: Vec<u64> = expected.difference(&fired).copied().collect();
    println!(
        "SCENARIO 7d SLO, 1m scrape, total outage: fastest page fired at {} of {} evaluations",
        expected.intersection(&fired).count(),
        expected.len()
    );
    assert!(
        missed.is_empty(),
        "the fastest page tier was silent at {} of {} evaluations of a total outage (first at {}s)",
        missed.len(),
        expected.len(),
        missed.first().copied().unwrap_or_default()
    );
    assert!(
        fired.iter().all(|t| *t > start),
        "nothing fires before the outage: {fired:?}"
    );
    Ok(())
}
