#!/usr/bin/env python3
"""Proves the inhibition rules of manifests/alertmanager/alertmanager.yaml on a real
Alertmanager: starts it on a free loopback port with that configuration, posts a set of SLO
and static alerts through the v2 API, and checks which ones the API reports as inhibited.

Usage: check_inhibition.py ALERTMANAGER_BINARY CONFIG_FILE
Prints one line per check, `PASS <name>` or `FAIL <name>: <reason>`.
"""

import datetime
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# (case, labels, inhibited?) — each alert carries a `case` label so it can be found again.
CASES = [
    ("page burn of SLO availability",
     {"alertname": "SLOErrorBudgetBurn", "severity": "page", "slo": "availability",
      "namespace": "payments", "long_window": "1h", "short_window": "5m"}, False),
    ("ticket burn of the same SLO while it pages",
     {"alertname": "SLOErrorBudgetBurn", "severity": "ticket", "slo": "availability",
      "namespace": "payments", "long_window": "1d", "short_window": "2h"}, True),
    ("ticket burn of another SLO in the namespace",
     {"alertname": "SLOErrorBudgetBurn", "severity": "ticket", "slo": "latency",
      "namespace": "payments", "long_window": "1d", "short_window": "2h"}, False),
    ("ticket burn of a same-named SLO in another namespace",
     {"alertname": "SLOErrorBudgetBurn", "severity": "ticket", "slo": "availability",
      "namespace": "staging", "long_window": "1d", "short_window": "2h"}, False),
    ("missing metrics of SLO freshness",
     {"alertname": "SLOMetricsAbsent", "severity": "ticket", "slo": "freshness",
      "namespace": "payments"}, False),
    ("page burn of SLO freshness while its metrics are missing",
     {"alertname": "SLOErrorBudgetBurn", "severity": "page", "slo": "freshness",
      "namespace": "payments", "long_window": "1h", "short_window": "5m"}, True),
    ("page burn of SLO freshness in another namespace",
     {"alertname": "SLOErrorBudgetBurn", "severity": "page", "slo": "freshness",
      "namespace": "staging", "long_window": "1h", "short_window": "5m"}, False),
    ("static ticket alert next to a paging SLO",
     {"alertname": "TidewatchPredictionFailures", "severity": "ticket",
      "namespace": "payments", "service": "fraud-detector"}, False),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        payload = resp.read()
        return json.loads(payload) if payload else None


def wait_ready(base, proc, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{base}/-/ready", timeout=1).read()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"alertmanager not ready after {seconds}s")


def inhibited_by_case(base):
    alerts = request(f"{base}/api/v2/alerts")
    return {a["labels"]["case"]: bool(a["status"]["inhibitedBy"]) for a in alerts}


def main():
    binary, config = sys.argv[1], sys.argv[2]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as storage, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_ready(base, proc)
            except RuntimeError as err:
                log.seek(0)
                print(f"FAIL alertmanager starts: {err}\n{log.read().decode(errors='replace')}")
                return 1
            now = datetime.datetime.now(datetime.timezone.utc)
            request(f"{base}/api/v2/alerts", [
                {"labels": {**labels, "case": case},
                 "annotations": {"summary": case},
                 "startsAt": now.isoformat(),
                 "endsAt": (now + datetime.timedelta(hours=1)).isoformat()}
                for case, labels, _ in CASES])
            # The inhibitor learns about new alerts asynchronously: poll until the picture
            # matches or the deadline passes, then report what was seen last.
            expected = {case: inhibited for case, _, inhibited in CASES}
            deadline = time.monotonic() + 15
            seen = inhibited_by_case(base)
            while seen != expected and time.monotonic() < deadline:
                time.sleep(0.5)
                seen = inhibited_by_case(base)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    failed = 0
    for case, _, inhibited in CASES:
        want = "inhibited" if inhibited else "not inhibited"
        if case not in seen:
            failed += 1
            print(f"FAIL inhibition: {case}: alert missing from the API")
        elif seen[case] != inhibited:
            failed += 1
            got = "inhibited" if seen[case] else "not inhibited"
            print(f"FAIL inhibition: {case}: want {want}, got {got}")
        else:
            print(f"PASS inhibition: {case} is {want}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
