//! The period SLI from 10-minute tiles is exact where counters misbehave: a pod that restarts
//! (its counters drop to zero), a replica that disappears and comes back restarted, and scrape
//! gaps. Each scenario runs two days of per-minute samples of two pods through
//! `promtool test rules` and reads, at the end, the recorded period ratio (sums of tiles) and
//! the former construction (sums of the 5-minute rates); both must be within
//! `TOLERANCE` (1 %; 2 % across a 25-minute scrape gap) of the true ratio computed here
//! from the input samples, and within 1 % of each other.
//! A new SLO has no tile for its first 10 minutes: no period ratio yet, and nothing fires
//! that should not (a failing service still pages at once).

mod support;

use std::fmt::Write as _;

use anyhow::{Context, Result};
use support::*;
use tidewatch_operator::slo_rules::rules::PERIOD_RECORD;
use tidewatch_operator::slo_rules::{ABSENT_ALERT, BURN_ALERT, rule_group, tile_group};

/// Largest relative distance allowed between the recorded ratio and the truth.
const TOLERANCE: f64 = 0.01;
/// The same with a 25-minute scrape gap: the events counted across it fall between tiles
/// (as between the former 5-minute rates), where no windowed `increase` or `rate` sees them.
const GAP_TOLERANCE: f64 = 0.02;
const MINUTES: usize = 2 * 1440;
const IDS: &str = r#"{namespace="fraud", slo="fraud-availability"}"#;

/// One sample: a value, nothing scraped, or the staleness marker of a vanished series.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sample {
    Value(f64),
    Gap,
    Stale,
}

/// One input series, a sample per minute from 0 to `MINUTES`.
struct Input {
    pod: &'static str,
    code: &'static str,
    samples: Vec<Sample>,
}

impl Input {
    /// promtool's values text.
    fn values(&self) -> String {
        let mut text = String::new();
        for s in &self.samples {
            match s {
                Sample::Value(v) => write!(text, "{v} ").expect("string"),
                Sample::Gap => text.push_str("_ "),
                Sample::Stale => text.push_str("stale "),
            }
        }
        text.trim_end().to_owned()
    }

    /// Events between consecutive scraped samples; a drop is a reset counted from zero.
    fn observed_events(&self) -> f64 {
        let mut previous: Option<f64> = None;
        let mut events = 0.0;
        for s in &self.samples {
            if let Sample::Value(v) = *s {
                if let Some(p) = previous {
                    events += if v >= p { v - p } else { v };
                }
                previous = Some(v);
            }
        }
        events
    }
}

/// Requests per minute of a pod at minute `m`: 10:1 day/night (the night is the first third
/// of each day), with `night_errors` of the night's requests failing and none by day.
fn per_minute(m: usize, day_rate: f64, night_errors: f64) -> (f64, f64) {
    if m % 1440 < 480 {
        let total = day_rate / 10.0;
        (total * (1.0 - night_errors), total * night_errors)
    } else {
        (day_rate, 0.0)
    }
}

/// A pod's two series (`200`, `500`): `restarts` are minutes at which its counters start
/// again from zero, `missing` the minutes with no sample, `gone` the minutes it does not
/// exist (it returns restarted).
struct Pod {
    name: &'static str,
    day_rate: f64,
    night_errors: f64,
    restarts: Vec<usize>,
    missing: Vec<usize>,
    gone: Option<(usize, usize)>,
}

impl Pod {
    fn steady(name: &'static str, day_rate: f64, night_errors: f64) -> Self {
        Self {
            name,
            day_rate,
            night_errors,
            restarts: Vec::new(),
            missing: Vec::new(),
            gone: None,
        }
    }

    fn inputs(&self) -> [Input; 2] {
        let (mut good, mut bad) = (0.0, 0.0);
        let mut good_samples = Vec::with_capacity(MINUTES + 1);
        let mut bad_samples = Vec::with_capacity(MINUTES + 1);
        for m in 0..=MINUTES {
            let gone = self.gone.is_some_and(|(from, to)| (from..to).contains(&m));
            let returned = self.gone.is_some_and(|(_, to)| m == to);
            if self.restarts.contains(&m) || returned {
                (good, bad) = (0.0, 0.0);
            }
            if m > 0 && !gone {
                let (total, errors) = per_minute(m, self.day_rate, self.night_errors);
                good += total - errors;
                bad += errors;
            }
            let sample = |v: f64| {
                if gone {
                    if self.gone.is_some_and(|(from, _)| from == m) {
                        Sample::Stale
                    } else {
                        Sample::Gap
                    }
                } else if self.missing.contains(&m) {
                    Sample::Gap
                } else {
                    Sample::Value(v)
                }
            };
            good_samples.push(sample(good));
            bad_samples.push(sample(bad));
        }
        [
            Input {
                pod: self.name,
                code: "200",
                samples: good_samples,
            },
            Input {
                pod: self.name,
                code: "500",
                samples: bad_samples,
            },
        ]
    }
}

/// The recorded period ratio and the sums of the 5-minute rates at the end, and the truth.
struct Outcome {
    tiles: f64,
    rates: f64,
    truth: f64,
}

fn period_ratios(pods: &[Pod]) -> Result<Outcome> {
    let slo = availability_slo("");
    let mut main = rule_group(&slo);
    main.rules.retain(|r| {
        r.record
            .as_deref()
            .is_some_and(|n| n.contains(":rate5m") || n == PERIOD_RECORD)
    });
    let dir = tempfile::tempdir()?;
    let rules = write_rule_file(
        dir.path(),
        "rules.yaml",
        &promtool_groups(vec![main, tile_group(&slo)]),
    )?;
    let inputs: Vec<Input> = pods.iter().flat_map(Pod::inputs).collect();
    let errors: f64 = inputs
        .iter()
        .filter(|i| i.code == "500")
        .map(Input::observed_events)
        .sum();
    let total: f64 = inputs.iter().map(Input::observed_events).sum();

    let tiles_expr = format!("{PERIOD_RECORD}{IDS}");
    let rates_expr = format!(
        "sum_over_time(tidewatch_slo:errors:rate5m{IDS}[30d]) / sum_over_time(tidewatch_slo:requests:rate5m{IDS}[30d])"
    );
    let mut text = format!(
        "rule_files: [{}]\nevaluation_interval: 5m\n{}tests:\n- interval: 1m\n  input_series:\n",
        serde_json::to_string(&rules.display().to_string())?,
        group_eval_order(&rules)?
    );
    for i in &inputs {
        let s = requests_on(i.pod, "POST", "/v1/predict", i.code, i.values());
        writeln!(
            text,
            "  - series: {}\n    values: {}",
            serde_json::to_string(&s.name)?,
            serde_json::to_string(&s.values)?
        )?;
    }
    // Expect 0 on purpose: promtool then prints the value it computed.
    text.push_str("  promql_expr_test:\n");
    for expr in [&tiles_expr, &rates_expr] {
        writeln!(
            text,
            "  - expr: {}\n    eval_time: {MINUTES}m\n    exp_samples: [{{labels: '{{}}', value: 0}}]",
            serde_json::to_string(expr)?
        )?;
    }
    let test = dir.path().join("test.yaml");
    std::fs::write(&test, text)?;
    let run = test_rules(&test)?;
    Ok(Outcome {
        tiles: got_value(&run.output, &tiles_expr)
            .with_context(|| format!("no period value in:\n{}", run.output))?,
        rates: got_value(&run.output, &rates_expr)
            .with_context(|| format!("no sum of rates in:\n{}", run.output))?,
        truth: errors / total,
    })
}

fn check(name: &str, pods: &[Pod], tolerance: f64) -> Result<()> {
    let o = period_ratios(pods)?;
    let off = (o.tiles / o.truth - 1.0).abs();
    let apart = (o.tiles / o.rates - 1.0).abs();
    println!(
        "TILES {name}: truth {:.6}, tiles {:.6} ({:.3}% off), sums of 5m rates {:.6} ({:.3}% off, {:.3}% from the tiles)",
        o.truth,
        o.tiles,
        off * 100.0,
        o.rates,
        (o.rates / o.truth - 1.0).abs() * 100.0,
        apart * 100.0
    );
    assert!(
        off < tolerance,
        "{name}: tiles {} vs truth {}",
        o.tiles,
        o.truth
    );
    assert!(
        apart < TOLERANCE,
        "{name}: tiles {} vs sums of rates {}",
        o.tiles,
        o.rates
    );
    Ok(())
}

#[test]
fn a_restarting_pod_counts_from_zero() -> Result<()> {
    let mut restarting = Pod::steady("fraud-detector-1", 300.0, 0.08);
    restarting.restarts = vec![200, 1001, 1777, 2500];
    check(
        "pod restarts",
        &[Pod::steady("fraud-detector-0", 600.0, 0.01), restarting],
        TOLERANCE,
    )
}

#[test]
fn a_replica_that_disappears_and_returns() -> Result<()> {
    // The replica with the worse error ratio is gone for 10 hours, across a night.
    let mut returning = Pod::steady("fraud-detector-1", 300.0, 0.08);
    returning.gone = Some((1300, 1900));
    check(
        "replica gone and back",
        &[Pod::steady("fraud-detector-0", 600.0, 0.01), returning],
        TOLERANCE,
    )
}

#[test]
fn scrape_gaps() -> Result<()> {
    let mut gappy = Pod::steady("fraud-detector-0", 600.0, 0.01);
    gappy.missing = (0..=MINUTES)
        .filter(|m| m % 7 == 3 || (1300..1325).contains(m))
        .collect();
    let mut other = Pod::steady("fraud-detector-1", 300.0, 0.08);
    other.missing = (0..=MINUTES).filter(|m| m % 11 == 5).collect();
    check("scrape gaps", &[gappy, other], GAP_TOLERANCE)
}

/// A new SLO: the first tile comes 10 minutes in.
fn new_slo_run(error_ratio: f64) -> Result<(TestRun, Firing)> {
    let slo = availability_slo("");
    let dir = tempfile::tempdir()?;
    let rules = rule_file_of(dir.path(), &slo)?;
    let good = counter(&[(600.0 * (1.0 - error_ratio), 60)]);
    let bad = counter(&[(600.0 * error_ratio, 60)]);
    let mut text = format!(
        "rule_files: [{}]\nevaluation_interval: 1m\n{}tests:\n- interval: 1m\n  input_series:\n",
        serde_json::to_string(&rules.display().to_string())?,
        group_eval_order(&rules)?
    );
    for s in [requests("200", good), requests("500", bad)] {
        writeln!(
            text,
            "  - series: {}\n    values: {}",
            serde_json::to_string(&s.name)?,
            serde_json::to_string(&s.values)?
        )?;
    }
    text.push_str("  alert_rule_test:\n");
    for t in 0..=60 {
        for name in [BURN_ALERT, ABSENT_ALERT] {
            writeln!(
                text,
                "  - {{eval_time: {t}m, alertname: {name}, exp_alerts: []}}"
            )?;
        }
    }
    // Before the first tile the period ratio is absent (the test expects nothing); from the
    // first tile on it exists (expecting 0 makes promtool print it).
    writeln!(
        text,
        "  promql_expr_test:\n  - expr: '{PERIOD_RECORD}{IDS}'\n    eval_time: 9m\n    exp_samples: []\n  - expr: '{PERIOD_RECORD}{IDS} * 1'\n    eval_time: 10m\n    exp_samples: [{{labels: '{{}}', value: 0}}]"
    )?;
    let test = dir.path().join("test.yaml");
    std::fs::write(&test, text)?;
    let run = test_rules(&test)?;
    let f = firing(&run);
    Ok((run, f))
}

type Firing = std::collections::BTreeMap<u64, Vec<(String, String, String)>>;

#[test]
fn a_new_slo_has_no_period_ratio_before_its_first_tile_and_fires_nothing() -> Result<()> {
    let (run, f) = new_slo_run(0.0005)?;
    assert!(
        f.is_empty(),
        "a healthy new SLO fired: {f:?}\n{}",
        run.output
    );
    assert!(
        !run.output.contains("eval_time: 9m") && !run.output.contains("time: 9m"),
        "a period ratio existed before the first tile:\n{}",
        run.output
    );
    let first = got_value(&run.output, &format!("{PERIOD_RECORD}{IDS} * 1"))
        .with_context(|| format!("no period ratio at the first tile:\n{}", run.output))?;
    println!("TILES new SLO: period ratio at the first tile {first:.6} (truth 0.000500)");
    assert!((first / 0.0005 - 1.0).abs() < TOLERANCE);
    Ok(())
}

#[test]
fn a_new_slo_that_fails_at_once_pages_at_once() -> Result<()> {
    let (run, f) = new_slo_run(1.0)?;
    let first_page = f
        .iter()
        .find(|(_, a)| a.iter().any(|x| x.0 == BURN_ALERT && x.1 == "page"))
        .map(|(t, _)| *t)
        .with_context(|| format!("a failing new SLO did not page:\n{}", run.output))?;
    println!("TILES new SLO failing from the start: paged at {first_page} min");
    assert!(first_page <= 2, "paged only after {first_page} min");
    assert!(
        f.values().flatten().all(|a| a.0 != ABSENT_ALERT),
        "SLOMetricsAbsent fired with data present"
    );
    Ok(())
}
