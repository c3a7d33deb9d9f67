#!/usr/bin/env bash
# `make demo-down`: stops what `make demo` started, by the PIDs it recorded (Prometheus,
# inference replicas, operator), the demo's real node (restoring the host's settings), then
# the demo's control plane. Safe to run twice.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TIDEWATCH_WORK_DIR="$PWD/e2e/.work/demo"
pid_dir="$TIDEWATCH_WORK_DIR/run/pids"

# shellcheck source=lib/proc.sh
source scripts/lib/proc.sh

stopped=0
for file in "$pid_dir"/*.pid; do
	[[ -f "$file" ]] || continue
	process_running "$file" && stopped=$((stopped + 1))
	stop_process "$file" 10 "$(basename "$file" .pid)"
done
echo "==> stopped $stopped demo processes"
if [[ $(id -u) -eq 0 ]]; then e2e/node/down.sh --quiet; fi
e2e/cluster/down.sh
