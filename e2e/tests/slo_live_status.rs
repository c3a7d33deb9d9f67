//! Live SLO figures on the local control plane: the operator, given a real Prometheus that
//! scrapes a real inference server and evaluates the PrometheusRule the operator generated,
//! fills the SLO's status (SLI, budget left, burn rates, `BudgetExhausted`, `Burning`,
//! `BUDGET LEFT`). Converged, it writes the status rarely (counted per minute in the API
//! server's audit log). Prometheus stopped: the conditions say `PrometheusUnreachable`, the
//! figures keep their read time, and one Warning Event is published. Prometheus back on the
//! same address: the figures resume.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;
use tidewatch_e2e::audit::{audit_mark, audit_writes_since};
use tidewatch_e2e::operator::resources::{apply_yaml, condition, examples, slos, status_field};
use tidewatch_e2e::operator::{Operator, OperatorOptions, SERVICE_ACCOUNT, operator_user};
use tidewatch_e2e::stack::inference::{InferenceOptions, InferenceServer};
use tidewatch_e2e::stack::prometheus::{Prometheus, ScrapeJob};
use tidewatch_e2e::stack::rules::shorten_tiles;
use tidewatch_e2e::stack::traffic::Traffic;
use tidewatch_e2e::{TestNamespace, client, eventually, kubectl};
use tidewatch_testkit::free_port;

const SERVICE: &str = "fraud-detector";
const SLO: &str = "fraud-detector-availability";
const WAIT: Duration = Duration::from_secs(90);
const MEASURED: Duration = Duration::from_secs(60);

/// The PrometheusRules the operator generated in `namespace`, as one rule file.
fn generated_rules(namespace: &str, dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let out = kubectl(
        &["get", "prometheusrules", "-n", namespace, "-o", "json"],
        None,
    )?;
    ensure!(out.success, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout)?;
    let groups: Vec<Value> = list["items"]
        .as_array()
        .context("items")?
        .iter()
        .flat_map(|r| r["spec"]["groups"].as_array().cloned().unwrap_or_default())
        .collect();
    ensure!(groups.len() == 4, "two SLOs, two groups each: {groups:?}");
    let mut groups: Vec<serde_yaml::Value> = serde_yaml::to_value(groups)?
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    shorten_tiles(&mut groups);
    let mut file = serde_yaml::Mapping::new();
    file.insert("groups".into(), serde_yaml::Value::Sequence(groups));
    let path = dir.join("generated.rules.yaml");
    std::fs::write(&path, serde_yaml::to_string(&file)?)?;
    Ok(path)
}

async fn slo_now(api: &Api<DynamicObject>) -> anyhow::Result<DynamicObject> {
    Ok(api.get(SLO).await?)
}

fn observed_at(slo: &DynamicObject) -> Option<String> {
    status_field(slo, "/live/observedAt")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn burning(slo: &DynamicObject) -> Option<(String, String)> {
    condition(slo, "Burning").map(|(status, reason, _)| (status, reason))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_status_carries_live_figures_through_a_prometheus_outage() -> anyhow::Result<()> {
    let kube = client().await?;
    let ns = TestNamespace::create(&kube, "slo-live").await?;
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let port = free_port();
    let server = InferenceServer::start(
        &InferenceOptions {
            port,
            fault_error_ratio: 0.0,
            fault_latency_ms: 5,
            redis_url: None,
            max_concurrency: 2,
            drift_min_samples: 50,
        },
        &dir.path().join("inference.log"),
    )
    .await?;
    let prometheus_port = free_port();
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    let mut options = OperatorOptions::new("live");
    options.extra_args = vec![
        format!("--prometheus-url={prometheus_url}"),
        "--prometheus-timeout-seconds=2".into(),
        "--prometheus-poll-seconds=2".into(),
        "--slo-status-interval-seconds=10".into(),
    ];
    let mut operator = Operator::start(ns.name(), &options).await?;
    for doc in examples(ns.name()) {
        apply_yaml(&doc)?;
    }
    let api = slos(&kube, ns.name());
    eventually(WAIT, || async {
        let rules = kubectl(
            &["get", "prometheusrules", "-n", ns.name(), "-o", "name"],
            None,
        )?;
        ensure!(rules.stdout.lines().count() == 2, "rules: {}", rules.stdout);
        Ok(())
    })
    .await?;

    // Before Prometheus exists the operator says so, and does not crash.
    let unreachable = eventually(WAIT, || async {
        let slo = slo_now(&api).await?;
        let b = burning(&slo).context("no Burning condition yet")?;
        ensure!(
            b == ("Unknown".into(), "PrometheusUnreachable".into()),
            "{b:?}"
        );
        Ok(slo)
    })
    .await?;
    ensure!(
        observed_at(&unreachable).is_none(),
        "no figures were ever read"
    );

    let rules = generated_rules(ns.name(), dir.path())?;
    let jobs = [ScrapeJob {
        job: SERVICE.into(),
        target: format!("127.0.0.1:{port}"),
        namespace: ns.name().into(),
        service: SERVICE.into(),
        pod: format!("{SERVICE}-0"),
    }];
    let prometheus = Prometheus::start_on(
        prometheus_port,
        &http,
        dir.path(),
        &jobs,
        std::slice::from_ref(&rules),
    )
    .await?;
    let traffic = Traffic::start(
        http.clone(),
        server.base_url.clone(),
        Duration::from_secs(400),
    );

    // Prometheus running: the status fills.
    let filled = eventually(WAIT, || async {
        let slo = slo_now(&api).await?;
        let b = burning(&slo).context("no Burning")?;
        ensure!(b == ("False".into(), "NotBurning".into()), "Burning {b:?}");
        let budget = status_field(&slo, "/errorBudgetRemaining").context("no BUDGET LEFT")?;
        ensure!(
            budget == "100.0%",
            "clean traffic keeps the whole budget: {budget}"
        );
        ensure!(status_field(&slo, "/live/sli").is_some(), "no SLI");
        Ok(slo)
    })
    .await?;
    let (exhausted, reason, _) =
        condition(&filled, "BudgetExhausted").context("BudgetExhausted")?;
    assert_eq!(
        (exhausted.as_str(), reason.as_str()),
        ("False", "WithinBudget")
    );
    let rates = status_field(&filled, "/live/burnRates").context("burn rates")?;
    assert_eq!(
        rates.as_object().map(|o| o.len()),
        Some(7),
        "every alert window: {rates}"
    );
    eprintln!(
        "live status: {}",
        serde_json::to_string(&filled.data["status"]["live"])?
    );
    for args in [
        vec!["get", "slo", "-n", ns.name()],
        vec!["describe", "slo", SLO, "-n", ns.name()],
    ] {
        let out = kubectl(&args, None)?;
        eprintln!("$ kubectl {}\n{}", args.join(" "), out.stdout);
    }

    // Converged with live figures: status writes per minute, from the audit log.
    let user = operator_user(SERVICE_ACCOUNT);
    let mark = audit_mark()?;
    let measured_from = Instant::now();
    tokio::time::sleep(MEASURED).await;
    let writes: Vec<String> = audit_writes_since(mark)?
        .into_iter()
        .filter(|e| e.user.username == user && e.object_ref.namespace == ns.name())
        .map(|e| e.describe())
        .collect();
    let minutes = measured_from.elapsed().as_secs_f64() / 60.0;
    eprintln!(
        "converged with live figures: {} writes in {:.1} min ({:.1}/min): {writes:?}",
        writes.len(),
        minutes,
        writes.len() as f64 / minutes
    );
    assert!(
        writes.len() as f64 / minutes <= 2.0,
        "a converged operator with steady figures writes near nothing: {writes:?}"
    );

    // Prometheus stopped: the condition says so, the figures keep their time.
    let before = observed_at(&slo_now(&api).await?).context("figures read")?;
    drop(prometheus);
    let stopped = eventually(WAIT, || async {
        let slo = slo_now(&api).await?;
        let b = burning(&slo).context("no Burning")?;
        ensure!(b.1 == "PrometheusUnreachable", "Burning {b:?}");
        Ok(slo)
    })
    .await?;
    assert_eq!(
        observed_at(&stopped).as_deref(),
        Some(before.as_str()),
        "figures keep their read time"
    );
    let (_, _, message) = condition(&stopped, "BudgetExhausted").context("BudgetExhausted")?;
    assert!(message.contains(&before), "{message}");
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(kube.clone(), ns.name())
        .list(&ListParams::default())
        .await?;
    let trouble_events = events
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("PrometheusUnreachable"))
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(SLO))
        .count();
    assert!(
        trouble_events >= 1,
        "a Warning Event says why the figures are old"
    );
    assert!(
        operator.is_running(),
        "Prometheus trouble never crashes the operator"
    );

    // Prometheus back on the same address and TSDB: the figures resume.
    let prometheus =
        Prometheus::start_on(prometheus_port, &http, dir.path(), &jobs, &[rules]).await?;
    let resumed = eventually(WAIT, || async {
        let slo = slo_now(&api).await?;
        let b = burning(&slo).context("no Burning")?;
        ensure!(b.1 == "NotBurning", "Burning {b:?}");
        Ok(slo)
    })
    .await?;
    let after = observed_at(&resumed).context("figures")?;
    assert!(after > before, "read again: {after} after {before}");
    let codes = traffic.stop().await;
    eprintln!("traffic {codes:?}; prometheus pid {}", prometheus.pid());
    drop(server);
    Ok(())
}
