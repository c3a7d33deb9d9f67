#!/usr/bin/env bash
# The e2e suite on a kind cluster, for machines with Docker: creates the cluster, builds and
# loads the operator and inference images, installs the Prometheus Operator CRDs and the
# chart, then runs the same tests as `make e2e` against it. The cluster is deleted at the
# end unless KEEP_CLUSTER=1. Tests that read the local control plane's audit log
# (operator_idle, operator_leader) have no audit log on kind; filter them out with
# `e2e/kind/run.sh --skip operator_idle --skip operator_leader`.
# Usage: e2e/kind/run.sh [cargo test arguments...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source e2e/cluster/versions.env

cluster="${KIND_CLUSTER_NAME:-tidewatch-e2e}"
tag="e2e"
work="e2e/.work/kind"
say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'e2e-kind: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed; the kind path needs Docker (use 'make e2e' for the local control plane instead)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers ('docker info' fails); start Docker, or use 'make e2e'"
command -v kind >/dev/null || fail "kind is not installed: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"

make --no-print-directory tools >/dev/null
bin_dir="$(e2e/cluster/build.sh bin-dir)"
mkdir -p "$work"
kubeconfig="$PWD/$work/kubeconfig"
kubectl() { "$bin_dir/kubectl" --kubeconfig "$kubeconfig" "$@"; }

cleanup() {
	if [[ "${KEEP_CLUSTER:-0}" != 1 ]]; then kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

say "creating kind cluster $cluster (Kubernetes $KUBERNETES_VERSION)"
kind get clusters 2>/dev/null | grep -qx "$cluster" ||
	kind create cluster --name "$cluster" --image "${KIND_NODE_IMAGE:-kindest/node:$KUBERNETES_VERSION}" --kubeconfig "$kubeconfig" --wait 120s
kind get kubeconfig --name "$cluster" >"$kubeconfig"

for component in operator inference; do
	say "building and loading tidewatch-$component:$tag"
	docker build -q -f "$component/Dockerfile" -t "tidewatch-$component:$tag" . >/dev/null
	kind load docker-image --name "$cluster" "tidewatch-$component:$tag"
done

say "installing Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs"
crd_base="https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/$PROMETHEUS_OPERATOR_VERSION/example/prometheus-operator-crd"
for crd in servicemonitors podmonitors prometheusrules; do
	kubectl apply --server-side -f "$crd_base/monitoring.coreos.com_$crd.yaml" >/dev/null
done

say "installing the chart with the images just built"
# The watched namespace first: the chart puts the operator's Role there.
kubectl create namespace tidewatch-kind --dry-run=client -o yaml | kubectl apply -f - >/dev/null
"$bin_dir/helm" --kubeconfig "$kubeconfig" upgrade --install tidewatch charts/tidewatch \
	--namespace tidewatch-system --create-namespace \
	--set image.repository=tidewatch-operator,image.tag="$tag",image.pullPolicy=Never \
	--set inferenceImage="tidewatch-inference:$tag" \
	--set serviceMonitor.enabled=true --set watchNamespaces="{tidewatch-kind}" \
	--wait --timeout 180s
kubectl -n tidewatch-system rollout status deployment/tidewatch --timeout=120s

# The chart's operator runs for real here, watching one namespace of its own so that it
# never competes with the operators the suite starts: the example must become Ready with
# real inference pods.
say "applying the example MLService in namespace tidewatch-kind"
sed 's/namespace: fraud$/namespace: tidewatch-kind/' manifests/examples/fraud-detector.yaml |
	sed '/featureStore:/,/timeoutMs:/d' | kubectl apply -f -
kubectl -n tidewatch-kind wait --for=condition=Ready mlservice/fraud-detector --timeout=300s

say "running the e2e suite against kind"
export TIDEWATCH_KUBECONFIG="$kubeconfig" TIDEWATCH_TOOLS_BIN="$bin_dir" PATH="$bin_dir:$PATH"
cargo build -p tidewatch-operator
export TIDEWATCH_OPERATOR_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tidewatch-operator"
cargo test -p tidewatch-e2e -- "$@"
