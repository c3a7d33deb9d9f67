#!/usr/bin/env bash
# `make demo`: the whole system on this machine. First on the real node, everything in pods
# (scripts/demo-node.sh); where the real node cannot start (not root, no containerd), it
# says so and falls back to what follows, on 127.0.0.1 only. Builds what it needs
# (cached), starts a local control plane, installs the CRDs and the operator's RBAC, runs the
# operator as its ServiceAccount, applies the examples, runs two inference replicas (one
# with injected failures) scraped by a real Prometheus every second with the SLO rules the
# operator generated and the static alerts loaded, drives bounded traffic with a failure
# burst, and prints what came of it. `make demo-down` (scripts/demo-down.sh) stops it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

# The demo has its own control plane and state, apart from the e2e suite's.
export TIDEWATCH_WORK_DIR="$repo/e2e/.work/demo"
demo_dir="$TIDEWATCH_WORK_DIR/run"
run_pids="$demo_dir/pids"
run_logs="$demo_dir/logs"

step_number=0
current_step=""
step() {
	step_number=$((step_number + 1))
	current_step="$*"
	printf '\n[%d] %s\n' "$step_number" "$*"
}
note() { printf '    %s\n' "$*"; }
on_error() {
	local rc=$?
	printf '\nmake demo failed at step %d (%s), exit code %d.\n' "$step_number" "$current_step" "$rc" >&2
	printf 'Logs: %s; stop what started with: make demo-down\n' "$run_logs" >&2
	exit "$rc"
}
trap on_error ERR

if [[ "${TIDEWATCH_DEMO:-node}" == node ]]; then
	rc=0
	scripts/demo-node.sh || rc=$?
	((rc == 3)) || exit "$rc"
	printf '\nThe real node could not start on this machine (see above); falling back to the\n'
	printf 'demo with the operator and inference servers as host processes.\n'
	scripts/demo-down.sh >/dev/null 2>&1 || true
	step_number=0
fi

# shellcheck source=lib/proc.sh
source scripts/lib/proc.sh
# Starts a long-running process in the background with its log and PID recorded.
start() {
	local name="$1"
	shift
	start_process "$run_pids/$name.pid" "$run_logs/$name.log" "$@"
}
# Waits up to 60 s for a process started by `start` to answer 2xx on a URL; fails with the
# log's tail when it exits first or does not get there.
await_url() {
	local name="$1" url="$2"
	if ! wait_for_url --alive "$run_pids/$name.pid" 60 "$url"; then
		echo "last lines of $run_logs/$name.log:" >&2
		tail -n 20 "$run_logs/$name.log" >&2
		return 1
	fi
}

for tool in cargo go curl; do
	command -v "$tool" >/dev/null || { echo "make demo needs $tool on PATH" >&2; exit 1; }
done

step "building the pinned tools (control plane, helm, Prometheus; cached after the first run)"
make --no-print-directory tools 2>&1 | sed 's/^/    /'
# shellcheck source=../e2e/cluster/lib.sh
source e2e/cluster/lib.sh
target="${CARGO_TARGET_DIR:-$repo/target}/debug"

step "building tidewatch-operator, tidewatch-inference and the load generator (cargo, cached after the first run)"
cargo build --quiet -p tidewatch-operator -p tidewatch-inference --bins
cargo build --quiet -p tidewatch-inference --example loadgen
operator="$target/tidewatch-operator"
inference="$target/tidewatch-inference"
loadgen="$target/examples/loadgen"

if [[ -d "$run_pids" ]] && ls "$run_pids"/*.pid >/dev/null 2>&1; then
	note "a previous demo is still recorded; stopping it first"
	scripts/demo-down.sh >/dev/null 2>&1 || true
fi
rm -rf "$demo_dir"
mkdir -p "$run_pids" "$run_logs"

step "starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
e2e/cluster/up.sh 2>&1 | sed 's/^/    /'
admin=(--kubeconfig "$kubeconfig")
kubectl() { "$bin_dir/kubectl" "${admin[@]}" "$@"; }
note "kubeconfig: $kubeconfig"

step "installing the CRDs (kubectl apply --server-side -f crds/) and the operator's RBAC"
kubectl apply --server-side -f crds/ | sed 's/^/    /'
kubectl wait --for=condition=Established --timeout=60s crd/mlservices.tidewatch.io crd/slos.tidewatch.io >/dev/null
kubectl create namespace tidewatch-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# The same rules as the Helm chart: both come from `tidewatch-operator rbac`.
"$operator" rbac --namespace tidewatch-system --service-account tidewatch-operator |
	kubectl apply --server-side -f - | sed 's/^/    /'

step "running the operator locally as ServiceAccount tidewatch-system/tidewatch-operator"
token="$(kubectl -n tidewatch-system create token tidewatch-operator --duration 12h)"
server="$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')"
operator_kubeconfig="$demo_dir/operator.kubeconfig"
cat >"$operator_kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "$server", certificate-authority: "$ca"}}]
users: [{name: tidewatch-operator, user: {token: "$token"}}]
contexts: [{name: demo, context: {cluster: demo, user: tidewatch-operator}}]
current-context: demo
EOF
chmod 600 "$operator_kubeconfig"
operator_port="$(free_port)"
KUBECONFIG="$operator_kubeconfig" start operator "$operator" run \
	--metrics-address "127.0.0.1:$operator_port" --log-format text \
	--lease-namespace tidewatch-system --monitoring-label release=demo
await_url operator "http://127.0.0.1:$operator_port/readyz"
note "operator ready; metrics on http://127.0.0.1:$operator_port/metrics, log $run_logs/operator.log"

step "applying manifests/examples (MLService fraud-detector, availability and latency SLOs)"
kubectl create namespace fraud --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f manifests/examples/ | sed 's/^/    /'
note "waiting for the MLService to be Ready (kwok runs its pods)"
if ! kubectl -n fraud wait --for=condition=Ready mlservice/fraud-detector --timeout=120s >/dev/null; then
	kubectl -n fraud get mlservice fraud-detector -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2
	process_running "$run_pids/operator.pid" || echo "the operator exited; see $run_logs/operator.log" >&2
	false
fi
kubectl -n fraud wait --for=condition=Ready slo --all --timeout=60s | sed 's/^/    /'

step "writing the Prometheus rule files from the PrometheusRules the operator generated"
rules_dir="$demo_dir/prometheus/rules"
mkdir -p "$rules_dir"
# A PrometheusRule's spec is a rule file as it stands: `groups`, and nothing else.
for rule in $(kubectl -n fraud get prometheusrules -l app.kubernetes.io/managed-by=tidewatch-operator -o name); do
	kubectl -n fraud get "$rule" -o jsonpath='{.spec}' >"$rules_dir/${rule##*/}.rules.json"
done
cp alerts/*.rules.yaml "$rules_dir/"
"$bin_dir/promtool" check rules "$rules_dir"/* 2>&1 | grep -E '^Checking|SUCCESS|FAILED|error' | paste - - | sed 's/^Checking /    promtool check rules /; s/\t */: /'

step "starting two inference replicas on 127.0.0.1 (the second answers every prediction 500)"
healthy_port="$(free_port)"
faulty_port="$(free_port)"
start inference-0 "$inference" serve --listen "127.0.0.1:$healthy_port" --log-format json --workers 2
start inference-1 "$inference" serve --listen "127.0.0.1:$faulty_port" --log-format json --workers 2 \
	--fault-error-ratio 1.0
await_url inference-0 "http://127.0.0.1:$healthy_port/readyz"
await_url inference-1 "http://127.0.0.1:$faulty_port/readyz"
note "fraud-detector-0 on :$healthy_port, fraud-detector-1 (faulty) on :$faulty_port"

step "starting Prometheus (scrape and evaluation every second)"
prometheus_port="$(free_port)"
cat >"$demo_dir/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - rules/*.rules.yaml
  - rules/*.rules.json
scrape_configs:
  # The labels a ServiceMonitor would add in a cluster; the SLO rules select on them.
  - job_name: fraud-detector
    static_configs:
      - targets: ["127.0.0.1:$healthy_port"]
        labels: {namespace: fraud, service: fraud-detector, pod: fraud-detector-0}
      - targets: ["127.0.0.1:$faulty_port"]
        labels: {namespace: fraud, service: fraud-detector, pod: fraud-detector-1}
  - job_name: tidewatch-operator
    static_configs:
      - targets: ["127.0.0.1:$operator_port"]
        labels: {namespace: tidewatch-system, service: tidewatch-operator}
EOF
start prometheus "$bin_dir/prometheus" --config.file "$demo_dir/prometheus/prometheus.yml" \
	--storage.tsdb.path "$demo_dir/prometheus/data" --web.listen-address "127.0.0.1:$prometheus_port"
prom="http://127.0.0.1:$prometheus_port"
await_url prometheus "$prom/-/ready"
# Prometheus's own gauge of rules per loaded group, labelled "FILE;GROUP".
rule_count="$(curl -fsS "$prom/metrics" |
	awk '/^prometheus_rule_group_rules\{rule_group="[^"]*;tidewatch-slo-/ { n += $NF } END { print n + 0 }')"
note "Prometheus on $prom: $rule_count SLO rules loaded"
[[ "$rule_count" -gt 0 ]]

# Sends RATE predictions per second for SECONDS seconds, varied transactions shared equally
# by the replicas on PORTS; prints what came back. Bounded by construction.
traffic() {
	local seconds="$1" rate="$2" port targets=() summary
	shift 2
	for port in "$@"; do targets+=(--url "http://127.0.0.1:$port/v1/predict"); done
	summary="$("$loadgen" "${targets[@]}" --transactions 1000 --connections "$((2 * $#))" \
		--rate "$rate" --seconds "$seconds" --warmup 0)"
	[[ "$summary" =~ \"requests\":([0-9]+),\"errors\":([0-9]+).*\"p50_ms\":([0-9.]+).*\"p99_ms\":([0-9.]+) ]] ||
		{ echo "unexpected load generator output: $summary" >&2; return 1; }
	printf '%d answers, %d of them errors; latency p50 %s ms, p99 %s ms' \
		"${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}"
}

step "driving healthy traffic: 20 predictions/s for 20 s"
note "$(traffic 20 20 "$healthy_port")"

step "failure burst: 20 predictions/s for 30 s, half of them to the faulty replica"
note "$(traffic 30 20 "$healthy_port" "$faulty_port")"

step "waiting for the fast-burn page alert (1h/5m windows at 14.4x, no 'for') to fire"
firing_burn() {
	"$bin_dir/promtool" query instant "$prom" 'ALERTS{alertname="SLOErrorBudgetBurn", alertstate="firing"}' | grep -q .
}
wait_until 90 firing_burn || { echo "no SLOErrorBudgetBurn alert fired within 90 s" >&2; false; }

step "the result"
printf '\n$ kubectl get mls,slo -n fraud\n'
kubectl get mls,slo -n fraud
printf '\n$ kubectl get deploy,svc,cm,servicemonitor,prometheusrule,pods -n fraud -l app.kubernetes.io/managed-by=tidewatch-operator\n'
kubectl get deploy,svc,cm,servicemonitor,prometheusrule -n fraud -l app.kubernetes.io/managed-by=tidewatch-operator
kubectl get pods -n fraud -o wide
printf '\n$ promtool query instant %s ALERTS   (firing and pending)\n' "$prom"
# The value of label $1 in a series as promtool prints it: `ALERTS{a="x", b="y"} => 1 @[...]`.
label() {
	[[ "$2" =~ [{\ ]$1=\"([^\"]*)\" ]] && printf '%s' "${BASH_REMATCH[1]}"
	return 0
}
"$bin_dir/promtool" query instant "$prom" ALERTS | while IFS= read -r series; do
	subject="$(label namespace "$series")/$(label slo "$series")"
	[[ "$subject" != */ ]] || subject+="$(label service "$series")"
	feature="$(label feature "$series")"
	[[ -z "$feature" ]] || subject+=" feature $feature"
	long_window="$(label long_window "$series")"
	[[ -z "$long_window" ]] || subject+=" windows $long_window/$(label short_window "$series")"
	printf '  %-8s %-38s %-8s %s\n' "$(label alertstate "$series")" "$(label alertname "$series")" \
		"$(label severity "$series")" "$subject"
done | sort
cat <<EOF

SLOErrorBudgetBurn fired from the operator's rules; the static alerts stay pending because
their 'for' is 5 minutes to 1 hour (drift too: the demo's traffic is not the training data).

The demo keeps running:
  Prometheus   $prom  (alerts: $prom/alerts)
  operator     http://127.0.0.1:$operator_port/metrics  (log: $run_logs/operator.log)
  inference    http://127.0.0.1:$healthy_port/v1/predict and :$faulty_port (faulty)
  kubectl      $bin_dir/kubectl --kubeconfig $kubeconfig get mls,slo -A
Stop everything with: make demo-down
EOF
