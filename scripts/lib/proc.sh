# Processes of the project's scripts (sourced, not run): a free loopback port, a start in
# the background with a PID file and a log, bounded waits, and a stop by PID (SIGTERM, a
# bounded wait, then SIGKILL). Processes are found by the PID recorded at start, never by
# name, so that two checkouts on one machine cannot stop each other's.
# shellcheck shell=bash

# Ports are drawn below the kernel's ephemeral range, where client sockets never land
# between the draw and the bind.
proc_port_floor=20000

# A TCP port on 127.0.0.1 that no socket uses right now (listening or connected), read
# from /proc/net/tcp{,6}. Drawn at random, so that back-to-back calls differ.
free_port() {
	local ceiling used=" " local_address port _
	read -r ceiling _ </proc/sys/net/ipv4/ip_local_port_range
	((ceiling -= 1))
	((ceiling > proc_port_floor + 1000)) || ceiling=60999
	# The second column is the local address, IP:PORT in hex; the first line is a header.
	while read -r _ local_address _; do
		[[ "$local_address" == *:* ]] && used+="$((16#${local_address##*:})) "
	done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	for _ in {1..100}; do
		port=$((proc_port_floor + (RANDOM * 32768 + RANDOM) % (ceiling - proc_port_floor)))
		if [[ "$used" != *" $port "* ]]; then
			echo "$port"
			return 0
		fi
	done
	echo "free_port: no free port in $proc_port_floor-$ceiling after 100 draws" >&2
	return 1
}

# Whether process PID exists and has not exited. A zombie (exited, not yet reaped by a
# parent that is not this shell) counts as exited.
pid_running() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
	# The state follows the command name, which may itself hold spaces and parentheses.
	stat="${stat##*) }"
	[[ "${stat%% *}" != Z ]]
}

# start_process [--append] PIDFILE LOG COMMAND...: runs COMMAND in the background with
# stdout and stderr in LOG (truncated, or appended to with --append) and its PID in PIDFILE.
start_process() {
	local append=false
	if [[ "$1" == --append ]]; then
		append=true
		shift
	fi
	local pidfile="$1" log="$2"
	shift 2
	if $append; then
		"$@" >>"$log" 2>&1 &
	else
		"$@" >"$log" 2>&1 &
	fi
	echo $! >"$pidfile"
}

# Whether the process recorded in PIDFILE runs.
process_running() {
	local pid
	[[ -f "$1" ]] && pid="$(cat "$1")" && [[ -n "$pid" ]] && pid_running "$pid"
}

# wait_until [--alive PIDFILE] SECONDS COMMAND...: retries COMMAND (output discarded) until
# it succeeds. Fails after SECONDS, or as soon as the process of PIDFILE has exited.
wait_until() {
	local pidfile=""
	if [[ "$1" == --alive ]]; then
		pidfile="$2"
		shift 2
	fi
	local seconds="$1"
	shift
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		if [[ -n "$pidfile" ]] && ! process_running "$pidfile"; then
			echo "the process of $pidfile exited while waiting for: $*" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "timed out after ${seconds}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.2
	done
}

# wait_for_url [--alive PIDFILE] SECONDS URL: waits until URL answers 2xx.
wait_for_url() {
	local alive=()
	if [[ "$1" == --alive ]]; then
		alive=(--alive "$2")
		shift 2
	fi
	wait_until "${alive[@]}" "$1" curl -fsS -o /dev/null --max-time 2 "$2"
}

# stop_pid PID [GRACE_SECONDS] [NAME]: SIGTERM, waits up to GRACE_SECONDS (default 10) for
# the process to exit, then SIGKILL. Reaps it when it is this shell's child. Says so on
# stderr when it had to kill.
stop_pid() {
	local pid="$1" grace="${2:-10}" name="${3:-pid $1}"
	pid_running "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + grace))
	while pid_running "$pid" && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if pid_running "$pid"; then
		echo "$name ignored SIGTERM for ${grace}s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# stop_process PIDFILE [GRACE_SECONDS] [NAME]: stop_pid on the PID recorded in PIDFILE, then
# removes PIDFILE. Nothing to do (and success) when the file or the process is gone.
stop_process() {
	local pidfile="$1" pid
	shift
	if [[ -f "$pidfile" ]]; then
		pid="$(cat "$pidfile")"
		[[ -z "$pid" ]] || stop_pid "$pid" "$@"
		rm -f "$pidfile"
	fi
}
