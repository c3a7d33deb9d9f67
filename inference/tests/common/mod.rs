//! Test harness: the real server binary and a real `redis-server`, each on a free loopback
//! port, stopped by PID when the test ends.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BINARY: &str = env!("CARGO_BIN_EXE_tidewatch-inference");

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A valid transaction for `user`.
pub fn transaction(user: &str) -> Value {
    json!({
        "transaction_id": "txn-1",
        "user_id": user,
        "amount": 42.5,
        "currency": "USD",
        "merchant_category": "grocery",
        "merchant_country": "US",
        "card_present": true,
        "local_hour": 14
    })
}

/// The server binary running `serve`, with stdout and stderr in a file.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `serve` on a free port and waits until `/readyz` answers 200.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", &listen, "--workers", "2"])
            .args(args)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("TIDEWATCH_REDIS_URL")
            .env("RUST_LOG", "info")
            .env("TIDEWATCH_SHUTDOWN_DELAY_SECONDS", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ));
        let child = command.spawn().expect("start the server binary");
        let mut server = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        server.wait_ready(Duration::from_secs(20));
        server
    }

    /// Name and nice value of each of the server's threads, from `/proc`.
    #[cfg(target_os = "linux")]
    pub fn thread_priorities(&self) -> Vec<(String, i32)> {
        let tasks = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(tasks)
            .unwrap()
            .filter_map(|task| {
                let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
                let name = stat.split_once('(')?.1.rsplit_once(')')?.0.to_string();
                Some((
                    name,
                    tidewatch_inference::telemetry::priority::nice_from_stat(&stat)?,
                ))
            })
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let client = client();
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited early with {status}:\n{}", self.logs());
            }
            if let Ok(response) = client.get(self.url("/readyz")).send()
                && response.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server not ready in {limit:?}:\n{}", self.logs());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn metrics(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// Sends SIGTERM by PID without waiting.
    pub fn signal_terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited 0.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        self.signal_terminate();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not stop within {limit:?}:\n{}", self.logs());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first sample line `name{...labels...} value` that contains every one
/// of `label_parts`.
pub fn sample(metrics: &str, name: &str, label_parts: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| label_parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A real `redis-server` on a free loopback port.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    password: Option<String>,
}

const REDIS_SERVER: &str = "redis-server";

impl Redis {
    /// Starts Redis. Fails the test with a clear message when redis-server is missing.
    pub fn start(password: Option<&str>) -> Self {
        let mut redis = Self {
            child: None,
            port: free_port(),
            password: password.map(str::to_string),
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let mut command = Command::new(REDIS_SERVER);
        command.args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ]);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{REDIS_SERVER}` ({e}); these tests need a real Redis: \
                     install it with scripts/install-deps.sh (Debian package redis-server)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL by PID): connections drop without warning.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port (empty: no persistence).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Sends one command over RESP and returns the raw reply.
    pub fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        if let Some(password) = &self.password {
            stream.write_all(&resp(&["AUTH", password])).unwrap();
            read_reply(&mut stream);
        }
        stream.write_all(&resp(args)).unwrap();
        read_reply(&mut stream)
    }

    /// Writes the synthetic users with the server binary's `load-features` command.
    pub fn load_features(&self, users: usize, password_file: Option<&Path>) {
        let mut command = Command::new(BINARY);
        command.args([
            "load-features",
            "--redis-url",
            &self.url(),
            "--users",
            &users.to_string(),
        ]);
        if let Some(path) = password_file {
            command.arg("--redis-password-file").arg(path);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "load-features failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

fn read_reply(stream: &mut TcpStream) -> String {
    let mut buffer = [0u8; 4096];
    let n = stream.read(&mut buffer).unwrap_or(0);
    String::from_utf8_lossy(&buffer[..n]).to_string()
}
