//! The real node of `e2e/node` (a kubelet running containers) as the tests see it: the
//! images built for it, namespaces whose pods it runs, the Prometheus the Prometheus
//! Operator runs there, and addresses that the host reaches (pod IPs on the node's bridge,
//! ClusterIPs through kube-proxy).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::api::ListParams;

use crate::stack::prometheus::PrometheusApi;
use crate::{kubectl, repo_root};

/// The node's name (e2e/node/lib.sh).
pub const NODE_NAME: &str = "tidewatch-node-0";
/// The label and taint that keep its pods apart from kwok's.
pub const NODE_LABEL: (&str, &str) = ("tidewatch.io/node", "real");

/// The image references of `e2e/images/images.env`, by variable name.
pub fn images() -> anyhow::Result<BTreeMap<String, String>> {
    let path = repo_root().join("e2e/images/images.env");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// One image reference, e.g. `image("INFERENCE_IMAGE")`.
pub fn image(name: &str) -> anyhow::Result<String> {
    images()?
        .remove(name)
        .with_context(|| format!("{name} is not in e2e/images/images.env"))
}

/// The API of the Prometheus that the Prometheus Operator runs (`e2e/node/monitoring-up.sh`),
/// through its Service's ClusterIP, once it answers `/-/ready`.
pub async fn prometheus(
    client: &kube::Client,
    http: &reqwest::Client,
) -> anyhow::Result<PrometheusApi> {
    let services: Api<Service> = Api::namespaced(client.clone(), "monitoring");
    let url = service_url(&services, "prometheus")
        .await
        .context("no Prometheus Service in namespace monitoring: run `make monitoring-up`")?;
    crate::eventually(Duration::from_secs(180), || async {
        let ready = http.get(format!("{url}/-/ready")).send().await?;
        ensure!(
            ready.status().is_success(),
            "Prometheus at {url}: {}",
            ready.status()
        );
        Ok(())
    })
    .await?;
    Ok(PrometheusApi::new(http, url))
}

/// Creates (or keeps) `namespace`, enforcing Pod Security `restricted`, with its pods sent
/// to the real node by the namespace's default node selector and toleration.
pub fn real_node_namespace(namespace: &str) -> anyhow::Result<()> {
    let (key, value) = NODE_LABEL;
    let yaml = format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
  annotations:
    scheduler.alpha.kubernetes.io/node-selector: {key}={value}
    scheduler.alpha.kubernetes.io/defaultTolerations: '[{{"key":"{key}","operator":"Equal","value":"{value}","effect":"NoSchedule"}}]'
"#
    );
    let out = kubectl(&["apply", "-f", "-"], Some(&yaml))?;
    anyhow::ensure!(
        out.success,
        "creating namespace {namespace}: {}",
        out.stderr
    );
    Ok(())
}

/// `kubectl` that must succeed; its stdout.
pub fn kubectl_ok(args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    let out = kubectl(args, stdin)?;
    if !out.success {
        bail!(
            "kubectl {} failed: {}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
    }
    Ok(out.stdout)
}

/// `http://<ClusterIP>:<first port>` of a Service: reached from the host through
/// kube-proxy's rules, as a client in the cluster would.
pub async fn service_url(services: &Api<Service>, name: &str) -> anyhow::Result<String> {
    let service = services.get(name).await?;
    let spec = service.spec.context("a Service has a spec")?;
    let ip = spec.cluster_ip.context("no ClusterIP")?;
    let port = spec
        .ports
        .and_then(|p| p.first().map(|p| p.port))
        .context("no port")?;
    Ok(format!("http://{ip}:{port}"))
}

/// Pods matching `selector` that run on the real node and are Ready, by name.
pub async fn ready_pods(pods: &Api<Pod>, selector: &str) -> anyhow::Result<Vec<Pod>> {
    let list = pods.list(&ListParams::default().labels(selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(is_ready)
        .collect())
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Every pod of the namespace, with the node it runs on.
pub async fn pod_nodes(pods: &Api<Pod>) -> anyhow::Result<Vec<(String, Option<String>)>> {
    Ok(pods
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|p| {
            let node = p.spec.and_then(|s| s.node_name);
            (p.metadata.name.unwrap_or_default(), node)
        })
        .collect())
}

/// `e2e/node/manifests/redis.yaml`: Redis in namespace `fraud` at the address the example
/// MLService names, with `password` in the Secret it names.
pub fn redis_manifest(password: &str) -> anyhow::Result<String> {
    let path = repo_root().join("e2e/node/manifests/redis.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(text
        .replace("${REDIS_IMAGE}", &image("REDIS_IMAGE")?)
        .replace("${REDIS_PASSWORD}", password))
}

/// Waits for a rollout with kubectl's own logic (new ReplicaSet Ready, old ones gone).
pub fn rollout_status(namespace: &str, deployment: &str, timeout: Duration) -> anyhow::Result<()> {
    kubectl_ok(
        &[
            "-n",
            namespace,
            "rollout",
            "status",
            &format!("deployment/{deployment}"),
            &format!("--timeout={}s", timeout.as_secs()),
        ],
        None,
    )
    .map(drop)
}
