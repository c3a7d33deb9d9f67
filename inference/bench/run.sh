#!/usr/bin/env bash
# Side-by-side load test of tidewatch-inference against (a) a FastAPI + scikit-learn
# baseline (one uvicorn worker, same features and users) and (b) an actix-web hello-world
# floor, plus the overhead of metrics + tracing against both switched off.
#
# Loopback only, every run bounded in time; all processes started here are stopped by PID.
# Knobs: BENCH_SECONDS (per run, default 8), BENCH_CONNECTIONS (default 32),
#        BENCH_ROUNDS (on/off pairs, default 3), BENCH_VENV (Python venv location).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/inference/bench"
RUN_SECONDS=${BENCH_SECONDS:-8}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
ROUNDS=${BENCH_ROUNDS:-3}
VENV=${BENCH_VENV:-$HOME/.cache/tidewatch/bench-venv}
OUT_DIR="$ROOT/target/bench"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[bench] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    sleep 0.1
  done
  log "not answering: $1"
  return 1
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

log "building release binaries (server, floor, load generator)"
cargo build --release -q -p tidewatch-inference --bin tidewatch-inference \
  --example floor --example loadgen --example export_bench_data
BIN="$ROOT/target/release"

if [ ! -x "$VENV/bin/uvicorn" ] || ! "$VENV/bin/python" -c 'import sklearn, fastapi' 2>/dev/null; then
  log "installing the baseline's Python dependencies into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/baseline/requirements.txt"
fi

"$BIN/examples/export_bench_data" "$WORK/data"
cat > "$WORK/body.json" <<'JSON'
{"transaction_id":"bench-1","user_id":"user-000123","amount":84.2,"currency":"USD","merchant_category":"electronics","merchant_country":"US","card_present":false,"local_hour":21}
JSON

# loadgen URL [--rate R] -> one JSON line
load() {
  local url=$1; shift
  "$BIN/examples/loadgen" --url "$url" --body-file "$WORK/body.json" \
    --connections "$CONNECTIONS" --seconds "$RUN_SECONDS" --warmup 2 "$@"
}

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# --- floor (also the OTLP sink for the instrumented runs) ---
FLOOR_PORT=$(free_port)
"$BIN/examples/floor" "127.0.0.1:$FLOOR_PORT" 1 >/dev/null 2>&1 &
FLOOR_PID=$!; PIDS+=("$FLOOR_PID")
wait_http "http://127.0.0.1:$FLOOR_PORT/"
log "floor"
FLOOR=$(load "http://127.0.0.1:$FLOOR_PORT/v1/predict")

# --- baseline ---
BASE_PORT=$(free_port)
( cd "$HERE/baseline" && BENCH_DATA="$WORK/data" exec "$VENV/bin/uvicorn" app:app \
    --host 127.0.0.1 --port "$BASE_PORT" --workers 1 --log-level warning --no-access-log ) &
BASE_PID=$!; PIDS+=("$BASE_PID")
wait_http "http://127.0.0.1:$BASE_PORT/healthz"
log "baseline (FastAPI + scikit-learn, one worker)"
BASELINE=$(load "http://127.0.0.1:$BASE_PORT/v1/predict")
stop "$BASE_PID"

# --- tidewatch-inference, instrumentation off / on, alternating ---
serve() {
  local port=$1; shift
  TIDEWATCH_LOG_FORMAT=json RUST_LOG=warn "$BIN/tidewatch-inference" serve \
    --listen "127.0.0.1:$port" --workers 1 --shutdown-delay-seconds 0 "$@" >"$WORK/serve-$port.log" 2>&1 &
  echo $!
}

declare -a OFF_RUNS ON_RUNS
for round in $(seq 1 "$ROUNDS"); do
  for mode in off on; do
    PORT=$(free_port)
    if [ "$mode" = off ]; then
      PID=$(serve "$PORT" --disable-instrumentation)
    else
      PID=$(serve "$PORT" --otlp-endpoint "http://127.0.0.1:$FLOOR_PORT" --trace-sample-ratio 0.1)
    fi
    PIDS+=("$PID")
    wait_http "http://127.0.0.1:$PORT/readyz"
    log "tidewatch-inference, instrumentation $mode, round $round"
    RESULT=$(load "http://127.0.0.1:$PORT/v1/predict")
    if [ "$mode" = off ]; then OFF_RUNS+=("$RESULT"); else ON_RUNS+=("$RESULT"); fi
    if [ "$mode" = on ] && [ "$round" = "$ROUNDS" ]; then
      ON_PORT=$PORT; ON_PID=$PID
    else
      stop "$PID"
    fi
  done
done

median_run() {
  python3 - "$@" <<'PY'
import json, sys
runs = sorted((json.loads(r) for r in sys.argv[1:]), key=lambda r: r["rps"])
print(json.dumps(runs[len(runs) // 2]))
PY
}
OFF=$(median_run "${OFF_RUNS[@]}")
ON=$(median_run "${ON_RUNS[@]}")

# --- latency at half of peak (open loop, instrumented server) ---
HALF_RATE=$(python3 -c "print(round($(field "$ON" rps) / 2))")
log "tidewatch-inference at half of peak: $HALF_RATE req/s"
HALF=$(load "http://127.0.0.1:$ON_PORT/v1/predict" --rate "$HALF_RATE")
ERRORS=$(curl -s "http://127.0.0.1:$ON_PORT/metrics" | grep -c 'code="5' || true)
stop "$ON_PID"
stop "$FLOOR_PID"

mkdir -p "$OUT_DIR"
python3 - "$FLOOR" "$BASELINE" "$OFF" "$ON" "$HALF" "$RUN_SECONDS" "$CONNECTIONS" "$ROUNDS" "$ERRORS" \
  > "$OUT_DIR/results.md" <<'PY'
import json, os, sys
floor, base, off, on, half = (json.loads(a) for a in sys.argv[1:6])
seconds, conns, rounds, errors = sys.argv[6:10]
load = open("/proc/loadavg").read().split()[:3]
print(f"Machine: {os.cpu_count()} CPUs, load average {' '.join(load)} at the end (shared with other work).")
print(f"Each run: {seconds} s after 2 s warm-up, {conns} keep-alive connections, closed loop;")
print(f"tidewatch runs are the median of {rounds} alternating off/on rounds; one server worker each.")
print()
print("| target | req/s | p50 ms | p99 ms | errors |")
print("|---|---:|---:|---:|---:|")
for name, r in [("actix-web floor", floor), ("FastAPI + scikit-learn baseline (1 worker)", base),
                ("tidewatch, metrics + tracing off", off), ("tidewatch, metrics + tracing on", on),
                (f"tidewatch on, open loop at {round(on['rps']/2)} req/s (half of peak)", half)]:
    print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")
print()
ratio_base = on["rps"] / base["rps"] if base["rps"] else float("inf")
ratio_floor = on["rps"] / floor["rps"]
overhead = (off["rps"] - on["rps"]) / off["rps"] * 100
def verdict(ok): return "met" if ok else "NOT met"
print(f"- throughput vs baseline: {ratio_base:.1f}x (target >= 25x: {verdict(ratio_base >= 25)})")
print(f"- throughput vs floor: {ratio_floor:.2f} (target >= 0.6: {verdict(ratio_floor >= 0.6)})")
print(f"- p99 at half of peak: {half['p99_ms']:.2f} ms (target <= 5 ms: {verdict(half['p99_ms'] <= 5)})")
print(f"- overhead of metrics + tracing: {overhead:.1f}% of throughput (target <= 5%: {verdict(overhead <= 5)})")
print(f"- 5xx series on the instrumented server after the runs: {errors}")
PY
cat "$OUT_DIR/results.md"
