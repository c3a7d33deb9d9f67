#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback: etcd, kube-apiserver (TLS, RBAC,
# service-account keys, audit log), kube-controller-manager, kube-scheduler and kwok with
# one fake Node, then installs the Prometheus Operator CRDs. Idempotent: a healthy cluster
# is left as it is. State lives in e2e/.work/ (git-ignored).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS
node_name="kwok-node-0"

cluster_healthy() {
	for c in "${components[@]}"; do is_running "$c" || return 1; done
	"$bin_dir/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1
}

if [[ -f "$kubeconfig" ]] && cluster_healthy; then
	say "cluster already running; kubeconfig: $kubeconfig"
	exit 0
fi

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
	if [[ ! -x "$bin_dir/$b" ]]; then
		say "missing $bin_dir/$b: run 'make tools' first"
		exit 1
	fi
done

# A half-started or crashed cluster is replaced, never patched.
"$cluster_dir/down.sh" --quiet
rm -rf "$state_dir" "$kubeconfig"
mkdir -p "$pid_dir" "$log_dir" "$pki_dir"

# --- ports -------------------------------------------------------------------------------
etcd_port=$(free_port)
etcd_peer_port=$(free_port)
apiserver_port=$(free_port)
controller_manager_port=$(free_port)
scheduler_port=$(free_port)
kwok_port=$(free_port)
cat >"$ports_file" <<EOF
ETCD_PORT=$etcd_port
APISERVER_PORT=$apiserver_port
CONTROLLER_MANAGER_PORT=$controller_manager_port
SCHEDULER_PORT=$scheduler_port
KWOK_PORT=$kwok_port
EOF

# --- certificates ------------------------------------------------------------------------
"$cluster_dir/pki.sh" "$pki_dir"

write_kubeconfig() {
	local file="$1" user="$2"
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tidewatch-local
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority: $pki_dir/ca.crt
users:
- name: $user
  user:
    client-certificate: $pki_dir/$user.crt
    client-key: $pki_dir/$user.key
contexts:
- name: tidewatch-local
  context:
    cluster: tidewatch-local
    user: $user
current-context: tidewatch-local
EOF
}
write_kubeconfig "$kubeconfig" admin
write_kubeconfig "$state_dir/controller-manager.kubeconfig" controller-manager
write_kubeconfig "$state_dir/scheduler.kubeconfig" scheduler

# --- processes ---------------------------------------------------------------------------
say "starting etcd on 127.0.0.1:$etcd_port"
start_component etcd "$bin_dir/etcd" \
	--name tidewatch \
	--data-dir "$state_dir/etcd" \
	--listen-client-urls "http://127.0.0.1:$etcd_port" \
	--advertise-client-urls "http://127.0.0.1:$etcd_port" \
	--listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	--initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	--initial-cluster "tidewatch=http://127.0.0.1:$etcd_peer_port" \
	--unsafe-no-fsync \
	--log-level warn
wait_for_component etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

# Writes only, at Metadata level, so tests can count who changed what (an idle operator
# must make no writes).
cat >"$state_dir/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
EOF

# The admission plugins let a namespace send its pods to the real node (../node/up.sh)
# without a selector in every pod; the kubelet flags are how `kubectl logs` and `exec`
# reach that node's kubelet (its address, and a client certificate it trusts).
say "starting kube-apiserver on https://127.0.0.1:$apiserver_port"
start_component kube-apiserver "$bin_dir/kube-apiserver" \
	--etcd-servers "http://127.0.0.1:$etcd_port" \
	--bind-address 127.0.0.1 \
	--advertise-address 127.0.0.1 \
	--secure-port "$apiserver_port" \
	--tls-cert-file "$pki_dir/apiserver.crt" \
	--tls-private-key-file "$pki_dir/apiserver.key" \
	--client-ca-file "$pki_dir/ca.crt" \
	--authorization-mode RBAC \
	--service-account-key-file "$pki_dir/service-account.pub" \
	--service-account-signing-key-file "$pki_dir/service-account.key" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-cluster-ip-range 10.96.0.0/16 \
	--endpoint-reconciler-type none \
	--enable-admission-plugins PodNodeSelector,PodTolerationRestriction \
	--kubelet-preferred-address-types InternalIP,Hostname \
	--kubelet-client-certificate "$pki_dir/admin.crt" \
	--kubelet-client-key "$pki_dir/admin.key" \
	--audit-policy-file "$state_dir/audit-policy.yaml" \
	--audit-log-path "$log_dir/audit.log" \
	--audit-log-format json \
	--profiling=false \
	--v 1
wait_for_component kube-apiserver 60 "$bin_dir/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz

say "starting kube-controller-manager and kube-scheduler"
start_component kube-controller-manager "$bin_dir/kube-controller-manager" \
	--kubeconfig "$state_dir/controller-manager.kubeconfig" \
	--authentication-kubeconfig "$state_dir/controller-manager.kubeconfig" \
	--authorization-kubeconfig "$state_dir/controller-manager.kubeconfig" \
	--bind-address 127.0.0.1 \
	--secure-port "$controller_manager_port" \
	--service-account-private-key-file "$pki_dir/service-account.key" \
	--root-ca-file "$pki_dir/ca.crt" \
	--cluster-signing-cert-file "$pki_dir/ca.crt" \
	--cluster-signing-key-file "$pki_dir/ca.key" \
	--use-service-account-credentials \
	--leader-elect=false \
	--v 1
start_component kube-scheduler "$bin_dir/kube-scheduler" \
	--kubeconfig "$state_dir/scheduler.kubeconfig" \
	--authentication-kubeconfig "$state_dir/scheduler.kubeconfig" \
	--authorization-kubeconfig "$state_dir/scheduler.kubeconfig" \
	--bind-address 127.0.0.1 \
	--secure-port "$scheduler_port" \
	--leader-elect=false \
	--v 1

# kwok's stages (fake node heartbeats, pods becoming Running) come from its published
# module, at the pinned version.
kwok_module="$(go_module_dir sigs.k8s.io/kwok "$KWOK_VERSION")"
{
	for stage in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		echo "---"
		cat "$kwok_module/kustomize/stage/$stage"
	done
} >"$state_dir/kwok-stages.yaml"

say "starting kwok with fake node $node_name"
start_component kwok "$bin_dir/kwok" \
	--config "$state_dir/kwok-stages.yaml" \
	--kubeconfig "$kubeconfig" \
	--manage-all-nodes=false \
	--manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
	--node-lease-duration-seconds 40 \
	--cidr 10.244.0.0/16 \
	--node-ip 10.0.0.1 \
	--server-address "127.0.0.1:$kwok_port"

kubectl_admin() { "$bin_dir/kubectl" --kubeconfig "$kubeconfig" "$@"; }

kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node_name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $node_name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "1000", nvidia.com/gpu: "8"}
  capacity: {cpu: "32", memory: 256Gi, pods: "1000", nvidia.com/gpu: "8"}
EOF

wait_for_component kwok 60 kubectl_admin wait --for=condition=Ready "node/$node_name" --timeout=1s
for c in kube-controller-manager kube-scheduler; do
	is_running "$c" || {
		say "$c exited during start-up"
		log_tail "$c" 40
		exit 1
	}
done

# --- Prometheus Operator CRDs --------------------------------------------------------------
operator_module="$(go_module_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")"
say "installing Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs"
for crd in servicemonitors podmonitors prometheusrules; do
	kubectl_admin apply --server-side --force-conflicts \
		-f "$operator_module/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml" >/dev/null
done
kubectl_admin wait --for=condition=Established --timeout=30s \
	crd/servicemonitors.monitoring.coreos.com crd/podmonitors.monitoring.coreos.com \
	crd/prometheusrules.monitoring.coreos.com >/dev/null

# The default ServiceAccount is created by the controller-manager; pods need it.
wait_for_component kube-controller-manager 30 kubectl_admin get serviceaccount default -n default

say "cluster up in $((SECONDS - started))s"
cat >&2 <<EOF

  export KUBECONFIG=$kubeconfig
  kubectl get nodes          # kubectl is $bin_dir/kubectl
  make cluster-down          # stops every process

EOF
