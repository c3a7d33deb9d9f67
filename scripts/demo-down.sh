#!/usr/bin/env bash
# `make demo-down`: stops what `make demo` started, by the PIDs it recorded (Prometheus,
# inference replicas, operator), then the demo's control plane. Safe to run twice.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TIDEWATCH_WORK_DIR="$PWD/e2e/.work/demo"
pid_dir="$TIDEWATCH_WORK_DIR/run/pids"

stopped=0
for file in "$pid_dir"/*.pid; do
	[[ -f "$file" ]] || continue
	pid="$(cat "$file")"
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
		stopped=$((stopped + 1))
	fi
	rm -f "$file"
done
echo "==> stopped $stopped demo processes"
e2e/cluster/down.sh
