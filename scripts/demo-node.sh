#!/usr/bin/env bash
# `make demo` on the real node: everything in pods. Builds the images offline, starts the
# demo's control plane, joins the real node (containerd, kubelet, kube-proxy, CoreDNS),
# runs the Prometheus Operator and its Prometheus, installs the chart with the local
# operator image, Redis and the examples, drives traffic through the Service, injects a
# fault and waits for the page. Prints pods, scrape targets, loaded rules and firing
# alerts. Exits 3 when the real node cannot start here, so `make demo` can fall back.
# `make demo-down` stops it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export TIDEWATCH_WORK_DIR="$PWD/e2e/.work/demo"
# shellcheck source=../e2e/node/lib.sh
source e2e/node/lib.sh
export KUBECONFIG="$kubeconfig"
PATH="$bin_dir:$PATH"

step_number=0
step() {
	step_number=$((step_number + 1))
	printf '\n[%d] %s\n' "$step_number" "$*"
}
note() { printf '    %s\n' "$*"; }
indent() { sed 's/^/    /'; }
trap 'printf "\nmake demo failed at step %d; logs under %s; stop it with: make demo-down\n" "$step_number" "$TIDEWATCH_WORK_DIR" >&2' ERR

if [[ $(id -u) -ne 0 ]] || ! command -v containerd >/dev/null; then
	echo "the real node needs root and containerd (scripts/install-deps.sh installs it)" >&2
	exit 3
fi

step "building the tools and the images (offline; cached after the first run)"
make --no-print-directory tools 2>&1 | indent
e2e/images/build.sh 2>&1 | indent

if [[ -f "$kubeconfig" ]]; then
	note "a previous demo is still recorded; stopping it first, so this one starts clean"
	scripts/demo-down.sh 2>&1 | indent
fi

step "starting the demo's control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
e2e/cluster/up.sh 2>&1 | indent

step "joining the real node: containerd, kubelet, kube-proxy, CoreDNS"
if ! e2e/node/up.sh 2>&1 | indent; then
	note "the real node could not start on this machine (log: $node_log_dir)"
	exit 3
fi

step "running the Prometheus Operator and a Prometheus (selects release=tidewatch-monitoring)"
prometheus_url="$(e2e/node/monitoring-up.sh 2> >(indent >&2) | tail -n 1)"

step "installing the CRDs and the chart with the local operator image"
kubectl apply --server-side -f crds/ >/dev/null
use_real_node tidewatch-system
helm upgrade --install tidewatch charts/tidewatch -n tidewatch-system --wait --timeout 180s \
	--set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE##*:}" \
	--set image.pullPolicy=Never --set inferenceImage="$INFERENCE_IMAGE" \
	--set monitoringLabels.release=tidewatch-monitoring --set serviceMonitor.enabled=true \
	--set prometheusRule.enabled=true | grep -E '^(NAME|STATUS)' | indent

step "Redis in namespace fraud (password from the Secret the example names), then the examples"
use_real_node fraud
REDIS_PASSWORD="demo-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
render_manifest e2e/node/manifests/redis.yaml REDIS_IMAGE REDIS_PASSWORD | kubectl apply -f - >/dev/null
kubectl -n fraud rollout status deployment/redis --timeout=120s >/dev/null
kubectl apply -f manifests/examples/ >/dev/null
kubectl -n fraud wait --for=condition=Ready mlservice/fraud-detector --timeout=180s >/dev/null
service="$(kubectl -n fraud get service fraud-detector -o jsonpath='http://{.spec.clusterIP}:{.spec.ports[0].port}')"
note "MLService fraud-detector Ready; Service $service"

send_predictions() { python3 scripts/demo/send_predictions.py "$service" "$1"; }

note "waiting for the Prometheus Operator to configure the inference pods' scrape targets"
targets_up() {
	curl -fsS "$prometheus_url/api/v1/targets?state=active" |
		python3 -c 'import json,sys; t=json.load(sys.stdin)["data"]["activeTargets"]; sys.exit(0 if sum(1 for x in t if x["labels"].get("service")=="fraud-detector" and x["health"]=="up")>=2 else 1)'
}
wait_until 240 targets_up || note "the inference targets were not up within 240 s"

step "healthy traffic through the Service's ClusterIP (kube-proxy)"
note "$(send_predictions 2000)"

step "injecting a fault: every prediction answers 500 (TIDEWATCH_FAULT_ERROR_RATIO=1 on the Deployment)"
kubectl -n fraud set env deployment/fraud-detector TIDEWATCH_FAULT_ERROR_RATIO=1 >/dev/null
kubectl -n fraud rollout status deployment/fraud-detector --timeout=180s >/dev/null
note "waiting (at most 4 minutes) for SLOErrorBudgetBurn (page) to fire in the Prometheus pod"
fired=false
deadline=$((SECONDS + 240))
while ((SECONDS < deadline)); do
	note "$(send_predictions 200)"
	if curl -fsS "$prometheus_url/api/v1/alerts" | python3 -c 'import json,sys; a=json.load(sys.stdin)["data"]["alerts"]; sys.exit(0 if any(x["labels"]["alertname"]=="SLOErrorBudgetBurn" and x["labels"].get("severity")=="page" and x["state"]=="firing" for x in a) else 1)'; then
		fired=true
		break
	fi
	sleep 2
done
$fired && note "the page fired" || note "the page did not fire within 4 minutes"

step "the result"
note "nodes:"
kubectl get nodes -o wide | indent
note "pods:"
kubectl get pods -A -o wide | indent
note "MLServices and SLOs:"
kubectl get mls,slo -n fraud | indent
python3 - "$prometheus_url" <<'EOF' | indent
import json, sys, urllib.request
base = sys.argv[1]
get = lambda path: json.load(urllib.request.urlopen(base + path))["data"]
print("scrape targets (Prometheus pod, configured by the Prometheus Operator):")
for t in get("/api/v1/targets?state=active")["activeTargets"]:
    l = t["labels"]
    print(f"  {t['health']:5} job={l.get('job')} namespace={l.get('namespace')} pod={l.get('pod')}")
groups = get("/api/v1/rules")["groups"]
print(f"rule groups loaded: {len(groups)}")
for g in groups:
    print(f"  {g['name']}: {len(g['rules'])} rules")
print("alerts:")
for a in get("/api/v1/alerts")["alerts"]:
    l = a["labels"]
    print(f"  {a['state']:8} {l['alertname']} severity={l.get('severity')} slo={l.get('slo', '-')}")
EOF
note "Prometheus: $prometheus_url   kubeconfig: $kubeconfig"
note "stop everything with: make demo-down"
