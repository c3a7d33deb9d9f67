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
	is_running "$c" && stopped=$((stopped + 1))
	stop_process "$pid_dir/$c.pid" 10 "$c (pid $pid)"
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
