#!/usr/bin/env bash
# Builds every image the real node runs, offline: the operator and inference images (laid
# out by their shipped Dockerfiles' runtime stage), pause, Prometheus, the Prometheus
# Operator and its config reloader, CoreDNS and Redis. Each is one layer holding the
# binary, the libraries `ldd` lists, and a non-root user (65532); no shell, no base image.
# Archives go to e2e/.work/images/<name>.tar. PROFILE=release builds the Rust binaries
# optimised (the default reuses the debug build the tests use).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
# shellcheck source=images.env
source "$here/images.env"
out_dir="${TIDEWATCH_WORK_DIR:-$repo_root/e2e/.work}/images"
profile="${PROFILE:-debug}"
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
cluster_bin="$("$repo_root/e2e/cluster/build.sh" bin-dir)"
node_bin="$("$repo_root/e2e/node/build.sh" bin-dir)"
stage="$out_dir/stage"
mkdir -p "$out_dir" "$stage"

say() { printf '==> %s\n' "$*" >&2; }
image() { python3 "$here/oci_image.py" "$@"; }

# A copy without symbols: what the Dockerfiles ship (they strip too).
stripped() {
	local source="$1" name
	name="$(basename "$source")"
	strip -o "$stage/$name" "$source"
	echo "$stage/$name"
}

build_rust() {
	local flag=()
	[[ "$profile" == release ]] && flag=(--release)
	say "building the operator and inference binaries ($profile)"
	(cd "$repo_root" && cargo build --quiet "${flag[@]}" -p tidewatch-operator -p tidewatch-inference)
}

main() {
	"$repo_root/e2e/cluster/build.sh" prometheus
	"$repo_root/e2e/node/build.sh" all
	build_rust
	gcc -O2 -static -o "$stage/pause" "$here/pause.c"

	image --name "$OPERATOR_IMAGE" --output "$out_dir/operator.tar" \
		--dockerfile "$repo_root/operator/Dockerfile" "$(stripped "$target_dir/$profile/tidewatch-operator")"
	image --name "$INFERENCE_IMAGE" --output "$out_dir/inference.tar" \
		--dockerfile "$repo_root/inference/Dockerfile" "$(stripped "$target_dir/$profile/tidewatch-inference")"
	image --name "$PAUSE_IMAGE" --output "$out_dir/pause.tar" --entrypoint '["/pause"]' \
		"$stage/pause:/pause"
	# The Prometheus Operator passes arguments only, so each entrypoint is its program.
	image --name "$PROMETHEUS_IMAGE" --output "$out_dir/prometheus.tar" \
		--entrypoint '["/bin/prometheus"]' \
		--cmd '["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus"]' \
		--expose 9090 --mkdir /prometheus --mkdir /etc/prometheus --workdir /prometheus \
		"$cluster_bin/prometheus:/bin/prometheus"
	image --name "$PROMETHEUS_OPERATOR_IMAGE" --output "$out_dir/prometheus-operator.tar" \
		--entrypoint '["/bin/operator"]' --expose 8080 "$node_bin/prometheus-operator:/bin/operator"
	image --name "$CONFIG_RELOADER_IMAGE" --output "$out_dir/prometheus-config-reloader.tar" \
		--entrypoint '["/bin/prometheus-config-reloader"]' \
		"$node_bin/prometheus-config-reloader:/bin/prometheus-config-reloader"
	# Listens on 1053: a non-root process cannot bind 53; the DNS Service maps 53 to it.
	image --name "$COREDNS_IMAGE" --output "$out_dir/coredns.tar" \
		--entrypoint '["/coredns"]' --cmd '["-conf","/etc/coredns/Corefile"]' --expose 1053 \
		"$node_bin/coredns:/coredns"
	image --name "$REDIS_IMAGE" --output "$out_dir/redis.tar" \
		--entrypoint '["/usr/bin/redis-server"]' --expose 6379 --mkdir /data --workdir /data \
		"$(command -v redis-server):/usr/bin/redis-server"
	rm -rf "$stage"
}

case "${1:-all}" in
all) main ;;
dir) echo "$out_dir" ;;
*)
	echo "usage: $0 [all|dir]" >&2
	exit 2
	;;
esac
