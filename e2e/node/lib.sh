# Shared paths and helpers of the real node's scripts (sourced, not run). The node joins
# the local control plane of ../cluster; see up.sh for what it changes on the host.
# shellcheck shell=bash

node_script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/lib.sh
source "$node_script_dir/../cluster/lib.sh"
# shellcheck source=../images/images.env
source "$repo_root/e2e/images/images.env"

node_name="tidewatch-node-0"
node_dir="$work_dir/node"
node_pid_dir="$node_dir/pids"
node_log_dir="$node_dir/logs"
node_ports_file="$node_dir/ports.env"
# Host settings as they were before up.sh, restored by down.sh.
saved_host_file="$node_dir/host-before.env"
# containerd's state holds its sockets: kept short (108-byte socket paths) and on tmpfs.
run_dir="/run/tidewatch-node"
containerd_socket="$run_dir/containerd.sock"
node_bin_dir="$("$node_script_dir/build.sh" bin-dir)"

# The pods' network: a bridge of our own, no masquerade, nothing forwarded off it.
bridge="tidewatch0"
pod_subnet="10.250.0.0/24"
host_ip="10.250.0.1"
dns_service_ip="10.96.0.10"
# The cgroup parent of every pod, under each v1 controller.
cgroup_root="tidewatch"
# The table that keeps pod traffic on the bridge (kube-proxy owns `kube-proxy`).
nft_table="tidewatch-node"
# Set by the kubelet and kube-proxy or by a bridge with a gateway; saved and restored.
host_sysctls=(vm.overcommit_memory kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
	kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
	net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

# Keeps pods off the kwok node and kwok's pods off this one: the node is tainted, and
# namespaces meant for it get a default node selector and toleration (admission plugins
# PodNodeSelector and PodTolerationRestriction).
node_label_key="tidewatch.io/node"
node_label_value="real"
node_selector_annotation="scheduler.alpha.kubernetes.io/node-selector=$node_label_key=$node_label_value"
node_toleration_annotation="scheduler.alpha.kubernetes.io/defaultTolerations=[{\"key\":\"$node_label_key\",\"operator\":\"Equal\",\"value\":\"$node_label_value\",\"effect\":\"NoSchedule\"}]"

node_components=(containerd apiserver-proxy kubelet kube-proxy)
# start_component, wait_for_component and log_tail (../cluster/lib.sh) use the node's own.
component_pid_dir="$node_pid_dir"
component_log_dir="$node_log_dir"

kubectl_admin() { "$bin_dir/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# Marks a namespace's pods for the real node.
use_real_node() {
	local namespace="$1"
	kubectl_admin get namespace "$namespace" >/dev/null 2>&1 || kubectl_admin create namespace "$namespace" >/dev/null
	kubectl_admin annotate --overwrite namespace "$namespace" \
		"$node_selector_annotation" "$node_toleration_annotation" >/dev/null
}

node_component_running() { process_running "$node_pid_dir/$1.pid"; }


# Substitutes ${NAME} in a manifest from the environment (only the names given).
render_manifest() {
	local file="$1"
	shift
	local script=()
	for name in "$@"; do script+=(-e "s|\${$name}|${!name}|g"); done
	sed "${script[@]}" "$file"
}
