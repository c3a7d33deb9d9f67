#!/usr/bin/env bash
# Restarts kube-apiserver of the running local control plane, with the exact command line
# up.sh started it with (read back from /proc), on the same port, appending to the same
# log. `--down-seconds N` keeps it stopped for N seconds first. Clients see the connection
# drop and the server come back; etcd keeps every object.
#
# kube-controller-manager and kube-scheduler are restarted too once the server is back:
# their informers can take a minute or more to catch up with a restarted server (the
# Deployment and ReplicaSet controllers then act on objects a minute late, and the node
# lifecycle controller may mark kwok's pods NotReady for good), which would time a test on
# the simulated cluster rather than on the code under test. kwok keeps running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

down_seconds=0
if [[ "${1:-}" == "--down-seconds" ]]; then down_seconds="${2:?}"; fi

if ! is_running kube-apiserver; then
	say "kube-apiserver is not running; start the cluster with 'make cluster-up'"
	exit 1
fi

# Stops a running component (TERM, KILL after 10 s), waits `$2` seconds, and starts it again
# with the command line it had, read back from /proc, appending to its log.
restart() {
	local component="$1" down="$2" pid argv
	pid="$(pid_of "$component")"
	mapfile -d '' argv <"/proc/$pid/cmdline"
	stop_pid "$pid" 10 "$component (pid $pid)"
	say "$component (pid $pid) stopped"
	sleep "$down"
	start_process --append "$pid_dir/$component.pid" "$log_dir/$component.log" "${argv[@]}"
}

restart kube-apiserver "$down_seconds"
if ! wait_until --alive "$pid_dir/kube-apiserver.pid" 60 \
	"$bin_dir/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz; then
	say "kube-apiserver not ready after its restart"
	log_tail kube-apiserver 40
	exit 1
fi
say "kube-apiserver restarted (pid $(pid_of kube-apiserver))"

for component in kube-controller-manager kube-scheduler; do
	is_running "$component" || continue
	restart "$component" 0
	sleep 1
	if ! is_running "$component"; then
		say "$component exited after its restart"
		log_tail "$component" 40
		exit 1
	fi
	say "$component restarted (pid $(pid_of "$component"))"
done
