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

# --- baseline (once: it is two orders of magnitude away from the others) ---
BASE_PORT=$(free_port)
( cd "$HERE/baseline" && BENCH_DATA="$WORK/data" exec "$VENV/bin/uvicorn" app:app \
    --host 127.0.0.1 --port "$BASE_PORT" --workers 1 --log-level warning --no-access-log ) &
BASE_PID=$!; PIDS+=("$BASE_PID")
wait_http "http://127.0.0.1:$BASE_PORT/healthz"
log "baseline (FastAPI + scikit-learn, one worker)"
BASELINE=$(load "http://127.0.0.1:$BASE_PORT/v1/predict")
stop "$BASE_PID"

# --- floor and tidewatch-inference (off, on at 1% and 10% trace sampling), interleaved
# so that load from other work on the machine spreads over all of them ---
serve() {
  local port=$1; shift
  TIDEWATCH_LOG_FORMAT=json RUST_LOG=warn "$BIN/tidewatch-inference" serve \
    --listen "127.0.0.1:$port" --workers 1 --shutdown-delay-seconds 0 "$@" >"$WORK/serve-$port.log" 2>&1 &
  echo $!
}

# measure MODE [loadgen flags] -> sets RESULT (runs in this shell so PIDS stays complete)
measure() {
  local mode=$1 port pid
  port=$(free_port)
  case "$mode" in
    off) pid=$(serve "$port" --disable-instrumentation) ;;
    on1) pid=$(serve "$port" --otlp-endpoint "http://127.0.0.1:$FLOOR_PORT" --trace-sample-ratio 0.01) ;;
    on10) pid=$(serve "$port" --otlp-endpoint "http://127.0.0.1:$FLOOR_PORT" --trace-sample-ratio 0.1) ;;
  esac
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/readyz"
  RESULT=$(load "http://127.0.0.1:$port/v1/predict" "${@:2}")
  if curl -s "http://127.0.0.1:$port/metrics" | grep -q 'route="/v1/predict".*code="5'; then
    log "5xx answers from the $mode server"
  fi
  stop "$pid"
}

declare -a FLOOR_RUNS OFF_RUNS ON1_RUNS ON10_RUNS
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: floor"
  FLOOR_RUNS+=("$(load "http://127.0.0.1:$FLOOR_PORT/v1/predict")")
  log "round $round/$ROUNDS: tidewatch, instrumentation off"
  measure off; OFF_RUNS+=("$RESULT")
  log "round $round/$ROUNDS: tidewatch, metrics + tracing (1% sampled)"
  measure on1; ON1_RUNS+=("$RESULT")
  log "round $round/$ROUNDS: tidewatch, metrics + tracing (10% sampled)"
  measure on10; ON10_RUNS+=("$RESULT")
done

median_run() {
  python3 - "$@" <<'PY'
import json, sys
runs = sorted((json.loads(r) for r in sys.argv[1:]), key=lambda r: r["rps"])
print(json.dumps(runs[len(runs) // 2]))
PY
}
FLOOR=$(median_run "${FLOOR_RUNS[@]}")
OFF=$(median_run "${OFF_RUNS[@]}")
ON1=$(median_run "${ON1_RUNS[@]}")
ON10=$(median_run "${ON10_RUNS[@]}")

# --- latency at half of peak (open loop, instrumented server) ---
HALF1_RATE=$(python3 -c "print(round($(field "$ON1" rps) / 2))")
log "tidewatch (1% sampled) open loop at $HALF1_RATE req/s"
measure on1 --rate "$HALF1_RATE"; HALF1=$RESULT
HALF10_RATE=$(python3 -c "print(round($(field "$ON10" rps) / 2))")
log "tidewatch (10% sampled) open loop at $HALF10_RATE req/s"
measure on10 --rate "$HALF10_RATE"; HALF10=$RESULT
stop "$FLOOR_PID"

mkdir -p "$OUT_DIR"
python3 - "$FLOOR" "$BASELINE" "$OFF" "$ON1" "$ON10" "$HALF1" "$HALF10" "$RUN_SECONDS" "$CONNECTIONS" "$ROUNDS" \
  > "$OUT_DIR/results.md" <<'PY'
import json, os, sys
floor, base, off, on1, on10, half1, half10 = (json.loads(a) for a in sys.argv[1:8])
seconds, conns, rounds = sys.argv[8:11]
load = open("/proc/loadavg").read().split()[:3]
print(f"Machine: {os.cpu_count()} CPUs shared with other work (load average {' '.join(load)} at the end).")
print(f"Each run: {seconds} s after 2 s warm-up, {conns} keep-alive connections, one server worker;")
print(f"closed loop unless stated; floor and tidewatch rows are the median of {rounds} interleaved rounds.")
print()
print("| target | req/s | p50 ms | p99 ms | errors |")
print("|---|---:|---:|---:|---:|")
rows = [
    ("actix-web hello-world floor", floor),
    ("FastAPI + scikit-learn baseline (1 worker)", base),
    ("tidewatch, metrics + tracing off", off),
    ("tidewatch, metrics + tracing on, 1% sampled", on1),
    ("tidewatch, metrics + tracing on, 10% sampled", on10),
    (f"tidewatch 1% sampled, open loop at {round(on1['rps'] / 2)} req/s (half of peak)", half1),
    (f"tidewatch 10% sampled, open loop at {round(on10['rps'] / 2)} req/s (half of peak)", half10),
]
for name, r in rows:
    print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")
print()
def verdict(ok): return "met" if ok else "NOT met"
for label, on, half in [("1% sampled", on1, half1), ("10% sampled", on10, half10)]:
    ratio_base = on["rps"] / base["rps"] if base["rps"] else float("inf")
    ratio_floor = on["rps"] / floor["rps"]
    overhead = (off["rps"] - on["rps"]) / off["rps"] * 100
    print(f"- {label}: {ratio_base:.1f}x the baseline (target >= 25x: {verdict(ratio_base >= 25)}), "
          f"{ratio_floor:.2f} of the floor (target >= 0.6: {verdict(ratio_floor >= 0.6)}), "
          f"p99 {half['p99_ms']:.2f} ms at half of peak (target <= 5 ms: {verdict(half['p99_ms'] <= 5)}), "
          f"instrumentation overhead {overhead:.1f}% (target <= 5%: {verdict(overhead <= 5)})")
PY
cat "$OUT_DIR/results.md"
