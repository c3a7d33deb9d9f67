#!/usr/bin/env bash
# Load test of tidewatch-inference side by side with (a) MLServer 1.7.1 serving the same
# scikit-learn model on the same Open Inference Protocol route, (b) a FastAPI +
# scikit-learn baseline of /v1/predict (one uvicorn worker, same features and users),
# (c) an actix-web hello-world floor, plus the overhead of metrics + tracing against both
# switched off.
#
# Closed-loop throughput and latency come from wrk (one thread, Lua POST bodies), an
# external client that is not the bottleneck: against the floor it does about twice what
# tidewatch does, and its own CPU share is reported beside every row. The project's load
# generator (examples/loadgen.rs) is kept for what wrk cannot do: open loop at a fixed rate
# (p50/p99 and CPU per request at half of each server's peak), where the floor offered the
# same rate shows what the generator and the machine add.
#
# Loopback only, every run bounded in time; all processes started here are stopped by PID.
# With two or more CPUs the servers under test run on the last CPU and the clients on CPU
# 0 (taskset), so every server gets the same single core. The OTLP sink runs on the
# clients' CPU, like a collector on another machine would.
#
# Knobs: BENCH_SECONDS (per run, default 8), BENCH_CONNECTIONS (default 32),
#        BENCH_ROUNDS (interleaved rounds, default 5), BENCH_VENV (FastAPI venv location),
#        BENCH_MLSERVER_VENV (MLServer venv location).
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
MODEL_NAME=fraud-mlp
MODEL_VERSION=1.0.0
V2_PATH="/v2/models/$MODEL_NAME/infer"

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
CLIENT_CPU=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  ON_SERVER_CPU=(taskset -c "$(($(nproc) - 1))")
  ON_LOAD_CPU=(taskset -c 0)
  CLIENT_CPU=(--client-cpu 0)
  log "servers on CPU $(($(nproc) - 1)); clients (wrk, load generator) and OTLP sink on CPU 0"
else
  log "fewer than 2 CPUs or no taskset: nothing pinned, figures will be noisier"
fi

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $SUDO apt-get install -y -q wrk >/dev/null
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
MLSERVER_VENV=$("$HERE/mlserver/setup.sh")

"$BIN/examples/export_bench_data" "$WORK/data"
cat > "$WORK/body.json" <<'JSON'
{"transaction_id":"bench-1","user_id":"user-000123","amount":84.2,"currency":"USD","merchant_category":"electronics","merchant_country":"US","card_present":false,"local_hour":21}
JSON
# The same transaction's nine engineered features (user-000123's profile) as the Open
# Inference Protocol's FP32 tensor; both servers of the /v2 comparison get these bytes.
# MLServer's scikit-learn runtime answers `predict` (the class) unless asked for
# `predict_proba`, which tidewatch's probabilities are the equal of, so its body names that
# output; tidewatch has one output and refuses other names.
python3 - "$WORK/data/users.json" "$WORK" <<'PY'
import json, math, sys
user = json.load(open(sys.argv[1]))["user-000123"]
amount, avg = 84.2, max(user["avg_amount_30d"], 1.0)
row = [math.log(amount + 1.0), min(max(math.log(amount / avg), -5.0), 8.0),
       min(max(user["txn_count_24h"], 0.0), 200.0), math.log(max(user["account_age_days"], 0.0) + 1.0),
       float(user["home_country"].upper() != "US"), min(max(user["chargebacks_90d"], 0.0), 50.0),
       0.0, 1.0, 1.0]
tensor = {"id": "bench-1", "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 9], "data": row}]}
open(f"{sys.argv[2]}/tensor.json", "w").write(json.dumps(tensor, separators=(",", ":")))
tensor["outputs"] = [{"name": "predict_proba"}]
open(f"{sys.argv[2]}/tensor-mlserver.json", "w").write(json.dumps(tensor, separators=(",", ":")))
PY

# load URL SERVER_PID BODY_FILE [--rate R] -> one JSON line, with the server's CPU per
# request: wrk in closed loop, the project's load generator at a fixed rate
load() {
  local url=$1 pid=$2 body=$3; shift 3
  if [ "${1:-}" = --rate ]; then
    "${ON_LOAD_CPU[@]}" "$BIN/examples/loadgen" --url "$url" --body-file "$body" \
      --connections "$CONNECTIONS" --seconds "$RUN_SECONDS" --warmup 2 --cpu-pid "$pid" "$@" |
      python3 -c 'import json, sys; r = json.loads(sys.stdin.read()); r["offered_rps"] = float(sys.argv[1]); r["load1"] = float(open("/proc/loadavg").read().split()[0]); print(json.dumps(r))' "$2"
  else
    python3 "$HERE/wrk/load.py" --url "$url" --body-file "$body" --connections "$CONNECTIONS" \
      --seconds "$RUN_SECONDS" --warmup 2 --cpu-pid "$pid" "${CLIENT_CPU[@]}"
  fi
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

# --- the Python servers, up for the whole run on the servers' CPU (idle between their
# rounds): the FastAPI baseline, and MLServer with the same model ---
BASE_PORT=$(free_port)
( cd "$HERE/baseline" && BENCH_DATA="$WORK/data" exec "${ON_SERVER_CPU[@]}" "$VENV/bin/uvicorn" app:app \
    --host 127.0.0.1 --port "$BASE_PORT" --workers 1 --log-level warning --no-access-log ) &
BASE_PID=$!; PIDS+=("$BASE_PID")

log "training MLServer's model (the baseline's scikit-learn pipeline)"
PYTHONPATH="$HERE/baseline" "$MLSERVER_VENV/bin/python" "$HERE/mlserver/write_model.py" \
  "$WORK/data" "$WORK/mlserver" "$MODEL_NAME" "$MODEL_VERSION"
MLSERVER_PORT=$(free_port)
# parallel_workers 0 scores in the server's own process: MLServer's default pool of
# inference worker processes fails to start on Python 3.11 here ("There is no current
# event loop"). One process on one CPU is also what tidewatch's one worker gets.
cat > "$WORK/mlserver/settings.json" <<JSON
{"host": "127.0.0.1", "http_port": $MLSERVER_PORT, "grpc_port": $(free_port),
 "metrics_port": $(free_port), "parallel_workers": 0, "debug": false}
JSON
( cd "$WORK/mlserver" && exec "${ON_SERVER_CPU[@]}" "$MLSERVER_VENV/bin/mlserver" start . \
    >"$WORK/mlserver.log" 2>&1 ) &
MLSERVER_PID=$!; PIDS+=("$MLSERVER_PID")
wait_for_url 60 "http://127.0.0.1:$BASE_PORT/healthz"
wait_for_url 120 "http://127.0.0.1:$MLSERVER_PORT/v2/models/$MODEL_NAME/ready" ||
  { cat "$WORK/mlserver.log" >&2; exit 1; }
# Both /v2 servers must answer the tensor body with a probability before being timed.
curl -sf -H 'content-type: application/json' --data-binary @"$WORK/tensor-mlserver.json" \
  "http://127.0.0.1:$MLSERVER_PORT$V2_PATH" > "$WORK/mlserver-answer.json" ||
  { cat "$WORK/mlserver.log" >&2; exit 1; }
log "MLServer answers: $(cat "$WORK/mlserver-answer.json")"

# --- tidewatch-inference: started for each measurement ---
serve() {
  local port=$1; shift
  TIDEWATCH_LOG_FORMAT=json RUST_LOG=warn "${ON_SERVER_CPU[@]}" "$BIN/tidewatch-inference" serve \
    --listen "127.0.0.1:$port" --workers 1 --shutdown-delay-seconds 0 "$@" >"$WORK/serve-$port.log" 2>&1 &
  echo $!
}

# start MODE -> sets PORT and PID of a ready tidewatch server in that mode
start() {
  PORT=$(free_port)
  case "$1" in
    off) PID=$(serve "$PORT" --disable-instrumentation) ;;
    on1) PID=$(serve "$PORT" --otlp-endpoint "http://127.0.0.1:$SINK_PORT" --trace-sample-ratio 0.01) ;;
    on10) PID=$(serve "$PORT" --otlp-endpoint "http://127.0.0.1:$SINK_PORT" --trace-sample-ratio 0.1) ;;
  esac
  PIDS+=("$PID")
  wait_for_url 60 "http://127.0.0.1:$PORT/readyz"
}

# finish MODE: says so when the server answered 5xx, then stops it
finish() {
  if curl -s "http://127.0.0.1:$PORT/metrics" | grep -q 'route="/v[12][^"]*".*code="5'; then
    log "5xx answers from the $1 server"
  fi
  stop_pid "$PID"
}

# measure MODE [load flags] -> sets RESULT: /v1/predict of a fresh server in that mode
measure() {
  start "$1"
  RESULT=$(load "http://127.0.0.1:$PORT/v1/predict" "$PID" "$WORK/body.json" "${@:2}")
  finish "$1"
}

declare -a FLOOR_RUNS OFF_RUNS ON1_RUNS ON1_V2_RUNS ON10_RUNS BASE_RUNS MLSERVER_RUNS
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS (load average $(cut -d' ' -f1-3 /proc/loadavg)): floor"
  FLOOR_RUNS+=("$(load "http://127.0.0.1:$FLOOR_PORT/v1/predict" "$FLOOR_PID" "$WORK/body.json")")
  log "round $round/$ROUNDS: tidewatch, instrumentation off"
  measure off; OFF_RUNS+=("$RESULT")
  log "round $round/$ROUNDS: tidewatch, metrics + tracing (1% sampled), /v1/predict and $V2_PATH"
  start on1
  ON1_RUNS+=("$(load "http://127.0.0.1:$PORT/v1/predict" "$PID" "$WORK/body.json")")
  ON1_V2_RUNS+=("$(load "http://127.0.0.1:$PORT$V2_PATH" "$PID" "$WORK/tensor.json")")
  finish on1
  log "round $round/$ROUNDS: tidewatch, metrics + tracing (10% sampled)"
  measure on10; ON10_RUNS+=("$RESULT")
  log "round $round/$ROUNDS: FastAPI baseline, /v1/predict"
  BASE_RUNS+=("$(load "http://127.0.0.1:$BASE_PORT/v1/predict" "$BASE_PID" "$WORK/body.json")")
  log "round $round/$ROUNDS: MLServer, $V2_PATH"
  MLSERVER_RUNS+=("$(load "http://127.0.0.1:$MLSERVER_PORT$V2_PATH" "$MLSERVER_PID" "$WORK/tensor-mlserver.json")")
done

# --- side by side: an instrumented server and a reference (the off server, or the floor)
# on the same CPU at the same time, each loaded by its own wrk with half the connections.
# Whatever slows the machine down slows both alike, so their CPU per request compares
# closely even when back-to-back runs of one build differ by 20 %. The two also evict each
# other's caches, which inflates both and, with its larger working set, probably the
# instrumented one more: read it as pessimistic for tidewatch. ---
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
  CONNECTIONS=$((CONNECTIONS / 2)) load "http://127.0.0.1:$ref_port/v1/predict" "$ref_pid" "$WORK/body.json" > "$WORK/pair-ref.json" &
  ref_load=$!
  on_json=$(CONNECTIONS=$((CONNECTIONS / 2)) load "http://127.0.0.1:$on_port/v1/predict" "$on_pid" "$WORK/body.json")
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
ON1_V2=$(median_by rps "${ON1_V2_RUNS[@]}")
ON10=$(median_by rps "${ON10_RUNS[@]}")
BASELINE=$(median_by rps "${BASE_RUNS[@]}")
MLSERVER=$(median_by rps "${MLSERVER_RUNS[@]}")

# --- latency at half of each one's peak (open loop, the project's load generator), three
# interleaved rounds, the median p99 kept: one stall of the virtual CPU can set a single
# run's p99. The floor offered tidewatch's rate shows the tail this machine and load
# generator give a server that does almost nothing. ---
half() { python3 -c "print(round($(field "$1" rps) / 2))"; }
HALF1_RATE=$(half "$ON1"); HALF10_RATE=$(half "$ON10"); HALF_V2_RATE=$(half "$ON1_V2")
HALF_BASE_RATE=$(half "$BASELINE"); HALF_MLSERVER_RATE=$(half "$MLSERVER")
declare -a HALF1_RUNS HALF10_RUNS HALF_FLOOR_RUNS HALF_V2_RUNS HALF_BASE_RUNS HALF_MLSERVER_RUNS
for round in 1 2 3; do
  log "open loop $round/3: tidewatch 1% at $HALF1_RATE req/s (/v2: $HALF_V2_RATE), 10% at $HALF10_RATE, floor at $HALF1_RATE, FastAPI at $HALF_BASE_RATE, MLServer at $HALF_MLSERVER_RATE"
  start on1
  HALF1_RUNS+=("$(load "http://127.0.0.1:$PORT/v1/predict" "$PID" "$WORK/body.json" --rate "$HALF1_RATE")")
  HALF_V2_RUNS+=("$(load "http://127.0.0.1:$PORT$V2_PATH" "$PID" "$WORK/tensor.json" --rate "$HALF_V2_RATE")")
  finish on1
  measure on10 --rate "$HALF10_RATE"; HALF10_RUNS+=("$RESULT")
  HALF_FLOOR_RUNS+=("$(load "http://127.0.0.1:$FLOOR_PORT/v1/predict" "$FLOOR_PID" "$WORK/body.json" --rate "$HALF1_RATE")")
  HALF_BASE_RUNS+=("$(load "http://127.0.0.1:$BASE_PORT/v1/predict" "$BASE_PID" "$WORK/body.json" --rate "$HALF_BASE_RATE")")
  HALF_MLSERVER_RUNS+=("$(load "http://127.0.0.1:$MLSERVER_PORT$V2_PATH" "$MLSERVER_PID" "$WORK/tensor-mlserver.json" --rate "$HALF_MLSERVER_RATE")")
done
stop_pid "$FLOOR_PID"; stop_pid "$BASE_PID"; stop_pid "$MLSERVER_PID"
HALF1=$(median_by p99_ms "${HALF1_RUNS[@]}")
HALF10=$(median_by p99_ms "${HALF10_RUNS[@]}")
HALF_FLOOR=$(median_by p99_ms "${HALF_FLOOR_RUNS[@]}")
HALF_V2=$(median_by p99_ms "${HALF_V2_RUNS[@]}")
HALF_BASE=$(median_by p99_ms "${HALF_BASE_RUNS[@]}")
HALF_MLSERVER=$(median_by p99_ms "${HALF_MLSERVER_RUNS[@]}")

# every run of every round, for the paired overheads below and for anyone checking the medians
as_json_list() {
  python3 -c 'import json, sys; print(json.dumps([json.loads(r) for r in sys.argv[1:]]))' "$@"
}
KEYS=(floor off on1 on1_v2 on10 baseline mlserver pair1 pair10 floor_pair half1 half10 half_floor half_v2 half_baseline half_mlserver)
ROUNDS_JSON=$(python3 -c 'import json, sys; keys = sys.argv[1].split(); print(json.dumps(dict(zip(keys, map(json.loads, sys.argv[2:])))))' "${KEYS[*]}" \
  "$(as_json_list "${FLOOR_RUNS[@]}")" "$(as_json_list "${OFF_RUNS[@]}")" \
  "$(as_json_list "${ON1_RUNS[@]}")" "$(as_json_list "${ON1_V2_RUNS[@]}")" \
  "$(as_json_list "${ON10_RUNS[@]}")" "$(as_json_list "${BASE_RUNS[@]}")" \
  "$(as_json_list "${MLSERVER_RUNS[@]}")" \
  "$(as_json_list "${PAIR1_RUNS[@]}")" "$(as_json_list "${PAIR10_RUNS[@]}")" \
  "$(as_json_list "${FLOOR_PAIR_RUNS[@]}")" "$(as_json_list "${HALF1_RUNS[@]}")" \
  "$(as_json_list "${HALF10_RUNS[@]}")" "$(as_json_list "${HALF_FLOOR_RUNS[@]}")" \
  "$(as_json_list "${HALF_V2_RUNS[@]}")" "$(as_json_list "${HALF_BASE_RUNS[@]}")" \
  "$(as_json_list "${HALF_MLSERVER_RUNS[@]}")")
mkdir -p "$OUT_DIR"
echo "$ROUNDS_JSON" > "$OUT_DIR/rounds.json"
BENCH_PINNED=$([ ${#ON_SERVER_CPU[@]} -gt 0 ] && echo 1 || echo 0) \
  python3 "$HERE/report.py" "$ROUNDS_JSON" "$RUN_SECONDS" "$CONNECTIONS" "$ROUNDS" > "$OUT_DIR/results.md"
cat "$OUT_DIR/results.md"
