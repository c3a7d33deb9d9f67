#!/usr/bin/env python3
"""Write requests that USER made in NAMESPACE between two instants (Unix seconds), from the
API server's audit log and its rotated files (the log rotates at 100 MB, so line offsets taken
before a run are not enough). Prints JSON: the total and the count per verb and resource.

usage: audit_writes.py START END USER NAMESPACE LOG..."""

import collections
import datetime
import json
import sys


def seconds(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def main(start, end, user, namespace, logs):
    counts = collections.Counter()
    for log in logs:
        with open(log) as f:
            for line in f:
                if user not in line:
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("stage") != "ResponseComplete" or e["user"]["username"] != user:
                    continue
                o = e.get("objectRef", {})
                if o.get("namespace") != namespace:
                    continue
                if not start <= seconds(e["requestReceivedTimestamp"]) <= end:
                    continue
                sub = "/" + o["subresource"] if o.get("subresource") else ""
                counts[f"{e['verb']} {o.get('resource', '')}{sub}"] += 1
    print(json.dumps({"total": sum(counts.values()), "by": dict(sorted(counts.items()))}))


if __name__ == "__main__":
    main(float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:])
