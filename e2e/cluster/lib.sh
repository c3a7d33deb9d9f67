# Shared paths and helpers of the local control plane scripts (sourced, not run). Starting,
# waiting for and stopping processes comes from scripts/lib/proc.sh.
# shellcheck shell=bash

cluster_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$cluster_dir/../.." && pwd)"
work_dir="${TIDEWATCH_WORK_DIR:-$repo_root/e2e/.work}"
state_dir="$work_dir/cluster"
pid_dir="$state_dir/pids"
log_dir="$state_dir/logs"
pki_dir="$state_dir/pki"
kubeconfig="$work_dir/kubeconfig"
ports_file="$state_dir/ports.env"
bin_dir="$("$cluster_dir/build.sh" bin-dir)"
# shellcheck source=../../scripts/lib/proc.sh
source "$repo_root/scripts/lib/proc.sh"
# shellcheck source=versions.env
source "$cluster_dir/versions.env"

# Start order; down.sh stops in reverse.
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

say() { printf '==> %s\n' "$*" >&2; }

pid_of() {
	local file="$pid_dir/$1.pid"
	[[ -f "$file" ]] && cat "$file"
}

is_running() {
	process_running "$pid_dir/$1.pid"
}

# Where the helpers below keep and find PID files and logs: the control plane's, unless a
# script that sources this (the real node's lib.sh) points them at its own directories.
component_pid_dir="$pid_dir"
component_log_dir="$log_dir"

# Prints the last lines of a component's log, so a crash explains itself.
log_tail() {
	local component="$1" lines="${2:-30}"
	say "last $lines lines of $component_log_dir/$component.log:"
	tail -n "$lines" "$component_log_dir/$component.log" >&2 || true
}

# start_component NAME COMMAND...: runs COMMAND in the background, its PID and log recorded.
start_component() {
	local name="$1"
	shift
	start_process "$component_pid_dir/$name.pid" "$component_log_dir/$name.log" "$@"
}

# wait_for_component NAME SECONDS CHECK...: waits until CHECK passes; fails with the
# component's log tail when it dies first or the time runs out.
wait_for_component() {
	local name="$1" timeout="$2"
	shift 2
	if ! wait_until --alive "$component_pid_dir/$name.pid" "$timeout" "$@"; then
		say "$name did not start"
		log_tail "$name" 40
		exit 1
	fi
}

# Directory of a published Go module at a version, downloaded into the module cache.
go_module_dir() {
	(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$1@$2") | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'
}
