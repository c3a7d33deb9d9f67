#!/usr/bin/env bash
# The real-node tier: builds the images, joins the real node to the local control plane,
# starts the Prometheus Operator, and runs the tests that need them (image_layout,
# real_node). Whatever this script started is stopped afterwards, pass or fail, and the
# host's settings are restored (e2e/node/down.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source e2e/node/lib.sh

started=$SECONDS
cluster_started_here=false
cleanup() {
	local rc=$?
	if ((rc != 0)); then
		for c in kubelet containerd kube-proxy; do log_tail "$c" 15; done
	fi
	e2e/node/down.sh || rc=1
	if $cluster_started_here; then e2e/cluster/down.sh || rc=1; fi
	say "real-node tier done in $((SECONDS - started))s (rc=$rc)"
	exit "$rc"
}
trap cleanup EXIT

e2e/images/build.sh
if ! { [[ -f "$kubeconfig" ]] && kubectl_admin get --raw /readyz >/dev/null 2>&1; }; then
	cluster_started_here=true
	e2e/cluster/up.sh
fi
e2e/node/up.sh
e2e/node/monitoring-up.sh >/dev/null

export TIDEWATCH_KUBECONFIG="$kubeconfig"
export TIDEWATCH_TOOLS_BIN="$bin_dir"
export PATH="$bin_dir:$PATH"
cargo test -p tidewatch-e2e --features real-node --test image_layout --test real_node -- \
	--test-threads 1 --nocapture "$@"
