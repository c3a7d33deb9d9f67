//! Installing Tidewatch as a user would, against the local control plane: the CRDs with
//! `kubectl apply --server-side`, the Helm chart through install, upgrade and uninstall,
//! the rendered bundle and the examples through a server-side dry run, and the chart's
//! values schema; with `watchNamespaces`, Roles in those namespaces only, the operator
//! binary reconciling there with the chart's ServiceAccount token and refused (403)
//! elsewhere. Under kwok the operator's pods are scheduled and reported Running, but no
//! container runs, so these tests prove what the API server accepts and keeps, not the
//! operator binary's behaviour in a pod (the `operator_*` tests cover that).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client};
use serde::Deserialize;
use tidewatch_e2e::helm::{chart_dir, helm};
use tidewatch_e2e::operator::resources::condition;
use tidewatch_e2e::operator::{Operator, OperatorOptions, operator_output, token_kubeconfig};
use tidewatch_e2e::{
    Kubectl, TestNamespace, await_condition, client, client_from, eventually, kubectl,
    unique_suffix,
};

const WAIT: Duration = Duration::from_secs(90);

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("repository paths are UTF-8")
}

fn ok(what: &str, out: Kubectl) -> anyhow::Result<Kubectl> {
    anyhow::ensure!(
        out.success,
        "{what} failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    Ok(out)
}

/// Server-side apply of `crds/` as the README tells users, then both CRDs are served.
fn apply_crds() -> anyhow::Result<()> {
    let crds = repo_path("crds");
    ok(
        "kubectl apply --server-side -f crds/",
        kubectl(&["apply", "--server-side", "-f", path_str(&crds)], None)?,
    )?;
    ok(
        "waiting for the CRDs",
        kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/mlservices.tidewatch.io",
                "crd/slos.tidewatch.io",
            ],
            None,
        )?,
    )?;
    Ok(())
}

/// A release and its namespace, uninstalled (if still there) when dropped.
struct Release {
    name: String,
    namespace: TestNamespace,
}

impl Release {
    async fn new(client: &Client, prefix: &str) -> anyhow::Result<Self> {
        Ok(Self {
            name: format!("tw-{}", unique_suffix()),
            namespace: TestNamespace::create(client, prefix).await?,
        })
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    /// Objects of the release are named `<release>-tidewatch`.
    fn fullname(&self) -> String {
        format!("{}-tidewatch", self.name)
    }

    fn service_account_user(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.ns(), self.fullname())
    }

    fn helm(&self, verb: &str, extra: &[&str]) -> anyhow::Result<Kubectl> {
        let chart = chart_dir();
        let mut args = vec![verb, self.name.as_str()];
        if verb == "install" || verb == "upgrade" {
            args.push(path_str(&chart));
        }
        args.extend(["--namespace", self.ns()]);
        args.extend(extra);
        helm(&args)
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        // Cluster-scoped objects (ClusterRole, binding) outlive the namespace otherwise.
        let _ = helm(&["uninstall", &self.name, "--namespace", self.ns()]);
    }
}

fn args_of(deployment: &Deployment) -> Vec<String> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.args.clone())
        .unwrap_or_default()
}

/// The ClusterRole rules printed by `tidewatch-operator rbac`, the one source of them.
fn operator_cluster_rules() -> anyhow::Result<Vec<PolicyRule>> {
    let printed = operator_output(&["rbac"])?;
    for document in serde_yaml::Deserializer::from_str(&printed) {
        let value = serde_yaml::Value::deserialize(document)?;
        if value["kind"].as_str() == Some("ClusterRole") {
            let role: ClusterRole = serde_yaml::from_value(value)?;
            return Ok(role.rules.unwrap_or_default());
        }
    }
    anyhow::bail!("`tidewatch-operator rbac` printed no ClusterRole")
}

fn can_i(user: &str, verb: &str, resource: &str, namespace: &str) -> anyhow::Result<bool> {
    let out = kubectl(
        &[
            "auth", "can-i", verb, resource, "--as", user, "-n", namespace,
        ],
        None,
    )?;
    Ok(out.stdout.trim() == "yes")
}

/// Pods of the release that are scheduled, Running, and run as the chart's ServiceAccount.
async fn running_pods(client: &Client, release: &Release, want: usize) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), release.ns());
    let selector = format!("app.kubernetes.io/instance={}", release.name);
    let service_account = release.fullname();
    eventually(WAIT, || {
        let pods = pods.clone();
        let selector = selector.clone();
        let service_account = service_account.clone();
        async move {
            let list = pods.list(&ListParams::default().labels(&selector)).await?;
            let running: Vec<&Pod> = list
                .items
                .iter()
                .filter(|p| {
                    p.metadata.deletion_timestamp.is_none()
                        && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                })
                .collect();
            anyhow::ensure!(
                running.len() == want,
                "{} of {want} pods Running ({} pods in all)",
                running.len(),
                list.items.len()
            );
            for pod in running {
                let spec = pod.spec.as_ref().expect("pods have a spec");
                anyhow::ensure!(spec.node_name.is_some(), "pod not scheduled");
                anyhow::ensure!(
                    spec.service_account_name.as_deref() == Some(service_account.as_str()),
                    "pod runs as {:?}",
                    spec.service_account_name
                );
            }
            Ok(())
        }
    })
    .await
}

fn example_in(namespace: &str, file: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(repo_path("manifests/examples").join(file))?;
    anyhow::ensure!(
        text.contains("namespace: fraud\n"),
        "{file} no longer names namespace fraud; update this test"
    );
    Ok(text.replace("namespace: fraud\n", &format!("namespace: {namespace}\n")))
}

fn tidewatch_api(client: &Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("tidewatch.io", "v1alpha1", kind));
    Api::namespaced_with(client.clone(), namespace, &resource)
}

#[tokio::test]
async fn crds_apply_server_side_and_are_served() -> anyhow::Result<()> {
    let client = client().await?;
    apply_crds()?;
    // A second apply changes nothing and still succeeds: it is how users upgrade CRDs.
    apply_crds()?;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    for name in ["mlservices.tidewatch.io", "slos.tidewatch.io"] {
        let crd = crds.get(name).await?;
        assert_eq!(crd.spec.scope, "Namespaced");
        let in_chart =
            std::fs::read_to_string(chart_dir().join("crds").join(format!("{name}.yaml")))?;
        let in_repo = std::fs::read_to_string(repo_path("crds").join(format!("{name}.yaml")))?;
        assert_eq!(
            in_chart, in_repo,
            "charts/tidewatch/crds is stale: run make generate"
        );
    }
    Ok(())
}

#[tokio::test]
async fn chart_installs_upgrades_and_uninstalls_keeping_crds_and_user_resources()
-> anyhow::Result<()> {
    let client = client().await?;
    apply_crds()?;
    let release = Release::new(&client, "install").await?;
    let users = TestNamespace::create(&client, "install-users").await?;

    // Install: one replica, monitoring objects on.
    ok(
        "helm install",
        release.helm(
            "install",
            &[
                "--set",
                "serviceMonitor.enabled=true,prometheusRule.enabled=true",
                "--wait",
                "--timeout",
                "120s",
            ],
        )?,
    )?;
    let deployments: Api<Deployment> = release.namespace.api();
    let deployment = deployments.get(&release.fullname()).await?;
    let args = args_of(&deployment);
    assert!(args.contains(&"--log-format=json".to_owned()), "{args:?}");
    assert!(
        args.contains(&"--leader-election=false".to_owned()),
        "{args:?}"
    );
    let spec = deployment.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
        Some("Recreate")
    );
    let pod = spec.template.spec.as_ref().expect("pod spec");
    let container = &pod.containers[0];
    let security = container
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(
        security.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );
    assert_eq!(
        pod.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root),
        Some(true)
    );
    running_pods(&client, &release, 1).await?;
    let accounts: Api<ServiceAccount> = release.namespace.api();
    accounts.get(&release.fullname()).await?;

    // RBAC: exactly the operator's own rules, granted to the chart's ServiceAccount only.
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let role = roles.get(&release.fullname()).await?;
    assert_eq!(role.rules.unwrap_or_default(), operator_cluster_rules()?);
    let user = release.service_account_user();
    assert!(can_i(&user, "patch", "deployments.apps", users.name())?);
    assert!(can_i(&user, "watch", "slos.tidewatch.io", users.name())?);
    assert!(can_i(
        &user,
        "create",
        "prometheusrules.monitoring.coreos.com",
        users.name()
    )?);
    assert!(!can_i(&user, "get", "secrets", users.name())?);
    assert!(!can_i(
        &user,
        "delete",
        "mlservices.tidewatch.io",
        users.name()
    )?);
    assert!(!can_i(
        &user,
        "create",
        "leases.coordination.k8s.io",
        release.ns()
    )?);

    // The static alerts are in one PrometheusRule, accepted by the Prometheus Operator schema.
    let rule_resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "monitoring.coreos.com",
        "v1",
        "PrometheusRule",
    ));
    let rules: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), release.ns(), &rule_resource);
    let alerts = rules.get(&format!("{}-alerts", release.fullname())).await?;
    let groups: BTreeSet<String> = alerts.data["spec"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut expected = BTreeSet::new();
    for entry in std::fs::read_dir(repo_path("alerts"))? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".rules.yaml") {
            let file: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&path)?)?;
            for group in file["groups"].as_sequence().expect("groups") {
                expected.insert(group["name"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    assert_eq!(groups, expected);
    let description = serde_json::to_string(&alerts.data["spec"])?;
    assert!(
        description.contains("{{ $value | humanizePercentage }}"),
        "alert templates reach Prometheus unexpanded"
    );

    // The operator's own dashboard, the JSON the operator's code generates, for Grafana's sidecar.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), release.ns());
    let dashboard = configmaps
        .get(&format!("{}-dashboard", release.fullname()))
        .await?;
    let labels = dashboard.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("grafana_dashboard").map(String::as_str),
        Some("1")
    );
    let folder = dashboard.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        folder.get("grafana_folder").map(String::as_str),
        Some("Tidewatch")
    );
    let shipped: serde_json::Value =
        serde_json::from_str(&dashboard.data.unwrap_or_default()["tidewatch-operator.json"])?;
    let generated: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(repo_path(
        "dashboards/operator.json",
    ))?)?;
    assert_eq!(
        shipped, generated,
        "the chart ships a stale operator dashboard"
    );

    // A user's resources, created while the operator is installed.
    for file in [
        "fraud-detector.yaml",
        "fraud-detector-availability-slo.yaml",
        "fraud-detector-latency-slo.yaml",
    ] {
        ok(
            "kubectl apply of an example",
            kubectl(
                &["apply", "-f", "-"],
                Some(&example_in(users.name(), file)?),
            )?,
        )?;
    }

    // Upgrade with changed values: they reach the Deployment.
    ok(
        "helm upgrade",
        release.helm(
            "upgrade",
            &[
                "--reuse-values",
                "--set",
                "logFormat=text,replicaCount=2,monitoringLabels.release=kube-prometheus-stack",
                "--set",
                &format!("watchNamespaces={{{}}}", users.name()),
                "--wait",
                "--timeout",
                "120s",
            ],
        )?,
    )?;
    let deployment = deployments.get(&release.fullname()).await?;
    let args = args_of(&deployment);
    for expected in [
        "--log-format=text".to_owned(),
        "--monitoring-label=release=kube-prometheus-stack".to_owned(),
        "--leader-election=true".to_owned(),
        format!("--lease-namespace={}", release.ns()),
        format!("--namespace={}", users.name()),
    ] {
        assert!(args.contains(&expected), "{expected} missing from {args:?}");
    }
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(2));
    running_pods(&client, &release, 2).await?;
    let lease_roles: Api<Role> = release.namespace.api();
    lease_roles
        .get(&format!("{}-leader-election", release.fullname()))
        .await?;
    assert!(can_i(
        &user,
        "update",
        "leases.coordination.k8s.io",
        release.ns()
    )?);
    assert_eq!(
        alerts_labels(&rules, &release).await?.as_deref(),
        Some("kube-prometheus-stack")
    );

    // Uninstall: the operator goes, the CRDs and the user's resources stay.
    ok(
        "helm uninstall",
        release.helm("uninstall", &["--wait", "--timeout", "120s"])?,
    )?;
    assert!(deployments.get_opt(&release.fullname()).await?.is_none());
    assert!(roles.get_opt(&release.fullname()).await?.is_none());
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.get("mlservices.tidewatch.io").await?;
    crds.get("slos.tidewatch.io").await?;
    tidewatch_api(&client, users.name(), "MLService")
        .get("fraud-detector")
        .await?;
    let slos = tidewatch_api(&client, users.name(), "SLO");
    slos.get("fraud-detector-availability").await?;
    slos.get("fraud-detector-latency").await?;
    Ok(())
}

async fn alerts_labels(
    rules: &Api<DynamicObject>,
    release: &Release,
) -> anyhow::Result<Option<String>> {
    let alerts = rules.get(&format!("{}-alerts", release.fullname())).await?;
    Ok(alerts
        .metadata
        .labels
        .unwrap_or_default()
        .get("release")
        .cloned())
}

#[tokio::test]
async fn bundle_and_examples_pass_a_server_side_dry_run() -> anyhow::Result<()> {
    let client = client().await?;
    apply_crds()?;
    let namespace = TestNamespace::create(&client, "install-dry-run").await?;
    let bundle = std::fs::read_to_string(repo_path("manifests/install/tidewatch.yaml"))?;

    // The dry run creates nothing, so the bundle's namespace would not exist for the
    // objects after it: the Namespace goes alone, the rest into the test's namespace.
    let (head, rest) = bundle
        .split_once("\n---\n# Source:")
        .expect("the bundle starts with its Namespace, then the chart");
    ok(
        "dry run of the bundle's Namespace",
        kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(head))?,
    )?;
    let rest = format!("---\n# Source:{rest}").replace(
        "namespace: tidewatch-system\n",
        &format!("namespace: {}\n", namespace.name()),
    );
    let out = ok(
        "kubectl apply --server-side --dry-run=server of the bundle",
        kubectl(
            &["apply", "--server-side", "--dry-run=server", "-f", "-"],
            Some(&rest),
        )?,
    )?;
    for kind in [
        "customresourcedefinition.apiextensions.k8s.io/mlservices.tidewatch.io",
        "serviceaccount/tidewatch",
        "clusterrole.rbac.authorization.k8s.io/tidewatch",
        "clusterrolebinding.rbac.authorization.k8s.io/tidewatch",
        "deployment.apps/tidewatch",
        "service/tidewatch",
    ] {
        assert!(
            out.stdout.contains(kind),
            "{kind} missing from:\n{}",
            out.stdout
        );
    }

    for file in [
        "fraud-detector.yaml",
        "fraud-detector-availability-slo.yaml",
        "fraud-detector-latency-slo.yaml",
    ] {
        ok(
            "kubectl apply --dry-run=server of an example",
            kubectl(
                &["apply", "--dry-run=server", "-f", "-"],
                Some(&example_in(namespace.name(), file)?),
            )?,
        )?;
    }
    // A dry run that the schema refuses fails, so the passes above mean something.
    let broken = example_in(namespace.name(), "fraud-detector-availability-slo.yaml")?
        .replace("objective: 99.9", "objective: 100.5");
    let refused = kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&broken))?;
    assert!(
        !refused.success,
        "an objective above 100 passed the dry run"
    );
    assert!(refused.stderr.contains("objective"), "{}", refused.stderr);
    Ok(())
}

#[tokio::test]
async fn bad_values_are_refused_by_the_schema_with_their_path() -> anyhow::Result<()> {
    let chart = chart_dir();
    let lint = helm(&["lint", "--strict", path_str(&chart)])?;
    assert!(lint.success, "helm lint: {}\n{}", lint.stdout, lint.stderr);

    for (value, path, words) in [
        ("logFormat=yaml", "/logFormat", "'json', 'text'"),
        ("replicaCount=0", "/replicaCount", "minimum"),
        (
            "watchNamespaces={Not_A_Namespace}",
            "/watchNamespaces/0",
            "pattern",
        ),
        (
            "allowedCredentialsSecrets={redis}",
            "/allowedCredentialsSecrets/0",
            "pattern",
        ),
        (
            "monitoringLabels.release=two words",
            "/monitoringLabels/release",
            "pattern",
        ),
        (
            "serviceMonitor.interval=often",
            "/serviceMonitor/interval",
            "pattern",
        ),
        (
            "replicaCnt=2",
            "additional properties 'replicaCnt'",
            "not allowed",
        ),
    ] {
        let out = helm(&["template", "x", path_str(&chart), "--set", value])?;
        assert!(!out.success, "{value} was accepted");
        assert!(
            out.stderr.contains(path) && out.stderr.contains(words),
            "{value}: unclear message:\n{}",
            out.stderr
        );
    }

    // An install with a bad value creates nothing.
    let client = client().await?;
    let release = Release::new(&client, "install-bad").await?;
    let out = release.helm("install", &["--set", "logFormat=yaml"])?;
    assert!(!out.success);
    let deployments: Api<Deployment> = release.namespace.api();
    assert!(
        deployments
            .list(&ListParams::default())
            .await?
            .items
            .is_empty()
    );
    Ok(())
}

/// Every document of `helm template` of the chart with `values`, in release namespace
/// `tw-system`.
fn rendered(values: &[&str]) -> anyhow::Result<Vec<serde_yaml::Value>> {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        "tw",
        path_str(&chart),
        "--namespace",
        "tw-system",
    ];
    for value in values {
        args.extend(["--set", value]);
    }
    let out = ok("helm template", helm(&args)?)?;
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&out.stdout) {
        let value = serde_yaml::Value::deserialize(document)?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

/// `(kind, namespace)` of the rendered RBAC objects, sorted.
fn rbac_objects(documents: &[serde_yaml::Value]) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = documents
        .iter()
        .filter(|d| d["apiVersion"].as_str() == Some("rbac.authorization.k8s.io/v1"))
        .map(|d| {
            let field = |v: &serde_yaml::Value| v.as_str().unwrap_or_default().to_owned();
            (
                field(&d["kind"]),
                field(&d["metadata"]["namespace"]),
                field(&d["metadata"]["name"]),
            )
        })
        .collect();
    found.sort();
    found
}

fn rules_of(document: &serde_yaml::Value) -> anyhow::Result<Vec<PolicyRule>> {
    Ok(serde_yaml::from_value(document["rules"].clone())?)
}

#[tokio::test]
async fn watched_namespaces_get_roles_and_nothing_cluster_wide_in_the_template()
-> anyhow::Result<()> {
    let rules = operator_cluster_rules()?;
    let text = |s: &str| s.to_owned();

    // All namespaces: one ClusterRole with the operator's rules, bound to the chart's account.
    let all = rendered(&[])?;
    assert_eq!(
        rbac_objects(&all),
        [
            (text("ClusterRole"), text(""), text("tw-tidewatch")),
            (text("ClusterRoleBinding"), text(""), text("tw-tidewatch")),
        ]
    );
    let cluster_role = all
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("ClusterRole");
    assert_eq!(rules_of(cluster_role)?, rules);

    // Watched namespaces: a Role and RoleBinding in each, the Lease Role in the release's
    // namespace, no ClusterRole or ClusterRoleBinding at all.
    let watched = rendered(&[
        "watchNamespaces={fraud,payments}",
        "replicaCount=2",
        "allowedCredentialsSecrets={fraud/redis,payments/*}",
    ])?;
    assert_eq!(
        rbac_objects(&watched),
        [
            (text("Role"), text("fraud"), text("tw-tidewatch")),
            (text("Role"), text("payments"), text("tw-tidewatch")),
            (
                text("Role"),
                text("tw-system"),
                text("tw-tidewatch-leader-election")
            ),
            (text("RoleBinding"), text("fraud"), text("tw-tidewatch")),
            (text("RoleBinding"), text("payments"), text("tw-tidewatch")),
            (
                text("RoleBinding"),
                text("tw-system"),
                text("tw-tidewatch-leader-election")
            ),
        ]
    );
    let printed = operator_output(&["rbac", "--watch-namespace", "fraud,payments"])?;
    for document in &watched {
        let kind = document["kind"].as_str().unwrap_or_default();
        let name = document["metadata"]["name"].as_str().unwrap_or_default();
        if kind == "Role" && name == "tw-tidewatch" {
            assert_eq!(rules_of(document)?, rules, "{document:?}");
        }
        if kind == "RoleBinding" && name == "tw-tidewatch" {
            assert_eq!(document["roleRef"]["kind"], "Role");
            assert_eq!(document["roleRef"]["name"], "tw-tidewatch");
            assert_eq!(document["subjects"][0]["name"], "tw-tidewatch");
            assert_eq!(document["subjects"][0]["namespace"], "tw-system");
        }
        if kind == "Deployment" {
            let args = &document["spec"]["template"]["spec"]["containers"][0]["args"];
            let args: Vec<String> = serde_yaml::from_value(args.clone())?;
            assert!(
                args.contains(&"--namespace=fraud,payments".to_owned()),
                "{args:?}"
            );
            let allowed = "--allowed-credentials-secrets=fraud/redis,payments/*";
            assert!(args.contains(&allowed.to_owned()), "{args:?}");
        }
    }
    // The operator's own namespaced output agrees: Roles only, with the same rules.
    let kinds: Vec<&str> = printed
        .lines()
        .filter_map(|line| line.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "Role",
            "RoleBinding",
            "Role",
            "RoleBinding"
        ],
        "{printed}"
    );
    Ok(())
}

#[tokio::test]
async fn a_namespaced_install_reconciles_where_it_watches_and_is_refused_elsewhere()
-> anyhow::Result<()> {
    let client = client().await?;
    apply_crds()?;
    let release = Release::new(&client, "rbac-ns").await?;
    let watched = TestNamespace::create(&client, "rbac-watched").await?;
    let other = TestNamespace::create(&client, "rbac-other").await?;
    ok(
        "helm install",
        release.helm(
            "install",
            &[
                "--set",
                &format!("watchNamespaces={{{}}}", watched.name()),
                "--wait",
                "--timeout",
                "120s",
            ],
        )?,
    )?;
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    assert!(cluster_roles.get_opt(&release.fullname()).await?.is_none());

    // The API server's authorizer: yes in the watched namespace, no anywhere else.
    let user = release.service_account_user();
    for (verb, resource) in [
        ("watch", "mlservices.tidewatch.io"),
        ("patch", "deployments.apps"),
        ("create", "configmaps"),
        ("delete", "prometheusrules.monitoring.coreos.com"),
    ] {
        assert!(
            can_i(&user, verb, resource, watched.name())?,
            "{verb} {resource}"
        );
        assert!(
            !can_i(&user, verb, resource, other.name())?,
            "{verb} {resource}"
        );
    }
    let everywhere = kubectl(
        &[
            "auth",
            "can-i",
            "list",
            "mlservices.tidewatch.io",
            "--all-namespaces",
            "--as",
            &user,
        ],
        None,
    )?;
    assert_eq!(everywhere.stdout.trim(), "no");

    // The chart's ServiceAccount itself: its requests outside the watched namespace are
    // refused with 403 by the API server.
    let kubeconfig = token_kubeconfig(&release.fullname(), release.ns())?;
    let as_operator = client_from(&kubeconfig).await?;
    let elsewhere: Api<Deployment> = Api::namespaced(as_operator.clone(), other.name());
    match elsewhere.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        answer => panic!(
            "listing Deployments in {} as the operator: {answer:?}",
            other.name()
        ),
    }
    let all: Api<DynamicObject> = Api::all_with(
        as_operator.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "tidewatch.io",
            "v1alpha1",
            "MLService",
        )),
    );
    match all.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        answer => panic!("listing MLServices cluster-wide as the operator: {answer:?}"),
    }

    // The operator binary, with exactly the chart's rights, reconciles in the watched
    // namespace (under kwok the chart's pod runs no container, so it runs here).
    let mut options = OperatorOptions::new("rbac-ns");
    options.extra_args = vec!["--leader-election=false".into()];
    let _operator = Operator::start_with(watched.name(), &options, kubeconfig).await?;
    ok(
        "kubectl apply of the example MLService",
        kubectl(
            &["apply", "-f", "-"],
            Some(&example_in(watched.name(), "fraud-detector.yaml")?),
        )?,
    )?;
    let reconciled = await_condition(
        &tidewatch_api(&client, watched.name(), "MLService"),
        "fraud-detector",
        |o: Option<&DynamicObject>| {
            o.and_then(|o| condition(o, "Degraded"))
                .is_some_and(|(status, reason, _)| status == "False" && reason == "Reconciled")
        },
        WAIT,
    )
    .await?;
    assert!(reconciled.is_some());
    let deployments: Api<Deployment> = watched.api();
    deployments.get("fraud-detector").await?;
    Ok(())
}
