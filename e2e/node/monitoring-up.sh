#!/usr/bin/env bash
# Runs the Prometheus Operator on the real node, with a Prometheus resource that selects
# ServiceMonitors and PrometheusRules labelled release=tidewatch-monitoring in every
# namespace, as kube-prometheus-stack does. Prints the Prometheus pod's address when Ready.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS
module="$(go_module_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")"

say "installing the Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs and roles"
for crd in "$module"/example/prometheus-operator-crd/*.yaml; do
	kubectl_admin apply --server-side --force-conflicts -f "$crd" >/dev/null
done
kubectl_admin wait --for=condition=Established --timeout=60s crd/prometheuses.monitoring.coreos.com >/dev/null
kubectl_admin apply -f "$module/example/rbac/prometheus-operator/prometheus-operator-cluster-role.yaml" \
	-f "$module/example/rbac/prometheus/prometheus-cluster-role.yaml" >/dev/null

use_real_node monitoring
# Prometheus' version, from the module version the control plane's tools are built at.
rest="${PROMETHEUS_MODULE_VERSION#v0.}"
minor_patch="${rest#3}"
PROMETHEUS_VERSION="v3.$((10#${minor_patch%%.*})).${rest#*.}"
export PROMETHEUS_IMAGE PROMETHEUS_OPERATOR_IMAGE CONFIG_RELOADER_IMAGE PROMETHEUS_VERSION
render_manifest "$node_script_dir/manifests/monitoring.yaml" \
	PROMETHEUS_IMAGE PROMETHEUS_OPERATOR_IMAGE CONFIG_RELOADER_IMAGE PROMETHEUS_VERSION |
	kubectl_admin apply -f - >/dev/null
kubectl_admin -n monitoring rollout status deployment/prometheus-operator --timeout=120s >/dev/null

# The StatefulSet appears once the operator has read the Prometheus resource.
wait_until 120 kubectl_admin -n monitoring get statefulset prometheus-tidewatch || {
	say "the Prometheus Operator made no StatefulSet for the Prometheus resource"
	kubectl_admin -n monitoring logs deployment/prometheus-operator --tail 30 >&2 || true
	exit 1
}
if ! kubectl_admin -n monitoring rollout status statefulset/prometheus-tidewatch --timeout=180s >/dev/null; then
	say "Prometheus did not become ready"
	kubectl_admin -n monitoring describe pods -l app.kubernetes.io/name=prometheus >&2 || true
	exit 1
fi
pod_ip="$(kubectl_admin -n monitoring get pod prometheus-tidewatch-0 -o jsonpath='{.status.podIP}')"
say "Prometheus Operator and Prometheus ready in $((SECONDS - started))s: http://$pod_ip:9090"
echo "http://$pod_ip:9090"
