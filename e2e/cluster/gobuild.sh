# Building commands of published Go modules into a cache (sourced, not run). The caller
# sets bin_dir, src_dir and log_dir, and sources the versions these functions read.
# shellcheck shell=bash

# Reproducible, static binaries; the build date is fixed so identical inputs give
# identical outputs.
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -trimpath"
build_date="2026-01-01T00:00:00Z"

say() { printf '==> %s\n' "$*" >&2; }

# Runs a build step with its output in a log; on failure prints the tail and exits.
run_logged() {
	local name="$1"
	shift
	local log="$log_dir/$name.log"
	local started=$SECONDS
	if ! "$@" >"$log" 2>&1; then
		say "building $name failed; last lines of $log:"
		tail -n 40 "$log" >&2
		exit 1
	fi
	say "built $name in $((SECONDS - started))s"
}

# Creates a throwaway module that requires one published module, so its commands can be
# built with `go build` even when the module's own go.mod has local replace directives
# (replace directives only apply in the main module).
wrapper_module() {
	local name="$1" module="$2" version="$3"
	local dir="$src_dir/$name"
	mkdir -p "$dir"
	cat >"$dir/go.mod" <<EOF
module tidewatch.local/build/$name

go 1.26

require $module $version
EOF
	echo "$dir"
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
# ./staging/src paths. Map each one to the published v0.MINOR.PATCH of the same release,
# read from the release's own go.mod.
kubernetes_wrapper() {
	local dir
	dir="$(wrapper_module kubernetes k8s.io/kubernetes "$KUBERNETES_VERSION")"
	local staging_version="v0.${KUBERNETES_VERSION#v1.}"
	local upstream_mod
	upstream_mod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
		sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
	{
		echo
		echo "replace ("
		sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9_.-]*\) => \./staging/src/.*#\1#p' "$upstream_mod" |
			while read -r staged; do
				# A staging module the release never requires (sample plugins) may be unpublished.
				if grep -qE "^[[:space:]]*$staged v0\.0\.0" "$upstream_mod"; then
					echo "	$staged => $staged $staging_version"
				fi
			done
		echo ")"
	} >>"$dir/go.mod"
	echo "$dir"
}

kubernetes_ldflags() {
	local minor="${KUBERNETES_VERSION#v1.}"
	minor="${minor%%.*}"
	local flags="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION"
		flags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
	done
	echo "$flags"
}

build_kubernetes() {
	local binary="$1"
	local dir
	dir="$(kubernetes_wrapper)"
	run_logged "$binary" bash -c "cd '$dir' && GOFLAGS='$GOFLAGS -mod=mod' go build \
		-ldflags '$(kubernetes_ldflags)' -o '$bin_dir/$binary' k8s.io/kubernetes/cmd/$binary"
}

