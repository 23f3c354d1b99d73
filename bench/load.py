"""Overload test: push the API past saturation on loopback and watch it shed load and recover.

    python bench/load.py --model models/default [--clients 64] [--duration 20] [--json OUT.json]

Starts ``stancewire serve`` on loopback with a small queue (``--max-queue-pairs``, default 256) and
drives it with many concurrent clients, each sending ``POST /v1/classify`` with 16 pairs as fast as
it is answered, for a bounded time and a bounded number of requests. A server that behaves:

- answers every request: 200, or 503 with ``Retry-After`` once the queue is full (never a
  connection error, a 5xx other than 503, or a client-side timeout);
- answers the 503s fast (it refuses at the door, it does not queue and then fail);
- keeps its memory (RSS of the server process, sampled every 0.2 s) within a bound;
- recovers by itself: once the load stops, a single client gets 200s at normal latency again.

It prints those figures and exits non-zero when one of them fails. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import free_port, sixteen_pairs, start_server  # noqa: E402  (bench/serve.py)


def rss_mb(proc: psutil.Process) -> float:
    """Resident memory of the server and its children, in MiB."""
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.every = every
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.samples.append(rss_mb(self.proc))


def drive(url: str, body: dict[str, Any], clients: int, duration: float, max_requests: int) -> dict[str, Any]:
    """Closed-loop load: each client sends its next request as soon as the last one is answered."""
    results: list[tuple[str, float, str]] = []  # (outcome, seconds, retry-after)
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while time.perf_counter() < stop_at:
                with lock:
                    if len(results) >= max_requests:
                        return
                started = time.perf_counter()
                try:
                    r = http.post(url, json=body)
                    outcome, retry = str(r.status_code), r.headers.get("retry-after", "")
                except httpx.HTTPError as exc:
                    outcome, retry = type(exc).__name__, ""
                with lock:
                    results.append((outcome, time.perf_counter() - started, retry))

    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    codes = Counter(o for o, _, _ in results)
    latency = {
        code: np.percentile([s for o, s, _ in results if o == code], [50, 95, 99]).round(3).tolist()
        for code in codes
    }
    missing_retry = sum(1 for o, _, r in results if o == "503" and not r.isdigit())
    return {
        "requests": len(results),
        "codes": dict(codes),
        "latency_p50_p95_p99": latency,
        "503_without_retry_after": missing_retry,
    }


def recovery(url: str, body: dict[str, Any], quiet_latency: float, limit: float = 60.0) -> float | None:
    """Seconds after the load stops until one client gets a 200 within 3x the quiet latency."""
    started = time.perf_counter()
    with httpx.Client(timeout=60) as http:
        while time.perf_counter() - started < limit:
            t0 = time.perf_counter()
            r = http.post(url, json=body)
            if r.status_code == 200 and time.perf_counter() - t0 <= 3 * quiet_latency:
                return time.perf_counter() - started
    return None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of overload")
    parser.add_argument("--max-requests", type=int, default=20_000, help="stop the overload after this many")
    parser.add_argument("--max-queue-pairs", type=int, default=256)
    parser.add_argument("--memory-bound-mb", type=float, default=300.0, help="allowed RSS growth under load")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    port = free_port()
    env = {"STANCEWIRE_MAX_QUEUE_PAIRS": str(args.max_queue_pairs), "STANCEWIRE_BATCH_WAIT_MS": "5"}
    server = start_server(args.model, port, env)
    url = f"http://127.0.0.1:{port}/v1/classify"
    body = {"pairs": sixteen_pairs()}
    try:
        with httpx.Client(timeout=60) as http:
            quiet = []
            for _ in range(5):
                t0 = time.perf_counter()
                http.post(url, json=body).raise_for_status()
                quiet.append(time.perf_counter() - t0)
        quiet_latency = float(np.median(quiet))
        base_rss = rss_mb(psutil.Process(server.pid))
        sampler = MemorySampler(server.pid)
        sampler.start()
        load = drive(url, body, args.clients, args.duration, args.max_requests)
        back_after = recovery(url, body, quiet_latency)
        sampler.stopped.set()
        sampler.join()
        peak_rss = max(sampler.samples, default=base_rss)
    finally:
        server.terminate()
        server.wait(30)

    codes = load["codes"]
    figures = {
        "clients": args.clients,
        "duration_s": args.duration,
        "max_queue_pairs": args.max_queue_pairs,
        "quiet_latency_s": round(quiet_latency, 3),
        **load,
        "rss_before_mb": round(base_rss, 1),
        "rss_peak_mb": round(peak_rss, 1),
        "recovered_after_s": None if back_after is None else round(back_after, 2),
    }
    failures = []
    unexpected = {c: n for c, n in codes.items() if c not in ("200", "503")}
    if unexpected:
        failures.append(f"answers other than 200/503: {unexpected}")
    if "503" not in codes:
        failures.append("never saturated: no 503 (raise --clients or lower --max-queue-pairs)")
    if load["503_without_retry_after"]:
        failures.append(f"{load['503_without_retry_after']} answers 503 without a Retry-After")
    if peak_rss - base_rss > args.memory_bound_mb:
        failures.append(f"RSS grew by {peak_rss - base_rss:.0f} MiB (bound {args.memory_bound_mb:.0f})")
    if back_after is None:
        failures.append("did not recover within 60 s after the load stopped")
    figures["failures"] = failures

    print(
        f"overload: {args.clients} clients x 16 pairs for {args.duration:.0f} s, "
        f"queue {args.max_queue_pairs} pairs"
    )
    print(f"  quiet latency (1 client): {quiet_latency * 1000:.0f} ms")
    print(f"  requests: {load['requests']}  answers: {dict(sorted(codes.items()))}")
    for code, (p50, p95, p99) in sorted(load["latency_p50_p95_p99"].items()):
        print(f"  {code}: p50 {p50 * 1000:.0f} ms  p95 {p95 * 1000:.0f} ms  p99 {p99 * 1000:.0f} ms")
    print(
        f"  server RSS: {base_rss:.0f} MiB before, {peak_rss:.0f} MiB peak "
        f"(bound +{args.memory_bound_mb:.0f})"
    )
    print(f"  recovered: {'no' if back_after is None else f'{back_after:.2f} s after the load stopped'}")
    print("  verdict:", "OK" if not failures else "; ".join(failures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
