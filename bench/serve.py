"""Serving benchmark: the API under concurrent load, against a naive baseline and the bare classifier.

    python bench/serve.py --model models/default [--duration 20] [--clients 1 8 32] [--json OUT.json]

Starts ``stancewire serve`` on loopback in a subprocess and drives it with 1, 8 and 32 concurrent
clients (threads, one keep-alive HTTP connection each) on two request mixes:

- ``article``: POST /v1/stance with a 600-word news article (the seed article) and 3 targets;
- ``pairs16``: POST /v1/classify with 16 (statement, target) pairs.

It prints throughput (pairs/s) and p50/p95/p99 latency per mix and concurrency. In the same run it
measures the naive baseline (a Hugging Face ``pipeline`` called once per pair) and the classifier
alone at batch 32 on 64-token inputs, and prints the ratios and the share of the compute bound
(1.4 GFLOP per pair at 64 tokens; give this machine's matmul rate with --peak-gflops).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGETS = [
    "North Korea exported arms to Russia.",
    "North Korea will conduct a nuclear test.",
    "UN sanctions ban North Korea's arms exports.",
]
GFLOP_PER_PAIR_64 = 1.4


def article_600_words() -> str:
    words = (REPO / "seeds" / "article_000.txt").read_text(encoding="utf-8").split(" ")
    return " ".join(words[:600])


def sixteen_pairs() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in (REPO / "seeds" / "corpus" / "w1_01.jsonl").open(encoding="utf-8")]
    return [{"statement": r["statement"], "target": r["target"], "speaker": r["speaker"]} for r in rows[:16]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "stancewire", "serve", "--model", model, "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not become ready within 120 s")


def drive(url: str, body: dict[str, Any], pairs_of: Any, clients: int, duration: float) -> dict[str, Any]:
    """``clients`` threads send ``body`` back to back for ``duration`` seconds."""
    stop = time.perf_counter() + duration

    def client(_: int) -> tuple[list[float], int, int]:
        latencies, pairs, errors = [], 0, 0
        with httpx.Client(timeout=120) as http:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = http.post(url, json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code == 200:
                    pairs += pairs_of(r.json())
                else:
                    errors += 1
        return latencies, pairs, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - started
    lat = np.array([x for r in results for x in r[0]]) * 1000
    return {
        "clients": clients,
        "requests": int(lat.size),
        "errors": sum(r[2] for r in results),
        "pairs_per_s": sum(r[1] for r in results) / elapsed,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def naive_baseline(model: str, pairs: list[dict[str, str]], seconds: float) -> float:
    """Pairs/s of a Hugging Face text-classification pipeline called once per pair."""
    from transformers import pipeline

    clf = pipeline("text-classification", model=model, device=-1)
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        p = pairs[n % len(pairs)]
        clf({"text": p["target"], "text_pair": p["statement"]})
        n += 1
    return n / (time.perf_counter() - started)


def classifier_alone(model: str, precision: str, seconds: float, backend: str = "torch") -> float:
    """Pairs/s of the engine at batch 32 on inputs padded to exactly 64 tokens."""
    import torch

    from stancewire.model.engine import StanceEngine

    engine = StanceEngine.load(model, device="cpu", precision=precision, backend=backend)
    batch = {
        "input_ids": torch.randint(1000, 2000, (32, 64)),
        "attention_mask": torch.ones(32, 64, dtype=torch.long),
        "token_type_ids": torch.zeros(32, 64, dtype=torch.long),
    }
    n, started = 0, time.perf_counter()
    if engine.runner is not None:  # ONNX Runtime
        while time.perf_counter() - started < seconds:
            engine.runner(batch)
            n += 32
        return n / (time.perf_counter() - started)
    with (
        torch.inference_mode(),
        torch.autocast("cpu", dtype=engine.dtype, enabled=engine.dtype != torch.float32),
    ):
        while time.perf_counter() - started < seconds:
            engine.model(**batch)
            n += 32
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--peak-gflops", type=float, default=1600.0, help="bf16 matmul rate of this machine")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()

    figures: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        "model": args.model,
    }
    pairs = sixteen_pairs()
    figures["naive_pairs_per_s"] = naive_baseline(args.model, pairs, args.duration / 2)
    print(f"naive baseline (HF pipeline, one pair per call): {figures['naive_pairs_per_s']:.1f} pairs/s")
    for precision, backend in (("fp32", "torch"), ("bf16", "torch"), ("fp32", "onnx")):
        rate = classifier_alone(args.model, precision, args.duration / 2, backend)
        bound = args.peak_gflops / GFLOP_PER_PAIR_64
        name = precision if backend == "torch" else f"{backend}_{precision}"
        figures[f"classifier_{name}_pairs_per_s"] = rate
        print(
            f"classifier alone, {backend} {precision}, batch 32 x 64 tokens: {rate:.1f} pairs/s "
            f"({rate / bound:.1%} of the {bound:.0f} pairs/s bf16 bound)"
        )

    port = free_port()
    proc = start_server(args.model, port, {"STANCEWIRE_BATCH_SIZE": "32"})
    try:
        base = f"http://127.0.0.1:{port}"
        mixes = {
            "article": (
                f"{base}/v1/stance",
                {"text": article_600_words(), "targets": TARGETS},
                lambda r: sum(len(s["stances"]) for s in r["statements"]),
            ),
            "pairs16": (f"{base}/v1/classify", {"pairs": pairs}, lambda r: len(r["predictions"])),
        }
        figures["server_backend"] = httpx.get(f"{base}/v1/model", timeout=30).json()["backend"]
        print(f"\nserver backend (backend=auto): {figures['server_backend']}")
        figures["load"] = []
        print(
            f"\n{'mix':<9}{'clients':>8}{'requests':>10}{'errors':>8}{'pairs/s':>10}"
            f"{'x naive':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        )
        for name, (url, body, count) in mixes.items():
            httpx.post(url, json=body, timeout=120)  # warm the route
            for clients in args.clients:
                row = {"mix": name, **drive(url, body, count, clients, args.duration)}
                row["x_naive"] = row["pairs_per_s"] / figures["naive_pairs_per_s"]
                figures["load"].append(row)
                print(
                    f"{name:<9}{clients:>8}{row['requests']:>10}{row['errors']:>8}{row['pairs_per_s']:>10.1f}"
                    f"{row['x_naive']:>9.1f}{row['p50_ms']:>9.0f}{row['p95_ms']:>9.0f}{row['p99_ms']:>9.0f}"
                )
    finally:
        proc.terminate()
        proc.wait(30)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
