"""Dynamic micro-batching: pairs from concurrent requests share forward passes.

Requests run in FastAPI's thread pool and call :meth:`MicroBatcher.logits`, which puts their pairs
on a bounded queue and waits. One worker thread owns the model: it takes the first waiting job,
keeps collecting jobs for at most ``max_wait_ms`` or until ``max_batch`` pairs are gathered, and
scores them together with :meth:`StanceEngine.logits` (which sorts by length, so short pairs are
not padded to long ones). A request therefore waits at most one wait window plus the batches ahead
of it, and a burst of small requests costs a few large forward passes instead of many small ones.

The queue is bounded in pairs: when it is full, :class:`Overloaded` is raised at once (the API
answers 503 with ``Retry-After``) instead of letting memory and latency grow without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from stancewire.model.engine import StanceEngine
from stancewire.model.types import Pair

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The batch queue is full; the caller should retry after ``retry_after`` seconds."""

    def __init__(self, queued: int, limit: int, retry_after: int) -> None:
        super().__init__(f"server busy: {queued} pairs queued (limit {limit}); retry in {retry_after}s")
        self.retry_after = retry_after


@dataclass
class _Job:
    pairs: Sequence[Pair]
    future: Future[np.ndarray] = field(default_factory=Future)


class MicroBatcher:
    """One worker thread that scores the pairs of many requests in shared batches.

    Example:
        >>> batcher = MicroBatcher(engine, max_batch=32, max_wait_ms=5).start()  # doctest: +SKIP
        >>> logits = batcher.logits(pairs)  # doctest: +SKIP
    """

    def __init__(
        self,
        engine: StanceEngine,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        max_queue_pairs: int = 4096,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queue_pairs = max_queue_pairs
        self.on_batch = on_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._queued_pairs = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seconds_per_pair = 0.02  # running estimate, for Retry-After

    @property
    def queued_pairs(self) -> int:
        return self._queued_pairs

    def start(self) -> MicroBatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stancewire-batcher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued work, then stop the worker."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, pairs: Sequence[Pair]) -> Future[np.ndarray]:
        """Queue ``pairs``; the future resolves to their logits ``(N, K)`` in order."""
        job = _Job(pairs)
        if not pairs:
            job.future.set_result(np.zeros((0, len(self.engine.model.config.id2label)), dtype=np.float32))
            return job.future
        with self._lock:
            if self._thread is None:
                raise RuntimeError("the batcher is not running; call start() first")
            # A request larger than the whole queue is still admitted when the queue is empty.
            if self._queued_pairs and self._queued_pairs + len(pairs) > self.max_queue_pairs:
                wait = max(1, round(self._queued_pairs * self._seconds_per_pair))
                raise Overloaded(self._queued_pairs, self.max_queue_pairs, wait)
            self._queued_pairs += len(pairs)
        self._queue.put(job)
        return job.future

    def logits(self, pairs: Sequence[Pair], timeout: float | None = None) -> np.ndarray:
        """Blocking: the logits of ``pairs``, scored together with other callers' pairs."""
        return self.submit(pairs).result(timeout)

    # -- worker ----------------------------------------------------------------------------------

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        """The first job plus whatever else arrives within the wait window, up to ``max_batch`` pairs."""
        jobs, n = [first], len(first.pairs)
        deadline = time.perf_counter() + self.max_wait
        while n < self.max_batch:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            try:
                job = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            n += len(job.pairs)
        return jobs, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            jobs, stopping = self._collect(first)
            pairs = [p for job in jobs for p in job.pairs]
            started = time.perf_counter()
            try:
                logits = self.engine.logits(pairs, batch_size=self.max_batch)
            except Exception as exc:  # noqa: BLE001 - every waiting request must get the error
                for job in jobs:
                    job.future.set_exception(exc)
                logits = None
            elapsed = time.perf_counter() - started
            with self._lock:
                self._queued_pairs -= len(pairs)
                self._seconds_per_pair = 0.8 * self._seconds_per_pair + 0.2 * elapsed / len(pairs)
            if logits is not None:
                offset = 0
                for job in jobs:
                    job.future.set_result(logits[offset : offset + len(job.pairs)])
                    offset += len(job.pairs)
            if self.on_batch is not None:
                self.on_batch(len(pairs), elapsed)
