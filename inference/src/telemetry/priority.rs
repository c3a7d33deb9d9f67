//! CPU priority of background threads. Trace export runs in bursts: one OTLP batch of
//! 512 spans takes a few milliseconds of CPU to encode and send. At the default priority
//! the scheduler splits the CPU evenly between that burst and the request threads, so on
//! a one-CPU pod every export halves request capacity while it lasts, and the requests
//! queued meanwhile make the latency tail. Background threads run at nice 10 instead:
//! they use the CPU the request threads leave idle and, when requests keep it busy,
//! still get about a tenth of it, enough for the exporter to keep up.

/// Nice value of background threads (0 is the default, 19 the lowest priority).
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`] unless it is already that
/// low; threads it starts from then on inherit it. Linux keeps a nice value per thread,
/// so the rest of the process is unaffected. A failure costs only the latency benefit: it
/// is logged and ignored.
pub fn lower_current_thread() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        let lowered = getpriority_process(thread).and_then(|nice| {
            if nice < BACKGROUND_NICE {
                setpriority_process(thread, BACKGROUND_NICE)
            } else {
                Ok(())
            }
        });
        if let Err(error) = lowered {
            tracing::debug!(%error, "cannot lower a background thread's priority");
        }
    }
}

/// Runs `start` on a short-lived thread at background priority and returns its result.
/// Threads that `start` spawns inherit the priority: this is how threads a library starts
/// on its own (the span exporter's) are lowered.
pub fn start_in_background<T: Send>(start: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        let starter = std::thread::Builder::new()
            .name("background-start".into())
            .spawn_scoped(scope, || {
                lower_current_thread();
                start()
            })?;
        Ok(starter
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// The nice value in a thread's `/proc/<pid>/task/<tid>/stat` line: field 19, counted
/// after the parenthesised command name, which may itself hold spaces and parentheses.
pub fn nice_from_stat(stat: &str) -> Option<i32> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name, the state is field 3 of the line.
    after_name.split_whitespace().nth(16)?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn current_nice() -> i32 {
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        nice_from_stat(&stat).unwrap_or_else(|| panic!("no nice value in {stat}"))
    }

    #[test]
    fn threads_started_in_background_inherit_the_lower_priority() {
        let caller_before = current_nice();
        let (starter, spawned) = start_in_background(|| {
            let starter = current_nice();
            let spawned = std::thread::spawn(current_nice).join().unwrap();
            (starter, spawned)
        })
        .unwrap();
        let expected = caller_before.max(BACKGROUND_NICE);
        assert_eq!(starter, expected);
        assert_eq!(spawned, expected);
        assert_eq!(current_nice(), caller_before);
    }
}
