#!/usr/bin/env bash
# Rule-evaluation benchmark: N SLOs (default 500) in one real Prometheus, with Tidewatch's
# rules and Sloth's rules for the same SLOs side by side, fed the same synthetic counters.
# 30 days of history are written as TSDB blocks (blocks/main.go: the raw counters for the
# last 3 days and 1 hour, and what each side's recording rules would have recorded over 30
# days), the counters then go on live from exporter.py, scraped every 30 s, and both rule
# sets are evaluated every 30 s. measure.py reports, per side: samples loaded per SLO per
# evaluation cycle, rule-group evaluation time, then Prometheus' RSS; each side is also run
# alone for its own RSS. Everything listens on 127.0.0.1 and is stopped by PID.
# Usage: run.sh [N]   (BENCH_RULES_SECONDS: measurement per phase, default 180)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
here=operator/bench/rules
count="${1:-500}"
measure_seconds="${BENCH_RULES_SECONDS:-180}"
say() { printf '==> %s\n' "$*" >&2; }

bin_dir="$(e2e/cluster/build.sh bin-dir)"
cache_dir="$(e2e/cluster/build.sh cache-dir)"
[[ -x "$bin_dir/prometheus" ]] || { say "no prometheus in $bin_dir: run 'make tools'"; exit 1; }
sloth="$(operator/bench/peers/build.sh sloth)"
cargo build --quiet -p tidewatch-operator
operator="${CARGO_TARGET_DIR:-$PWD/target}/debug/tidewatch-operator"

work="$(mktemp -d)"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The block writer, built once from the Prometheus module the tools were built from.
blocks_bin="$cache_dir/bench/blocks-$(sha256sum "$here/blocks/main.go" | cut -c1-12)"
if [[ ! -x "$blocks_bin" ]]; then
	say "building the block writer (about a minute; cached in $cache_dir/bench)"
	build="$work/blocks-src"
	mkdir -p "$build" "$cache_dir/bench"
	cp "$cache_dir/src/prometheus/go.mod" "$cache_dir/src/prometheus/go.sum" "$here/blocks/main.go" "$build/"
	sed -i 's#^module .*#module tidewatch.local/bench/blocks#' "$build/go.mod"
	(cd "$build" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$blocks_bin" .)
fi

# The same SLOs for both: availability over the counters of service sN, 99.9 % over 30d.
say "rendering $count SLOs with tidewatch-operator and with sloth $("$sloth" version 2>/dev/null | tail -1)"
mkdir -p "$work/slos" "$work/rendered"
python3 - "$count" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/slos/slos.yaml", "w") as ours, open(f"{work}/sloth.yaml", "w") as theirs:
    for i in range(n):
        errors = f'bench_requests_total{{service="s{i}",code=~"5.."}}'
        total = f'bench_requests_total{{service="s{i}"}}'
        ours.write(f"""---
apiVersion: tidewatch.io/v1alpha1
kind: SLO
metadata: {{name: s{i}, namespace: bench}}
spec:
  objective: 99.9
  window: 30d
  indicator:
    ratio: {{errors: '{errors}', total: '{total}'}}
""")
        theirs.write(f"""---
version: prometheus/v1
service: s{i}
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: 'sum(rate({errors}[{{{{.window}}}}]))'
        total_query: 'sum(rate({total}[{{{{.window}}}}]))'
    alerting:
      name: SLOErrorBudgetBurn
      page_alert: {{labels: {{severity: page}}}}
      ticket_alert: {{labels: {{severity: ticket}}}}
""")
PY
"$operator" render -f "$work/slos" -o "$work/rendered" >/dev/null 2>"$work/render.log" ||
	{ cat "$work/render.log" >&2; exit 1; }
"$sloth" generate -i "$work/sloth.yaml" -o "$work/sloth-generated.yaml" >"$work/sloth.log" 2>&1 ||
	{ cat "$work/sloth.log" >&2; exit 1; }
# Both as one rule file each: Sloth writes one YAML document per service, and Prometheus
# reads only the first document of a rule file.
python3 - "$work" <<'PY'
import glob, sys, yaml
work = sys.argv[1]
groups = []
for path in sorted(glob.glob(f"{work}/rendered/**/*.yaml", recursive=True)):
    for doc in yaml.safe_load_all(open(path)):
        if doc and doc.get("kind") == "PrometheusRule":
            groups += doc["spec"]["groups"]
yaml.safe_dump({"groups": groups}, open(f"{work}/tidewatch-rules.yaml", "w"), sort_keys=False)
groups = []
for doc in yaml.safe_load_all(open(f"{work}/sloth-generated.yaml")):
    if doc:
        groups += doc["groups"]
yaml.safe_dump({"groups": groups}, open(f"{work}/sloth-rules.yaml", "w"), sort_keys=False)
tidewatch = yaml.safe_load(open(f"{work}/tidewatch-rules.yaml"))["groups"]
print(f"==> rule groups: {len(tidewatch)} Tidewatch, {len(groups)} Sloth", file=sys.stderr)
PY
for f in tidewatch-rules sloth-rules; do
	# No lint: Sloth repeats one alert name and label set in every service's group.
	"$bin_dir/promtool" check rules --lint=none "$work/$f.yaml" >/dev/null
done

prom_port="$(free_port)"
exporter_port="$(free_port)"
now="$(date +%s)"
origin=$((now - 31 * 86400))
say "writing 30 days of history for $count SLOs as TSDB blocks"
started=$SECONDS
"$blocks_bin" -out "$work/pristine" -slos "$count" -origin "$origin" -end $((now - 60)) \
	-instance "127.0.0.1:$exporter_port" >&2
say "blocks written in $((SECONDS - started)) s ($(du -sh "$work/pristine" | cut -f1))"

python3 "$here/exporter.py" --port "$exporter_port" --slos "$count" --origin "$origin" --seconds 7200 &
pids+=($!)

# One phase: a Prometheus on a fresh copy of the history with the given rule files,
# measured once every group has evaluated at least once.
phase() {
	local label="$1"
	shift
	local dir="$work/$label"
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -a "$work/pristine" "$dir/tsdb"
	local files
	files="$(printf '"%s",' "$@")"
	cat >"$dir/prometheus.yml" <<YAML
global: {scrape_interval: 30s, evaluation_interval: 30s}
rule_files: [${files%,}]
scrape_configs:
  - job_name: bench
    static_configs: [{targets: ["127.0.0.1:$exporter_port"]}]
YAML
	"$bin_dir/prometheus" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
		--storage.tsdb.retention.time=60d --web.listen-address="127.0.0.1:$prom_port" \
		--log.level=warn 2>"$dir/prometheus.log" &
	local pid=$!
	pids+=("$pid")
	local url="http://127.0.0.1:$prom_port"
	for _ in $(seq 1 120); do
		curl -fs "$url/-/ready" >/dev/null 2>&1 && break
		sleep 1
	done
	curl -fs "$url/-/ready" >/dev/null || { cat "$dir/prometheus.log" >&2; exit 1; }
	# Every group evaluated once (the tile groups within their first 10 minutes is not
	# waited for: their cost per cycle is read from their rules' query stats).
	sleep 45
	say "phase $label: measuring for $measure_seconds s (load $(cut -d' ' -f1-3 /proc/loadavg))"
	python3 "$here/measure.py" --url "$url" --pid "$pid" --rules "$@" --slos "$count" \
		--seconds "$measure_seconds" --label "$label" >"$work/$label.json"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

phase both "$work/tidewatch-rules.yaml" "$work/sloth-rules.yaml"
phase tidewatch "$work/tidewatch-rules.yaml"
phase sloth "$work/sloth-rules.yaml"

python3 - "$work" "$count" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
both = json.load(open(f"{work}/both.json"))
alone = {s: json.load(open(f"{work}/{s}.json")) for s in ("tidewatch", "sloth")}
t, s = both["sides"]["tidewatch"], both["sides"]["sloth"]
ta, sa = alone["tidewatch"], alone["sloth"]
print(f"\n{n} SLOs, every rule evaluated every 30 s, 2 shared cores")
print(f"load average: both {both['load']}, Tidewatch alone {ta['load']}, Sloth alone {sa['load']}\n")
print("| | Tidewatch | Sloth v0.16.0 |")
print("|---|---|---|")
print(f"| rule groups / rules per SLO | {t['groups_per_slo']} / {t['rules_per_slo']} | {s['groups_per_slo']} / {s['rules_per_slo']} |")
print(f"| samples loaded per SLO per evaluation cycle (query stats, one Prometheus with both) | {t['samples_per_slo_cycle']:,.0f} | {s['samples_per_slo_cycle']:,.0f} |")
print(f"| the same from the engine counter, each side alone | {ta['engine_samples_per_slo_cycle']:,.0f} | {sa['engine_samples_per_slo_cycle']:,.0f} |")
print(f"| median group evaluation, both in one Prometheus | {t['median_group_seconds']:.3f} s | {s['median_group_seconds']:.3f} s |")
print(f"| missed group iterations per cycle, both in one Prometheus | {t['missed_iterations_per_cycle']:.1f} | {s['missed_iterations_per_cycle']:.1f} |")
print(f"| Prometheus CPU per 30 s cycle, each side alone | {ta['cpu_seconds_per_cycle']:.2f} s | {sa['cpu_seconds_per_cycle']:.2f} s |")
print(f"| median group evaluation, each side alone | {ta['sides']['tidewatch']['median_group_seconds']:.3f} s | {sa['sides']['sloth']['median_group_seconds']:.3f} s |")
print(f"| Prometheus RSS (peak), each side alone | {ta['rss_mib']} MiB ({ta['peak_rss_mib']}) | {sa['rss_mib']} MiB ({sa['peak_rss_mib']}) |")
print(f"\nsamples: Tidewatch loads {t['samples_per_slo_cycle'] / s['samples_per_slo_cycle']:.3f} of Sloth's (target at most 0.1)")
print(f"both in one Prometheus: RSS {both['rss_mib']} MiB (peak {both['peak_rss_mib']}), CPU {both['cpu_seconds_per_cycle']:.2f} s per cycle, engine counter {both['engine_samples_per_slo_cycle']:,.0f} samples per SLO per cycle for both sides")
PY
