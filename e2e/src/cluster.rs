//! Finding the local control plane: its kubeconfig, a client for it, and the pinned tools
//! (kubectl, helm, promtool) built by `e2e/cluster/build.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

const HOW_TO_START: &str =
    "start the local control plane with `make cluster-up` (or run the suite with `make e2e`)";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate lives one level below the repository root")
        .to_path_buf()
}

/// The admin kubeconfig: `TIDEWATCH_KUBECONFIG`, else the one `make cluster-up` writes.
pub fn kubeconfig_path() -> PathBuf {
    std::env::var_os("TIDEWATCH_KUBECONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("e2e/.work/kubeconfig"))
}

/// A client for the local control plane, or an error that says how to start one.
pub async fn client() -> anyhow::Result<Client> {
    let path = kubeconfig_path();
    if !path.exists() {
        bail!(
            "no local control plane: {} does not exist; {HOW_TO_START}",
            path.display()
        );
    }
    let client = client_from(&path).await?;
    client.apiserver_version().await.with_context(|| {
        format!(
            "the API server in {} does not answer; {HOW_TO_START}",
            path.display()
        )
    })?;
    Ok(client)
}

/// A client with the credentials of the kubeconfig at `path` (another user than the admin).
pub async fn client_from(path: &std::path::Path) -> anyhow::Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    Client::try_from(config).context("building the Kubernetes client")
}

/// Path of a pinned tool: `TIDEWATCH_TOOLS_BIN/<name>`, else the build script's cache.
pub fn tool_path(name: &str) -> anyhow::Result<PathBuf> {
    let bin_dir = match std::env::var_os("TIDEWATCH_TOOLS_BIN") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let out = Command::new(repo_root().join("e2e/cluster/build.sh"))
                .arg("bin-dir")
                .output()
                .context("running e2e/cluster/build.sh bin-dir")?;
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    let path = bin_dir.join(name);
    if !path.is_file() {
        bail!("{} is missing: run `make tools`", path.display());
    }
    Ok(path)
}

/// The outcome of one kubectl run, kept whole so assertions can quote it.
#[derive(Debug)]
pub struct Kubectl {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Kubectl {
    fn from(out: Output) -> Self {
        Self {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs the pinned kubectl against the local control plane, optionally feeding `stdin`.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> anyhow::Result<Kubectl> {
    use std::io::Write;
    use std::process::Stdio;

    let mut child = Command::new(tool_path("kubectl")?)
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting kubectl")?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin was piped")
            .write_all(input.as_bytes())
            .context("writing kubectl's stdin")?;
    }
    Ok(child
        .wait_with_output()
        .context("waiting for kubectl")?
        .into())
}

/// A binary of this workspace: `$env_var` when set (`e2e/run.sh` builds both binaries up
/// front), else built once per test process with the cargo that runs the tests.
pub fn workspace_binary(env_var: &str, package: &'static str) -> anyhow::Result<PathBuf> {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, PoisonError};

    if let Some(path) = std::env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    static BUILT: Mutex<BTreeMap<&'static str, Result<PathBuf, String>>> =
        Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    built
        .entry(package)
        .or_insert_with(|| build_workspace_binary(package))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_workspace_binary(package: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", package, "--bin", package])
        .current_dir(repo_root())
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p {package} failed"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_root().join("target"), PathBuf::from);
    Ok(target.join("debug").join(package))
}
