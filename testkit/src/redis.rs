//! A real `redis-server` on a free loopback port, without persistence, that a test can kill
//! without warning and start again on the same port; plus one-command RESP access to it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::{ChildGuard, free_port};

const REDIS_SERVER: &str = "redis-server";
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running `redis-server`; stopped when dropped.
pub struct Redis {
    child: Option<ChildGuard>,
    port: u16,
    password: Option<String>,
    log_dir: tempfile::TempDir,
}

impl Redis {
    /// Starts Redis, with `requirepass` when a password is given. A missing `redis-server`
    /// is an error that says how to install it: the tests that use it never skip.
    pub fn start(password: Option<&str>) -> anyhow::Result<Self> {
        let mut redis = Self {
            child: None,
            port: free_port(),
            password: password.map(str::to_owned),
            log_dir: tempfile::tempdir()?,
        };
        redis.spawn()?;
        Ok(redis)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let mut command = Command::new(REDIS_SERVER);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"]);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let log = self.log_dir.path().join("redis.log");
        let mut child = ChildGuard::spawn(REDIS_SERVER, command, &log).context(
            "these tests need a real Redis: install it with scripts/install-deps.sh \
             (Debian package redis-server)",
        )?;
        let port = self.port;
        child.wait_until(
            &format!("redis-server listening on {port}"),
            READY_WITHIN,
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
        )?;
        self.child = Some(child);
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL by PID: connections drop without warning.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Starts again on the same port, empty (no persistence).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    /// Sends one command over RESP (after `AUTH` when a password is set) and returns the
    /// raw reply.
    pub fn command(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        if let Some(password) = &self.password {
            stream.write_all(&resp(&["AUTH", password]))?;
            read_reply(&mut stream)?;
        }
        stream.write_all(&resp(args))?;
        read_reply(&mut stream)
    }
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

fn read_reply(stream: &mut TcpStream) -> anyhow::Result<String> {
    let mut buffer = [0u8; 4096];
    let n = stream.read(&mut buffer)?;
    Ok(String::from_utf8_lossy(&buffer[..n]).into_owned())
}
