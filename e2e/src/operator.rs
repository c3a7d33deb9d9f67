//! The operator under test: the binary built from this workspace, run as a child process
//! with the RBAC it ships (a ServiceAccount token bound to its ClusterRole, never
//! cluster-admin), watching one test namespace so that tests run side by side.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};
use tidewatch_testkit::{ChildGuard, free_port, http_get, loopback, wait_for_http_ok};

use crate::cluster::{kubeconfig_path, kubectl, repo_root};
use crate::wait::off_runtime;

/// Namespace of the operator's ServiceAccounts and leader-election Leases.
pub const OPERATOR_NAMESPACE: &str = "tidewatch-e2e-operator";
/// The ServiceAccount `tidewatch-operator rbac` binds.
pub const SERVICE_ACCOUNT: &str = "tidewatch-operator";

fn work_dir() -> PathBuf {
    std::env::var_os("TIDEWATCH_WORK_DIR")
        .map_or_else(|| repo_root().join("e2e/.work"), PathBuf::from)
}

/// The operator binary: `TIDEWATCH_OPERATOR_BIN`, else built once per test process.
pub fn operator_binary() -> anyhow::Result<PathBuf> {
    crate::workspace_binary("TIDEWATCH_OPERATOR_BIN", "tidewatch-operator")
}

/// Output of `tidewatch-operator <args>`.
pub fn operator_output(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(operator_binary()?)
        .args(args)
        .output()
        .context("running tidewatch-operator")?;
    if !out.status.success() {
        bail!(
            "tidewatch-operator {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn apply(yaml: &str) -> anyhow::Result<()> {
    let out = kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            "tidewatch-e2e",
            "-f",
            "-",
        ],
        Some(yaml),
    )?;
    if !out.success {
        bail!("kubectl apply failed: {}", out.stderr);
    }
    Ok(())
}

/// Installs the CRDs `tidewatch-operator crds` prints and waits until they are served.
pub fn install_crds() -> anyhow::Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let crds = operator_output(&["crds"]).map_err(|e| e.to_string())?;
            apply(&crds).map_err(|e| e.to_string())?;
            let out = kubectl(
                &[
                    "wait",
                    "--for=condition=Established",
                    "--timeout=30s",
                    "crd/mlservices.tidewatch.io",
                    "crd/slos.tidewatch.io",
                ],
                None,
            )
            .map_err(|e| e.to_string())?;
            if out.success { Ok(()) } else { Err(out.stderr) }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// The user name the API server (and its audit log) sees for an operator ServiceAccount.
pub fn operator_user(service_account: &str) -> String {
    format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{service_account}")
}

/// A kubeconfig holding a token of `service_account`, which is bound to the operator's
/// ClusterRole and Lease Role exactly as `tidewatch-operator rbac` describes them.
pub fn operator_kubeconfig(service_account: &str) -> anyhow::Result<PathBuf> {
    let rbac = operator_output(&[
        "rbac",
        "--namespace",
        OPERATOR_NAMESPACE,
        "--service-account",
        SERVICE_ACCOUNT,
    ])?;
    apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {OPERATOR_NAMESPACE}\n"
    ))?;
    // The roles exactly as shipped; the bindings are the suite's own, named per account, so
    // that an installation on the same cluster (binding the same roles to its ServiceAccount
    // under the shipped names) and the suite never take each other's rights.
    let roles: Vec<&str> = rbac
        .split("---\n")
        .filter(|doc| doc.contains("\nkind: ClusterRole\n") || doc.contains("\nkind: Role\n"))
        .collect();
    anyhow::ensure!(
        roles.len() == 2,
        "expected a ClusterRole and a Role in:\n{rbac}"
    );
    apply(&roles.join("---\n"))?;
    apply(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {service_account}, namespace: {OPERATOR_NAMESPACE}}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: tidewatch-e2e-{service_account}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tidewatch-operator}}\n\
         subjects: [{{kind: ServiceAccount, name: {service_account}, namespace: {OPERATOR_NAMESPACE}}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: tidewatch-e2e-{service_account}-leader-election, namespace: {OPERATOR_NAMESPACE}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: tidewatch-operator-leader-election}}\n\
         subjects: [{{kind: ServiceAccount, name: {service_account}, namespace: {OPERATOR_NAMESPACE}}}]\n"
    ))?;
    token_kubeconfig(service_account, OPERATOR_NAMESPACE)
}

/// A kubeconfig holding a token of the ServiceAccount `service_account` in `namespace`,
/// with whatever rights are bound to it.
pub fn token_kubeconfig(service_account: &str, namespace: &str) -> anyhow::Result<PathBuf> {
    let token = kubectl(
        &[
            "create",
            "token",
            service_account,
            "-n",
            namespace,
            "--duration",
            "3h",
        ],
        None,
    )?;
    if !token.success {
        bail!("kubectl create token failed: {}", token.stderr);
    }
    let admin: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(kubeconfig_path())?)?;
    let cluster = &admin["clusters"][0]["cluster"];
    let server = cluster["server"]
        .as_str()
        .context("admin kubeconfig has no server")?;
    let ca = cluster["certificate-authority"]
        .as_str()
        .context("admin kubeconfig has no CA file")?;
    let path = work_dir().join(format!("operator-{namespace}-{service_account}.kubeconfig"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\n\
             users:\n- name: {service_account}\n  user:\n    token: {}\ncontexts:\n- name: local\n  context: {{cluster: local, user: {service_account}}}\n\
             current-context: local\n",
            token.stdout.trim()
        ),
    )?;
    Ok(path)
}

/// How to start one operator process.
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    pub service_account: String,
    pub identity: String,
    pub extra_args: Vec<String>,
}

impl OperatorOptions {
    pub fn new(identity: &str) -> Self {
        Self {
            service_account: SERVICE_ACCOUNT.into(),
            identity: identity.into(),
            extra_args: Vec::new(),
        }
    }
}

/// Reaching a cluster, acquiring its Lease and syncing its caches takes a few seconds.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A running operator; stopped when dropped.
pub struct Operator {
    child: ChildGuard,
    metrics: SocketAddr,
}

impl Operator {
    /// Starts an operator watching `namespace` (its Lease is named after it) and waits until
    /// it answers `/readyz`.
    pub async fn start(namespace: &str, options: &OperatorOptions) -> anyhow::Result<Self> {
        install_crds()?;
        let kubeconfig = operator_kubeconfig(&options.service_account)?;
        Self::start_with(namespace, options, kubeconfig).await
    }

    /// Starts an operator watching `namespace` with the credentials of `kubeconfig`, and
    /// waits until it answers `/readyz`.
    pub async fn start_with(
        namespace: &str,
        options: &OperatorOptions,
        kubeconfig: PathBuf,
    ) -> anyhow::Result<Self> {
        let metrics = loopback(free_port());
        let log_dir = work_dir().join("operator-logs");
        std::fs::create_dir_all(&log_dir)?;
        let log = log_dir.join(format!("{namespace}-{}.log", options.identity));
        let mut command = Command::new(operator_binary()?);
        command
            .args([
                "run",
                "--namespace",
                namespace,
                "--lease-namespace",
                OPERATOR_NAMESPACE,
            ])
            .args([
                "--lease-name",
                &format!("lease-{namespace}"),
                "--identity",
                &options.identity,
            ])
            .args([
                "--metrics-address",
                &metrics.to_string(),
                "--requeue-seconds",
                "30",
            ])
            .args(&options.extra_args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info");
        let child = off_runtime(move || {
            let mut child = ChildGuard::spawn("tidewatch-operator", command, &log)?;
            wait_for_http_ok(&mut child, metrics, "/readyz", READY_WITHIN)?;
            Ok(child)
        })
        .await?;
        Ok(Self { child, metrics })
    }

    /// Status code and body of `GET path` on the metrics server.
    pub fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        Ok(http_get(self.metrics, path)?)
    }

    /// Everything the operator logged so far.
    pub fn log_text(&self) -> String {
        self.child.log_text()
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub fn metrics_address(&self) -> SocketAddr {
        self.metrics
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.is_running()
    }

    /// SIGKILL: the process gets no chance to release its Lease.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// SIGTERM, then waits up to `timeout` for a clean exit; returns its success. One that
    /// ignores SIGTERM is killed and the call fails.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<bool> {
        Ok(self.child.terminate(timeout)?.success())
    }
}

/// Tidewatch kinds, addressed without the operator crate's types (the suite tests the
/// installed API, not the Rust structs).
pub mod resources {
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
    use serde_json::Value;

    use crate::cluster::kubectl;

    pub fn mlservice_resource() -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("tidewatch.io", "v1alpha1", "MLService"),
            "mlservices",
        )
    }

    pub fn slo_resource() -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("tidewatch.io", "v1alpha1", "SLO"),
            "slos",
        )
    }

    pub fn mlservices(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client.clone(), namespace, &mlservice_resource())
    }

    pub fn slos(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client.clone(), namespace, &slo_resource())
    }

    /// `(status, reason, message)` of a condition on an object's status.
    pub fn condition(obj: &DynamicObject, type_: &str) -> Option<(String, String, String)> {
        let conditions = obj.data.pointer("/status/conditions")?.as_array()?;
        let c = conditions.iter().find(|c| c["type"] == type_)?;
        let field = |name: &str| c[name].as_str().unwrap_or_default().to_owned();
        Some((field("status"), field("reason"), field("message")))
    }

    /// True when the condition has status `True`.
    pub fn is_true(obj: &DynamicObject, type_: &str) -> bool {
        condition(obj, type_).is_some_and(|(status, _, _)| status == "True")
    }

    /// A status field as JSON.
    pub fn status_field<'a>(obj: &'a DynamicObject, pointer: &str) -> Option<&'a Value> {
        obj.data.pointer(&format!("/status{pointer}"))
    }

    /// The example resources of `manifests/examples`, moved into `namespace`, one document
    /// per entry.
    pub fn examples(namespace: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples");
        [
            "fraud-detector.yaml",
            "fraud-detector-availability-slo.yaml",
            "fraud-detector-latency-slo.yaml",
        ]
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(dir.join(file)).expect("example exists");
            text.replace("namespace: fraud\n", &format!("namespace: {namespace}\n"))
        })
        .collect()
    }

    /// Applies the examples into `namespace` and waits until the MLService and both SLOs
    /// report `Ready`.
    pub async fn apply_examples_and_await_ready(
        client: &kube::Client,
        namespace: &str,
        timeout: std::time::Duration,
    ) -> anyhow::Result<()> {
        for doc in examples(namespace) {
            apply_yaml(&doc)?;
        }
        let ready = |o: Option<&DynamicObject>| o.is_some_and(|o| is_true(o, "Ready"));
        crate::await_condition(
            &mlservices(client, namespace),
            "fraud-detector",
            ready,
            timeout,
        )
        .await?;
        for name in ["fraud-detector-availability", "fraud-detector-latency"] {
            crate::await_condition(&slos(client, namespace), name, ready, timeout).await?;
        }
        Ok(())
    }

    /// `kubectl apply` of one YAML document, failing with kubectl's message.
    pub fn apply_yaml(yaml: &str) -> anyhow::Result<()> {
        let out = kubectl(&["apply", "-f", "-"], Some(yaml))?;
        anyhow::ensure!(out.success, "kubectl apply failed: {}", out.stderr);
        Ok(())
    }
}
