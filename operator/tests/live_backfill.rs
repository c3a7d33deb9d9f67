//! Live SLO figures against a real Prometheus holding a known 30-day history. The history of
//! `tidewatch_requests_total` (10:1 day/night traffic, errors mostly at night, a readiness
//! probe failing throughout, and a 5 % incident running at read time) is backfilled with
//! `promtool tsdb create-blocks-from openmetrics`; the 10-minute tiles the period SLI and the
//! day-long windows sum are backfilled with `promtool tsdb create-blocks-from rules`
//! (recording rules only evaluate from when Prometheus starts, as for an SLO created today),
//! from the same rule file so that they fall on the grid Prometheus then evaluates the tile
//! group on; then Prometheus runs the generated rule groups. The figures the operator
//! computes from its three reads must equal the truth computed from the history (over the
//! whole tiles for the tiled figures, which end at the newest tile), the dashboard's budget
//! panel must say the same, and the burn rates and firing alerts must be what Prometheus
//! itself evaluates.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use support::*;
use tidewatch_operator::dashboards::slo::{SloDashboard, slo_dashboard};
use tidewatch_operator::live::client::{Prometheus, PrometheusConfig};
use tidewatch_operator::live::figures::{SloTerms, compute};
use tidewatch_operator::live::snapshot::Snapshot;
use tidewatch_operator::monitoring_types::RuleGroup;
use tidewatch_operator::slo_rules::rules::{
    is_tiled, ratio_record, requests_tile_record, tile_span,
};
use tidewatch_operator::slo_rules::sli::error_ratio;
use tidewatch_operator::slo_rules::{rule_group, rule_groups, tile_group};
use tidewatch_operator::validate::{PromDuration, ValidSlo};

const MINUTE: i64 = 60;
/// Scrape interval of the history: an MLService's default.
const STEP: i64 = 30;
const DAY: i64 = 86_400;
const WINDOW: i64 = 30 * DAY;
/// Labels of every series; OpenMetrics allows no space after a comma.
const SERIES: &str = r#"namespace="fraud",service="fraud-detector",pod="fraud-detector-0""#;

/// Requests and errors per minute at `t` (unix seconds): 600/min by day with 0.02 % errors,
/// 60/min from 00:00 to 08:00 UTC with 0.4 % errors, and 5 % errors from `incident` on.
fn traffic(t: i64, incident: i64) -> (f64, f64) {
    let night = (t.rem_euclid(DAY)) < 8 * 3_600;
    let (total, ratio) = if night {
        (60.0, 0.004)
    } else {
        (600.0, 0.0002)
    };
    let ratio = if t >= incident { 0.05 } else { ratio };
    (total, total * ratio)
}

/// The history, one sample every `STEP` from `start` to `end`.
struct History {
    start: i64,
    end: i64,
    incident: i64,
}

impl History {
    fn samples(&self) -> impl Iterator<Item = i64> + '_ {
        (self.start..=self.end).step_by(STEP as usize)
    }

    /// (good, bad) counter values at each sample.
    fn counters(&self) -> Vec<(i64, f64, f64)> {
        let (mut good, mut bad) = (0.0, 0.0);
        let per_step = STEP as f64 / MINUTE as f64;
        self.samples()
            .map(|t| {
                let (total, errors) = traffic(t, self.incident);
                good += (total - errors) * per_step;
                bad += errors * per_step;
                (t, good, bad)
            })
            .collect()
    }

    /// Errors and requests in (`at` - `window`, `at`], each step's events arriving evenly
    /// over the step before its sample (a window edge within a step takes its share).
    fn truth(&self, at: f64, window: i64) -> (f64, f64) {
        let from = at - window as f64;
        let per_step = STEP as f64 / MINUTE as f64;
        self.samples()
            .skip(1)
            .map(|t| {
                let (start, end) = (t as f64 - STEP as f64, t as f64);
                let share =
                    per_step * ((end.min(at) - start.max(from)) / STEP as f64).clamp(0.0, 1.0);
                let (total, errors) = traffic(t, self.incident);
                (errors * share, total * share)
            })
            .fold((0.0, 0.0), |(e, n), (errors, total)| {
                (e + errors, n + total)
            })
    }

    fn openmetrics(&self) -> String {
        let mut text = String::from("# TYPE tidewatch_requests counter\n");
        let counters = self.counters();
        for (code, pick) in [("200", 1), ("500", 2)] {
            for (t, good, bad) in &counters {
                let value = if pick == 1 { good } else { bad };
                let _ = writeln!(
                    text,
                    "tidewatch_requests_total{{{SERIES},route=\"/v1/predict\",method=\"POST\",code=\"{code}\"}} {value} {t}"
                );
            }
        }
        // A pod that never becomes ready: 6 readiness probes a minute answered 503.
        for (i, t) in self.samples().enumerate() {
            let _ = writeln!(
                text,
                "tidewatch_requests_total{{{SERIES},route=\"/readyz\",method=\"GET\",code=\"503\"}} {} {t}",
                3 * i
            );
        }
        text.push_str("# EOF\n");
        text
    }
}

/// A Prometheus process, killed when dropped.
struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus_binary() -> PathBuf {
    promtool().with_file_name("prometheus")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_prometheus(dir: &Path, rule_files: &[PathBuf]) -> Result<Running> {
    let config = dir.join("prometheus.yml");
    let rules: Vec<String> = rule_files.iter().map(|p| p.display().to_string()).collect();
    std::fs::write(
        &config,
        format!(
            "global: {{evaluation_interval: 1m}}\nrule_files: {}\n",
            serde_json::to_string(&rules)?
        ),
    )?;
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log"))?;
    let child = Command::new(prometheus_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg("--storage.tsdb.retention.time=90d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting prometheus")?;
    let running = Running {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let client = client(&running.url)?;
    for _ in 0..120 {
        if client.api("/api/v1/status/runtimeinfo").await.is_ok() {
            return Ok(running);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!(
        "prometheus did not start:\n{}",
        std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    )
}

fn client(url: &str) -> Result<Prometheus> {
    Ok(Prometheus::new(&PrometheusConfig {
        url: url.into(),
        ca_file: None,
        bearer_token_file: None,
        timeout: Duration::from_secs(30),
    })?)
}

fn promtool_run(args: &[&str]) -> Result<()> {
    let out = Command::new(promtool()).args(args).output()?;
    ensure!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Moves every block of `from` into the TSDB of `dir`.
fn adopt_blocks(from: &Path, dir: &Path) -> Result<usize> {
    let tsdb = dir.join("tsdb");
    std::fs::create_dir_all(&tsdb)?;
    let mut moved = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.path().join("meta.json").is_file() {
            std::fs::rename(entry.path(), tsdb.join(entry.file_name()))?;
            moved += 1;
        }
    }
    Ok(moved)
}

fn scenario_slo() -> ValidSlo {
    availability_slo("")
}

/// Timestamp of the newest tile at `at`: the end of the span the tiled figures cover.
async fn newest_tile(prometheus: &Prometheus, slo: &ValidSlo, at: f64) -> Result<f64> {
    let expr = format!(
        "max_over_time(timestamp({}{{namespace=\"fraud\", slo=\"fraud-availability\"}})[{}:30s])",
        requests_tile_record(tile_span(slo)),
        PromDuration::from_secs(tile_span(slo).as_secs() * 2)
    );
    prometheus
        .query_at(&expr, at)
        .await?
        .first()
        .map(|s| s.value)
        .context("a tile before the evaluation")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

async fn last_evaluation(prometheus: &Prometheus) -> Result<f64> {
    let rules = prometheus.api("/api/v1/rules").await?;
    let text = rules["groups"][0]["lastEvaluation"]
        .as_str()
        .context("a group evaluated")?;
    let at: k8s_openapi::jiff::Timestamp = text.parse()?;
    Ok(at.as_nanosecond() as f64 / 1e9)
}

#[tokio::test]
async fn live_figures_equal_the_truth_of_a_backfilled_history() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let slo = scenario_slo();
    let minute_now = now() / MINUTE * MINUTE;
    let history = History {
        start: minute_now - WINDOW - 3_600,
        // Not beyond now: a block reaching into the future would make Prometheus refuse
        // every sample its rules record before that time ("out of bounds").
        end: minute_now,
        incident: minute_now - 30 * MINUTE,
    };

    // 1. The raw counters, backfilled.
    let om = dir.path().join("history.om");
    std::fs::write(&om, history.openmetrics())?;
    let raw_blocks = dir.path().join("raw-blocks");
    promtool_run(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "--max-block-duration=24h",
        om.to_str().context("utf-8")?,
        raw_blocks.to_str().context("utf-8")?,
    ])?;
    let raw = adopt_blocks(&raw_blocks, dir.path())?;

    // 2. The tiles, backfilled from those counters by a Prometheus without rules, from the
    // path the full rule file takes next: a group's evaluation instants depend on its name
    // and file, so backfilled and live tiles share one grid and never overlap.
    let tile_file: RuleGroup = tile_group(&slo);
    let rule_path = write_rule_file(dir.path(), "rules.yaml", &[tile_file])?;
    let rule_blocks = dir.path().join("rule-blocks");
    {
        let bare = start_prometheus(dir.path(), &[]).await?;
        promtool_run(&[
            "tsdb",
            "create-blocks-from",
            "rules",
            &format!("--start={}", history.start + 15 * MINUTE),
            &format!("--end={minute_now}"),
            "--eval-interval=1m",
            &format!("--url={}", bare.url),
            &format!("--output-dir={}", rule_blocks.display()),
            rule_path.to_str().context("utf-8")?,
        ])?;
    }
    let recorded = adopt_blocks(&rule_blocks, dir.path())?;
    println!("BACKFILL {raw} raw blocks, {recorded} recorded-rule blocks");

    // 3. Prometheus with the generated rule groups, as the operator deploys them.
    let rules = write_rule_file(dir.path(), "rules.yaml", &rule_groups(&slo))?;
    assert_eq!(rules, rule_path);
    let running = start_prometheus(dir.path(), &[rules]).await?;
    let prometheus = client(&running.url)?;
    let key = ("fraud".to_owned(), "fraud-availability".to_owned());
    let mut snapshot = Snapshot::default();
    // The group's first evaluation comes within one interval (1m) of the start; read the
    // figures once it has finished (every rule evaluated, alerts included).
    let mut evaluated = 0.0;
    for _ in 0..180 {
        evaluated = last_evaluation(&prometheus).await?;
        if evaluated > 0.0 {
            snapshot = Snapshot::read(&prometheus, None).await?;
            if snapshot.readings(&key).period_error_ratio.is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let readings = snapshot.readings(&key);
    let figures = compute(&SloTerms::of(&slo), &readings).with_context(|| {
        format!(
            "no figures after the first evaluation: {readings:?}\n{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        )
    })?;

    // The SLI and the budget against the history's truth over the same 30 days: the whole
    // tiles of the window, which end at the newest tile.
    let tile_end = newest_tile(&prometheus, &slo, evaluated).await?;
    println!(
        "TILES newest tile {:.0} s before the evaluation",
        evaluated - tile_end
    );
    // Prometheus runs the tile group on its own 10-minute schedule, so at the evaluation
    // the newest tile can be more than one span old; the 30-day sum then holds one tile
    // less, and the truth is taken over exactly the tiles it holds.
    let span = tile_span(&slo).as_secs() as f64;
    let covered = (((WINDOW as f64 - (evaluated - tile_end)) / span).ceil() * span) as i64;
    ensure!(
        covered == WINDOW || covered == WINDOW - span as i64,
        "the newest tile is {} s before the evaluation",
        evaluated - tile_end
    );
    let (errors, total) = history.truth(tile_end, covered);
    let true_sli = 1.0 - errors / total;
    let true_budget = 1.0 - (errors / total) / slo.objective.error_budget();
    println!(
        "LIVE sli {:.5}% (truth {:.5}%), budget left {:.3}% (truth {:.3}%), spent {:.3}%",
        figures.sli * 100.0,
        true_sli * 100.0,
        figures.budget_remaining * 100.0,
        true_budget * 100.0,
        figures.budget_spent * 100.0
    );
    assert!(
        (figures.sli - true_sli).abs() * 100.0 < 0.1,
        "SLI {} vs truth {true_sli}",
        figures.sli
    );
    assert!(
        (figures.budget_remaining - true_budget).abs() * 100.0 < 0.1,
        "budget left {} vs truth {true_budget}",
        figures.budget_remaining
    );
    assert!(
        (0.3..0.8).contains(&figures.budget_remaining),
        "the scenario spends about half of the budget: {}",
        figures.budget_remaining
    );

    // The dashboard's "Error budget left" panel, its variables filled in, says the same.
    let dashboard = slo_dashboard(&SloDashboard::of(&slo));
    let panel = dashboard["panels"]
        .as_array()
        .context("panels")?
        .iter()
        .find(|p| p["title"] == "Error budget left")
        .context("the budget panel")?;
    let expr = panel["targets"][0]["expr"]
        .as_str()
        .context("an expression")?
        .replace("$namespace", "fraud")
        .replace("$slo", "fraud-availability")
        .replace("$objective", "99.9");
    let panel_value = prometheus
        .query(&expr)
        .await?
        .first()
        .map(|s| s.value)
        .context("the panel shows a value")?;
    println!("DASHBOARD budget panel {:.3}%", panel_value * 100.0);
    assert!(
        (panel_value - figures.budget_remaining).abs() < 1e-6,
        "panel {panel_value} vs status {}",
        figures.budget_remaining
    );

    // Each burn rate is Prometheus' own ratio at the evaluation time (of the raw counters,
    // or of the tiles for the day-long windows), divided by the budget, and close to the
    // history's truth over the same span.
    let main = rule_group(&slo);
    for (window, burn) in &figures.burn_rates {
        let w = PromDuration::parse(window).map_err(anyhow::Error::msg)?;
        let (expr, end) = if is_tiled(&slo, w) {
            let record = ratio_record(w);
            let rule = main
                .rules
                .iter()
                .find(|r| r.record.as_deref() == Some(record.as_str()))
                .context("the tiled ratio's rule")?;
            (rule.expr.clone(), tile_end)
        } else {
            (error_ratio(&slo.sli, w), evaluated)
        };
        let raw = prometheus.query_at(&expr, evaluated).await?;
        let prometheus_burn = raw.first().map(|s| s.value).context("raw ratio")? / 0.001;
        let (e, n) = history.truth(end, w.as_secs() as i64);
        let true_burn = e / n / 0.001;
        println!(
            "BURN {window}: status {burn:.4}, prometheus {prometheus_burn:.4}, history {true_burn:.4}"
        );
        assert!(
            (burn - prometheus_burn).abs() <= 1e-9 * prometheus_burn.abs().max(1.0),
            "{window}: {burn} vs {prometheus_burn}"
        );
        assert!(
            (burn - true_burn).abs() <= 0.03 * true_burn.max(0.1),
            "{window}: {burn} vs history {true_burn}"
        );
    }
    assert_eq!(
        figures.burn_rates.len(),
        7,
        "every alert window: {figures:?}"
    );

    // The firing alerts are those Prometheus reports for its alerting rules
    // (`/api/v1/rules`, not the alerts list the operator reads).
    let from_status: BTreeSet<(String, String, String)> = figures
        .firing
        .iter()
        .map(|a| {
            (
                a.alertname.clone(),
                a.severity.clone(),
                a.long_window.clone(),
            )
        })
        .collect();
    let rules = prometheus.api("/api/v1/rules").await?;
    let from_prometheus: BTreeSet<(String, String, String)> = rules["groups"][0]["rules"]
        .as_array()
        .context("rules")?
        .iter()
        .filter(|r| r["type"] == "alerting" && r["state"] == "firing")
        .map(|r| {
            let label = |k: &str| r["labels"][k].as_str().unwrap_or_default().to_owned();
            (
                r["name"].as_str().unwrap_or_default().to_owned(),
                label("severity"),
                label("long_window"),
            )
        })
        .collect();
    println!("ALERTS status {from_status:?}, prometheus {from_prometheus:?}");
    assert_eq!(from_status, from_prometheus);
    assert!(
        from_status.contains(&("SLOErrorBudgetBurn".into(), "page".into(), "1h".into())),
        "the 5 % incident pages through 1h/5m"
    );
    drop(running);
    Ok(())
}
