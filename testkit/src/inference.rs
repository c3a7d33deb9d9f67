//! The inference server binary as a test's child process: `serve` on a loopback port with
//! an environment that cannot reconfigure it, ready once `/readyz` answers; and its
//! `load-features` command. Knows the binary's command line, not what a test wants of it.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::ensure;

use crate::{ChildGuard, Redis, free_port, loopback, wait_for_http_ok};

/// Environment prefixes of the server's own configuration (every flag has an env var) and
/// of OpenTelemetry's: whatever the developer's shell exports must not reach the server.
const INHERITED_CONFIGURATION: [&str; 2] = ["TIDEWATCH_", "OTEL_"];
/// Loading and warming up the model takes about a second; a debug build under load longer.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// How to start one server; `start` spawns it and waits until it is ready.
pub struct InferenceLaunch {
    binary: PathBuf,
    port: Option<u16>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    log: Option<PathBuf>,
}

impl InferenceLaunch {
    /// `serve` of `binary` with two HTTP workers, logs at `info`, and no shutdown delay (a
    /// test that wants one passes `--shutdown-delay-seconds`, which beats the env var).
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            port: None,
            args: Vec::new(),
            env: vec![
                ("RUST_LOG".into(), "info".into()),
                ("TIDEWATCH_SHUTDOWN_DELAY_SECONDS".into(), "0".into()),
            ],
            log: None,
        }
    }

    /// Listens on this loopback port (default: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// More flags of `serve`.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable of the server; overrides the defaults above.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Writes stdout and stderr to this file (default: a temporary directory the server
    /// owns, removed with it).
    pub fn log(mut self, path: impl Into<PathBuf>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// Spawns the server and waits until `/readyz` answers 2xx; fails with its log when it
    /// exits first or is not ready in time.
    pub fn start(self) -> anyhow::Result<InferenceServer> {
        let port = self.port.unwrap_or_else(free_port);
        let (log, log_dir) = match self.log {
            Some(path) => (path, None),
            None => {
                let dir = tempfile::tempdir()?;
                (dir.path().join("server.log"), Some(dir))
            }
        };
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            .args(["--listen", &loopback(port).to_string(), "--workers", "2"])
            .args(&self.args);
        for (key, _) in std::env::vars_os() {
            let inherited = key.to_str().is_some_and(|key| {
                key == "RUST_LOG"
                    || INHERITED_CONFIGURATION
                        .iter()
                        .any(|prefix| key.starts_with(prefix))
            });
            if inherited {
                command.env_remove(key);
            }
        }
        command.envs(self.env);
        let mut child = ChildGuard::spawn("tidewatch-inference", command, &log)?;
        wait_for_http_ok(&mut child, loopback(port), "/readyz", READY_WITHIN)?;
        Ok(InferenceServer {
            child,
            port,
            _log_dir: log_dir,
        })
    }
}

/// A running, ready server; stopped when dropped.
pub struct InferenceServer {
    child: ChildGuard,
    port: u16,
    // Declared after `child`, so the log outlives the process that writes it.
    _log_dir: Option<tempfile::TempDir>,
}

impl InferenceServer {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn address(&self) -> SocketAddr {
        loopback(self.port)
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address())
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.child.log_text()
    }

    /// The process, to signal, stop or check it.
    pub fn process(&mut self) -> &mut ChildGuard {
        &mut self.child
    }
}

/// Writes `users` synthetic users into `redis` with the binary's `load-features` command.
pub fn load_features(
    binary: &Path,
    redis: &Redis,
    users: usize,
    password_file: Option<&Path>,
) -> anyhow::Result<()> {
    let mut command = Command::new(binary);
    command
        .arg("load-features")
        .args(["--redis-url", &redis.url(), "--users", &users.to_string()]);
    if let Some(path) = password_file {
        command.arg("--redis-password-file").arg(path);
    }
    let output = command.output()?;
    ensure!(
        output.status.success(),
        "load-features failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
