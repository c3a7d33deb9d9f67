#!/usr/bin/env bash
# Stops every process of the local control plane by the PID recorded at start, in reverse
# start order, and waits until each has exited. `--quiet` says nothing when nothing runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quiet=false
[[ "${1:-}" == "--quiet" ]] && quiet=true

stopped=0
for ((i = ${#components[@]} - 1; i >= 0; i--)); do
	c="${components[$i]}"
	pid="$(pid_of "$c" || true)"
	[[ -n "$pid" ]] || continue
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "$c (pid $pid) ignored SIGTERM for 10s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		stopped=$((stopped + 1))
	fi
	rm -f "$pid_dir/$c.pid"
done

if ! $quiet || ((stopped > 0)); then
	say "stopped $stopped control-plane processes"
fi

# Every component's command line names a file under the state directory; anything still
# running with one is a leak (a component started by hand, or a lost PID file).
if leftovers="$(pgrep -af -- "$state_dir/" | grep -v -e pgrep -e down.sh)"; then
	say "processes of the local control plane are still running:"
	echo "$leftovers" >&2
	exit 1
fi
