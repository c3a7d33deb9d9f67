//! A child process owned by a test: its output in a log file, stopped by its PID when the
//! guard drops (SIGTERM, a bounded wait, then SIGKILL), also when the test panics. Never
//! looks a process up by name, so tests running side by side cannot stop each other's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};

/// How long a dropped guard waits after SIGTERM before SIGKILL: the servers under test
/// stop in well under a second when nothing is in flight, and a test's teardown must not
/// hang on one that does not.
const DROP_GRACE: Duration = Duration::from_secs(5);
/// Pause between two looks at a process that is stopping or starting.
const POLL: Duration = Duration::from_millis(20);
/// How much of the log a failure message quotes.
const TAIL_BYTES: usize = 4000;

/// A running child process; stopped and reaped on drop.
pub struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `command` with stdin closed and stdout and stderr in `log` (truncated).
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("creating the log {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", command.get_program()))?;
        Ok(Self {
            name: name.into(),
            child,
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The end of what the process wrote, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let start = (text.len().saturating_sub(TAIL_BYTES)..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }

    /// Whether the process still runs (an exited one is reaped by this call).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Fails with the exit status and the log when the process has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited with {status}:\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// Polls `ready` until it holds; fails with the log when the process exits first or
    /// `within` passes.
    pub fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            self.ensure_running()
                .with_context(|| format!("waiting for {what}"))?;
            if ready() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{}: {what} not reached within {within:?}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends SIGTERM by PID without waiting; nothing when the process has already exited
    /// and been reaped (its PID may belong to someone else by now).
    pub fn signal_terminate(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            kill_process(Pid::from_child(&self.child), Signal::TERM)
                .with_context(|| format!("sending SIGTERM to {}", self.name))?;
        }
        Ok(())
    }

    /// SIGTERM, then waits up to `grace` for the process to exit and returns how it did.
    /// One that outlives `grace` gets SIGKILL, and the call fails with its log.
    pub fn terminate(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        self.signal_terminate()?;
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                bail!(
                    "{} ignored SIGTERM for {grace:?} and was killed:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL by PID and reap: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.terminate(DROP_GRACE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sh -c script`, logging into a temporary directory.
    fn shell(script: &str) -> (tempfile::TempDir, ChildGuard) {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        let child = ChildGuard::spawn("sh", command, &dir.path().join("log")).unwrap();
        (dir, child)
    }

    /// `shell(script)` once it has printed `marker` (its signal traps are set by then).
    fn running(script: &str, marker: &str) -> (tempfile::TempDir, ChildGuard) {
        let (dir, mut child) = shell(script);
        let log = dir.path().join("log");
        child
            .wait_until(marker, Duration::from_secs(10), || {
                std::fs::read_to_string(&log).is_ok_and(|text| text.contains(marker))
            })
            .unwrap();
        (dir, child)
    }

    #[test]
    fn terminate_reports_a_clean_exit_and_the_log_is_kept() {
        let (_dir, mut child) = running(
            "trap 'echo stopping; exit 0' TERM; echo started; while :; do sleep 0.05; done",
            "started",
        );
        let status = child.terminate(Duration::from_secs(10)).unwrap();
        assert!(status.success(), "{status}");
        assert!(!child.is_running());
        assert_eq!(child.log_text(), "started\nstopping\n");
    }

    #[test]
    fn a_process_that_ignores_sigterm_is_killed_after_the_grace() {
        let (_dir, mut child) = running(
            "trap '' TERM; echo ready; while :; do sleep 0.05; done",
            "ready",
        );
        let started = Instant::now();
        let error = child.terminate(Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(error.to_string().contains("ignored SIGTERM"), "{error:#}");
        assert!(!child.is_running(), "killed after the grace");
    }

    #[test]
    fn waiting_fails_early_with_the_log_when_the_process_exits() {
        let (_dir, mut child) = shell("echo no config; exit 3");
        let started = Instant::now();
        let error = child
            .wait_until(
                "a condition that never holds",
                Duration::from_secs(30),
                || false,
            )
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        let message = format!("{error:#}");
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("no config"), "{message}");
    }

    #[test]
    fn dropping_the_guard_stops_the_process() {
        let (_dir, child) = shell("sleep 30");
        let pid = Pid::from_child(&child.child);
        let started = Instant::now();
        drop(child);
        assert!(started.elapsed() < DROP_GRACE, "stopped by SIGTERM");
        // Reaped by the drop: the PID no longer names a process.
        assert!(
            rustix::process::test_kill_process(pid).is_err(),
            "pid {pid:?} still exists"
        );
    }
}
