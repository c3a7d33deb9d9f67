#!/usr/bin/env bash
# `make demo`: the whole system on this machine, on 127.0.0.1 only. Builds what it needs
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

# Starts a long-running process in the background with its log and PID recorded.
start() {
	local name="$1"
	shift
	"$@" >"$run_logs/$name.log" 2>&1 &
	echo $! >"$run_pids/$name.pid"
}
# Fails with the log's tail when a process started by `start` has exited.
alive() {
	local name="$1"
	if ! kill -0 "$(cat "$run_pids/$name.pid")" 2>/dev/null; then
		echo "$name exited; last lines of $run_logs/$name.log:" >&2
		tail -n 20 "$run_logs/$name.log" >&2
		return 1
	fi
}
# Waits up to $1 seconds for a command to succeed.
wait_for() {
	local seconds="$1"
	shift
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "timed out after ${seconds}s waiting for: $*" >&2
			return 1
		fi
		sleep 1
	done
}

for tool in cargo go curl python3; do
	command -v "$tool" >/dev/null || { echo "make demo needs $tool on PATH" >&2; exit 1; }
done

step "building the pinned tools (control plane, helm, Prometheus; cached after the first run)"
make --no-print-directory tools 2>&1 | sed 's/^/    /'
# shellcheck source=../e2e/cluster/lib.sh
source e2e/cluster/lib.sh
target="${CARGO_TARGET_DIR:-$repo/target}/debug"

step "building tidewatch-operator and tidewatch-inference (cargo, cached after the first run)"
cargo build --quiet -p tidewatch-operator -p tidewatch-inference --bins
operator="$target/tidewatch-operator"
inference="$target/tidewatch-inference"

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
wait_for 60 curl -fsS "http://127.0.0.1:$operator_port/readyz" || { alive operator; false; }
note "operator ready; metrics on http://127.0.0.1:$operator_port/metrics, log $run_logs/operator.log"

step "applying manifests/examples (MLService fraud-detector, availability and latency SLOs)"
kubectl create namespace fraud --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f manifests/examples/ | sed 's/^/    /'
note "waiting for the MLService to be Ready (kwok runs its pods)"
if ! kubectl -n fraud wait --for=condition=Ready mlservice/fraud-detector --timeout=120s >/dev/null; then
	kubectl -n fraud get mlservice fraud-detector -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2
	alive operator
	false
fi
kubectl -n fraud wait --for=condition=Ready slo --all --timeout=60s | sed 's/^/    /'

step "writing the Prometheus rule file from the PrometheusRules the operator generated"
rules_dir="$demo_dir/prometheus/rules"
mkdir -p "$rules_dir"
kubectl -n fraud get prometheusrules -l app.kubernetes.io/managed-by=tidewatch-operator -o json |
	python3 -c 'import json, sys
objects = json.load(sys.stdin)["items"]
groups = [g for o in objects for g in o["spec"]["groups"]]
json.dump({"groups": groups}, sys.stdout, indent=1)' >"$rules_dir/slo.rules.json"
cp alerts/*.rules.yaml "$rules_dir/"
"$bin_dir/promtool" check rules "$rules_dir"/* 2>&1 | grep -E '^Checking|SUCCESS|FAILED|error' | paste - - | sed 's/^Checking /    promtool check rules /; s/\t */: /'

step "starting two inference replicas on 127.0.0.1 (the second answers every prediction 500)"
healthy_port="$(free_port)"
faulty_port="$(free_port)"
start inference-0 "$inference" serve --listen "127.0.0.1:$healthy_port" --log-format json --workers 2
start inference-1 "$inference" serve --listen "127.0.0.1:$faulty_port" --log-format json --workers 2 \
	--fault-error-ratio 1.0
for i in 0 1; do
	port=$([[ $i == 0 ]] && echo "$healthy_port" || echo "$faulty_port")
	wait_for 60 curl -fsS "http://127.0.0.1:$port/readyz" || { alive "inference-$i"; false; }
done
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
wait_for 60 curl -fsS "$prom/-/ready" || { alive prometheus; false; }
rule_count="$(curl -fsS "$prom/api/v1/rules" | python3 -c 'import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
print(sum(len(g["rules"]) for g in groups if g["name"].startswith("tidewatch-slo-")))')"
note "Prometheus on $prom: $rule_count SLO rules loaded"
[[ "$rule_count" -gt 0 ]]

# Sends `rate` prediction requests per second for `seconds` seconds, a share `faulty` of
# them to the faulty replica; prints the status codes seen. Bounded by construction.
traffic() {
	python3 - "$1" "$2" "$3" "$healthy_port" "$faulty_port" <<'PY'
import collections, json, sys, threading, time, urllib.error, urllib.request
seconds, rate, faulty = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
healthy, broken = sys.argv[4], sys.argv[5]
codes = collections.Counter()
lock = threading.Lock()
CATEGORIES = ["grocery"] * 4 + ["restaurant"] * 3 + ["fuel"] * 2 + ["retail"] * 3 + [
    "travel", "electronics", "digital_goods", "gift_cards"]
COUNTRIES = ["US"] * 8 + ["GB", "DE"]
def send(n):
    port = broken if faulty > 0 and n % round(1 / faulty) == 0 else healthy
    body = json.dumps({"transaction_id": f"t-{n}", "user_id": f"user-{n % 10000:06d}",
        "amount": round(5 + (n * 7919 % 1000) ** 1.5 / 100, 2), "currency": "USD",
        "merchant_category": CATEGORIES[n * 31 % len(CATEGORIES)],
        "merchant_country": COUNTRIES[n * 17 % len(COUNTRIES)],
        "card_present": n % 3 != 0, "local_hour": (8 + n * 13) % 24}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", body,
        {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            code = answer.status
    except urllib.error.HTTPError as error:
        code = error.code
    except OSError:
        code = "no answer"
    with lock:
        codes[code] += 1
start, n, threads = time.monotonic(), 0, []
while (elapsed := time.monotonic() - start) < seconds:
    while n < elapsed * rate:
        thread = threading.Thread(target=send, args=(n,))
        thread.start(); threads.append(thread); n += 1
    time.sleep(0.01)
for thread in threads:
    thread.join()
print(", ".join(f"{count} x {code}" for code, count in sorted(codes.items(), key=str)))
PY
}

step "driving healthy traffic: 20 predictions/s for 20 s"
note "answers: $(traffic 20 20 0)"

step "failure burst: 20 predictions/s for 30 s, half of them to the faulty replica"
note "answers: $(traffic 30 20 0.5)"

step "waiting for the fast-burn page alert (1h/5m windows at 14.4x, no 'for') to fire"
firing_burn() {
	curl -fsS "$prom/api/v1/alerts" | python3 -c 'import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
sys.exit(0 if any(a["labels"]["alertname"] == "SLOErrorBudgetBurn" and a["state"] == "firing" for a in alerts) else 1)'
}
wait_for 90 firing_burn || { echo "no SLOErrorBudgetBurn alert fired within 90 s" >&2; false; }

step "the result"
printf '\n$ kubectl get mls,slo -n fraud\n'
kubectl get mls,slo -n fraud
printf '\n$ kubectl get deploy,svc,cm,servicemonitor,prometheusrule,pods -n fraud -l app.kubernetes.io/managed-by=tidewatch-operator\n'
kubectl get deploy,svc,cm,servicemonitor,prometheusrule -n fraud -l app.kubernetes.io/managed-by=tidewatch-operator
kubectl get pods -n fraud -o wide
printf '\n$ curl %s/api/v1/alerts   (firing and pending)\n' "$prom"
curl -fsS "$prom/api/v1/alerts" >"$demo_dir/alerts.json"
python3 - "$demo_dir/alerts.json" <<'PY'
import json, sys
alerts = json.load(open(sys.argv[1]))["data"]["alerts"]
for a in sorted(alerts, key=lambda a: (a["state"], a["labels"]["alertname"], a["labels"].get("slo", ""))):
    labels = a["labels"]
    subject = labels.get("namespace", "") + "/" + (labels.get("slo") or labels.get("service") or "")
    if "feature" in labels:
        subject += " feature " + labels["feature"]
    if "long_window" in labels:
        subject += " windows " + labels["long_window"] + "/" + labels["short_window"]
    print("  %-8s %-30s %-7s %s  value=%.4g" % (a["state"], labels["alertname"], labels.get("severity", ""), subject, float(a["value"])))
PY

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
