"""The benchmark's results table (Markdown on stdout) from every run of every round, as
run.sh collects them: closed-loop rows are the round with the median req/s, open-loop rows
the round with the median p99; ratios are also given per round (runs of one round ran
seconds apart), with their median.

    python3 report.py ROUNDS_JSON SECONDS CONNECTIONS ROUNDS
"""

import json
import os
import sys

CPU = "server_cpu_us_per_request"


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def median_run(runs, key):
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


def listed(values, digits=1):
    return ", ".join(f"{v:.{digits}f}" for v in values)


def verdict(ok):
    return "met" if ok else "NOT met"


def change(reference, run, key):
    """Percent change of `key` from a reference run to another."""
    return (run[key] / reference[key] - 1) * 100


def main():
    runs = json.loads(sys.argv[1])
    seconds, connections, rounds = sys.argv[2:5]
    closed = {k: median_run(runs[k], "rps") for k in
              ("floor", "off", "on1", "on1_v2", "on10", "baseline", "mlserver")}
    opened = {k: median_run(runs[k], "p99_ms") for k in
              ("half1", "half10", "half_floor", "half_v2", "half_baseline", "half_mlserver")}
    load = open("/proc/loadavg").read().split()[:3]
    loads = [r["load1"] for k in ("floor", "on1", "mlserver") for r in runs[k]]
    pinned = os.environ.get("BENCH_PINNED") == "1"
    print(f"Machine: {os.cpu_count()} CPUs; load average {min(loads):.2f}-{max(loads):.2f} at the "
          f"start of the closed-loop runs, {' '.join(load)} at the end; "
          + ("each server pinned to one CPU, the clients (wrk, load generator) and the OTLP "
             "sink to another." if pinned else "nothing pinned."))
    print(f"Each run: {seconds} s after 2 s of warm-up, {connections} keep-alive connections, one "
          "server worker (MLServer: one process, `parallel_workers: 0`).")
    print(f"Closed loop: wrk -t1 (one thread on the clients' CPU), the median of {rounds} interleaved "
          "rounds by req/s. Open loop: the project's load generator at half of each one's closed-loop "
          "peak, the run with the median p99 of 3 interleaved rounds.")
    print("Server CPU is user + system time of the server process per answered request; client CPU "
          "is wrk's share of its CPU; stolen is the share of the server's CPU the hypervisor gave to "
          "other guests during the run.")
    print()
    print("| closed loop | req/s | p50 ms | p99 ms | server CPU us/request | client CPU | stolen % | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, key in [
        ("`/v1/predict`: actix-web hello-world floor", "floor"),
        ("`/v1/predict`: FastAPI + scikit-learn baseline", "baseline"),
        ("`/v1/predict`: tidewatch, metrics + tracing off", "off"),
        ("`/v1/predict`: tidewatch, metrics + tracing, 1% sampled (default)", "on1"),
        ("`/v1/predict`: tidewatch, metrics + tracing, 10% sampled", "on10"),
        ("`/v2/models/{name}/infer`: tidewatch, 1% sampled (default)", "on1_v2"),
        ("`/v2/models/{name}/infer`: MLServer 1.7.1, scikit-learn runtime", "mlserver"),
    ]:
        r = closed[key]
        print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r[CPU]:.1f} | "
              f"{r['client_cpu_share'] * 100:.0f} % | {r['stolen_pct']:.1f} | {r['errors']} |")
    print()
    print("| open loop, half of peak | offered req/s | answered req/s | p50 ms | p99 ms (rounds) | server CPU us/request | stolen % | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, key in [
        ("`/v1/predict`: tidewatch 1%", "half1"),
        ("`/v1/predict`: tidewatch 10%", "half10"),
        ("`/v1/predict`: floor at tidewatch 1%'s rate", "half_floor"),
        ("`/v1/predict`: FastAPI baseline", "half_baseline"),
        ("`/v2/models/{name}/infer`: tidewatch 1%", "half_v2"),
        ("`/v2/models/{name}/infer`: MLServer", "half_mlserver"),
    ]:
        r = opened[key]
        print(f"| {name} | {r['offered_rps']:.0f} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} ({listed((x['p99_ms'] for x in runs[key]), 2)}) | {r[CPU]:.1f} | "
              f"{r['stolen_pct']:.1f} | {r['errors']} |")
    print()

    # Ratios within each round, then their median.
    def per_round(a, b, key="rps"):
        return [x[key] / y[key] for x, y in zip(runs[a], runs[b])]

    v2 = per_round("on1_v2", "mlserver")
    v2_cpu = per_round("mlserver", "on1_v2", CPU)
    print(f"- **`/v2/models/{{name}}/infer`, tidewatch against MLServer** (target >= 100x): "
          f"{median(v2):.0f}x the req/s (rounds {listed(v2, 0)}; {verdict(median(v2) >= 100)}), "
          f"{median(v2_cpu):.0f}x less CPU per request (rounds {listed(v2_cpu, 0)}).")
    base = per_round("on1", "baseline")
    print(f"- **`/v1/predict`, tidewatch against FastAPI** (target >= 25x): {median(base):.0f}x the req/s "
          f"(rounds {listed(base, 0)}; {verdict(median(base) >= 25)}).")
    floor = per_round("on1", "floor")
    shares = [p["reference"][CPU] / p["on"][CPU] for p in runs["floor_pair"]]
    print(f"- **`/v1/predict`, tidewatch 1% against the floor** (target >= 0.6, moonshot 0.8): "
          f"{median(floor):.2f} of its req/s with wrk (rounds {listed(floor, 2)}; {verdict(median(floor) >= 0.6)}"
          f"{', moonshot met' if median(floor) >= 0.8 else ''}); side by side on one CPU, floor CPU over "
          f"tidewatch CPU per request, {median(shares):.2f} (rounds {listed(shares, 2)}).")
    for label, key in [("`/v1/predict` 1%", "half1"), ("`/v2/models/{name}/infer` 1%", "half_v2")]:
        r = opened[key]
        print(f"- **p99 at half of peak, {label}** (target <= 5 ms): {r['p99_ms']:.2f} ms "
              f"({verdict(r['p99_ms'] <= 5)}; rounds {listed((x['p99_ms'] for x in runs[key]), 2)}).")
    f = opened["half_floor"]
    print(f"- The load generator at tidewatch's half of peak: the floor offered the same "
          f"{f['offered_rps']:.0f} req/s got {f['rps']:.0f}, p50 {f['p50_ms']:.2f} ms and p99 "
          f"{f['p99_ms']:.2f} ms (rounds {listed((x['p99_ms'] for x in runs['half_floor']), 2)}): what the "
          "generator and the machine add to any server at that rate. wrk's CPU share against tidewatch "
          f"1%: {listed((r['client_cpu_share'] * 100 for r in runs['on1']), 0)} % by round (against the "
          f"floor {listed((r['client_cpu_share'] * 100 for r in runs['floor']), 0)} %).")
    for label, mode, pair in [("1% sampled (default)", "on1", "pair1"), ("10% sampled", "on10", "pair10")]:
        rounds_off_on = list(zip(runs["off"], runs[mode]))
        consecutive = [-change(o, n, "rps") for o, n in rounds_off_on]
        concurrent = [change(p["reference"], p["on"], CPU) for p in runs[pair]]
        print(f"- Instrumentation overhead, {label} (target <= 5%): {median(concurrent):+.1f}% CPU per "
              f"request side by side on one CPU (rounds {listed(concurrent)}; {verdict(median(concurrent) <= 5)}); "
              f"{median(consecutive):.1f}% of req/s in consecutive runs (rounds {listed(consecutive)}).")


if __name__ == "__main__":
    main()
