#!/usr/bin/env bash
# Reports each control-plane process; a component that has died is reported with the
# tail of its log and makes the script exit non-zero.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dead=0
for c in "${components[@]}"; do
	pid="$(pid_of "$c" || true)"
	if [[ -z "$pid" ]]; then
		say "$c: not started"
		dead=$((dead + 1))
	elif pid_running "$pid"; then
		say "$c: running (pid $pid)"
	else
		say "$c: DIED (pid $pid)"
		log_tail "$c" 30
		dead=$((dead + 1))
	fi
done
exit $((dead > 0))
