#!/usr/bin/env bash
# Side-by-side load test of tidewatch-inference against (a) a FastAPI + scikit-learn
# baseline (one uvicorn worker, same features and users) and (b) an actix-web hello-world
# floor, plus the overhead of metrics + tracing against both switched off.
#
# Loopback only, every run bounded in time; all processes started here are stopped by PID.
# With two or more CPUs the servers under test share one CPU and the load generator gets
# another (taskset), so every server gets the same single core and req/s compares servers,
# not the scheduler's mood. The OTLP sink runs on the load generator's CPU, like a
# collector on another machine would.
#
# The overhead of metrics + tracing is also measured side by side: the off server and an
# instrumented one sharing a CPU at the same time, which cancels the machine's drift.
#
# Knobs: BENCH_SECONDS (per run, default 8), BENCH_CONNECTIONS (default 32),
#        BENCH_ROUNDS (interleaved rounds, default 5), BENCH_VENV (Python venv location).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/inference/bench"
RUN_SECONDS=${BENCH_SECONDS:-8}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
ROUNDS=${BENCH_ROUNDS:-5}
VENV=${BENCH_VENV:-$HOME/.cache/tidewatch/bench-venv}
OUT_DIR="$ROOT/target/bench"
WORK=$(mktemp -d)
PIDS=()

# shellcheck source=../../scripts/lib/proc.sh
source "$ROOT/scripts/lib/proc.sh"

cleanup() {
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[bench] %s\n' "$*" >&2; }


# Command prefixes that pin to a CPU (empty when pinning is off). taskset execs its
# command, so `$!` after a pinned background start is the server's own PID.
ON_SERVER_CPU=()
ON_LOAD_CPU=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  ON_SERVER_CPU=(taskset -c "$(($(nproc) - 1))")
  ON_LOAD_CPU=(taskset -c 0)
  log "servers on CPU $(($(nproc) - 1)); load generator and OTLP sink on CPU 0"
else
  log "fewer than 2 CPUs or no taskset: nothing pinned, figures will be noisier"
fi

log "building release binaries (server, floor, load generator)"
cargo build --release -q -p tidewatch-inference --bin tidewatch-inference \
  --example floor --example loadgen --example export_bench_data
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

if [ ! -x "$VENV/bin/uvicorn" ] || ! "$VENV/bin/python" -c 'import sklearn, fastapi' 2>/dev/null; then
  log "installing the baseline's Python dependencies into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/baseline/requirements.txt"
fi

"$BIN/examples/export_bench_data" "$WORK/data"
cat > "$WORK/body.json" <<'JSON'
{"transaction_id":"bench-1","user_id":"user-000123","amount":84.2,"currency":"USD","merchant_category":"electronics","merchant_country":"US","card_present":false,"local_hour":21}
JSON

# load URL SERVER_PID [--rate R] -> one JSON line, with the server's CPU per request
load() {
  local url=$1 pid=$2; shift 2
  "${ON_LOAD_CPU[@]}" "$BIN/examples/loadgen" --url "$url" --body-file "$WORK/body.json" \
    --connections "$CONNECTIONS" --seconds "$RUN_SECONDS" --warmup 2 --cpu-pid "$pid" "$@"
}

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# --- floor, and a second copy of it as the OTLP sink for the instrumented runs ---
FLOOR_PORT=$(free_port)
"${ON_SERVER_CPU[@]}" "$BIN/examples/floor" "127.0.0.1:$FLOOR_PORT" 1 >/dev/null 2>&1 &
FLOOR_PID=$!; PIDS+=("$FLOOR_PID")
wait_for_url 60 "http://127.0.0.1:$FLOOR_PORT/"
SINK_PORT=$(free_port)
"${ON_LOAD_CPU[@]}" "$BIN/examples/floor" "127.0.0.1:$SINK_PORT" 1 >/dev/null 2>&1 &
PIDS+=("$!")
wait_for_url 60 "http://127.0.0.1:$SINK_PORT/"

# --- baseline (once: it is two orders of magnitude away from the others) ---
BASE_PORT=$(free_port)
( cd "$HERE/baseline" && BENCH_DATA="$WORK/data" exec "${ON_SERVER_CPU[@]}" "$VENV/bin/uvicorn" app:app \
    --host 127.0.0.1 --port "$BASE_PORT" --workers 1 --log-level warning --no-access-log ) &
BASE_PID=$!; PIDS+=("$BASE_PID")
wait_for_url 60 "http://127.0.0.1:$BASE_PORT/healthz"
log "baseline (FastAPI + scikit-learn, one worker)"
BASELINE=$(load "http://127.0.0.1:$BASE_PORT/v1/predict" "$BASE_PID")
stop_pid "$BASE_PID"

# --- floor and tidewatch-inference (off, on at 1% and 10% trace sampling), interleaved
# so that load from other work on the machine spreads over all of them ---
serve() {
  local port=$1; shift
  TIDEWATCH_LOG_FORMAT=json RUST_LOG=warn "${ON_SERVER_CPU[@]}" "$BIN/tidewatch-inference" serve \
    --listen "127.0.0.1:$port" --workers 1 --shutdown-delay-seconds 0 "$@" >"$WORK/serve-$port.log" 2>&1 &
  echo $!
}

# measure MODE [loadgen flags] -> sets RESULT (runs in this shell so PIDS stays complete)
measure() {
  local mode=$1 port pid
  port=$(free_port)
  case "$mode" in
    off) pid=$(serve "$port" --disable-instrumentation) ;;
    on1) pid=$(serve "$port" --otlp-endpoint "http://127.0.0.1:$SINK_PORT" --trace-sample-ratio 0.01) ;;
    on10) pid=$(serve "$port" --otlp-endpoint "http://127.0.0.1:$SINK_PORT" --trace-sample-ratio 0.1) ;;
  esac
  PIDS+=("$pid")
  wait_for_url 60 "http://127.0.0.1:$port/readyz"
  RESULT=$(load "http://127.0.0.1:$port/v1/predict" "$pid" "${@:2}")
  if curl -s "http://127.0.0.1:$port/metrics" | grep -q 'route="/v1/predict".*code="5'; then
    log "5xx answers from the $mode server"
  fi
  stop_pid "$pid"
}

declare -a FLOOR_RUNS OFF_RUNS ON1_RUNS ON10_RUNS
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: floor"
  FLOOR_RUNS+=("$(load "http://127.0.0.1:$FLOOR_PORT/v1/predict" "$FLOOR_PID")")
  log "round $round/$ROUNDS: tidewatch, instrumentation off"
  measure off; OFF_RUNS+=("$RESULT")
  log "round $round/$ROUNDS: tidewatch, metrics + tracing (1% sampled)"
  measure on1; ON1_RUNS+=("$RESULT")
  log "round $round/$ROUNDS: tidewatch, metrics + tracing (10% sampled)"
  measure on10; ON10_RUNS+=("$RESULT")
done

# --- side by side: an instrumented server and a reference (the off server, or the floor)
# on the same CPU at the same time, each loaded by its own generator with half the
# connections. Whatever slows the machine down slows both alike, so their CPU per request
# compares closely even when back-to-back runs of one build differ by 20 %. The two also
# evict each other's caches, which inflates both and, with its larger working set,
# probably the instrumented one more: read it as pessimistic for tidewatch. ---
# side_by_side REFERENCE RATIO -> sets PAIR to {"reference": run, "on": run}; REFERENCE
# is `off` (a tidewatch server started with instrumentation off) or `floor`
side_by_side() {
  local reference=$1 ratio=$2 ref_port ref_pid on_port on_pid ref_load ref_json on_json
  if [ "$reference" = floor ]; then
    ref_port=$FLOOR_PORT; ref_pid=$FLOOR_PID
  else
    ref_port=$(free_port)
    ref_pid=$(serve "$ref_port" --disable-instrumentation); PIDS+=("$ref_pid")
  fi
  on_port=$(free_port)
  on_pid=$(serve "$on_port" --otlp-endpoint "http://127.0.0.1:$SINK_PORT" --trace-sample-ratio "$ratio"); PIDS+=("$on_pid")
  wait_for_url 60 "http://127.0.0.1:$ref_port/readyz"
  wait_for_url 60 "http://127.0.0.1:$on_port/readyz"
  CONNECTIONS=$((CONNECTIONS / 2)) load "http://127.0.0.1:$ref_port/v1/predict" "$ref_pid" > "$WORK/pair-ref.json" &
  ref_load=$!
  on_json=$(CONNECTIONS=$((CONNECTIONS / 2)) load "http://127.0.0.1:$on_port/v1/predict" "$on_pid")
  wait "$ref_load"
  ref_json=$(cat "$WORK/pair-ref.json")
  PAIR=$(python3 -c 'import json, sys; print(json.dumps({"reference": json.loads(sys.argv[1]), "on": json.loads(sys.argv[2])}))' "$ref_json" "$on_json")
  stop_pid "$on_pid"
  if [ "$reference" != floor ]; then stop_pid "$ref_pid"; fi
}
declare -a PAIR1_RUNS PAIR10_RUNS FLOOR_PAIR_RUNS
for round in $(seq 1 "$ROUNDS"); do
  log "side by side $round/$ROUNDS: off with 1% sampled, off with 10% sampled, floor with 1% sampled"
  side_by_side off 0.01; PAIR1_RUNS+=("$PAIR")
  side_by_side off 0.1; PAIR10_RUNS+=("$PAIR")
  side_by_side floor 0.01; FLOOR_PAIR_RUNS+=("$PAIR")
done

# median_by KEY RUN... -> the run whose KEY is the median
median_by() {
  python3 - "$@" <<'PY'
import json, sys
runs = sorted((json.loads(r) for r in sys.argv[2:]), key=lambda r: r[sys.argv[1]])
print(json.dumps(runs[len(runs) // 2]))
PY
}
FLOOR=$(median_by rps "${FLOOR_RUNS[@]}")
OFF=$(median_by rps "${OFF_RUNS[@]}")
ON1=$(median_by rps "${ON1_RUNS[@]}")
ON10=$(median_by rps "${ON10_RUNS[@]}")

# --- latency at half of peak (open loop), three interleaved rounds, the median p99 kept:
# one stall of the virtual CPU can set a single run's p99. The floor at tidewatch's rate
# shows the tail this machine and load generator give a server that does almost nothing. ---
HALF1_RATE=$(python3 -c "print(round($(field "$ON1" rps) / 2))")
HALF10_RATE=$(python3 -c "print(round($(field "$ON10" rps) / 2))")
declare -a HALF1_RUNS HALF10_RUNS HALF_FLOOR_RUNS
for round in 1 2 3; do
  log "open loop $round/3: tidewatch 1% at $HALF1_RATE req/s, 10% at $HALF10_RATE req/s, floor at $HALF1_RATE req/s"
  measure on1 --rate "$HALF1_RATE"; HALF1_RUNS+=("$RESULT")
  measure on10 --rate "$HALF10_RATE"; HALF10_RUNS+=("$RESULT")
  HALF_FLOOR_RUNS+=("$(load "http://127.0.0.1:$FLOOR_PORT/v1/predict" "$FLOOR_PID" --rate "$HALF1_RATE")")
done
stop_pid "$FLOOR_PID"
HALF1=$(median_by p99_ms "${HALF1_RUNS[@]}")
HALF10=$(median_by p99_ms "${HALF10_RUNS[@]}")
HALF_FLOOR=$(median_by p99_ms "${HALF_FLOOR_RUNS[@]}")

# every run of every round, for the paired overheads below and for anyone checking the medians
as_json_list() {
  python3 -c 'import json, sys; print(json.dumps([json.loads(r) for r in sys.argv[1:]]))' "$@"
}
ROUNDS_JSON=$(python3 -c 'import json, sys; print(json.dumps(dict(zip(["floor", "off", "on1", "on10", "pair1", "pair10", "floor_pair", "half1", "half10", "half_floor"], map(json.loads, sys.argv[1:])))))' \
  "$(as_json_list "${FLOOR_RUNS[@]}")" "$(as_json_list "${OFF_RUNS[@]}")" \
  "$(as_json_list "${ON1_RUNS[@]}")" "$(as_json_list "${ON10_RUNS[@]}")" \
  "$(as_json_list "${PAIR1_RUNS[@]}")" "$(as_json_list "${PAIR10_RUNS[@]}")" \
  "$(as_json_list "${FLOOR_PAIR_RUNS[@]}")" "$(as_json_list "${HALF1_RUNS[@]}")" \
  "$(as_json_list "${HALF10_RUNS[@]}")" "$(as_json_list "${HALF_FLOOR_RUNS[@]}")")
mkdir -p "$OUT_DIR"
echo "$ROUNDS_JSON" > "$OUT_DIR/rounds.json"
BENCH_PINNED=$([ ${#ON_SERVER_CPU[@]} -gt 0 ] && echo 1 || echo 0) python3 - "$FLOOR" "$BASELINE" "$OFF" "$ON1" "$ON10" "$HALF1" "$HALF10" "$HALF_FLOOR" "$RUN_SECONDS" "$CONNECTIONS" "$ROUNDS" "$ROUNDS_JSON" \
  > "$OUT_DIR/results.md" <<'PY'
import json, os, sys
floor, base, off, on1, on10, half1, half10, half_floor = (json.loads(a) for a in sys.argv[1:9])
seconds, conns, rounds = sys.argv[9:12]
by_round = json.loads(sys.argv[12])
load = open("/proc/loadavg").read().split()[:3]
pinned = os.environ.get("BENCH_PINNED") == "1"
print(f"Machine: {os.cpu_count()} CPUs (load average {' '.join(load)} at the end); "
      + ("each server pinned to one CPU, the load generator and OTLP sink to another." if pinned
         else "nothing pinned."))
print(f"Each run: {seconds} s after 2 s warm-up, {conns} keep-alive connections, one server worker;")
print(f"closed loop unless stated; floor and tidewatch rows are the median of {rounds} interleaved rounds,")
print("open-loop rows the run with the median p99 of 3 interleaved rounds.")
print("Server CPU is user + system time of the server process per answered request.")
print()
print("Stolen is the share of the server's CPU the hypervisor gave to other guests during the run.")
print()
print("| target | req/s | p50 ms | p99 ms | server CPU us/request | stolen % | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
rows = [
    ("actix-web hello-world floor", floor),
    ("FastAPI + scikit-learn baseline (1 worker)", base),
    ("tidewatch, metrics + tracing off", off),
    ("tidewatch, metrics + tracing on, 1% sampled (default)", on1),
    ("tidewatch, metrics + tracing on, 10% sampled", on10),
    (f"tidewatch 1% sampled, open loop at {round(on1['rps'] / 2)} req/s (half of peak)", half1),
    (f"tidewatch 10% sampled, open loop at {round(on10['rps'] / 2)} req/s (half of peak)", half10),
    (f"floor, open loop at {round(on1['rps'] / 2)} req/s (tidewatch 1%'s half of peak)", half_floor),
]
for name, r in rows:
    print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
          f"{r['server_cpu_us_per_request']:.1f} | {r['stolen_pct']:.1f} | {r['errors']} |")
print()
def verdict(ok): return "met" if ok else "NOT met"
def median(values): return sorted(values)[len(values) // 2]
def listed(values): return ", ".join(f"{v:.1f}" for v in values)
CPU = "server_cpu_us_per_request"
# Percent change of `key` from an off run to an instrumented one.
def change(off_run, on_run, key): return (on_run[key] / off_run[key] - 1) * 100
# Consecutive overheads pair the off and on runs of the same round (they ran seconds
# apart), then take the median over rounds: steadier than comparing two medians taken
# from different rounds. Side-by-side runs come as ready-made pairs.
for label, mode, pair, on, half in [("1% sampled (default)", "on1", "pair1", on1, half1),
                                    ("10% sampled", "on10", "pair10", on10, half10)]:
    ratio_base = on["rps"] / base["rps"] if base["rps"] else float("inf")
    ratio_floor = on["rps"] / floor["rps"]
    rounds_off_on = list(zip(by_round["off"], by_round[mode]))
    per_round = [-change(o, n, "rps") for o, n in rounds_off_on]
    overhead = median(per_round)
    cpu_overhead = median([change(o, n, CPU) for o, n in rounds_off_on])
    concurrent = [change(p["reference"], p["on"], CPU) for p in by_round[pair]]
    floor_text = f"{ratio_floor:.2f} of the floor (target >= 0.6: {verdict(ratio_floor >= 0.6)}"
    if mode == "on1":
        # Capacity per CPU second, floor and tidewatch measured at the same time.
        shares = [p["reference"][CPU] / p["on"][CPU] for p in by_round["floor_pair"]]
        floor_text += (f"; side by side on one CPU {median(shares):.2f}, median of rounds "
                       f"{', '.join(f'{s:.2f}' for s in shares)}: {verdict(median(shares) >= 0.6)}")
    floor_text += ")"
    half_text = f"p99 {half['p99_ms']:.2f} ms at half of peak (target <= 5 ms: {verdict(half['p99_ms'] <= 5)}"
    half_text += f", median of rounds {listed(r['p99_ms'] for r in by_round[mode.replace('on', 'half')])}"
    if mode == "on1":
        half_text += f"; the floor at the same rate: {half_floor['p99_ms']:.2f} ms"
    half_text += ")"
    print(f"- {label}: {ratio_base:.1f}x the baseline (target >= 25x: {verdict(ratio_base >= 25)}), "
          f"{floor_text}, {half_text}; "
          f"instrumentation overhead (target <= 5%): {overhead:.1f}% of req/s in consecutive runs "
          f"(median of rounds {listed(per_round)}; {verdict(overhead <= 5)}), {cpu_overhead:+.1f}% CPU per request, "
          f"{median(concurrent):+.1f}% CPU per request side by side on one CPU "
          f"(median of rounds {listed(concurrent)}; {verdict(median(concurrent) <= 5)})")
PY
cat "$OUT_DIR/results.md"
