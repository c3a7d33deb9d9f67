//! An MLService's SLIs count the routes that serve predictions only. Probes and scrapes
//! answer the platform: a pod that is not ready yet answers `/readyz` with 503 while
//! predictions succeed, and that must neither burn the budget nor page; probes and scrapes
//! of an idle service must not count as traffic for the minimum-traffic guard.

mod support;

use anyhow::Result;
use support::*;
use tidewatch_operator::slo_rules::sli::total_rate;
use tidewatch_operator::slo_rules::{ABSENT_ALERT, BURN_ALERT};
use tidewatch_operator::validate::PromDuration;

/// The kubelet probes every 10 s: 6 answers a minute per probe and pod.
const PROBES_PER_MINUTE: f64 = 6.0;
/// Prometheus scrapes every 30 s.
const SCRAPES_PER_MINUTE: f64 = 2.0;
const MINUTES: u64 = 180;

type Firing = std::collections::BTreeMap<u64, Vec<(String, String, String)>>;

/// Probe and scrape series of one pod for `MINUTES`, `/readyz` answering `ready_code`.
fn platform_traffic(pod: &str, ready_code: &str) -> Vec<Series> {
    let steady = |per_minute| counter(&[(per_minute, MINUTES)]);
    vec![
        requests_on(pod, "GET", "/healthz", "200", steady(PROBES_PER_MINUTE)),
        requests_on(pod, "GET", "/readyz", ready_code, steady(PROBES_PER_MINUTE)),
        requests_on(pod, "GET", "/metrics", "200", steady(SCRAPES_PER_MINUTE)),
    ]
}

fn firing_between(series: &[Series], from: u64, to: u64) -> Result<Firing> {
    let dir = tempfile::tempdir()?;
    let rules = rule_file_of(dir.path(), &availability_slo(""))?;
    let test = write_silence_test(
        dir.path(),
        &rules,
        1,
        series,
        &[BURN_ALERT, ABSENT_ALERT],
        (from, to, 1),
    )?;
    let run = firing_alerts_run(&test)?;
    Ok(firing(&run))
}

#[test]
fn an_unready_pod_answering_readyz_503_does_not_burn_the_budget() -> Result<()> {
    // One ready pod serves 1 prediction a second, all answered; a second pod warms up for
    // three hours, failing its readiness probe (6 × 503 a minute, 6.8 % of all requests).
    let mut series = vec![requests("200", counter(&[(60.0, MINUTES)]))];
    series.extend(platform_traffic("fraud-detector-0", "200"));
    series.extend(platform_traffic("fraud-detector-1", "503"));
    let f = firing_between(&series, 10, MINUTES)?;
    println!(
        "SCENARIO unready pod, /readyz 503 at 6.8% of requests: {} firing evaluations",
        f.len()
    );
    assert!(
        f.is_empty(),
        "readiness-probe 503s of a warming pod fired alerts: {f:?}"
    );
    Ok(())
}

#[test]
fn failed_predictions_among_probes_still_page() -> Result<()> {
    // Control: the same platform traffic with predictions failing does page.
    let mut series = vec![
        requests("200", counter(&[(54.0, MINUTES)])),
        requests("500", counter(&[(6.0, MINUTES)])),
    ];
    series.extend(platform_traffic("fraud-detector-0", "200"));
    let f = firing_between(&series, 10, 30)?;
    assert!(
        f.values()
            .flatten()
            .any(|a| a.0 == BURN_ALERT && a.1 == "page"),
        "10% failed predictions must page: {f:?}"
    );
    Ok(())
}

#[test]
fn probes_and_scrapes_of_an_idle_service_are_not_traffic() -> Result<()> {
    // No prediction at all; the pod restarts and answers /readyz 503 for its whole life.
    let series = platform_traffic("fraud-detector-0", "503");
    let f = firing_between(&series, 10, MINUTES)?;
    assert!(
        f.is_empty(),
        "an idle service's probes fired alerts (or its data counted as absent): {f:?}"
    );

    // The guard's own expression: requests per hour over the fastest page window.
    let slo = availability_slo("");
    let guard = format!(
        "{} * 3600",
        total_rate(&slo.sli, PromDuration::from_secs(3600))
    );
    let dir = tempfile::tempdir()?;
    let rules = rule_file_of(dir.path(), &slo)?;
    let mut text = format!(
        "rule_files: [{}]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n",
        serde_json::to_string(&rules.display().to_string())?
    );
    for s in &series {
        text.push_str(&format!(
            "  - series: {}\n    values: {}\n",
            serde_json::to_string(&s.name)?,
            serde_json::to_string(&s.values)?
        ));
    }
    text.push_str(&format!(
        "  promql_expr_test:\n  - expr: {}\n    eval_time: 120m\n    exp_samples: []\n",
        serde_json::to_string(&guard)?
    ));
    let test = dir.path().join("guard.yaml");
    std::fs::write(&test, text)?;
    let run = test_rules(&test)?;
    assert!(
        run.success,
        "probes and scrapes (840 an hour) counted towards the minimum-traffic guard:\n{}",
        run.output
    );
    Ok(())
}
