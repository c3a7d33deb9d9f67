#!/usr/bin/env python3
"""Summary of operator/bench/run.sh's rounds (one JSON object per line): medians per
controller, each controller's writes against its floor, and Sloth's figures as ratios of
Tidewatch's. Reads only the results file it is given."""

import json
import statistics
import sys


def floor(run):
    """Fewest writes that can bring every parent to Ready: one apply (or create) per child
    and one status write per parent. None for the control plane's own floor run."""
    n = run["count"]
    if run["flavour"] == "tidewatch":
        # MLService: Deployment, Service, ServiceMonitor, dashboard; SLO: rule, dashboard.
        return n * (4 + 1) + n * (2 + 1)
    if run["flavour"] == "sloth":
        # PrometheusServiceLevel: one PrometheusRule, one status.
        return n * (1 + 1)
    return None


def median(runs, key):
    values = [v for v in (key(r) for r in runs) if v is not None]
    return statistics.median(values) if values else None


def ratio(run):
    f = floor(run)
    return run["writes"]["total"] / f if f else None


def milestone(name):
    return lambda r: r.get("ready_seconds", {}).get(name)


def main(path):
    with open(path) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    by = {}
    for run in runs:
        by.setdefault(run["flavour"], []).append(run)
    rows = [
        ("creates returned after (s)", lambda r: r["create_seconds"], "{:.1f}"),
        ("converged after, from the first create (s)", lambda r: r["converge_seconds"], "{:.1f}"),
        ("  every child present after (s)", milestone("children"), "{:.1f}"),
        ("  every SLO / PrometheusServiceLevel Ready (s)",
         lambda r: milestone("slos")(r) or milestone("prometheusservicelevels")(r), "{:.1f}"),
        ("  every MLService Ready (s)", milestone("mlservices"), "{:.1f}"),
        ("  every Deployment's pod ready (s)", milestone("deployments"), "{:.1f}"),
        ("CPU time while converging (s)", lambda r: r["cpu_seconds"], "{:.1f}"),
        ("peak memory, VmHWM (MiB)", lambda r: r["peak_kib"] / 1024 if floor(r) else None, "{:.1f}"),
        ("write requests while converging", lambda r: r["writes"]["total"] if floor(r) else None, "{:.0f}"),
        ("  floor (one per child + one status per parent)", floor, "{:.0f}"),
        ("  writes / floor", ratio, "{:.3f}"),
        ("the controller's requests, reads included", lambda r: r.get("controller_requests") if floor(r) else None, "{:.0f}"),
        ("API server requests, all clients, to convergence", lambda r: r["apiserver_requests"], "{:.0f}"),
        ("writes in the idle period after", lambda r: r["idle_writes"]["total"] if floor(r) else None, "{:.0f}"),
        ("requests in the idle period after", lambda r: r.get("idle_controller_requests") if floor(r) else None, "{:.0f}"),
        ("CPU time in the idle period (s)", lambda r: r["idle_cpu_seconds"] if floor(r) else None, "{:.2f}"),
    ]
    flavours = [f for f in ("tidewatch", "sloth", "deployments") if f in by]
    count = runs[0]["count"] if runs else 0
    print(f"\noperator benchmark: {count} parents of each kind, {len(runs)} runs "
          f"({', '.join(f'{f}: {len(by[f])}' for f in flavours)}), medians; "
          "deployments = the control plane alone (CPU: kube-controller-manager)")
    header = f"{'':52}" + "".join(f"{f:>14}" for f in flavours)
    compare = "tidewatch" in by and "sloth" in by
    if compare:
        header += f"{'sloth/tidewatch':>18}"
    print(header)
    for label, key, fmt in rows:
        values = {f: median(by[f], key) for f in flavours}
        if all(v is None for v in values.values()):
            continue
        line = f"{label:52}" + "".join(
            f"{'-' if values[f] is None else fmt.format(values[f]):>14}" for f in flavours)
        if compare and values["tidewatch"] and values["sloth"] is not None:
            line += f"{values['sloth'] / values['tidewatch']:>17.2f}x"
        print(line)
    for f in flavours:
        for run in by[f]:
            print(f"  {f} round {run['round']}: load {run['loadavg']}; writes {run['writes']['by']}; "
                  f"idle writes {run['idle_writes']['by']}; all clients' requests by verb "
                  f"{run['apiserver_requests_by_verb']}")
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main(sys.argv[1])
