#!/usr/bin/env bash
# Builds the operator benchmarks' peers from their published Go modules, cached under
# ~/.cache/tidewatch/peers-<hash> like the control plane; a binary already there is never
# rebuilt. Usage:
#   build.sh sloth       build Sloth (if needed) and print the binary's path
#   build.sh sloth-crd   print the path of Sloth's PrometheusServiceLevel CRD, from the
#                        same module the binary was built from
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="$here/../../../e2e/cluster"
# shellcheck source=versions.env
source "$here/versions.env"

versions_hash="$(sha256sum "$here/versions.env" | cut -c1-12)"
cache_dir="${TIDEWATCH_CACHE:-$HOME/.cache/tidewatch}/peers-$versions_hash"
bin_dir="$cache_dir/bin"
src_dir="$cache_dir/src"
log_dir="$cache_dir/logs"

# shellcheck source=../../../e2e/cluster/gobuild.sh
source "$cluster/gobuild.sh"

sloth_module=github.com/slok/sloth

build_sloth() {
	[[ -x "$bin_dir/sloth" ]] && return 0
	say "building sloth $SLOTH_VERSION (about two minutes cold; cached in $bin_dir)"
	local dir
	dir="$(wrapper_module sloth "$sloth_module" "$SLOTH_VERSION")"
	run_logged sloth bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '-s -w' -o '$bin_dir/sloth' $sloth_module/cmd/sloth"
}

sloth_crd() {
	build_sloth
	local module_dir
	module_dir="$(cd "$src_dir/sloth" && go list -mod=mod -m -f '{{.Dir}}' "$sloth_module")"
	echo "$module_dir/pkg/kubernetes/gen/crd/sloth.slok.dev_prometheusservicelevels.yaml"
}

mkdir -p "$bin_dir" "$src_dir" "$log_dir"
case "${1:-}" in
sloth)
	build_sloth
	echo "$bin_dir/sloth"
	;;
sloth-crd) sloth_crd ;;
*)
	echo "usage: build.sh sloth|sloth-crd" >&2
	exit 2
	;;
esac
