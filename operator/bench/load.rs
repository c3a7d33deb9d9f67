//! The operator benchmark's load and stopwatch (`operator/bench/run.sh` runs it): creates N
//! parents in one namespace with bounded concurrency and no client-side rate limit, then
//! times, from the first create, how long the controller under test takes until every child
//! exists and every parent reports Ready. It watches instead of polling (parents in full,
//! children metadata-only), samples the controller's CPU time and peak memory from /proc
//! and the API server's request counters, and prints one JSON object. Tidewatch's MLService
//! and SLO pairs, or Sloth's PrometheusServiceLevel equivalents of the same SLOs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

/// Routes the SLOs count, as Tidewatch's availability indicator selects them.
const SLI_ROUTES: &str = r"/v1/predict|/v1/predict/batch|/v2/models/\\{name\\}/infer";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Flavour {
    /// N MLServices and N SLOs (availability, 99.9 % over 30 days) for Tidewatch.
    Tidewatch,
    /// N PrometheusServiceLevels with the same SLO, for Sloth's controller.
    Sloth,
    /// N Deployments like the ones Tidewatch makes, created directly: what the control
    /// plane (controller-manager, scheduler, kwok) alone takes to run their pods.
    Deployments,
}

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum)]
    flavour: Flavour,
    /// Namespace the parents are created in (it must exist and be empty).
    #[arg(long)]
    namespace: String,
    /// Parents of each kind.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Create requests in flight at once.
    #[arg(long, default_value_t = 48)]
    concurrency: usize,
    /// PID of the controller under test, for its CPU time and peak memory.
    #[arg(long)]
    pid: u32,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clock_ticks: u64,
    /// The API Priority and Fairness flow schema that only the controller's requests match.
    #[arg(long)]
    flow_schema: Option<String>,
    /// Give up after this many seconds without convergence.
    #[arg(long, default_value_t = 600)]
    timeout_seconds: u64,
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// A kind whose objects the controller makes, and how many must exist.
struct Children {
    resource: ApiResource,
    expected: usize,
    labels: Option<&'static str>,
}

impl Flavour {
    fn parents(self) -> Vec<ApiResource> {
        match self {
            Self::Tidewatch => vec![
                resource("tidewatch.io", "v1alpha1", "MLService", "mlservices"),
                resource("tidewatch.io", "v1alpha1", "SLO", "slos"),
            ],
            Self::Sloth => vec![resource(
                "sloth.slok.dev",
                "v1",
                "PrometheusServiceLevel",
                "prometheusservicelevels",
            )],
            Self::Deployments => vec![resource("apps", "v1", "Deployment", "deployments")],
        }
    }

    fn children(self, count: usize) -> Vec<Children> {
        let rule = resource(
            "monitoring.coreos.com",
            "v1",
            "PrometheusRule",
            "prometheusrules",
        );
        match self {
            Self::Tidewatch => {
                let ours = Some("app.kubernetes.io/managed-by=tidewatch-operator");
                let kinds = [
                    (resource("apps", "v1", "Deployment", "deployments"), 1),
                    (resource("", "v1", "Service", "services"), 1),
                    (
                        resource(
                            "monitoring.coreos.com",
                            "v1",
                            "ServiceMonitor",
                            "servicemonitors",
                        ),
                        1,
                    ),
                    (rule, 1),
                    (resource("", "v1", "ConfigMap", "configmaps"), 2),
                ];
                kinds
                    .into_iter()
                    .map(|(resource, per_pair)| Children {
                        resource,
                        expected: per_pair * count,
                        labels: ours,
                    })
                    .collect()
            }
            // Sloth labels its rules with the parent's labels only: the namespace is the
            // benchmark's alone, so every rule in it counts.
            Self::Sloth => vec![Children {
                resource: rule,
                expected: count,
                labels: None,
            }],
            Self::Deployments => Vec::new(),
        }
    }

    /// The parents of pair `i`, in creation order, with the index of their kind.
    fn objects(self, namespace: &str, i: usize) -> Vec<(usize, Value)> {
        let service = format!("svc-{i:04}");
        match self {
            Self::Tidewatch => vec![
                (
                    0,
                    json!({
                        "apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
                        "metadata": {"name": service, "namespace": namespace},
                        "spec": {
                            "model": {"name": "bench", "version": "1"},
                            "replicas": 1,
                            "resources": {"cpu": "10m", "memory": "16Mi"},
                        },
                    }),
                ),
                (
                    1,
                    json!({
                        "apiVersion": "tidewatch.io/v1alpha1", "kind": "SLO",
                        "metadata": {"name": format!("{service}-availability"), "namespace": namespace},
                        "spec": {
                            "target": {"mlService": service},
                            "objective": 99.9,
                            "window": "30d",
                            "indicator": {"availability": {}},
                        },
                    }),
                ),
            ],
            Self::Sloth => {
                let requests = format!(
                    r#"tidewatch_requests_total{{namespace="{namespace}", service="{service}", route=~"{SLI_ROUTES}""#
                );
                vec![(
                    0,
                    json!({
                        "apiVersion": "sloth.slok.dev/v1", "kind": "PrometheusServiceLevel",
                        "metadata": {"name": format!("{service}-availability"), "namespace": namespace},
                        "spec": {
                            "service": service,
                            "slos": [{
                                "name": "availability",
                                "objective": 99.9,
                                "sli": {"events": {
                                    "errorQuery": format!(r#"sum(rate({requests}, code=~"5.."}}[{{{{.window}}}}]))"#),
                                    "totalQuery": format!("sum(rate({requests}}}[{{{{.window}}}}]))"),
                                }},
                                "alerting": {
                                    "name": "SLOErrorBudgetBurn",
                                    "pageAlert": {"labels": {"severity": "page"}},
                                    "ticketAlert": {"labels": {"severity": "ticket"}},
                                },
                            }],
                        },
                    }),
                )]
            }
            Self::Deployments => {
                let labels = json!({"app.kubernetes.io/name": "bench", "app.kubernetes.io/instance": service});
                vec![(
                    0,
                    json!({
                        "apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": service, "namespace": namespace, "labels": labels},
                        "spec": {
                            "replicas": 1,
                            "selector": {"matchLabels": labels},
                            "template": {
                                "metadata": {"labels": labels},
                                "spec": {"containers": [{
                                    "name": "inference", "image": "tidewatch-inference:bench",
                                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                                }]},
                            },
                        },
                    }),
                )]
            }
        }
    }

    /// Whether a parent reports that its children are done, for its current generation.
    fn is_ready(self, parent: &DynamicObject) -> bool {
        let status = parent.data.get("status");
        let observed = status
            .and_then(|s| s.get("observedGeneration"))
            .and_then(Value::as_i64);
        if observed.is_none() || observed != parent.metadata.generation {
            return false;
        }
        match self {
            Self::Tidewatch => status
                .and_then(|s| s.get("conditions"))
                .and_then(Value::as_array)
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                }),
            Self::Sloth => status.is_some_and(|s| s["promOpRulesGenerated"] == true),
            Self::Deployments => status.is_some_and(|s| s["readyReplicas"] == 1),
        }
    }
}

/// CPU seconds (user + system) and peak resident memory of a process.
#[derive(Debug, Clone, Copy)]
struct ProcessSample {
    cpu_seconds: f64,
    peak_kib: u64,
    rss_kib: u64,
}

fn sample(pid: u32, clock_ticks: u64) -> anyhow::Result<ProcessSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("the controller (pid {pid}) is gone"))?;
    // Fields after the command name, which is in parentheses and may hold spaces: the
    // state is field 3, utime and stime fields 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("a short /proc stat line")?.parse()?)
    };
    let cpu_ticks = ticks(11)? + ticks(12)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    #[allow(
        clippy::cast_precision_loss,
        reason = "CPU ticks of one run stay far below 2^52"
    )]
    Ok(ProcessSample {
        cpu_seconds: cpu_ticks as f64 / clock_ticks as f64,
        peak_kib: kib("VmHWM:"),
        rss_kib: kib("VmRSS:"),
    })
}

/// Counters of the API server's metrics, summed by one label: `apiserver_request_total` by
/// verb (all clients) under `verb=...`, and the requests each API Priority and Fairness flow
/// schema dispatched under `flow_schema=...` (the benchmark gives each controller's user a
/// schema of its own).
async fn request_counts(client: &Client) -> anyhow::Result<BTreeMap<String, f64>> {
    let request = hyper::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    let mut counts = BTreeMap::new();
    for (metric, label) in [
        ("apiserver_request_total{", "verb"),
        (
            "apiserver_flowcontrol_dispatched_requests_total{",
            "flow_schema",
        ),
    ] {
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(metric) else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once("} ") else {
                continue;
            };
            let prefix = format!("{label}=\"");
            let key = labels
                .split(',')
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .map_or("", |v| v.trim_end_matches('"'));
            let value: f64 = value.trim().parse().unwrap_or(0.0);
            *counts.entry(format!("{label}={key}")).or_insert(0.0) += value;
        }
    }
    Ok(counts)
}

fn delta(after: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(verb, count)| {
            let diff = count - before.get(verb).copied().unwrap_or(0.0);
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "request counters are whole and grow"
            )]
            (verb.clone(), diff.max(0.0).round() as u64)
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// A watch of `resource` in `namespace` feeding a cache, running in the background.
fn watch_parents(client: &Client, namespace: &str, resource: &ApiResource) -> Store<DynamicObject> {
    let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, resource);
    let writer = reflector::store::Writer::new(resource.clone());
    let store = writer.as_reader();
    let watch = watcher(api, watcher::Config::default()).default_backoff();
    tokio::spawn(reflector::reflector(writer, watch).for_each(|_| futures::future::ready(())));
    store
}

/// A metadata-only watch of `children`, counting what exists.
fn watch_children(
    client: &Client,
    namespace: &str,
    children: &Children,
) -> Store<PartialObjectMeta<DynamicObject>> {
    let api = Api::<PartialObjectMeta<DynamicObject>>::namespaced_with(
        client.clone(),
        namespace,
        &children.resource,
    );
    let writer = reflector::store::Writer::new(children.resource.clone());
    let store = writer.as_reader();
    let mut config = watcher::Config::default();
    if let Some(labels) = children.labels {
        config = config.labels(labels);
    }
    let watch = watcher(api, config).default_backoff();
    tokio::spawn(reflector::reflector(writer, watch).for_each(|_| futures::future::ready(())));
    store
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::try_default().await?;
    let flavour = args.flavour;
    let parents: Vec<(ApiResource, Store<DynamicObject>)> = flavour
        .parents()
        .into_iter()
        .map(|r| {
            let store = watch_parents(&client, &args.namespace, &r);
            (r, store)
        })
        .collect();
    let children: Vec<_> = flavour
        .children(args.count)
        .into_iter()
        .map(|c| {
            let store = watch_children(&client, &args.namespace, &c);
            (c, store)
        })
        .collect();
    for (_, store) in &parents {
        store.wait_until_ready().await?;
    }
    for (_, store) in &children {
        store.wait_until_ready().await?;
    }
    if parents.iter().any(|(_, s)| !s.is_empty()) {
        bail!("namespace {} already holds parents", args.namespace);
    }

    let requests_before = request_counts(&client).await?;
    let cpu_before = sample(args.pid, args.clock_ticks)?;
    let started_at = SystemTime::now();
    let started = Instant::now();
    let apis: Vec<Api<DynamicObject>> = parents
        .iter()
        .map(|(r, _)| Api::namespaced_with(client.clone(), &args.namespace, r))
        .collect();
    let apis = Arc::new(apis);
    let objects = (0..args.count).flat_map(|i| flavour.objects(&args.namespace, i + 1));
    stream::iter(objects)
        .map(|(kind, object)| {
            let apis = apis.clone();
            async move {
                let object: DynamicObject = serde_json::from_value(object)?;
                let name = object.name_any();
                apis[kind]
                    .create(&PostParams::default(), &object)
                    .await
                    .with_context(|| format!("creating {name}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .try_collect::<()>()
        .await?;
    let created = started.elapsed();
    eprintln!(
        "created {} objects in {:.1} s",
        args.count * parents.len(),
        created.as_secs_f64()
    );

    let deadline = Duration::from_secs(args.timeout_seconds);
    let mut last_report = Instant::now();
    // When each parent kind was all Ready, and when every child existed.
    let mut milestones: BTreeMap<String, f64> = BTreeMap::new();
    let converged = loop {
        let ready: Vec<usize> = parents
            .iter()
            .map(|(_, s)| s.state().iter().filter(|p| flavour.is_ready(p)).count())
            .collect();
        let present: Vec<usize> = children.iter().map(|(_, s)| s.len()).collect();
        let children_done = children
            .iter()
            .zip(&present)
            .all(|((c, _), &n)| n == c.expected);
        let elapsed = started.elapsed().as_secs_f64();
        if children_done {
            milestones.entry("children".into()).or_insert(elapsed);
        }
        for ((r, _), &n) in parents.iter().zip(&ready) {
            if n == args.count {
                milestones.entry(r.plural.clone()).or_insert(elapsed);
            }
        }
        let done = ready.iter().all(|&n| n == args.count) && children_done;
        if done {
            break started.elapsed();
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            let parents_text: Vec<String> = parents
                .iter()
                .zip(&ready)
                .map(|((r, _), n)| format!("{n}/{} {} ready", args.count, r.plural))
                .collect();
            let children_text: Vec<String> = children
                .iter()
                .zip(&present)
                .map(|((c, _), n)| format!("{n}/{} {}", c.expected, c.resource.plural))
                .collect();
            eprintln!(
                "{:6.1} s: {}; {}",
                started.elapsed().as_secs_f64(),
                parents_text.join(", "),
                children_text.join(", ")
            );
        }
        if started.elapsed() > deadline {
            bail!("no convergence within {deadline:?}");
        }
        sample(args.pid, args.clock_ticks)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let at_convergence = sample(args.pid, args.clock_ticks)?;
    let requests_after = request_counts(&client).await?;
    let requests = delta(&requests_after, &requests_before);
    let by_verb: BTreeMap<&str, u64> = requests
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("verb=")?, *v)))
        .collect();
    let controller_requests = args.flow_schema.as_ref().map(|schema| {
        requests
            .get(&format!("flow_schema={schema}"))
            .copied()
            .unwrap_or(0)
    });
    let report = json!({
        "flavour": format!("{flavour:?}").to_lowercase(),
        "count": args.count,
        "concurrency": args.concurrency,
        "started_at": epoch_seconds(started_at),
        "converged_at": epoch_seconds(started_at + converged),
        "create_seconds": created.as_secs_f64(),
        "converge_seconds": converged.as_secs_f64(),
        "cpu_seconds": at_convergence.cpu_seconds - cpu_before.cpu_seconds,
        "peak_kib": at_convergence.peak_kib,
        "rss_kib": at_convergence.rss_kib,
        "ready_seconds": milestones,
        "apiserver_requests": by_verb.values().sum::<u64>(),
        "apiserver_requests_by_verb": by_verb,
        "controller_requests": controller_requests,
    });
    println!("{report}");
    Ok(())
}
