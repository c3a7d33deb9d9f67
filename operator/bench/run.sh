#!/usr/bin/env bash
# Operator benchmark on the local control plane: N MLServices and N SLOs (default 1000 each)
# applied at once to one namespace. Reports the time until every child exists and every
# status is Ready, the operator's peak memory (VmHWM), its write requests (audit log, by its
# own ServiceAccount) and the API server's request counts, then checks that the converged
# operator stays silent. Needs `make cluster-up`; not a test (`make bench`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source e2e/cluster/lib.sh

count="${1:-1000}"
ns=tidewatch-bench
operator_ns=tidewatch-bench-operator
audit="$log_dir/audit.log"
work="$(mktemp -d)"
k() { "$bin_dir/kubectl" --kubeconfig "$kubeconfig" "$@"; }

k get --raw /readyz >/dev/null 2>&1 || { say "no local control plane: run 'make cluster-up'"; exit 1; }
cargo build --quiet -p tidewatch-operator
operator="${CARGO_TARGET_DIR:-$PWD/target}/debug/tidewatch-operator"

cleanup() {
	[[ -z "${operator_pid:-}" ]] || stop_pid "$operator_pid" 10 tidewatch-operator
	k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	k delete node -l tidewatch.io/bench=true --wait=false >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

if k get namespace "$ns" >/dev/null 2>&1; then
	say "deleting the previous $ns namespace"
	k delete namespace "$ns" --timeout=300s >/dev/null
fi

# Room for one small pod per MLService: more fake nodes (kwok manages every Node with the
# annotation).
for i in 1 2 3; do
	k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: kwok-bench-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, tidewatch.io/bench: "true", kubernetes.io/os: linux}
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "1000"}
  capacity: {cpu: "64", memory: 256Gi, pods: "1000"}
YAML
done

"$operator" crds | k apply --server-side --force-conflicts -f - >/dev/null
k wait --for=condition=Established crd/mlservices.tidewatch.io crd/slos.tidewatch.io >/dev/null
k create namespace "$ns" >/dev/null
k get namespace "$operator_ns" >/dev/null 2>&1 || k create namespace "$operator_ns" >/dev/null
# The shipped roles, with bindings of the benchmark's own (the shipped binding names may
# belong to an installation on the same cluster).
"$operator" rbac --namespace "$operator_ns" --service-account tidewatch-bench |
	python3 -c 'import sys; print("---\n".join(d for d in sys.stdin.read().split("---\n") if "\nkind: ClusterRole\n" in d or "\nkind: Role\n" in d))' |
	k apply --server-side --force-conflicts -f - >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: {name: tidewatch-bench, namespace: $operator_ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tidewatch-bench}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tidewatch-operator}
subjects: [{kind: ServiceAccount, name: tidewatch-bench, namespace: $operator_ns}]
YAML
token="$(k create token tidewatch-bench -n "$operator_ns" --duration 2h)"
server="$(sed -n 's/^ *server: //p' "$kubeconfig" | head -1)"
cat >"$work/operator.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: $server, certificate-authority: $pki_dir/ca.crt}}]
users: [{name: operator, user: {token: $token}}]
contexts: [{name: local, context: {cluster: local, user: operator}}]
current-context: local
YAML
user="system:serviceaccount:$operator_ns:tidewatch-bench"

KUBECONFIG="$work/operator.kubeconfig" "$operator" run --namespace "$ns" --leader-election=false \
	--metrics-address 127.0.0.1:0 --log-format json >"$work/operator.log" 2>&1 &
operator_pid=$!
sleep 2

for i in $(seq -w 1 "$count"); do
	cat <<YAML
---
apiVersion: tidewatch.io/v1alpha1
kind: MLService
metadata: {name: svc-$i, namespace: $ns}
spec:
  model: {name: bench, version: "1"}
  replicas: 1
  resources: {cpu: 10m, memory: 16Mi}
---
apiVersion: tidewatch.io/v1alpha1
kind: SLO
metadata: {name: svc-$i-availability, namespace: $ns}
spec:
  target: {mlService: svc-$i}
  objective: 99.9
  indicator: {availability: {}}
YAML
done >"$work/resources.yaml"

metric_total() { k get --raw /metrics | awk '/^apiserver_request_total\{/ {split($0,a," "); s+=a[2]} END {printf "%d", s}'; }
requests_before="$(metric_total)"
audit_before="$(wc -l <"$audit")"
say "applying $count MLServices and $count SLOs"
started=$(date +%s.%N)
k apply --server-side -f "$work/resources.yaml" >/dev/null
applied=$(date +%s.%N)

count_ready() { k get "$1" -n "$ns" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$' || true; }
count_of() { k get "$@" -n "$ns" -l app.kubernetes.io/managed-by=tidewatch-operator --no-headers 2>/dev/null | wc -l; }
while true; do
	mls_ready=$(count_ready mlservices.tidewatch.io)
	slo_ready=$(count_ready slos.tidewatch.io)
	deployments=$(count_of deployments)
	services=$(count_of services)
	monitors=$(count_of servicemonitors.monitoring.coreos.com)
	rules=$(count_of prometheusrules.monitoring.coreos.com)
	configmaps=$(count_of configmaps)
	say "ready: $mls_ready/$count MLServices, $slo_ready/$count SLOs; children: $deployments deployments, $services services, $monitors servicemonitors, $rules prometheusrules, $configmaps configmaps"
	if ((mls_ready == count && slo_ready == count && deployments == count && services == count && monitors == count && rules == count && configmaps == 2 * count)); then
		break
	fi
	if ! pid_running "$operator_pid"; then
		say "the operator died"; tail -20 "$work/operator.log"; exit 1
	fi
	sleep 5
done
converged=$(date +%s.%N)
requests_after="$(metric_total)"

operator_writes() {
	tail -n +"$(($1 + 1))" "$audit" | python3 -c '
import json, sys, collections
user = sys.argv[1]
counts = collections.Counter()
for line in sys.stdin:
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("stage") != "ResponseComplete" or e["user"]["username"] != user: continue
    o = e.get("objectRef", {})
    counts[e["verb"] + " " + o.get("resource", "") + ("/" + o["subresource"] if o.get("subresource") else "")] += 1
print(sum(counts.values()), dict(sorted(counts.items())))
' "$user"
}
writes="$(operator_writes "$audit_before")"
peak_kib="$(awk '/VmHWM/ {print $2}' "/proc/$operator_pid/status")"
rss_kib="$(awk '/VmRSS/ {print $2}' "/proc/$operator_pid/status")"

idle_before="$(wc -l <"$audit")"
sleep 30
idle_writes="$(operator_writes "$idle_before")"

python3 - "$count" "$started" "$applied" "$converged" "$peak_kib" "$rss_kib" "$((requests_after - requests_before))" "$writes" "$idle_writes" <<'PY'
import sys
count, s, a, c, peak, rss, requests, writes, idle = sys.argv[1:]
s, a, c = float(s), float(a), float(c)
print(f"""
benchmark: {count} MLServices + {count} SLOs in one namespace
  kubectl apply of all {2 * int(count)} objects took    {a - s:7.1f} s
  converged (every child, every Ready) after {c - s:7.1f} s from the start of the apply
  operator peak memory (VmHWM)               {int(peak) / 1024:7.1f} MiB (RSS at convergence {int(rss) / 1024:.1f} MiB)
  operator writes while converging           {writes}
  operator writes in the next 30 s (idle)    {idle}
  API server requests, all clients, apply to convergence: {requests}
""")
PY
