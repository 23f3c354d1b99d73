"""Micro-batching: results equal unbatched scoring, requests really share passes, backpressure, errors."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from stancewire.model.engine import StanceEngine
from stancewire.model.types import Pair
from stancewire.serve.app import create_app
from stancewire.serve.batcher import MicroBatcher, Overloaded, RequestTimeout
from stancewire.serve.settings import Settings

STATEMENTS = [
    "We never sold arms to anyone.",
    "The ministry confirmed the shipment left port on Monday after a long delay at customs.",
    "They will pay a heavy price.",
    "This is a disgraceful and reckless decision by the council.",
    "No comment.",
]


def request_pairs(k: int) -> list[Pair]:
    return [Pair(STATEMENTS[(k + i) % len(STATEMENTS)], f"Target number {k}.") for i in range(k % 4 + 1)]


class GatedEngine:
    """An engine stand-in whose forward passes wait for a gate, to hold work in the queue.

    A pair's length in tokens is the length of its statement in characters, and every pass is
    recorded as the list of statements it scored.
    """

    def __init__(self, fail: bool = False) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.passes: list[list[str]] = []
        self.fail = fail
        self.model = SimpleNamespace(config=SimpleNamespace(id2label={i: str(i) for i in range(5)}))

    @property
    def calls(self) -> list[int]:
        return [len(p) for p in self.passes]

    def token_lengths(self, pairs: Sequence[Pair]) -> list[int]:
        return [len(p.statement) for p in pairs]

    def logits(self, pairs: Sequence[Pair], batch_size: int = 32) -> np.ndarray:
        self.entered.set()
        self.gate.wait(10)
        self.passes.append([p.statement for p in pairs])
        if self.fail:
            raise ValueError("boom")
        return np.array([[len(p.statement)] * 5 for p in pairs], dtype=np.float32)


def test_batched_results_equal_unbatched(tiny_engine: StanceEngine) -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(tiny_engine, max_batch=64, max_wait_ms=50, on_batch=lambda n, _: sizes.append(n))
    batcher.start()
    try:
        requests = [request_pairs(k) for k in range(12)]
        with ThreadPoolExecutor(8) as pool:
            batched = list(pool.map(batcher.logits, requests))
    finally:
        batcher.stop()
    for pairs, got in zip(requests, batched, strict=True):
        np.testing.assert_allclose(got, tiny_engine.logits(pairs), atol=1e-5)
    assert sum(sizes) == sum(len(r) for r in requests)
    assert len(sizes) < len(requests)  # concurrent requests shared forward passes


def test_full_queue_raises_overloaded_then_recovers() -> None:
    engine = GatedEngine()
    batcher = MicroBatcher(engine, max_batch=4, max_wait_ms=0, max_queue_pairs=6).start()  # type: ignore[arg-type]
    try:
        first = batcher.submit([Pair("a", "b")] * 4)
        second = batcher.submit([Pair("a", "b")] * 2)
        with pytest.raises(Overloaded) as info:
            batcher.submit([Pair("a", "b")])
        assert info.value.retry_after >= 1 and "retry" in str(info.value)
        engine.gate.set()
        assert first.result(5).shape == (4, 5) and second.result(5).shape == (2, 5)
        assert batcher.logits([Pair("a", "b")], timeout=5).shape == (1, 5)
        assert batcher.queued_pairs == 0
    finally:
        engine.gate.set()
        batcher.stop()


def test_a_request_that_would_only_time_out_is_refused_at_the_door() -> None:
    engine = GatedEngine()
    # before any pass the batcher assumes 0.02 s per pair: 10 pairs wait 0.2 s, 30 would wait 0.6 s
    batcher = MicroBatcher(engine, max_batch=4, max_wait_ms=0, max_queue_seconds=0.5).start()  # type: ignore[arg-type]
    try:
        first = batcher.submit([Pair("a", "b")] * 10)
        with pytest.raises(Overloaded):
            batcher.submit([Pair("a", "b")] * 20)
        assert batcher.queued_pairs == 10  # the refused request left nothing behind
        engine.gate.set()
        assert first.result(5).shape == (10, 5)
    finally:
        engine.gate.set()
        batcher.stop()


def test_a_failed_pass_fails_every_waiting_request() -> None:
    engine = GatedEngine(fail=True)
    engine.gate.set()
    batcher = MicroBatcher(engine, max_wait_ms=0).start()  # type: ignore[arg-type]
    try:
        with pytest.raises(ValueError, match="boom"):
            batcher.logits([Pair("a", "b")], timeout=5)
        assert batcher.queued_pairs == 0
    finally:
        batcher.stop()


def test_stop_finishes_queued_work() -> None:
    engine = GatedEngine()
    batcher = MicroBatcher(engine, max_batch=1, max_wait_ms=0).start()  # type: ignore[arg-type]
    futures = [batcher.submit([Pair("a", "b")]) for _ in range(3)]
    engine.gate.set()
    batcher.stop()
    assert all(f.result(0).shape == (1, 5) for f in futures)


def test_a_small_request_is_not_starved_by_a_large_one() -> None:
    engine = GatedEngine()
    batcher = MicroBatcher(engine, max_batch=4, max_wait_ms=0).start()  # type: ignore[arg-type]
    try:
        large = batcher.submit([Pair("g" * (1 + i % 3), "t") for i in range(20)])
        assert engine.entered.wait(5)  # the first chunk of the large request is in the model
        small = batcher.submit([Pair("s", "t"), Pair("ss", "t")])
        engine.gate.set()
        assert small.result(5)[:, 0].tolist() == [1, 2]  # results in request order
        assert large.result(5)[:, 0].tolist() == [1 + i % 3 for i in range(20)]
    finally:
        engine.gate.set()
        batcher.stop()
    assert engine.calls[0] == 4
    # the small request rides in the very next pass instead of after the 4 more chunks of the large one
    assert "s" in engine.passes[1] and "ss" in engine.passes[1]
    assert sum(engine.calls) == 22 and max(engine.calls) <= 4
    # chunks of the large request hold pairs of similar length (sorted when it arrived)
    assert engine.passes[0] == ["g"] * 4


def test_passes_stay_within_the_token_budget() -> None:
    engine = GatedEngine()
    engine.gate.set()
    batcher = MicroBatcher(engine, max_batch=10, max_wait_ms=0, max_batch_tokens=100).start()  # type: ignore[arg-type]
    try:
        batcher.logits([Pair("x" * 30, "t")] * 10, timeout=5)
        # one pair longer than the whole budget is still scored, alone
        batcher.logits([Pair("y" * 500, "t")], timeout=5)
    finally:
        batcher.stop()
    assert engine.calls == [3, 3, 3, 1, 1]


def test_a_timed_out_request_is_dropped_from_the_queue() -> None:
    engine = GatedEngine()
    batcher = MicroBatcher(engine, max_batch=4, max_wait_ms=0).start()  # type: ignore[arg-type]
    try:
        with pytest.raises(RequestTimeout, match="0 of 12 pairs scored"):
            batcher.logits([Pair("a", "b")] * 12, timeout=0.05)
        engine.gate.set()
        assert batcher.logits([Pair("c", "d")], timeout=5).shape == (1, 5)
    finally:
        engine.gate.set()
        batcher.stop()
    assert engine.calls == [4, 1]  # the chunk in flight finished; the other 8 pairs never ran
    assert batcher.queued_pairs == 0


def test_app_metrics_and_busy_answer(tiny_engine: StanceEngine, tiny_model_dir) -> None:
    settings = Settings(model_dir=str(tiny_model_dir), batch_wait_ms=1)
    with TestClient(create_app(settings, engine=tiny_engine)) as client:
        pairs = [{"statement": s, "target": "X did it."} for s in STATEMENTS]
        assert client.post("/v1/classify", json={"pairs": pairs}).status_code == 200
        assert client.get("/nope").status_code == 404
        text = client.get("/metrics").text
        assert 'stancewire_requests_total{route="/v1/classify",status="200"} 1.0' in text
        assert 'route="unmatched",status="404"' in text and "/nope" not in text
        assert f'stancewire_model_info{{version="{tiny_engine.version}"}} 1.0' in text
        assert "stancewire_batch_pairs_count 1.0" in text and "stancewire_queue_pairs 0.0" in text

        def busy(_: Sequence[Pair]) -> np.ndarray:
            raise Overloaded(queued=100, limit=100, retry_after=3)

        client.app.state.pipeline.scorer = busy  # type: ignore[attr-defined]
        r = client.post("/v1/classify", json={"pairs": pairs})
        assert r.status_code == 503 and r.headers["retry-after"] == "3" and "busy" in r.json()["detail"]

        def slow(_: Sequence[Pair]) -> np.ndarray:
            raise RequestTimeout(timeout=2.0, done=3, total=5)

        client.app.state.pipeline.scorer = slow  # type: ignore[attr-defined]
        r = client.post("/v1/classify", json={"pairs": pairs})
        assert r.status_code == 504 and "within 2s (3 of 5 pairs scored)" in r.json()["detail"]


def test_reload_under_load_drops_nothing(tiny_engine: StanceEngine, tmp_path) -> None:
    from .conftest import build_tiny_model_dir

    new_dir = build_tiny_model_dir(tmp_path / "v2", seed=1)
    settings = Settings(model_dir=str(new_dir), batch_wait_ms=1)
    with TestClient(create_app(settings, engine=tiny_engine)) as client:
        old_version = client.get("/v1/model").json()["version"]
        body = {"pairs": [{"statement": s, "target": "X did it."} for s in STATEMENTS]}
        stop = threading.Event()
        codes: list[int] = []

        def hammer() -> None:
            while not stop.is_set():
                codes.append(client.post("/v1/classify", json=body).status_code)

        with ThreadPoolExecutor(4) as pool:
            for _ in range(4):
                pool.submit(hammer)
            r = client.post("/v1/admin/reload", json={})
            for _ in range(5):  # requests keep flowing on the new model
                codes.append(client.post("/v1/classify", json=body).status_code)
            stop.set()
        assert r.status_code == 200 and r.json()["previous_version"] == old_version
        assert codes and set(codes) == {200}
        assert client.get("/v1/model").json()["version"] == r.json()["model_version"]
        # no request can name a path to load
        path = client.post("/v1/admin/reload", json={"model_dir": str(tmp_path / "missing")})
        assert path.status_code == 422 and "model_dir" in str(path.json()["detail"])
        (new_dir / "model.safetensors").unlink()  # the configured directory breaks on disk
        bad = client.post("/v1/admin/reload", json={})
        assert bad.status_code == 422 and "still serving the old model" in bad.json()["detail"]
        assert client.get("/v1/model").json()["version"] == r.json()["model_version"]
