#!/usr/bin/env bash
# Operator benchmark on the local control plane, Tidewatch beside Sloth's controller.
#
# Each round creates N MLServices and N SLOs (default 1000 each) in a fresh namespace for
# Tidewatch, then N PrometheusServiceLevels carrying the same SLOs (objective, window, SLI)
# in another for `sloth kubernetes-controller`, one controller at a time, each on its own
# ServiceAccount. The objects come from one client with bounded concurrency and no rate
# limit (bench/load.rs, the `bench-load` example), which also times convergence from the
# first create until every child exists and every parent reports Ready, and samples the
# controller's CPU time (/proc/<pid>/stat) and peak memory (VmHWM). Writes come from the API
# server's audit log (the controller's user), all clients' requests from
# `apiserver_request_total`. After convergence each controller is watched for IDLE_SECONDS
# more: it should write nothing. Rounds alternate which controller goes first; the summary
# gives medians. Needs `make cluster-up`; not a test (`make bench-operator`).
#
# Environment: ROUNDS (1), IDLE_SECONDS (60), CONCURRENCY (48 creates in flight),
# PEERS ("sloth deployments": Sloth, and the control plane's floor of Deployments created
# directly; "" for Tidewatch alone), PROFILE (release, or dev for a quicker build),
# NO_BUILD (set: use the binaries already built), PERF (set: a flat `perf record` profile of
# each controller while it converges, beside the results), TIMEOUT_SECONDS (1200: a run that
# has not converged by then fails).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source e2e/cluster/lib.sh

count="${1:-1000}"
rounds="${ROUNDS:-1}"
idle_seconds="${IDLE_SECONDS:-60}"
concurrency="${CONCURRENCY:-48}"
peers="${PEERS-sloth deployments}"
profile="${PROFILE:-release}"
operator_ns=tidewatch-bench-operator
results_dir="$work_dir/bench"
mkdir -p "$results_dir"
results="$results_dir/operator-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
work="$(mktemp -d)"
k() { "$bin_dir/kubectl" --kubeconfig "$kubeconfig" "$@"; }

k get --raw /readyz >/dev/null 2>&1 || { say "no local control plane: run 'make cluster-up'"; exit 1; }
say "building the operator and the load generator ($profile profile)"
profile_flag=(--release)
profile_dir=release
if [[ "$profile" == dev ]]; then profile_flag=() profile_dir=debug; fi
[[ -n "${NO_BUILD:-}" ]] ||
	cargo build --quiet "${profile_flag[@]}" -p tidewatch-operator --bin tidewatch-operator --example bench-load
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/$profile_dir"
operator="$target_dir/tidewatch-operator"
load="$target_dir/examples/bench-load"
if [[ "$peers" == *sloth* ]]; then
	[[ -f /tmp/warm/sloth.done ]] || [[ -x "$(operator/bench/peers/build.sh sloth)" ]]
	sloth="$(operator/bench/peers/build.sh sloth)"
	sloth_crd="$(operator/bench/peers/build.sh sloth-crd)"
fi

controller_pid=""
cleanup() {
	[[ -z "$controller_pid" ]] || stop_pid "$controller_pid" 10 controller
	k delete namespace -l tidewatch.io/bench=true --wait=false >/dev/null 2>&1 || true
	k delete node -l tidewatch.io/bench=true --wait=false >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

if [[ -n "$(k get namespace -l tidewatch.io/bench=true -o name)" ]]; then
	say "deleting the previous run's namespaces"
	k delete namespace -l tidewatch.io/bench=true --timeout=300s >/dev/null
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
if [[ -n "${sloth:-}" ]]; then
	k apply --server-side --force-conflicts -f "$sloth_crd" >/dev/null
	k wait --for=condition=Established crd/prometheusservicelevels.sloth.slok.dev >/dev/null
fi
k get namespace "$operator_ns" >/dev/null 2>&1 || k create namespace "$operator_ns" >/dev/null
# Tidewatch runs with its shipped roles, under bindings of the benchmark's own (the shipped
# binding names may belong to an installation on the same cluster). Sloth's project ships
# no roles for a bare binary: it gets cluster-admin, which changes no request it makes.
"$operator" rbac --namespace "$operator_ns" --service-account tidewatch-bench |
	python3 -c 'import sys; print("---\n".join(d for d in sys.stdin.read().split("---\n") if "\nkind: ClusterRole\n" in d or "\nkind: Role\n" in d))' |
	k apply --server-side --force-conflicts -f - >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: {name: tidewatch-bench, namespace: $operator_ns}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sloth-bench, namespace: $operator_ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tidewatch-bench}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tidewatch-operator}
subjects: [{kind: ServiceAccount, name: tidewatch-bench, namespace: $operator_ns}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: sloth-bench}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: sloth-bench, namespace: $operator_ns}]
YAML
# One API Priority and Fairness flow schema per controller, at the priority level that
# ServiceAccounts get anyway (workload-low): the API server then counts each controller's
# requests, reads included, in apiserver_flowcontrol_dispatched_requests_total.
for sa in tidewatch-bench sloth-bench; do
	k apply -f - >/dev/null <<YAML
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: $sa, labels: {tidewatch.io/bench: "true"}}
spec:
  matchingPrecedence: 500
  priorityLevelConfiguration: {name: workload-low}
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects: [{kind: ServiceAccount, serviceAccount: {name: $sa, namespace: $operator_ns}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}]
    nonResourceRules: [{verbs: ["*"], nonResourceURLs: ["*"]}]
YAML
done

server="$(sed -n 's/^ *server: //p' "$kubeconfig" | head -1)"
# kubeconfig_for SA: a kubeconfig that authenticates as the ServiceAccount SA.
kubeconfig_for() {
	local token
	token="$(k create token "$1" -n "$operator_ns" --duration 2h)"
	cat >"$work/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: $server, certificate-authority: $pki_dir/ca.crt}}]
users: [{name: $1, user: {token: $token}}]
contexts: [{name: local, context: {cluster: local, user: $1}}]
current-context: local
YAML
	echo "$work/$1.kubeconfig"
}

# writes_between START END USER NAMESPACE: the write requests USER made in NAMESPACE between
# two instants (Unix seconds), from the audit log and its rotated files, as JSON.
writes_between() { operator/bench/audit_writes.py "$@" "$log_dir"/audit*.log; }

# flow_requests SCHEMA: requests the API server has dispatched for flow schema SCHEMA.
flow_requests() {
	k get --raw /metrics |
		awk -v schema="flow_schema=\"$1\"" 'index($0, "apiserver_flowcontrol_dispatched_requests_total{") == 1 && index($0, schema) {s+=$NF} END {printf "%d", s}'
}
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"; }

# start_controller NAME NAMESPACE: starts the controller under test on NAMESPACE and waits
# until it watches.
start_controller() {
	local name="$1" ns="$2" config
	case "$name" in
	tidewatch)
		config="$(kubeconfig_for tidewatch-bench)"
		KUBECONFIG="$config" "$operator" run --namespace "$ns" --leader-election=false \
			--metrics-address 127.0.0.1:0 --log-format json >"$work/$name.log" 2>&1 &
		controller_pid=$!
		echo "$controller_pid" >"$work/controller.pid"
		wait_until --alive "$work/controller.pid" 60 grep -q 'starting controllers' "$work/$name.log" ||
			{ say "the operator did not start"; tail -20 "$work/$name.log" >&2; exit 1; }
		;;
	sloth)
		config="$(kubeconfig_for sloth-bench)"
		# --kube-local: read the kubeconfig flag instead of the in-cluster configuration.
		"$sloth" kubernetes-controller --kube-local --kube-config "$config" --namespace "$ns" \
			--metrics-listen-addr "127.0.0.1:$(free_port)" --hot-reload-addr "127.0.0.1:$(free_port)" \
			>"$work/$name.log" 2>&1 &
		controller_pid=$!
		sleep 3
		pid_running "$controller_pid" || { say "sloth did not start"; tail -20 "$work/$name.log" >&2; exit 1; }
		;;
	esac
}

# round_of NAME ROUND: one measured run of controller NAME; "deployments" is the control
# plane's floor: Tidewatch's Deployments created directly, the controller-manager measured.
round_of() {
	local name="$1" round="$2" ns="bench-$1-$2" user="" pid
	k create namespace "$ns" >/dev/null
	k label namespace "$ns" tidewatch.io/bench=true >/dev/null
	if [[ "$name" == deployments ]]; then
		pid="$(pid_of kube-controller-manager)"
	else
		user="system:serviceaccount:$operator_ns:$name-bench"
		start_controller "$name" "$ns"
		pid="$controller_pid"
	fi
	local load_json cpu_idle_start requests_idle_start perf_pid="" idle_until started_at converged_at
	if [[ -n "${PERF:-}" && "$name" != deployments ]]; then
		perf record -F 199 -o "$results_dir/perf-$name-$round.data" -p "$pid" >/dev/null 2>&1 &
		perf_pid=$!
	fi
	say "round $round, $name: creating $count parents of each kind in $ns ($(uptime | sed 's/.*load/load/'))"
	load_json="$(KUBECONFIG="$kubeconfig" "$load" --flavour "$name" --namespace "$ns" --count "$count" \
		--concurrency "$concurrency" --pid "$pid" --clock-ticks "$(getconf CLK_TCK)" \
		--flow-schema "$name-bench" --timeout-seconds "${TIMEOUT_SECONDS:-1200}")"
	if [[ -n "$perf_pid" ]]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		perf report -i "$results_dir/perf-$name-$round.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40 >"$results_dir/perf-$name-$round.txt" || true
	fi
	cpu_idle_start="$(cpu_seconds "$pid")"
	requests_idle_start="$(flow_requests "$name-bench")"
	[[ "$name" == deployments ]] || sleep "$idle_seconds"
	idle_until="$(date +%s.%N)"
	pid_running "$pid" || { say "$name died"; tail -20 "$work/$name.log" >&2; exit 1; }
	started_at="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["started_at"] - 1)' "$load_json")"
	converged_at="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["converged_at"])' "$load_json")"
	python3 - "$load_json" "$(writes_between "$started_at" "$converged_at" "$user" "$ns")" \
		"$(writes_between "$converged_at" "$idle_until" "$user" "$ns")" \
		"$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$cpu_idle_start" "$(cpu_seconds "$pid")")" \
		"$(($(flow_requests "$name-bench") - requests_idle_start))" "$round" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$results" <<'PY'
import json, sys
run = json.loads(sys.argv[1])
run.update(writes=json.loads(sys.argv[2]), idle_writes=json.loads(sys.argv[3]),
           idle_cpu_seconds=float(sys.argv[4]), idle_controller_requests=int(sys.argv[5]),
           round=int(sys.argv[6]), loadavg=sys.argv[7])
print(json.dumps(run))
PY
	if [[ -n "$controller_pid" ]]; then
		stop_pid "$controller_pid" 10 "$name"
		controller_pid=""
	fi
	k delete namespace "$ns" --timeout=600s >/dev/null
}

say "results: $results"
read -r -a others <<<"$peers"
for round in $(seq 1 "$rounds"); do
	if ((round % 2)); then order=(tidewatch "${others[@]}"); else order=("${others[@]}" tidewatch); fi
	for name in "${order[@]}"; do round_of "$name" "$round"; done
done

operator/bench/summary.py "$results"
