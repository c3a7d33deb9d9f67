#!/usr/bin/env bash
# Stops the real node and gives the host back as up.sh found it: every pod sandbox removed
# through the CRI (so the CNI tears down its network), the kubelet, kube-proxy, the API
# server forwarder and containerd stopped by PID (and containerd's shims after them),
# mounts under the node's directories unmounted, its cgroups removed, the nftables tables,
# the bridge, and the saved sysctls restored. Safe to run twice, and after a crash.
# `--quiet` says nothing when nothing runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quiet=false
[[ "${1:-}" == "--quiet" ]] && quiet=true
note() { $quiet || say "$@"; }

stop() { stop_process "$node_pid_dir/$1.pid" "${2:-10}" "$1"; }

# The host's bridge and tables belong to the node that runs; another work directory's node
# is left alone.
if [[ -f "$run_dir/owner" ]] && [[ "$(cat "$run_dir/owner")" != "$node_dir" ]] &&
	process_running "$(cat "$run_dir/owner")/pids/containerd.pid"; then
	note "the real node running here is $(cat "$run_dir/owner")'s; leaving it"
	exit 0
fi

# The Node object goes first, while the API server is there to take the deletion; its pods
# are then removed below, without waiting for the API.
if [[ -f "$kubeconfig" ]] && kubectl_admin get node "$node_name" >/dev/null 2>&1; then
	kubectl_admin delete node "$node_name" --wait=false >/dev/null 2>&1 || true
fi
stop kubelet 15

if [[ -S "$containerd_socket" ]] && node_component_running containerd; then
	crictl=("$node_bin_dir/crictl" --runtime-endpoint "unix://$containerd_socket" --timeout 30s)
	if pods="$("${crictl[@]}" pods -q 2>/dev/null)" && [[ -n "$pods" ]]; then
		note "removing $(wc -l <<<"$pods") pod sandboxes"
		"${crictl[@]}" rmp --force --all >/dev/null 2>&1 || say "crictl rmp failed; continuing"
	fi
fi
stop kube-proxy
stop apiserver-proxy
stop containerd 15
# A shim outlives containerd by design; the ones of this node name its socket.
if shims="$(pgrep -f -- "containerd-shim.*-address $containerd_socket")"; then
	kill -KILL $shims 2>/dev/null || true
fi

# Mounts under the node's directories, deepest first: pod volumes, sandbox shm and
# network namespaces, overlay root file systems.
for root in "$node_dir" "$run_dir"; do
	[[ -d "$root" ]] || continue
	real_root="$(realpath "$root")"
	awk -v root="$real_root" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r mount_point; do
		umount "$mount_point" 2>/dev/null || umount -l "$mount_point"
	done
done

# Whatever is left in the pods' cgroups (a sandbox's pause, a container caught in
# `runc init` when the node went down) has outlived its shim: it is killed here, so that
# nothing of the node keeps running and the cgroups can go.
leftover_pids() {
	cat /sys/fs/cgroup/*/"$cgroup_root"/cgroup.procs /sys/fs/cgroup/*/"$cgroup_root"/**/cgroup.procs \
		2>/dev/null | sort -u
}
shopt -s globstar
if pids="$(leftover_pids)" && [[ -n "$pids" ]]; then
	say "killing $(wc -l <<<"$pids") processes left in the pods' cgroups"
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	for _ in $(seq 1 50); do
		[[ -z "$(leftover_pids)" ]] && break
		sleep 0.1
	done
fi
for controller in /sys/fs/cgroup/*/; do
	[[ -d "$controller$cgroup_root" ]] || continue
	find "$controller$cgroup_root" -depth -type d -exec rmdir {} + 2>/dev/null ||
		say "cgroup $controller$cgroup_root still holds processes"
done

for table in "ip kube-proxy" "ip6 kube-proxy" "inet $nft_table"; do
	# shellcheck disable=SC2086
	nft list table $table >/dev/null 2>&1 && nft delete table $table
done
if ip link show "$bridge" >/dev/null 2>&1; then
	ip link delete "$bridge"
fi

if [[ -f "$saved_host_file" ]]; then
	while IFS='=' read -r key value; do
		[[ "$(sysctl -n "$key" 2>/dev/null)" == "$value" ]] || sysctl -qw "$key=$value"
	done <"$saved_host_file"
	rm -f "$saved_host_file"
	note "host settings restored"
fi

running=0
for c in "${node_components[@]}"; do node_component_running "$c" && running=$((running + 1)); done
rm -rf "$run_dir" "$node_dir/kubelet" "$node_dir/containerd" "$node_dir/cni" "$node_pid_dir"
if ((running > 0)); then
	say "$running node processes are still running"
	exit 1
fi
note "real node stopped"
