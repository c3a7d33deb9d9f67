#!/usr/bin/env bash
# Builds the local control plane and test tools from their published Go modules, at the
# versions pinned in versions.env, into the cache printed by `cache-dir`. A binary that is
# already there is never rebuilt. Usage: build.sh [all|bin-dir|cache-dir|<binary>...]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

versions_hash="$(sha256sum "$here/versions.env" | cut -c1-12)"
cache_root="${TIDEWATCH_CACHE:-$HOME/.cache/tidewatch}"
cache_dir="$cache_root/$versions_hash"
bin_dir="$cache_dir/bin"
src_dir="$cache_dir/src"
log_dir="$cache_dir/logs"

# shellcheck source=gobuild.sh
source "$here/gobuild.sh"

build_etcd() {
	local dir
	dir="$(wrapper_module etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION")"
	run_logged etcd bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=release-$ETCD_VERSION' \
		-o '$bin_dir/etcd' go.etcd.io/etcd/server/v3"
}

build_kwok() {
	local dir
	dir="$(wrapper_module kwok sigs.k8s.io/kwok "$KWOK_VERSION")"
	run_logged kwok bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION' \
		-o '$bin_dir/kwok' sigs.k8s.io/kwok/cmd/kwok"
}

build_helm() {
	local dir
	dir="$(wrapper_module helm helm.sh/helm/v3 "$HELM_VERSION")"
	run_logged helm bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
		-X helm.sh/helm/v3/internal/version.gitTreeState=clean' \
		-o '$bin_dir/helm' helm.sh/helm/v3/cmd/helm"
}

prometheus_ldflags() {
	# v0.316.0 -> 3.16.0
	local rest="${PROMETHEUS_MODULE_VERSION#v0.}"
	local minor_patch="${rest#3}"
	local version="3.$((10#${minor_patch%%.*})).${rest#*.}"
	local pkg=github.com/prometheus/common/version
	echo "-s -w -X $pkg.Version=$version -X $pkg.Revision=module-$PROMETHEUS_MODULE_VERSION \
-X $pkg.Branch=release -X $pkg.BuildUser=tidewatch -X $pkg.BuildDate=$build_date"
}

build_prometheus() {
	local binary="$1"
	local dir
	dir="$(wrapper_module prometheus github.com/prometheus/prometheus "$PROMETHEUS_MODULE_VERSION")"
	run_logged "$binary" bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '$(prometheus_ldflags)' -o '$bin_dir/$binary' \
		github.com/prometheus/prometheus/cmd/$binary"
}

build_one() {
	local binary="$1"
	if [[ -x "$bin_dir/$binary" ]]; then
		return 0
	fi
	say "building $binary (cold builds take minutes; the result is cached in $bin_dir)"
	case "$binary" in
	kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) build_kubernetes "$binary" ;;
	etcd) build_etcd ;;
	kwok) build_kwok ;;
	helm) build_helm ;;
	prometheus | promtool) build_prometheus "$binary" ;;
	*)
		say "unknown binary: $binary"
		exit 2
		;;
	esac
}

all_binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm prometheus promtool)

main() {
	mkdir -p "$bin_dir" "$src_dir" "$log_dir"
	case "${1:-all}" in
	bin-dir) echo "$bin_dir" ;;
	cache-dir) echo "$cache_dir" ;;
	all) for b in "${all_binaries[@]}"; do build_one "$b"; done ;;
	*) for b in "$@"; do build_one "$b"; done ;;
	esac
}

main "$@"
