#!/usr/bin/env python3
"""Reads the rule benchmark's figures from a running Prometheus that evaluates Tidewatch's
and Sloth's rules for the same SLOs.

Per side, per SLO and per evaluation cycle:
- samples: every rule of one SLO run again as an instant query with `stats=all`
  (`totalQueryableSamples`, what the engine loads for it), a group evaluated less often than
  every cycle (the 10-minute tiles) weighed by cycle / interval;
- evaluation time: the groups' `evaluationTime` from /api/v1/rules (wall time, so it grows
  with the number of groups evaluating at once), read every cycle during the measurement:
  the median group and the sum over the side's groups, likewise weighed;
- missed iterations (`prometheus_rule_group_iterations_missed_total`) over the measurement;
and for the process: `prometheus_engine_query_samples_total` and CPU seconds over the
measurement, per cycle, RSS and peak RSS, and the load average."""

import argparse
import json
import os
import sys
import time
import urllib.parse
import urllib.request

import yaml


def get(url, path, params=None):
    query = "?" + urllib.parse.urlencode(params) if params else ""
    with urllib.request.urlopen(url + path + query, timeout=60) as r:
        return r.read().decode()


def api(url, path, params=None):
    body = json.loads(get(url, path, params))
    if body.get("status") != "success":
        raise SystemExit(f"{path} {params}: {body}")
    return body["data"]


def seconds(duration):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    total, number = 0, ""
    for ch in duration:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * units[ch]
            number = ""
    return total


def metric(url, name, side=None):
    total = 0.0
    for line in get(url, "/metrics").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            if side and f";{side_prefix(side)}" not in line:
                continue
            total += float(line.rsplit(" ", 1)[1])
    return total


def side_prefix(side):
    return {"tidewatch": "tidewatch-slo-", "sloth": "sloth-slo-"}[side]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def side_of(group_name):
    if group_name.startswith("tidewatch-slo-"):
        return "tidewatch"
    if group_name.startswith("sloth-slo-"):
        return "sloth"
    return None


def samples_per_cycle(url, groups, cycle):
    """Samples loaded by one evaluation cycle of these groups' rules."""
    total = 0.0
    for g in groups:
        weight = cycle / seconds(g.get("interval", f"{cycle}s"))
        for r in g["rules"]:
            data = api(url, "/api/v1/query", {"query": r["expr"], "stats": "all"})
            total += weight * data["stats"]["samples"]["totalQueryableSamples"]
    return total


def rss(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--pid", required=True, type=int)
    p.add_argument("--rules", nargs="+", required=True)
    p.add_argument("--slo", default="s7", help="the SLO whose rules are replayed")
    p.add_argument("--slos", type=int, required=True)
    p.add_argument("--cycle", type=int, default=30)
    p.add_argument("--seconds", type=int, default=180)
    p.add_argument("--label", default="")
    args = p.parse_args()

    groups = []
    for path in args.rules:
        with open(path) as f:
            groups += yaml.safe_load(f)["groups"]
    sides = sorted({side_of(g["name"]) for g in groups} - {None})

    missed_name = "prometheus_rule_group_iterations_missed_total"
    engine_before = metric(args.url, "prometheus_engine_query_samples_total")
    missed_before = {s: metric(args.url, missed_name, s) for s in sides}
    cpu_before = cpu_seconds(args.pid)
    started = time.time()
    durations = {s: [] for s in sides}
    medians = {s: [] for s in sides}
    while time.time() - started < args.seconds:
        per_side = {s: 0.0 for s in sides}
        each = {s: [] for s in sides}
        for g in api(args.url, "/api/v1/rules")["groups"]:
            side = side_of(g["name"])
            if side:
                per_side[side] += g["evaluationTime"] * args.cycle / g["interval"]
                if g["interval"] == args.cycle:
                    each[side].append(g["evaluationTime"])
        for s in sides:
            durations[s].append(per_side[s])
            if each[s]:
                medians[s].append(sorted(each[s])[len(each[s]) // 2])
        time.sleep(args.cycle)
    elapsed = time.time() - started
    cycles = elapsed / args.cycle
    engine = metric(args.url, "prometheus_engine_query_samples_total") - engine_before
    cpu = cpu_seconds(args.pid) - cpu_before
    missed = {s: metric(args.url, missed_name, s) - missed_before[s] for s in sides}
    memory = rss(args.pid)
    load = os.getloadavg()

    mine = [g for g in groups if g["name"].endswith(f"-{args.slo}") or g["name"].endswith(f"-{args.slo}-tiles") or g["name"].endswith(f"-{args.slo}-availability")]
    result = {"label": args.label, "sides": {}, "rss_mib": round(memory["VmRSS"]), "peak_rss_mib": round(memory["VmHWM"]),
              "engine_samples_per_slo_cycle": engine / cycles / args.slos,
              "cpu_seconds_per_cycle": cpu / cycles,
              "load": [round(x, 2) for x in load], "seconds": round(elapsed)}
    for s in sides:
        own = [g for g in mine if side_of(g["name"]) == s]
        result["sides"][s] = {
            "groups_per_slo": len(own),
            "rules_per_slo": sum(len(g["rules"]) for g in own),
            "samples_per_slo_cycle": samples_per_cycle(args.url, own, args.cycle),
            "eval_seconds_per_cycle": sum(durations[s]) / max(len(durations[s]), 1),
            "median_group_seconds": sum(medians[s]) / max(len(medians[s]), 1),
            "missed_iterations_per_cycle": missed[s] / cycles,
        }
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
