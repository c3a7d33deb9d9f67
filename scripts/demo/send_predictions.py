#!/usr/bin/env python3
"""Sends N predictions to URL/v1/predict from 8 threads and prints the answers by status
code. The real-node demo's client: the Service's ClusterIP is not on loopback, which the
project's load generator insists on."""

import collections
import json
import sys
import threading
import urllib.error
import urllib.request


def main():
    url, total = sys.argv[1], int(sys.argv[2])
    codes = collections.Counter()
    lock = threading.Lock()
    next_index = iter(range(total))

    def worker():
        for i in next_index:
            body = json.dumps({
                "user_id": f"user-{i % 2000:06d}", "amount": 5.0 + i % 500, "currency": "EUR",
                "merchant_category": "grocery", "merchant_country": "DE",
                "card_present": i % 3 != 0, "local_hour": i % 24,
            }).encode()
            request = urllib.request.Request(f"{url}/v1/predict", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    code = str(answer.status)
            except urllib.error.HTTPError as error:
                code = str(error.code)
            except OSError as error:
                code = type(error).__name__
            with lock:
                codes[code] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(", ".join(f"{n} x {code}" for code, n in sorted(codes.items())))


if __name__ == "__main__":
    main()
