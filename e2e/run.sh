#!/usr/bin/env bash
# Runs the end-to-end suite against the local control plane. A cluster that is already up
# is used and left running; one this script starts is stopped afterwards, pass or fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source e2e/cluster/lib.sh

started_here=false
if ! { [[ -f "$kubeconfig" ]] && "$bin_dir/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; }; then
	e2e/cluster/up.sh
	started_here=true
fi

cleanup() {
	local rc=$?
	# A component that crashed during the tests explains itself here.
	e2e/cluster/status.sh >/dev/null 2>&1 || e2e/cluster/status.sh || rc=1
	if $started_here; then e2e/cluster/down.sh; fi
	exit "$rc"
}
trap cleanup EXIT

export TIDEWATCH_KUBECONFIG="$kubeconfig"
export TIDEWATCH_TOOLS_BIN="$bin_dir"
export PATH="$bin_dir:$PATH"
# The suite runs both binaries as child processes; build them once, up front.
cargo build -p tidewatch-operator -p tidewatch-inference
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export TIDEWATCH_OPERATOR_BIN="$target_dir/debug/tidewatch-operator"
export TIDEWATCH_INFERENCE_BIN="$target_dir/debug/tidewatch-inference"
cargo test -p tidewatch-e2e -- "$@"
