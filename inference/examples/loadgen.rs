//! Load generator: HTTP/1.1 keep-alive POSTs to loopback URLs, closed-loop (as fast as
//! the server answers) or open-loop at a fixed rate, with latency measured from the
//! scheduled send time so a stalled server cannot hide its queueing delay. Open-loop sends
//! leave at their scheduled time to within microseconds (see [`pace_until`]). Prints one
//! JSON line: requests, errors (answers other than 2xx), rps, p50/p90/p99 in milliseconds
//! and, with `--cpu-pid`, the CPU time that process spent per answered request in the
//! window — a figure that, unlike req/s, does not move when other work takes turns on the
//! machine — and the share of that CPU the hypervisor gave to other guests meanwhile
//! (`stolen_pct`).
//!
//! The benchmark sends one body to one server; `make demo` sends a sequence of varied
//! transactions (the tests' fixtures) to two replicas at once, one of them failing:
//!
//! `loadgen --url http://127.0.0.1:8080/v1/predict --body-file t.json --connections 32
//!  --seconds 10 [--rate 5000] [--cpu-pid 1234]`
//! `loadgen --url http://127.0.0.1:8080/v1/predict --url http://127.0.0.1:8081/v1/predict
//!  --transactions 1000 --connections 2 --rate 20 --seconds 30 --warmup 0`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const USAGE: &str = "\
usage: loadgen --url http://127.0.0.1:PORT/PATH [--url ...] [options]
  --url URL           a loopback target; given more than once, the connections take the
                      URLs in turn, so each URL gets an equal share of the requests
  --body-file FILE    POST this body (default: GET with no body)
  --transactions N    POST N varied transactions in turn (the tests' fixture sequence)
  --connections N     keep-alive connections, a multiple of the URL count (default 32)
  --seconds S         measured window, at most 120 (default 10)
  --warmup S          unmeasured lead-in, at most 30 (default 1)
  --rate R            open loop at R requests/s in all (default: closed loop)
  --cpu-pid PID       report that process's CPU time per answered request";

/// Where one connection sends: `host:port` and the request path.
#[derive(Debug, PartialEq)]
struct Target {
    host: String,
    path: String,
}

struct Options {
    targets: Vec<Target>,
    /// Request bodies, sent in turn; none means GET.
    bodies: Vec<Vec<u8>>,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    rate: Option<f64>,
    cpu_pid: Option<u32>,
}

fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut targets = Vec::new();
    let mut body_file = None;
    let mut transactions = None;
    let mut connections = 32;
    let mut seconds: f64 = 10.0;
    let mut warmup: f64 = 1.0;
    let mut rate = None;
    let mut cpu_pid = None;
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--url" => targets.push(target(&value)?),
            "--body-file" => body_file = Some(value),
            "--transactions" => transactions = Some(value.parse::<usize>()?),
            "--connections" => connections = value.parse()?,
            "--seconds" => seconds = value.parse()?,
            "--warmup" => warmup = value.parse()?,
            "--rate" => rate = Some(value.parse()?),
            "--cpu-pid" => cpu_pid = Some(value.parse()?),
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    ensure!(!targets.is_empty(), "--url is required\n{USAGE}");
    ensure!(
        connections > 0 && connections % targets.len() == 0,
        "--connections must be a positive multiple of the {} URLs, so that each gets an equal share",
        targets.len()
    );
    let bodies = match (body_file, transactions) {
        (Some(_), Some(_)) => bail!("--body-file and --transactions exclude each other"),
        (Some(file), None) => {
            vec![std::fs::read(&file).with_context(|| format!("reading {file}"))?]
        }
        (None, Some(count)) => (0..count.max(1))
            .map(|n| {
                tidewatch_testkit::fixtures::varied_transaction(n)
                    .to_string()
                    .into_bytes()
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    Ok(Options {
        targets,
        bodies,
        connections,
        duration: Duration::from_secs_f64(seconds.min(120.0)),
        warmup: Duration::from_secs_f64(warmup.min(30.0)),
        rate,
        cpu_pid,
    })
}

fn target(url: &str) -> anyhow::Result<Target> {
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !(host.starts_with("127.") || host.starts_with("localhost")) {
        bail!("this load generator only targets loopback addresses");
    }
    Ok(Target {
        host: host.to_string(),
        path: format!("/{path}"),
    })
}

/// The requests of one target, one per body (a single GET without bodies), ready to write.
fn requests(target: &Target, bodies: &[Vec<u8>]) -> Arc<Vec<Vec<u8>>> {
    let request = |method: &str, body: &[u8]| {
        let mut r = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            target.path,
            target.host,
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    Arc::new(if bodies.is_empty() {
        vec![request("GET", &[])]
    } else {
        bodies.iter().map(|body| request("POST", body)).collect()
    })
}

fn main() -> anyhow::Result<()> {
    let options = parse(std::env::args().skip(1))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

async fn run(options: Options) -> anyhow::Result<()> {
    let per_target: Vec<_> = options
        .targets
        .iter()
        .map(|target| requests(target, &options.bodies))
        .collect();
    let start = Instant::now() + options.warmup;
    let end = start + options.duration;
    let mut tasks = Vec::new();
    for index in 0..options.connections {
        let target = index % options.targets.len();
        let stream = TcpStream::connect(&options.targets[target].host).await?;
        stream.set_nodelay(true)?;
        let requests = per_target[target].clone();
        // In open-loop mode each connection owns every n-th slot of the global schedule.
        let interval = options
            .rate
            .map(|r| Duration::from_secs_f64(options.connections as f64 / r));
        let offset = options
            .rate
            .map(|r| Duration::from_secs_f64(index as f64 / r))
            .unwrap_or_default();
        tasks.push(tokio::spawn(connection(
            stream, requests, index, start, end, interval, offset,
        )));
    }
    let cpu = options
        .cpu_pid
        .map(|pid| tokio::spawn(cpu_ticks_between(pid, start, end)));
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    for task in tasks {
        let (l, e) = task.await??;
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
            latencies[i] as f64 / 1000.0
        }
    };
    let seconds = options.duration.as_secs_f64();
    let cpu_fields = match cpu {
        Some(task) => {
            let ticks = task.await??;
            let cpu_seconds = ticks.used as f64 / CLOCK_TICKS_PER_SECOND;
            let stolen_seconds = ticks.stolen as f64 / CLOCK_TICKS_PER_SECOND;
            format!(
                ",\"server_cpu_us_per_request\":{:.2},\"server_cpu_cores\":{:.2},\"stolen_pct\":{:.1}",
                cpu_seconds * 1e6 / latencies.len().max(1) as f64,
                cpu_seconds / seconds,
                stolen_seconds * 100.0 / (seconds * ticks.cpus as f64)
            )
        }
        None => String::new(),
    };
    println!(
        "{{\"requests\":{},\"errors\":{errors},\"rps\":{:.1},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3}{cpu_fields}}}",
        latencies.len(),
        latencies.len() as f64 / seconds,
        pct(0.5),
        pct(0.9),
        pct(0.99)
    );
    Ok(())
}

/// `utime` and `stime` in /proc are counted in USER_HZ, 100 per second on Linux.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// What the server's CPUs did over the measured window.
struct CpuTicks {
    /// User + system ticks of the server process, all threads.
    used: u64,
    /// Ticks the hypervisor gave to other guests while the server's CPUs wanted to run
    /// ("steal" in /proc/stat): the usual reason the same build measures differently.
    stolen: u64,
    /// How many CPUs `stolen` was summed over.
    cpus: usize,
}

async fn cpu_ticks_between(pid: u32, start: Instant, end: Instant) -> anyhow::Result<CpuTicks> {
    let (stat_line, cpus) = server_cpus(pid)?;
    tokio::time::sleep_until(start.into()).await;
    let (used, stolen) = (cpu_ticks(pid)?, steal_ticks(&stat_line)?);
    tokio::time::sleep_until(end.into()).await;
    Ok(CpuTicks {
        used: cpu_ticks(pid)? - used,
        stolen: steal_ticks(&stat_line)? - stolen,
        cpus,
    })
}

/// The /proc/stat line that covers `pid`'s CPUs: `cpuN` when it is pinned to one CPU,
/// else the machine-wide `cpu` line; and how many CPUs that line sums.
fn server_cpus(pid: u32) -> anyhow::Result<(String, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim)
        .unwrap_or_default();
    Ok(match allowed.parse::<usize>() {
        Ok(cpu) => (format!("cpu{cpu}"), 1),
        Err(_) => (
            "cpu".to_string(),
            std::thread::available_parallelism()?.get(),
        ),
    })
}

/// The steal ticks (eighth value) of one /proc/stat line.
fn steal_ticks(line_name: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let values = stat
        .lines()
        .find_map(|l| l.strip_prefix(line_name)?.strip_prefix(' '))
        .with_context(|| format!("no {line_name} line in /proc/stat"))?;
    Ok(values
        .split_whitespace()
        .nth(7)
        .context("no steal field in /proc/stat")?
        .parse()?)
}

fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("unexpected /proc stat format")?
        .1
        .split_whitespace()
        .collect();
    // After the name: state is field 3 of the whole line, utime 14 and stime 15.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// Waits until `slot` to within a few microseconds. Tokio's timer ticks in whole
/// milliseconds: sleeping to the slot would release every send due in the same
/// millisecond at once and count up to a millisecond of timer lateness as the server's
/// latency. So the timer only covers the wait up to shortly before the slot, and the rest
/// is spent yielding to the other connections and reading the clock again. The load
/// generator has a CPU of its own, which this keeps busy in open-loop runs.
async fn pace_until(slot: Instant) {
    const TIMER_SLACK: Duration = Duration::from_millis(2);
    if let Some(coarse) = slot.checked_sub(TIMER_SLACK)
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse.into()).await;
    }
    while Instant::now() < slot {
        tokio::task::yield_now().await;
    }
}

/// Sends `requests` in turn, from `first` on (connections to one target start apart).
/// Returns latencies in microseconds of answers completed inside the window, and errors.
async fn connection(
    stream: TcpStream,
    requests: Arc<Vec<Vec<u8>>>,
    first: usize,
    start: Instant,
    end: Instant,
    interval: Option<Duration>,
    offset: Duration,
) -> anyhow::Result<(Vec<u32>, u64)> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut next_slot = Instant::now() + offset;
    let mut line = String::new();
    let mut body = Vec::new();
    let mut next = first;
    loop {
        let scheduled = match interval {
            Some(interval) => {
                let slot = next_slot;
                next_slot += interval;
                pace_until(slot).await;
                slot
            }
            None => Instant::now(),
        };
        if scheduled >= end {
            break;
        }
        write.write_all(&requests[next % requests.len()]).await?;
        next += 1;
        line.clear();
        reader.read_line(&mut line).await?;
        let ok = line
            .split_whitespace()
            .nth(1)
            .is_some_and(|code| code.starts_with('2'));
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
        let done = Instant::now();
        if scheduled >= start && done < end {
            latencies.push(
                done.duration_since(scheduled)
                    .as_micros()
                    .min(u128::from(u32::MAX)) as u32,
            );
            if !ok {
                errors += 1;
            }
        }
    }
    Ok((latencies, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &str) -> anyhow::Result<Options> {
        parse(args.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn connections_take_the_urls_in_turn_in_equal_numbers() {
        let two = "--url http://127.0.0.1:1/v1/predict --url http://127.0.0.1:2/v1/predict";
        let parsed = options(&format!("{two} --connections 4")).unwrap();
        assert_eq!(
            parsed.targets[1],
            Target {
                host: "127.0.0.1:2".into(),
                path: "/v1/predict".into()
            }
        );
        assert!(options(&format!("{two} --connections 3")).is_err());
        assert!(
            options("--url http://10.0.0.1:80/").is_err(),
            "loopback only"
        );
    }

    #[test]
    fn transactions_are_distinct_valid_prediction_requests() {
        let parsed = options("--url http://127.0.0.1:1/v1/predict --transactions 50").unwrap();
        assert_eq!(parsed.bodies.len(), 50);
        for body in &parsed.bodies {
            let request: tidewatch_inference::core::request::PredictRequest<'_> =
                tidewatch_inference::core::schema::parse(body).unwrap();
            request.validate("").unwrap();
        }
        let requests = requests(&parsed.targets[0], &parsed.bodies);
        assert!(requests[0].starts_with(b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"));
        assert_ne!(requests[1], requests[2]);
    }
}
