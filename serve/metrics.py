"""Prometheus metrics of one app instance: requests, latencies, batch sizes, queue depth, model version.

Each app gets its own registry, so several apps in one process (tests) never clash.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServiceMetrics:
    """The counters the API updates; ``render()`` is the body of ``GET /metrics``."""

    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stancewire_requests",
            "HTTP requests by route and status code",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stancewire_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_pairs = Histogram(
            "stancewire_batch_pairs",
            "pairs scored per micro-batch",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "stancewire_batch_seconds",
            "model time per micro-batch",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_pairs = Gauge(
            "stancewire_queue_pairs", "pairs waiting for the model", registry=self.registry
        )
        self.model = Gauge(
            "stancewire_model_info", "the served model (value 1)", ["version"], registry=self.registry
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def observe_batch(self, pairs: int, seconds: float) -> None:
        self.batch_pairs.observe(pairs)
        self.batch_seconds.observe(seconds)

    def track_queue(self, depth: Callable[[], float]) -> None:
        self.queue_pairs.set_function(depth)

    def set_model(self, version: str) -> None:
        self.model.clear()
        self.model.labels(version=version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
