//! Invalid input. What the schema can express is refused by `kubectl apply` with the
//! schema's own message; what it cannot (bucket thresholds, targets that do not exist,
//! PromQL selectors) ends, through the operator, in a Degraded condition and an Event that
//! name the field — and never in a child object.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use tidewatch_e2e::operator::resources::{condition, is_true, mlservices, slos};
use tidewatch_e2e::operator::{Operator, OperatorOptions, install_crds};
use tidewatch_e2e::{TestNamespace, await_condition, client, eventually, kubectl};

const WAIT: Duration = Duration::from_secs(60);

fn mls(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

fn slo(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

const MODEL: &str = "  model: {name: m, version: v1}\n";
const TARGET: &str = "  target: {mlService: svc}\n";

/// (description, manifest, a fragment of the API server's message).
fn refused_by_the_schema() -> Vec<(&'static str, String, &'static str)> {
    let m = |extra: &str| mls("bad", &format!("{MODEL}{extra}"));
    let s = |body: &str| slo("bad", body);
    let avail = "  indicator: {availability: {}}\n";
    vec![
        (
            "negative replicas",
            m("  replicas: -1\n"),
            "spec.replicas: Invalid value: -1",
        ),
        (
            "too many replicas",
            m("  replicas: 101\n"),
            "should be less than or equal to 100",
        ),
        (
            "replicas not a number",
            m("  replicas: two\n"),
            "spec.replicas: Invalid value: \"string\"",
        ),
        (
            "no model",
            mls("bad", "  replicas: 1\n"),
            "spec.model: Required value",
        ),
        (
            "empty model name",
            mls("bad", "  model: {name: '', version: v1}\n"),
            "spec.model.name",
        ),
        (
            "model name with spaces",
            mls("bad", "  model: {name: 'bad name', version: v1}\n"),
            "spec.model.name",
        ),
        (
            "model version too long",
            mls(
                "bad",
                &format!("  model: {{name: m, version: {}}}\n", "v".repeat(64)),
            ),
            "spec.model.version",
        ),
        (
            "weights over ftp",
            mls(
                "bad",
                "  model: {name: m, version: v1, weightsUrl: 'ftp://x/w'}\n",
            ),
            "spec.model.weightsUrl",
        ),
        (
            "image with a space",
            m("  image: 'repo/img: tag'\n"),
            "spec.image",
        ),
        (
            "cpu not a quantity",
            m("  resources: {cpu: lots}\n"),
            "spec.resources.cpu",
        ),
        (
            "memory not a quantity",
            m("  resources: {memory: 1.5.5Gi}\n"),
            "spec.resources.memory",
        ),
        (
            "too many GPUs",
            m("  resources: {gpu: 17}\n"),
            "spec.resources.gpu",
        ),
        (
            "feature store over http",
            m("  featureStore: {address: 'http://redis:6379'}\n"),
            "spec.featureStore.address",
        ),
        (
            "zero feature timeout",
            m("  featureStore: {address: 'redis://redis:6379', timeoutMs: 0}\n"),
            "spec.featureStore.timeoutMs",
        ),
        (
            "secret name with capitals",
            m("  featureStore: {address: 'redis://r:6379', credentialsSecret: {name: Bad_Name}}\n"),
            "spec.featureStore.credentialsSecret.name",
        ),
        (
            "OTLP endpoint without scheme",
            m("  tracing: {otlpEndpoint: 'collector:4318'}\n"),
            "spec.tracing.otlpEndpoint",
        ),
        (
            "sampling above 1",
            m("  tracing: {otlpEndpoint: 'http://c:4318', samplingRatio: 1.5}\n"),
            "spec.tracing.samplingRatio",
        ),
        (
            "scrape interval in words",
            m("  monitoring: {scrapeInterval: 30 seconds}\n"),
            "spec.monitoring.scrapeInterval",
        ),
        (
            "drift warning above critical",
            m("  monitoring: {drift: {warning: 0.5, critical: 0.2}}\n"),
            "drift.warning must be lower than drift.critical",
        ),
        (
            "dashboard not a boolean",
            m("  monitoring: {dashboard: maybe}\n"),
            "spec.monitoring.dashboard",
        ),
        (
            "unknown field",
            m("  replicaz: 2\n"),
            "unknown field \"spec.replicaz\"",
        ),
        (
            "name too long",
            mls(&"a".repeat(50), MODEL),
            "metadata.name must be at most 49 characters",
        ),
        (
            "name starting with a digit",
            mls("9lives", MODEL),
            "metadata.name must be a DNS-1035 label",
        ),
        (
            "objective of 100",
            s(&format!("{TARGET}  objective: 100\n{avail}")),
            "spec.objective",
        ),
        (
            "objective of 0",
            s(&format!("{TARGET}  objective: 0\n{avail}")),
            "spec.objective",
        ),
        (
            "negative objective",
            s(&format!("{TARGET}  objective: -5\n{avail}")),
            "spec.objective",
        ),
        (
            "no objective",
            s(&format!("{TARGET}{avail}")),
            "spec.objective: Required value",
        ),
        (
            "window in words",
            s(&format!(
                "{TARGET}  objective: 99\n  window: 30 days\n{avail}"
            )),
            "spec.window",
        ),
        (
            "window in minutes",
            s(&format!("{TARGET}  objective: 99\n  window: 30m\n{avail}")),
            "spec.window",
        ),
        (
            "zero window",
            s(&format!("{TARGET}  objective: 99\n  window: 0d\n{avail}")),
            "spec.window",
        ),
        (
            "no indicator member",
            s(&format!("{TARGET}  objective: 99\n  indicator: {{}}\n")),
            "set exactly one of availability, latency, ratio",
        ),
        (
            "two indicators",
            s(&format!(
                "{TARGET}  objective: 99\n  indicator: {{availability: {{}}, latency: {{threshold: 250ms}}}}\n"
            )),
            "set exactly one of availability, latency, ratio",
        ),
        (
            "threshold in words",
            s(&format!(
                "{TARGET}  objective: 99\n  indicator: {{latency: {{threshold: fast}}}}\n"
            )),
            "spec.indicator.latency.threshold",
        ),
        (
            "ratio with a target",
            s(&format!(
                "{TARGET}  objective: 99\n  indicator: {{ratio: {{errors: 'a{{code=\"500\"}}', total: a}}}}\n"
            )),
            "a ratio indicator carries its own selectors: remove spec.target",
        ),
        (
            "availability without a target",
            s(&format!("  objective: 99\n{avail}")),
            "availability and latency indicators need spec.target.mlService",
        ),
        (
            "target with capitals",
            s(&format!(
                "  target: {{mlService: Svc}}\n  objective: 99\n{avail}"
            )),
            "spec.target.mlService",
        ),
        (
            "empty ratio selector",
            s("  objective: 99\n  indicator: {ratio: {errors: '', total: a}}\n"),
            "spec.indicator.ratio.errors",
        ),
        (
            "runbook not a URL",
            s(&format!(
                "{TARGET}  objective: 99\n{avail}  alerting: {{runbookUrl: see wiki}}\n"
            )),
            "spec.alerting.runbookUrl",
        ),
        (
            "reserved alert label",
            s(&format!(
                "{TARGET}  objective: 99\n{avail}  alerting: {{page: {{labels: {{severity: low}}}}}}\n"
            )),
            "are set by Tidewatch and cannot be overridden",
        ),
        (
            "alert label name with a dash",
            s(&format!(
                "{TARGET}  objective: 99\n{avail}  alerting: {{ticket: {{labels: {{on-call: x}}}}}}\n"
            )),
            "alert label names must match",
        ),
        (
            "alert label value over 1024 characters",
            s(&format!(
                "{TARGET}  objective: 99\n{avail}  alerting: {{page: {{labels: {{team: {}}}}}}}\n",
                "x".repeat(1025)
            )),
            "spec.alerting.page.labels.team: Too long",
        ),
        (
            "empty alert label value",
            s(&format!(
                "{TARGET}  objective: 99\n{avail}  alerting: {{page: {{labels: {{team: ''}}}}}}\n"
            )),
            "spec.alerting.page.labels.team",
        ),
        (
            "zero latency threshold",
            s(&format!(
                "{TARGET}  objective: 99\n  indicator: {{latency: {{threshold: 0ms}}}}\n"
            )),
            "must be a positive duration",
        ),
        (
            "target name longer than an MLService name",
            s(&format!(
                "  target: {{mlService: {}}}\n  objective: 99\n{avail}",
                "a".repeat(50)
            )),
            "spec.target.mlService",
        ),
        (
            "runbook with a token",
            s(&format!(
                "{TARGET}  objective: 99\n{avail}  alerting: {{runbookUrl: 'https://wiki/slo?token=abc'}}\n"
            )),
            "spec.alerting.runbookUrl: Invalid value",
        ),
        (
            "zero scrape interval",
            m("  monitoring: {scrapeInterval: 0s}\n"),
            "must be a positive duration",
        ),
        (
            "scrape interval in milliseconds",
            m("  monitoring: {scrapeInterval: 500ms}\n"),
            "spec.monitoring.scrapeInterval",
        ),
        (
            "zero cpu",
            m("  resources: {cpu: '0'}\n"),
            "must be more than 0",
        ),
        (
            "zero memory",
            m("  resources: {memory: 0Mi}\n"),
            "must be more than 0",
        ),
        (
            "cpu limit below the request",
            m("  resources: {cpu: '2', cpuLimit: 500m}\n"),
            "cpuLimit must not be below cpu",
        ),
        (
            "ServiceMonitor label key with a space",
            m("  monitoring: {serviceMonitorLabels: {'bad key': x}}\n"),
            "label keys must be",
        ),
        (
            "ServiceMonitor label value over 63 characters",
            m(&format!(
                "  monitoring: {{serviceMonitorLabels: {{team: {}}}}}\n",
                "x".repeat(64)
            )),
            "spec.monitoring.serviceMonitorLabels.team: Too long",
        ),
        (
            "image with a no-break space",
            m("  image: \"repo/img\\u00a0:tag\"\n"),
            "spec.image",
        ),
        (
            "volume claim with an empty DNS label",
            mls(
                "bad",
                "  model: {name: m, version: v1, weightsVolumeClaim: a..b}\n",
            ),
            "spec.model.weightsVolumeClaim",
        ),
        (
            "Redis password in the address",
            m("  featureStore: {address: 'redis://:hunter2@redis:6379'}\n"),
            "spec.featureStore.credentialsSecret",
        ),
        (
            "Redis password in a query string",
            m("  featureStore: {address: 'redis://redis:6379/0?password=hunter2'}\n"),
            "spec.featureStore.credentialsSecret",
        ),
        (
            "OTLP token in the endpoint",
            m("  tracing: {otlpEndpoint: 'https://user:tok@collector:4318'}\n"),
            "spec.tracing.otlpEndpoint: Invalid value",
        ),
        (
            "OTLP key in a query string",
            m("  tracing: {otlpEndpoint: 'https://collector:4318/v1/traces?api_key=abc'}\n"),
            "spec.tracing.otlpEndpoint: Invalid value",
        ),
        (
            "negative traffic guard",
            s(&format!(
                "{TARGET}  objective: 99\n{avail}  alerting: {{minimumRequestsPerHour: -1}}\n"
            )),
            "spec.alerting.minimumRequestsPerHour",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_invalid_specs_with_its_message() -> anyhow::Result<()> {
    let client = client().await?;
    install_crds()?;
    let ns = TestNamespace::create(&client, "op-schema").await?;
    let cases = refused_by_the_schema();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (what, manifest, message) in &cases {
        let out = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(manifest))?;
        if out.success {
            failures.push(format!("{what}: accepted\n{manifest}"));
        } else if !out.stderr.contains(message) {
            failures.push(format!(
                "{what}: expected {message:?} in: {}",
                out.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let stored = kubectl(
        &[
            "get",
            "mlservices.tidewatch.io,slos.tidewatch.io",
            "-n",
            ns.name(),
            "--no-headers",
        ],
        None,
    )?;
    assert!(
        stored.stdout.trim().is_empty(),
        "refused objects were stored: {}",
        stored.stdout
    );
    Ok(())
}

fn monitoring(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", kind),
        plural,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_schema_cannot_catch_is_degraded_with_an_event_and_no_children()
-> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "op-invalid").await?;
    let _operator = Operator::start(ns.name(), &OperatorOptions::new("invalid")).await?;
    let avail = "  indicator: {availability: {}}\n";
    // (kind, name, manifest, field named in the condition and the Event, reason)
    let cases = [
        (
            "slo",
            "off-bucket",
            slo(
                "off-bucket",
                "  target: {mlService: good}\n  objective: 99\n  indicator: {latency: {threshold: 300ms}}\n",
            ),
            "spec.indicator.latency.threshold",
            "InvalidSpec",
        ),
        (
            "slo",
            "no-target",
            slo(
                "no-target",
                &format!("  target: {{mlService: ghost}}\n  objective: 99.9\n{avail}"),
            ),
            "spec.target.mlService",
            "TargetNotFound",
        ),
        (
            "slo",
            "bad-promql",
            slo(
                "bad-promql",
                "  objective: 99\n  indicator: {ratio: {errors: 'http_requests_total{code=~\"5..\"', total: http_requests_total}}\n",
            ),
            "spec.indicator.ratio.errors",
            "InvalidSpec",
        ),
        (
            "slo",
            "tiny-budget",
            slo(
                "tiny-budget",
                &format!("  target: {{mlService: good}}\n  objective: 99.99999999995\n{avail}"),
            ),
            "spec.objective",
            "InvalidSpec",
        ),
    ];
    // A valid target, so that the SLO cases fail for their own reason only.
    let out = kubectl(
        &["apply", "-n", ns.name(), "-f", "-"],
        Some(&mls("good", MODEL)),
    )?;
    assert!(out.success, "{}", out.stderr);
    for (_, _, manifest, _, _) in &cases {
        let out = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(manifest))?;
        assert!(
            out.success,
            "the schema should accept this, yet: {}\n{manifest}",
            out.stderr
        );
    }

    let events: Api<Event> = ns.api();
    for (kind, name, _, field, reason) in &cases {
        let api = if *kind == "mls" {
            mlservices(&client, ns.name())
        } else {
            slos(&client, ns.name())
        };
        let degraded = await_condition(
            &api,
            name,
            |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Degraded")),
            WAIT,
        )
        .await?
        .expect("exists");
        let (_, got_reason, message) = condition(&degraded, "Degraded").expect("Degraded");
        assert_eq!(&got_reason, reason, "{name}: {message}");
        assert!(
            message.contains(field),
            "{name}: condition {message:?} does not name {field}"
        );
        assert_eq!(
            condition(&degraded, "Ready").map(|c| c.0),
            Some("False".into()),
            "{name}"
        );
        eventually(WAIT, || async {
            let found = events
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .any(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(*name)
                        && e.type_.as_deref() == Some("Warning")
                        && e.reason.as_deref() == Some(*reason)
                        && e.note.as_deref().is_some_and(|n| n.contains(field))
                });
            anyhow::ensure!(found, "no Warning event {reason} naming {field} for {name}");
            Ok(())
        })
        .await?;
    }

    // The valid MLService got its children; none of the invalid resources got any.
    let good = await_condition(
        &mlservices(&client, ns.name()),
        "good",
        |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Ready")),
        WAIT,
    )
    .await?;
    assert!(good.is_some());
    let deployments: Api<Deployment> = ns.api();
    let names: Vec<String> = deployments
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|d| d.metadata.name)
        .collect();
    assert_eq!(names, ["good"]);
    let configmaps: Api<ConfigMap> = ns.api();
    let dashboards: Vec<String> = configmaps
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=tidewatch-operator"))
        .await?
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(dashboards, ["mls-good-dashboard"]);
    let rules: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns.name(),
        &monitoring("PrometheusRule", "prometheusrules"),
    );
    assert!(
        rules.list(&ListParams::default()).await?.items.is_empty(),
        "an invalid SLO produced rules"
    );
    let monitors: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns.name(),
        &monitoring("ServiceMonitor", "servicemonitors"),
    );
    assert_eq!(monitors.list(&ListParams::default()).await?.items.len(), 1);

    // Fixing the cause heals: the missing target appears, and the SLO that waited on it
    // becomes Ready without being touched (the SLO controller watches MLServices).
    let out = kubectl(
        &["apply", "-n", ns.name(), "-f", "-"],
        Some(&mls("ghost", MODEL)),
    )?;
    assert!(out.success, "{}", out.stderr);
    await_condition(
        &slos(&client, ns.name()),
        "no-target",
        |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Ready")),
        WAIT,
    )
    .await?;
    eventually(WAIT, || async {
        anyhow::ensure!(
            rules.get_opt("slo-no-target").await?.is_some(),
            "no PrometheusRule yet"
        );
        Ok(())
    })
    .await?;
    Ok(())
}
