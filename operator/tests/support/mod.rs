//! Shared helpers of the integration tests: finding the real `promtool`, turning rendered
//! SLOs into rule files, and reading which alerts fired from `promtool test rules` output.
#![allow(dead_code)]

pub mod generated;
pub mod oracles;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use tidewatch_operator::api::{MLService, SLO};
use tidewatch_operator::monitoring_types::RuleGroup;
use tidewatch_operator::slo_rules::rule_groups;
use tidewatch_operator::validate::{ValidSlo, validate_slo};

/// The promtool binary: `$PROMTOOL`, else `promtool` on PATH, else the project's tool cache
/// (`e2e/cluster/build.sh bin-dir`). Panics with instructions when none exists: these tests
/// never skip silently.
pub fn promtool() -> PathBuf {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "PROMTOOL={} does not exist", p.display());
        return p;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("promtool");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("e2e/cluster/build.sh");
    if let Ok(out) = Command::new(&script)
        .arg("bin-dir")
        .current_dir(&root)
        .output()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let candidate = Path::new(&dir).join("promtool");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "promtool not found: set PROMTOOL, put it on PATH, or build it with `make tools` \
         (e2e/cluster/build.sh all); these tests need the real binary"
    );
}

/// An MLService named `name` in `namespace` with a minimal spec.
pub fn mlservice(namespace: &str, name: &str) -> MLService {
    serde_yaml::from_str(&format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  model: {{name: fraud, version: '1'}}\n"
    ))
    .expect("static MLService parses")
}

/// Parses an SLO from YAML.
pub fn slo(yaml: &str) -> SLO {
    serde_yaml::from_str(yaml).expect("test SLO parses")
}

/// The fraud availability SLO of the scenarios: 99.9 % over 30d on `fraud/fraud-detector`.
pub fn availability_slo(extra_alerting: &str) -> ValidSlo {
    let s = slo(&format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {{name: fraud-availability, namespace: fraud}}\nspec:\n  target: {{mlService: fraud-detector}}\n  objective: 99.9\n  window: 30d\n  indicator: {{availability: {{}}}}\n  alerting:\n    runbookUrl: https://runbooks.example.com/slo\n{extra_alerting}"
    ));
    validate_slo(&s, Some(&mlservice("fraud", "fraud-detector"))).expect("scenario SLO is valid")
}

/// Writes rule groups as a Prometheus rule file.
pub fn write_rule_file(dir: &Path, name: &str, groups: &[RuleGroup]) -> Result<PathBuf> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        groups: &'a [RuleGroup],
    }
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml::to_string(&File { groups })?)?;
    Ok(path)
}

/// Runs `promtool check rules` on a file; `Err` carries promtool's output.
pub fn check_rules(file: &Path) -> Result<()> {
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(file)
        .output()
        .context("running promtool")?;
    if out.status.success() {
        Ok(())
    } else {
        bail!(
            "promtool check rules failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// The rule groups of a valid SLO, in a rule file of its own, as promtool must see them
/// (`promtool_groups`).
pub fn rule_file_of(dir: &Path, slo: &ValidSlo) -> Result<PathBuf> {
    write_rule_file(dir, "rules.yaml", &promtool_groups(rule_groups(slo)))
}

/// Groups made to behave under `promtool test rules` as under Prometheus. promtool
/// evaluates every group at the test file's `evaluation_interval`, whatever the group's
/// own `interval`; a Prometheus evaluates a group with `interval: 10m` every 10 minutes,
/// so a 10-minute tile recorded every minute would count each event ten times. Each rule
/// of a group with its own interval is therefore kept only at the instants that group
/// would be evaluated (multiples of its interval), which holds when the test's evaluation
/// interval divides it (`group_eval_order` puts such groups first, as the freshest tile a
/// Prometheus may have).
pub fn promtool_groups(groups: Vec<RuleGroup>) -> Vec<RuleGroup> {
    groups
        .into_iter()
        .map(|mut g| {
            if let Some(interval) = &g.interval {
                let seconds = tidewatch_operator::validate::PromDuration::parse(interval)
                    .expect("group intervals are durations")
                    .as_secs();
                for r in &mut g.rules {
                    r.expr = format!("({})\nand on ()\n(vector(time()) % {seconds} == 0)", r.expr);
                }
            }
            g
        })
        .collect()
}

/// The `group_eval_order` line of a unit-test file for `rule_file`: groups with their own
/// interval (the tiles) before the groups that read them.
pub fn group_eval_order(rule_file: &Path) -> Result<String> {
    let text = std::fs::read_to_string(rule_file)?;
    let parsed: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let mut groups: Vec<(bool, String)> = parsed["groups"]
        .as_sequence()
        .context("groups")?
        .iter()
        .map(|g| {
            (
                g.get("interval").is_none(),
                g["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    groups.sort();
    let names: Vec<String> = groups.into_iter().map(|(_, n)| n).collect();
    Ok(format!(
        "group_eval_order: {}\n",
        serde_json::to_string(&names)?
    ))
}

/// Output of one `promtool test rules` run: exit status and combined output.
pub struct TestRun {
    /// Whether every expectation held.
    pub success: bool,
    /// stdout and stderr.
    pub output: String,
}

/// Runs `promtool test rules` on a unit-test file.
pub fn test_rules(file: &Path) -> Result<TestRun> {
    let out = Command::new(promtool())
        .args(["test", "rules"])
        .arg(file)
        .output()
        .context("running promtool")?;
    Ok(TestRun {
        success: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

/// Runs `promtool test rules` on a test whose expectations are left empty so that promtool
/// prints what fired; fails on any other kind of failure.
pub fn firing_alerts_run(file: &Path) -> Result<TestRun> {
    let run = test_rules(file)?;
    assert!(
        run.success || run.output.contains("got:["),
        "promtool failed for another reason than firing alerts:\n{}",
        run.output
    );
    Ok(run)
}

/// Parses a promtool duration such as `3h36m` or `1d2h` into minutes.
pub fn minutes(text: &str) -> u64 {
    let mut total = 0;
    let mut number = 0;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = number * 10 + u64::from(d);
            continue;
        }
        total += match c {
            'd' => number * 1440,
            'h' => number * 60,
            'm' => number,
            's' => 0,
            _ => 0,
        };
        number = 0;
    }
    total
}

/// Alerts seen firing in a promtool run whose every expectation was "no alert": for each
/// evaluation time (minutes), the `(alertname, severity, long_window)` firing then.
pub fn firing(run: &TestRun) -> BTreeMap<u64, Vec<(String, String, String)>> {
    let mut seen: BTreeMap<u64, Vec<(String, String, String)>> = BTreeMap::new();
    let mut current: Option<u64> = None;
    for line in run.output.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("alertname: ") {
            let time = rest
                .split("time: ")
                .nth(1)
                .map(|t| t.trim_end_matches([',', ' ']));
            current = time.map(minutes);
        } else if let (Some(t), Some(labels)) = (current, line.strip_prefix("Labels:{")) {
            let get = |key: &str| {
                labels
                    .split(&format!("{key}=\""))
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or_default()
                    .to_owned()
            };
            seen.entry(t).or_default().push((
                get("alertname"),
                get("severity"),
                get("long_window"),
            ));
        }
    }
    seen
}

/// One input series in promtool notation.
pub struct Series {
    /// Series selector text.
    pub name: String,
    /// Values text.
    pub values: String,
}

/// Counter values, one per minute, as promtool expanding notation: `segments` are
/// `(per-minute increment, minutes)`; the counter starts at 0.
pub fn counter(segments: &[(f64, u64)]) -> String {
    let mut parts = Vec::new();
    let mut value = 0.0_f64;
    let mut first = true;
    for &(step, count) in segments {
        if count == 0 {
            continue;
        }
        if first {
            parts.push(format!("{value}+{step}x{count}"));
            value += step * count as f64;
            first = false;
        } else {
            value += step;
            parts.push(format!("{value}+{step}x{}", count - 1));
            value += step * (count - 1) as f64;
        }
    }
    parts.join(" ")
}

/// Good and 5xx prediction series at `per_minute` requests: clean `history`, then
/// `error_ratio` for `minutes`, then clean `after` (all in minutes).
pub fn outage_traffic(
    per_minute: f64,
    history: u64,
    error_ratio: f64,
    minutes: u64,
    after: u64,
) -> Vec<Series> {
    let good = counter(&[
        (per_minute, history),
        (per_minute * (1.0 - error_ratio), minutes),
        (per_minute, after),
    ]);
    let bad = counter(&[
        (0.0, history),
        (per_minute * error_ratio, minutes),
        (0.0, after),
    ]);
    vec![requests("200", good), requests("500", bad)]
}

/// A `tidewatch_requests_total` series of predictions (`POST /v1/predict`) of the scenario
/// service.
pub fn requests(code: &str, values: String) -> Series {
    requests_on("fraud-detector-0", "POST", "/v1/predict", code, values)
}

/// A `tidewatch_requests_total` series of the scenario service: one pod, method, route, code.
pub fn requests_on(pod: &str, method: &str, route: &str, code: &str, values: String) -> Series {
    Series {
        name: format!(
            "tidewatch_requests_total{{namespace=\"fraud\", service=\"fraud-detector\", route={route:?}, method=\"{method}\", code=\"{code}\", pod=\"{pod}\"}}"
        ),
        values,
    }
}

/// Writes a promtool unit-test file: one test group with `series`, and at every
/// `step_minutes` from `from` to `to` (minutes) an expectation that `alertname` is silent.
pub fn write_silence_test(
    dir: &Path,
    rule_file: &Path,
    evaluation_minutes: u64,
    series: &[Series],
    alertnames: &[&str],
    (from, to, step): (u64, u64, u64),
) -> Result<PathBuf> {
    let mut text = format!(
        "rule_files: [{}]\nevaluation_interval: {evaluation_minutes}m\n{}tests:\n- interval: 1m\n  input_series:\n",
        serde_json::to_string(&rule_file.display().to_string())?,
        group_eval_order(rule_file)?
    );
    for s in series {
        text.push_str(&format!(
            "  - series: {}\n    values: {}\n",
            serde_json::to_string(&s.name)?,
            serde_json::to_string(&s.values)?
        ));
    }
    text.push_str("  alert_rule_test:\n");
    let mut t = from;
    while t <= to {
        for name in alertnames {
            text.push_str(&format!(
                "  - {{eval_time: {t}m, alertname: {name}, exp_alerts: []}}\n"
            ));
        }
        t += step;
    }
    let path = dir.join("test.yaml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Reads the value promtool reports under `got:` for `expr` (a test that expects 0 on
/// purpose makes promtool print what it computed).
pub fn got_value(output: &str, expr: &str) -> Option<f64> {
    let start = output.find(&format!("expr: {}", serde_json::to_string(expr).ok()?))?;
    let line = output[start..]
        .lines()
        .find(|l| l.trim_start().starts_with("got:"))?;
    line.rsplit(' ').next()?.parse().ok()
}
