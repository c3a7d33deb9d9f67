#!/usr/bin/env bash
# Restarts only kube-apiserver of the running local control plane, with the exact command
# line up.sh started it with (read back from /proc), on the same port, appending to the
# same log. `--down-seconds N` keeps it stopped for N seconds first. Clients see the
# connection drop and the server come back; etcd keeps every object.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

down_seconds=0
if [[ "${1:-}" == "--down-seconds" ]]; then down_seconds="${2:?}"; fi

pid="$(pid_of kube-apiserver || true)"
if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
	say "kube-apiserver is not running; start the cluster with 'make cluster-up'"
	exit 1
fi
mapfile -d '' argv <"/proc/$pid/cmdline"

kill -TERM "$pid"
for _ in $(seq 1 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
say "kube-apiserver (pid $pid) stopped"
sleep "$down_seconds"

"${argv[@]}" >>"$log_dir/kube-apiserver.log" 2>&1 &
echo $! >"$pid_dir/kube-apiserver.pid"
deadline=$((SECONDS + 60))
until "$bin_dir/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; do
	if ! is_running kube-apiserver; then
		say "kube-apiserver exited during restart"
		log_tail kube-apiserver 40
		exit 1
	fi
	if ((SECONDS > deadline)); then
		say "kube-apiserver not ready 60s after restart"
		exit 1
	fi
	sleep 0.3
done
say "kube-apiserver restarted (pid $(pid_of kube-apiserver))"
