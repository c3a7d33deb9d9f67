#!/usr/bin/env python3
"""Serves the rule benchmark's request counters on 127.0.0.1: for SLO i, requests and errors
counted from ORIGIN at the rate `blocks/main.go` backfilled, so live scrapes continue the
history without a reset. Stops by itself after --seconds."""

import argparse
import http.server
import threading
import time


def traffic(i):
    return 5 + i % 10, 0.0005 * (1 + i % 4)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slos", type=int, required=True)
    parser.add_argument("--origin", type=int, required=True)
    parser.add_argument("--seconds", type=int, default=3600)
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            elapsed = time.time() - args.origin
            lines = ["# TYPE bench_requests_total counter"]
            for i in range(args.slos):
                rps, ratio = traffic(i)
                for code, share in (("200", 1 - ratio), ("500", ratio)):
                    lines.append(
                        f'bench_requests_total{{service="s{i}",code="{code}"}} {rps * share * elapsed:.3f}'
                    )
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    threading.Timer(args.seconds, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
