//! The tests' view of the shared harness (`tidewatch-testkit`): the server binary built for
//! these tests and a real `redis-server`, each on a free loopback port and stopped by PID
//! when the test ends. Failures panic with the process's log, as a test expects.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use tidewatch_testkit::{InferenceLaunch, InferenceServer, load_features};

#[allow(unused_imports)]
pub use tidewatch_testkit::fixtures::transaction;

pub const BINARY: &str = env!("CARGO_BIN_EXE_tidewatch-inference");

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Fails the test with the whole error chain (which carries the process's log).
fn or_panic<T>(result: anyhow::Result<T>) -> T {
    result.unwrap_or_else(|error| panic!("{error:#}"))
}

/// The server binary running `serve`, with stdout and stderr in a file.
pub struct Server(InferenceServer);

impl Server {
    /// Starts `serve` on a free port with these flags and env vars, and waits until
    /// `/readyz` answers 200.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let launch = env.iter().fold(
            InferenceLaunch::new(BINARY).args(args),
            |launch, (key, value)| launch.env(key, value),
        );
        Self(or_panic(launch.start()))
    }

    /// Name and nice value of each of the server's threads, from `/proc`.
    #[cfg(target_os = "linux")]
    pub fn thread_priorities(&self) -> Vec<(String, i32)> {
        let tasks = format!("/proc/{}/task", self.0.pid());
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
        self.0.url(path)
    }

    pub fn logs(&self) -> String {
        self.0.logs()
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
    pub fn signal_terminate(&mut self) {
        or_panic(self.0.process().signal_terminate());
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited 0.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        or_panic(self.0.process().terminate(limit)).success()
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
    redis: tidewatch_testkit::Redis,
    pub port: u16,
}

impl Redis {
    /// Starts Redis. Fails the test with a clear message when redis-server is missing.
    pub fn start(password: Option<&str>) -> Self {
        let redis = or_panic(tidewatch_testkit::Redis::start(password));
        Self {
            port: redis.port(),
            redis,
        }
    }

    pub fn url(&self) -> String {
        self.redis.url()
    }

    /// Kills the process (SIGKILL by PID): connections drop without warning.
    pub fn kill(&mut self) {
        self.redis.kill();
    }

    /// Starts again on the same port (empty: no persistence).
    pub fn restart(&mut self) {
        or_panic(self.redis.restart());
    }

    /// Sends one command over RESP and returns the raw reply.
    pub fn command(&self, args: &[&str]) -> String {
        or_panic(self.redis.command(args))
    }

    /// Writes the synthetic users with the server binary's `load-features` command.
    pub fn load_features(&self, users: usize, password_file: Option<&Path>) {
        or_panic(load_features(
            Path::new(BINARY),
            &self.redis,
            users,
            password_file,
        ));
    }
}
