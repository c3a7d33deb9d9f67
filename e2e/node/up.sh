#!/usr/bin/env bash
# Joins a real node to the running local control plane: containerd (Debian's, with runc
# and the CNI plugins), a kubelet and kube-proxy of the control plane's release, and
# CoreDNS as the cluster DNS. The images of e2e/images are imported first; nothing is ever
# pulled (containerd's proxy is a closed loopback port, so a pull fails at once).
#
# What it changes on the host, all restored by down.sh:
#   - sysctls (saved first): the kubelet's vm.overcommit_memory, kernel.panic and
#     kernel.panic_on_oops; net.ipv4.ip_forward and bridge-nf-call-iptables for the pods'
#     bridge;
#   - a bridge, tidewatch0 (10.250.0.1/24); pods get addresses on it, with no masquerade,
#     and an nftables table drops whatever they send off it (no route out);
#   - kube-proxy's nftables tables (kube-proxy) and the one above;
#   - cgroups under /sys/fs/cgroup/<controller>/tidewatch;
#   - mounts under e2e/.work/node and /run/tidewatch-node (pod volumes, sandboxes' shm).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS

if [[ $(id -u) -ne 0 ]]; then
	say "the real node needs root (containerd, the kubelet and the pods' bridge)"
	exit 1
fi
if ! [[ -f "$kubeconfig" ]] || ! kubectl_admin get --raw /readyz >/dev/null 2>&1; then
	say "no local control plane: run 'make cluster-up' first"
	exit 1
fi
for b in kubelet kube-proxy coredns; do
	[[ -x "$node_bin_dir/$b" ]] || {
		say "missing $node_bin_dir/$b: run 'make images' first"
		exit 1
	}
done
images_dir="$("$repo_root/e2e/images/build.sh" dir)"
[[ -f "$images_dir/pause.tar" ]] || {
	say "no images in $images_dir: run 'make images' first"
	exit 1
}
for tool in containerd runc ctr nft socat ip; do
	command -v "$tool" >/dev/null || {
		say "missing $tool: run scripts/install-deps.sh"
		exit 1
	}
done

# One real node per machine: the bridge and /run/tidewatch-node are the host's. A node of
# another work directory (the demo's, the suite's) that still runs is not torn down here.
if [[ -f "$run_dir/owner" ]] && [[ "$(cat "$run_dir/owner")" != "$node_dir" ]] &&
	process_running "$(cat "$run_dir/owner")/pids/containerd.pid"; then
	say "a real node of $(cat "$run_dir/owner") runs on this machine; stop it first"
	exit 1
fi
# A node left from an earlier run is replaced, never patched.
"$node_script_dir/down.sh" --quiet
mkdir -p "$node_pid_dir" "$node_log_dir" "$node_dir/cni/net.d" "$run_dir"
echo "$node_dir" >"$run_dir/owner"

# --- host settings, saved before anything changes them -------------------------------
{
	for key in "${host_sysctls[@]}"; do
		value="$(sysctl -n "$key" 2>/dev/null)" && printf '%s=%s\n' "$key" "$value"
	done
} >"$saved_host_file"

# --- the pods' network ---------------------------------------------------------------
say "creating bridge $bridge ($host_ip, pods on $pod_subnet)"
ip link add "$bridge" type bridge
ip addr add "$host_ip/24" dev "$bridge"
ip link set "$bridge" up
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
# Pods talk to each other, to Services (kube-proxy's DNAT) and to this host; anything
# that would be forwarded off the bridge is dropped.
nft -f - <<EOF
table inet $nft_table {
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "$bridge" oifname != "$bridge" drop
		oifname "$bridge" iifname != "$bridge" ct state new drop
	}
}
EOF

cat >"$node_dir/cni/net.d/10-tidewatch.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "tidewatch",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$pod_subnet", "gateway": "$host_ip"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$node_dir/cni/ipam"
      }
    }
  ]
}
EOF

# --- ports -----------------------------------------------------------------------------
closed_port=$(free_port)
apiserver_proxy_port=$(free_port)
kubelet_port=$(free_port)
kubelet_healthz_port=$(free_port)
proxy_healthz_port=$(free_port)
proxy_metrics_port=$(free_port)
cat >"$node_ports_file" <<EOF
APISERVER_PROXY_PORT=$apiserver_proxy_port
KUBELET_PORT=$kubelet_port
KUBELET_HEALTHZ_PORT=$kubelet_healthz_port
KUBE_PROXY_HEALTHZ_PORT=$proxy_healthz_port
EOF
# shellcheck source=/dev/null
source "$ports_file"


# --- containerd ------------------------------------------------------------------------
# restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, and runc fails every container
# ("can't get final child's PID from pipe") when asked to lower an OOM score.
cat >"$node_dir/containerd.toml" <<EOF
version = 2
root = "$node_dir/containerd"
state = "$run_dir/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$containerd_socket"
[ttrpc]
  address = "$run_dir/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  enable_selinux = false
  # Sandboxes' network namespaces stay under our state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node_dir/cni/net.d"
EOF
say "starting containerd"
start_component containerd env HTTP_PROXY="http://127.0.0.1:$closed_port" HTTPS_PROXY="http://127.0.0.1:$closed_port" \
	NO_PROXY="" containerd --config "$node_dir/containerd.toml"
wait_for_component containerd 30 ctr --address "$containerd_socket" version

say "importing images from $images_dir"
for archive in "$images_dir"/*.tar; do
	ctr --address "$containerd_socket" -n k8s.io images import --no-unpack "$archive" >/dev/null
done

# --- identities and the in-cluster route to the API server ------------------------------
"$cluster_dir/pki.sh" "$pki_dir" client kubelet "/O=system:nodes/CN=system:node:$node_name"
"$cluster_dir/pki.sh" "$pki_dir" client kube-proxy "/CN=system:kube-proxy"
write_node_kubeconfig() {
	local file="$1" user="$2"
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tidewatch-local
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$pki_dir/ca.crt"}
users:
- name: $user
  user: {client-certificate: "$pki_dir/$user.crt", client-key: "$pki_dir/$user.key"}
contexts:
- name: tidewatch-local
  context: {cluster: tidewatch-local, user: $user}
current-context: tidewatch-local
EOF
}
write_node_kubeconfig "$node_dir/kubelet.kubeconfig" kubelet
write_node_kubeconfig "$node_dir/kube-proxy.kubeconfig" kube-proxy

# The API server authorizes with RBAC only (no Node authorizer): the node's user gets the
# system:node role.
kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tidewatch-real-node
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:$node_name"}
EOF

# The API server listens on loopback only; pods reach it through the kubernetes Service
# (10.96.0.1:443), whose endpoint is this forwarder on the bridge.
say "forwarding $host_ip:$apiserver_proxy_port to the API server"
start_component apiserver-proxy socat "TCP-LISTEN:$apiserver_proxy_port,bind=$host_ip,reuseaddr,fork" \
	"TCP:127.0.0.1:$APISERVER_PORT"
kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes-real-node
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: tidewatch-real-node
addressType: IPv4
endpoints:
- addresses: ["$host_ip"]
  conditions: {ready: true}
ports:
- {name: https, port: $apiserver_proxy_port, protocol: TCP}
EOF

# --- kubelet ---------------------------------------------------------------------------
for controller in /sys/fs/cgroup/*/; do
	[[ -e "$controller/cgroup.procs" ]] && mkdir -p "$controller$cgroup_root"
done
: >"$node_dir/resolv.conf"
cat >"$node_dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $host_ip
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz_port
# Only holders of a certificate from the cluster CA (the API server) reach the kubelet.
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$pki_dir/ca.crt"}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: "unix://$containerd_socket"
# cgroup v1, no systemd here.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupRoot: /$cgroup_root
failSwapOn: false
makeIPTablesUtilChains: false
clusterDNS: [$dns_service_ip]
clusterDomain: cluster.local
resolvConf: "$node_dir/resolv.conf"
# Absolute floors: percentages of a shared disk evict pods for others' files.
evictionHard: {memory.available: 512Mi, nodefs.available: 1Gi, imagefs.available: 1Gi}
# Images cannot be pulled again, so the kubelet never removes them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 60
serializeImagePulls: false
registerWithTaints:
- {key: "$node_label_key", value: "$node_label_value", effect: NoSchedule}
EOF
say "starting kubelet $node_name"
start_component kubelet "$node_bin_dir/kubelet" \
	--config "$node_dir/kubelet.yaml" \
	--kubeconfig "$node_dir/kubelet.kubeconfig" \
	--root-dir "$node_dir/kubelet" \
	--cert-dir "$node_dir/kubelet/pki" \
	--hostname-override "$node_name" \
	--node-ip "$host_ip" \
	--node-labels "$node_label_key=$node_label_value" \
	--v 1
node_started=$SECONDS
wait_for_component kubelet 120 kubectl_admin wait --for=condition=Ready "node/$node_name" --timeout=2s
say "node $node_name Ready in $((SECONDS - node_started))s"

# --- kube-proxy ------------------------------------------------------------------------
say "starting kube-proxy (nftables)"
start_component kube-proxy "$node_bin_dir/kube-proxy" \
	--kubeconfig "$node_dir/kube-proxy.kubeconfig" \
	--hostname-override "$node_name" \
	--proxy-mode nftables \
	--cluster-cidr "$pod_subnet" \
	--nodeport-addresses "$host_ip/32" \
	--bind-address 127.0.0.1 \
	--healthz-bind-address "127.0.0.1:$proxy_healthz_port" \
	--metrics-bind-address "127.0.0.1:$proxy_metrics_port" \
	--conntrack-max-per-core 0 \
	--conntrack-tcp-timeout-established 0 \
	--conntrack-tcp-timeout-close-wait 0 \
	--v 1
wait_for_component kube-proxy 60 curl -fsS "http://127.0.0.1:$proxy_healthz_port/healthz"

# --- cluster DNS -----------------------------------------------------------------------
say "deploying CoreDNS"
use_real_node kube-system
export COREDNS_IMAGE dns_service_ip
render_manifest "$node_script_dir/manifests/coredns.yaml" COREDNS_IMAGE dns_service_ip |
	kubectl_admin apply -f - >/dev/null
if ! kubectl_admin -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null; then
	say "CoreDNS did not become ready"
	kubectl_admin -n kube-system describe pods -l k8s-app=kube-dns >&2 || true
	exit 1
fi

say "real node up in $((SECONDS - started))s"
cat >&2 <<EOF

  kubectl get nodes -o wide      # $node_name (real) beside the kwok node
  make node-down                 # stops the node and restores the host

EOF
