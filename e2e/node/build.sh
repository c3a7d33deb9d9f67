#!/usr/bin/env bash
# Builds the real node's programs from their published Go modules: kubelet and kube-proxy
# (the control plane's Kubernetes release), crictl, CoreDNS, and the Prometheus Operator with
# its config reloader. Cached like the control plane, keyed by both versions files; a binary
# already there is never rebuilt. Usage: build.sh [all|bin-dir|<binary>...]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="$here/../cluster"
# shellcheck source=../cluster/versions.env
source "$cluster/versions.env"
# shellcheck source=versions.env
source "$here/versions.env"

versions_hash="$(cat "$cluster/versions.env" "$here/versions.env" | sha256sum | cut -c1-12)"
cache_dir="${TIDEWATCH_CACHE:-$HOME/.cache/tidewatch}/node-$versions_hash"
bin_dir="$cache_dir/bin"
src_dir="$cache_dir/src"
log_dir="$cache_dir/logs"

# shellcheck source=../cluster/gobuild.sh
source "$cluster/gobuild.sh"

version_ldflags() {
	local version="$1" pkg=github.com/prometheus/common/version
	echo "-s -w -X $pkg.Version=${version#v} -X $pkg.Revision=module-$version \
-X $pkg.Branch=release -X $pkg.BuildUser=tidewatch -X $pkg.BuildDate=$build_date"
}

build_prometheus_operator() {
	local binary="$1" cmd="$2"
	local dir
	dir="$(wrapper_module prometheus-operator github.com/prometheus-operator/prometheus-operator \
		"$PROMETHEUS_OPERATOR_VERSION")"
	run_logged "$binary" bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '$(version_ldflags "$PROMETHEUS_OPERATOR_VERSION")' -o '$bin_dir/$binary' \
		github.com/prometheus-operator/prometheus-operator/cmd/$cmd"
}

build_coredns() {
	local dir
	dir="$(wrapper_module coredns github.com/coredns/coredns "$COREDNS_VERSION")"
	run_logged coredns bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '-s -w -X github.com/coredns/coredns/coremain.GitCommit=module-$COREDNS_VERSION' \
		-o '$bin_dir/coredns' github.com/coredns/coredns"
}

build_crictl() {
	local dir
	dir="$(wrapper_module cri-tools sigs.k8s.io/cri-tools "$CRI_TOOLS_VERSION")"
	run_logged crictl bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION' \
		-o '$bin_dir/crictl' sigs.k8s.io/cri-tools/cmd/crictl"
}

build_one() {
	local binary="$1"
	[[ -x "$bin_dir/$binary" ]] && return 0
	say "building $binary (cold builds take minutes; the result is cached in $bin_dir)"
	case "$binary" in
	kubelet | kube-proxy) build_kubernetes "$binary" ;;
	coredns) build_coredns ;;
	crictl) build_crictl ;;
	prometheus-operator) build_prometheus_operator "$binary" operator ;;
	prometheus-config-reloader) build_prometheus_operator "$binary" prometheus-config-reloader ;;
	*)
		say "unknown binary: $binary"
		exit 2
		;;
	esac
}

all_binaries=(kubelet kube-proxy crictl coredns prometheus-operator prometheus-config-reloader)

mkdir -p "$bin_dir" "$src_dir" "$log_dir"
case "${1:-all}" in
bin-dir) echo "$bin_dir" ;;
all) for b in "${all_binaries[@]}"; do build_one "$b"; done ;;
*) for b in "$@"; do build_one "$b"; done ;;
esac
