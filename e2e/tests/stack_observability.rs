//! The observability stack on a real Prometheus 3: the inference server as a local process,
//! the SLO rules `tidewatch-operator render` produces from `manifests/examples` and every
//! `alerts/*.rules.yaml` loaded, and an operator on the local control plane reconciling the
//! examples (its metrics feed the operator dashboard). Real HTTP traffic goes through the
//! server. Then, through Prometheus's HTTP API:
//!
//! 1. with clean traffic, every SLO recording rule produces a value; ten seconds later the
//!    availability SLO's error ratio is 0, and neither its burn-rate page nor the inference
//!    error-ratio alert is active;
//! 2. the server is restarted on the same port with half of the predictions failing (500)
//!    and a dead Redis: the availability SLO's page (`SLOErrorBudgetBurn`, 1h/5m at 14.4x),
//!    `TidewatchInferenceErrorRatioHigh` and `TidewatchFeatureStoreCircuitBreakerOpen` go
//!    pending or firing; these alerts have `for` clauses of minutes, so pending is what a
//!    test of two minutes can honestly require;
//! 3. every query of every panel of `dashboards/*.json` returns data, with the variables set
//!    to the example service. Exempt, each checked rather than assumed: GPU panels when the
//!    server reports `tidewatch_gpu_telemetry_available == 0` (no NVML on the machine; the
//!    per-GPU gauges then have no series by design), and queries of
//!    `tidewatch_operator_reconcile_errors_total` when the operator's own `/metrics` shows no
//!    failed reconciliation (a counter family without a failure has no series).
//!
//! Processes are children stopped by PID when their guards drop, also on failure.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use tidewatch_e2e::operator::resources::{apply_yaml, examples};
use tidewatch_e2e::operator::{OPERATOR_NAMESPACE, Operator, OperatorOptions, operator_binary};
use tidewatch_e2e::stack::dashboards::{generated_dashboards, panel_queries};
use tidewatch_e2e::stack::inference::{InferenceOptions, InferenceServer, inference_binary};
use tidewatch_e2e::stack::prometheus::{Prometheus, ScrapeJob};
use tidewatch_e2e::stack::rules::{rendered_slo_rules, static_rule_files};
use tidewatch_e2e::stack::traffic::Traffic;
use tidewatch_e2e::{TestNamespace, client};
use tidewatch_testkit::free_port;

const NAMESPACE: &str = "fraud";
const SERVICE: &str = "fraud-detector";
const AVAILABILITY_SLO: &str = "fraud-detector-availability";
/// Upper bound of the whole test; traffic loops stop by themselves at this limit too.
const BUDGET: Duration = Duration::from_secs(180);

/// Polls `check` every second until it returns `Ok(Some(_))` or `timeout` passes; the last
/// `Ok(None)` reason or error is reported on timeout.
async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(reason)) => reason,
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("{what}: not reached within {timeout:?}: {last}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn alert_label<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or_default()
}

/// The alerts the injected failure must drive, as (alertname, label, value).
const EXPECTED: &[(&str, &str, &str)] = &[
    ("SLOErrorBudgetBurn", "slo", AVAILABILITY_SLO),
    ("TidewatchInferenceErrorRatioHigh", "service", SERVICE),
    (
        "TidewatchFeatureStoreCircuitBreakerOpen",
        "service",
        SERVICE,
    ),
];

fn matching<'a>(alerts: &'a [Value], (name, label, value): (&str, &str, &str)) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| alert_label(a, "alertname") == name && alert_label(a, label) == value)
        .filter(|a| name != "SLOErrorBudgetBurn" || alert_label(a, "severity") == "page")
        .collect()
}

/// Variable values per dashboard uid; a new dashboard must be added here.
fn choices(uid: &str) -> anyhow::Result<Vec<(&'static str, &'static str)>> {
    Ok(match uid {
        "tidewatch-mlservice" => vec![("namespace", NAMESPACE), ("service", SERVICE)],
        "tidewatch-slo" => vec![("namespace", NAMESPACE), ("slo", AVAILABILITY_SLO)],
        "tidewatch-operator" => vec![
            ("namespace", OPERATOR_NAMESPACE),
            ("service", "tidewatch-operator"),
        ],
        other => bail!("dashboard {other} has no variable values in this test"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_rules_and_alerts_on_a_real_prometheus() -> anyhow::Result<()> {
    // Building the binaries (when e2e/run.sh has not) is not part of the time budget.
    operator_binary()?;
    inference_binary()?;
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let dir = tempfile::tempdir()?;

    // The operator reconciles the examples on the local control plane, so its metrics
    // carry reconciliations, durations and managed objects.
    let kube = client().await?;
    let ns = TestNamespace::create(&kube, "stack").await?;
    let operator = Operator::start(ns.name(), &OperatorOptions::new("stack")).await?;
    for doc in examples(ns.name()) {
        apply_yaml(&doc)?;
    }

    let (slo_rules, records) = rendered_slo_rules(dir.path())?;
    let mut rule_files = vec![slo_rules];
    rule_files.extend(static_rule_files()?);

    let port = free_port();
    let clean = InferenceOptions {
        port,
        fault_error_ratio: 0.0,
        fault_latency_ms: 20,
        redis_url: None,
        max_concurrency: 2,
        drift_min_samples: 50,
    };
    let server = InferenceServer::start(&clean, &dir.path().join("inference-clean.log")).await?;
    let jobs = [
        ScrapeJob {
            job: SERVICE.into(),
            target: format!("127.0.0.1:{port}"),
            namespace: NAMESPACE.into(),
            service: SERVICE.into(),
            pod: format!("{SERVICE}-0"),
        },
        ScrapeJob {
            job: "tidewatch-operator".into(),
            target: operator.metrics_address().to_string(),
            namespace: OPERATOR_NAMESPACE.into(),
            service: "tidewatch-operator".into(),
            pod: "tidewatch-operator-0".into(),
        },
    ];
    let prometheus = Prometheus::start(&http, dir.path(), &jobs, &rule_files).await?;
    eprintln!(
        "stack: inference pid {} on {port}, prometheus pid {} at {}, operator pid {}",
        server.pid(),
        prometheus.pid(),
        prometheus.base_url,
        operator.pid()
    );

    // Every rule file loaded: the rendered SLO groups and the static groups.
    let groups = prometheus.rule_groups().await?;
    let loaded: BTreeSet<&str> = groups.iter().filter_map(|g| g["file"].as_str()).collect();
    ensure!(
        loaded.len() == rule_files.len(),
        "rule files loaded: {loaded:?}, expected {rule_files:?}\n{}",
        prometheus.log_tail()
    );

    // Phase 1: clean traffic.
    let traffic = Traffic::start(http.clone(), server.base_url.clone(), BUDGET);
    poll(
        "every SLO recording rule has a value",
        Duration::from_secs(40),
        || async {
            let mut missing = Vec::new();
            for record in &records {
                if prometheus.query(record).await?.is_empty() {
                    missing.push(record.clone());
                }
            }
            Ok(if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no value yet: {missing:?}"))
            })
        },
    )
    .await?;
    // Long enough for several evaluations of every rule on clean data.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let ratio_1h = format!(
        "tidewatch_slo:error_ratio:rate1h{{namespace=\"{NAMESPACE}\", slo=\"{AVAILABILITY_SLO}\"}}"
    );
    assert_eq!(
        prometheus.value(&ratio_1h).await?,
        Some(0.0),
        "clean traffic, no errors"
    );
    let alerts = prometheus.alerts().await?;
    for expected in &EXPECTED[..2] {
        let active = matching(&alerts, *expected);
        assert!(
            active.is_empty(),
            "{expected:?} active on clean traffic: {active:?}"
        );
    }
    let clean_codes = traffic.stop().await;
    eprintln!("stack: clean traffic answers by code {clean_codes:?}");
    ensure!(
        clean_codes.get(&200).copied().unwrap_or(0) > 100,
        "too little traffic: {clean_codes:?}"
    );
    ensure!(
        !clean_codes.contains_key(&500),
        "500 without faults: {clean_codes:?}"
    );

    // Phase 2: the same service restarted with injected failures and a dead Redis.
    server.kill();
    let faulty = InferenceOptions {
        fault_error_ratio: 0.5,
        redis_url: Some(format!("redis://127.0.0.1:{}", free_port())),
        ..clean
    };
    let mut server =
        InferenceServer::start(&faulty, &dir.path().join("inference-faulty.log")).await?;
    let traffic = Traffic::start(http.clone(), server.base_url.clone(), BUDGET);
    let fired = poll(
        "the injected failure drives its alerts",
        Duration::from_secs(60),
        || async {
            let alerts = prometheus.alerts().await?;
            let mut found = Vec::new();
            for expected in EXPECTED {
                match matching(&alerts, *expected).first() {
                    Some(a) => found.push(format!("{} {}", expected.0, a["state"])),
                    None => return Ok(Err(format!("{expected:?} not active yet"))),
                }
            }
            Ok(Ok(found))
        },
    )
    .await?;
    eprintln!("stack: after {:?}: {fired:?}", started.elapsed());

    // Every dashboard query returns data from this Prometheus.
    let gpu_unavailable = prometheus
        .value(&format!(
            "tidewatch_gpu_telemetry_available{{namespace=\"{NAMESPACE}\"}}"
        ))
        .await?
        == Some(0.0);
    let (_, operator_metrics) = operator.get("/metrics")?;
    let operator_failed = operator_metrics
        .lines()
        .any(|l| l.starts_with("tidewatch_operator_reconcile_errors_total{"));
    let exempt = |expr: &str| -> Option<&'static str> {
        let gpu_gauge = regex::Regex::new(r"tidewatch_gpu_(utilization|memory|temperature|power)")
            .expect("static regex");
        if gpu_unavailable && gpu_gauge.is_match(expr) {
            return Some("no GPU telemetry on this machine");
        }
        if !operator_failed && expr.contains("tidewatch_operator_reconcile_errors_total") {
            return Some("no reconciliation failed");
        }
        None
    };
    let mut queries = Vec::new();
    let mut exempted = Vec::new();
    for (path, dashboard) in generated_dashboards()? {
        let uid = dashboard["uid"].as_str().context("dashboard without uid")?;
        let mut n = 0;
        for q in panel_queries(&dashboard, &choices(uid)?)? {
            n += 1;
            match exempt(&q.expr) {
                Some(reason) => exempted.push(format!("{} / {}: {reason}", q.dashboard, q.panel)),
                None => queries.push(q),
            }
        }
        ensure!(n > 0, "{} has no queries", path.display());
    }
    let total = queries.len();
    poll(
        "every dashboard query returns data",
        Duration::from_secs(30),
        || async {
            let mut empty = Vec::new();
            for q in &queries {
                if prometheus.query(&q.expr).await?.is_empty() {
                    empty.push(format!("{} / {}: {}", q.dashboard, q.panel, q.expr));
                }
            }
            Ok(if empty.is_empty() {
                Ok(())
            } else {
                Err(format!("no data:\n{}", empty.join("\n")))
            })
        },
    )
    .await?;
    eprintln!("stack: {total} dashboard queries return data; exempt: {exempted:?}");

    // No rule failed to evaluate along the way.
    for group in prometheus.rule_groups().await? {
        for rule in group["rules"].as_array().into_iter().flatten() {
            assert_eq!(
                rule["health"], "ok",
                "rule {} in {}: {}",
                rule["name"], group["name"], rule["lastError"]
            );
        }
    }
    server.ensure_running()?;
    let faulty_codes = traffic.stop().await;
    eprintln!("stack: faulty traffic answers by code {faulty_codes:?}");
    ensure!(
        faulty_codes.contains_key(&500) && faulty_codes.contains_key(&429),
        "{faulty_codes:?}"
    );
    let elapsed = started.elapsed();
    eprintln!("stack: done in {elapsed:?}");
    ensure!(elapsed < BUDGET, "took {elapsed:?}");
    Ok(())
}
