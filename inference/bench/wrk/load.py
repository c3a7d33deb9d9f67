"""Closed-loop load with wrk, and what the server spent on it: runs wrk (one thread, the
POST body of post.lua) for a warm-up and then for the measured window, and prints one
JSON line in the load generator's shape -- requests, errors, rps, p50/p90/p99 in ms and,
with --cpu-pid, the server's CPU time per answered request and the share of its CPU the
hypervisor took meanwhile -- plus wrk's own CPU share (client_cpu_share), which says
whether the client, not the server, was the limit, and the load average at the start.

    python3 load.py --url URL --body-file FILE [--connections 32] [--seconds 8]
                    [--warmup 2] [--cpu-pid PID] [--client-cpu N]
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")


def process_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


def steal_line(pid):
    """The /proc/stat line of the server's CPU when it is pinned to one, else `cpu`."""
    with open(f"/proc/{pid}/status") as f:
        allowed = next(l for l in f if l.startswith("Cpus_allowed_list:")).split()[1]
    name = f"cpu{allowed}" if allowed.isdigit() else "cpu"
    return name, (1 if allowed.isdigit() else os.cpu_count())


def steal_ticks(name):
    with open("/proc/stat") as f:
        for line in f:
            parts = line.split()
            if parts[0] == name:
                return int(parts[8])
    raise RuntimeError(f"no {name} line in /proc/stat")


def wrk(args, seconds):
    pin = ["taskset", "-c", str(args.client_cpu)] if args.client_cpu is not None else []
    command = pin + [
        "wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", os.path.join(HERE, "post.lua"), args.url,
    ]
    env = dict(os.environ, WRK_BODY_FILE=args.body_file)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"wrk failed ({status}): {out}")
    summary = json.loads(out.strip().splitlines()[-1])
    summary["client_cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--cpu-pid", type=int)
    parser.add_argument("--client-cpu", type=int)
    args = parser.parse_args()
    if not args.url.startswith(("http://127.", "http://localhost")):
        sys.exit("only loopback targets")
    load1 = float(open("/proc/loadavg").read().split()[0])
    if args.warmup > 0:
        wrk(args, max(1, round(args.warmup)))
    seconds = max(1, round(args.seconds))
    if args.cpu_pid:
        line, cpus = steal_line(args.cpu_pid)
        used, stolen = process_ticks(args.cpu_pid), steal_ticks(line)
    started = time.monotonic()
    run = wrk(args, seconds)
    wall = time.monotonic() - started
    window = run["duration_us"] / 1e6
    errors = sum(run[k] for k in ("connect_errors", "read_errors", "write_errors",
                                  "status_errors", "timeouts"))
    answered = run["answers"] - run["status_errors"]
    result = {
        "requests": answered,
        "errors": errors,
        "rps": answered / window,
        "p50_ms": run["p50_us"] / 1000,
        "p90_ms": run["p90_us"] / 1000,
        "p99_ms": run["p99_us"] / 1000,
        "client_cpu_share": run["client_cpu_seconds"] / wall,
        "load1": load1,
    }
    if args.cpu_pid:
        cpu_seconds = (process_ticks(args.cpu_pid) - used) / TICKS
        stolen_seconds = (steal_ticks(line) - stolen) / TICKS
        result["server_cpu_us_per_request"] = cpu_seconds * 1e6 / max(answered, 1)
        result["server_cpu_cores"] = cpu_seconds / wall
        result["stolen_pct"] = stolen_seconds * 100 / (wall * cpus)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
