"""The webhook receiver under load, on loopback: /healthz latency idle (the baseline, measured in the
same run), then while 300 clients hold half-sent bodies and a burst of 1,000 POSTs arrives.

    python benchmarks/webhook_load.py [--slow 300] [--burst 1000]

Prints median / p95 / max /healthz latency in each phase, the ratio to idle, and how the burst and
the slow clients were answered (status codes). Everything stays on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from eval_orchestrator.watch.webhook import WebhookServer, bind, make_app
from tests.test_webhook import GOOD, TOKEN, Queue


def healthz_latencies(url: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        requests.get(f"{url}/healthz", timeout=10)
        out.append(time.perf_counter() - started)
        time.sleep(0.02)
    return out


def summary(name: str, values: list[float], base: float) -> str:
    ordered = sorted(values)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    median = statistics.median(values)
    return (f"{name:<28} median {1000 * median:7.1f} ms  p95 {1000 * p95:7.1f} ms  max {1000 * max(values):7.1f} ms"
            f"  x{median / base:5.1f} idle")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()
    app = make_app(TOKEN, Queue().enqueue, lambda: [], threading.Event())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sock = bind(f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    with WebhookServer(app, sock):
        time.sleep(0.5)
        idle = healthz_latencies(url, 50)
        base = statistics.median(idle)
        print(summary("idle", idle, base))

        slow_answers: Counter[str] = Counter()
        head = (f"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"ev")  # fmt: skip
        slow = []
        for _ in range(args.slow):
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(head.encode())
            slow.append(conn)
        burst_codes: Counter[int] = Counter()
        lock = threading.Lock()

        def fire(n: int) -> None:
            session = requests.Session()
            for _ in range(n):
                code = session.post(f"{url}/webhook", data=b"{}", headers=GOOD, timeout=30).status_code
                with lock:
                    burst_codes[code] += 1

        workers = 20
        threads = [threading.Thread(target=fire, args=(args.burst // workers,)) for _ in range(workers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        loaded = healthz_latencies(url, 50)
        for thread in threads:
            thread.join()
        burst_s = time.perf_counter() - started
        print(summary(f"{args.slow} slow + burst", loaded, base))
        for conn in slow:
            conn.settimeout(15)
            try:
                slow_answers[conn.recv(64).decode(errors="replace").split("\r\n")[0] or "closed"] += 1
            except TimeoutError:
                slow_answers["no answer in 15 s"] += 1
            conn.close()
        print(f"burst: {sum(burst_codes.values())} POSTs in {burst_s:.1f} s, status codes {dict(burst_codes)}")
        print(f"slow clients: {dict(slow_answers)}")


if __name__ == "__main__":
    main()
