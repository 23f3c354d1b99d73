"""Dynamic micro-batching: pairs from concurrent requests share forward passes, fairly.

Requests run in FastAPI's thread pool and call :meth:`MicroBatcher.logits`, which puts their pairs
on a bounded queue and waits. One worker thread owns the model. Each step it takes the requests
that arrived (waiting at most ``max_wait_ms`` for more when it has fewer than ``max_batch`` pairs),
builds one forward pass of at most ``max_batch`` pairs and ``max_batch_tokens`` padded tokens, and
scores it. A request's pairs are ordered by token length when it arrives, so each pass holds pairs
of similar length and little padding.

Large requests are served in chunks, round robin: a request that still has pairs left after a
pass goes to the back of the line, so a 1,000-pair request cannot make a 3-pair request behind it
wait for all of its passes. A request that waits longer than its timeout is cancelled: its
remaining pairs are dropped from the queue and the caller gets :class:`RequestTimeout`.

The queue is bounded in pairs and in expected wait: when it holds ``max_queue_pairs`` pairs, or
more work than the worker can do in ``max_queue_seconds`` at its measured pace, :class:`Overloaded`
is raised at once (the API answers 503 with ``Retry-After``) instead of letting memory and latency
grow without bound or admitting a request that would only time out.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
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


class RequestTimeout(Exception):
    """A request's pairs were not all scored within its timeout; its remaining work was dropped."""

    def __init__(self, timeout: float, done: int, total: int) -> None:
        super().__init__(
            f"the model did not finish this request within {timeout:g}s ({done} of {total} pairs scored); "
            "the server is overloaded or the request is too large: retry later or send fewer pairs"
        )


@dataclass
class _Job:
    pairs: Sequence[Pair]
    order: list[int]  # pair indices, shortest first
    lengths: list[int]  # tokens per pair, in ``pairs`` order
    future: Future[np.ndarray] = field(default_factory=Future)
    logits: np.ndarray | None = None
    next: int = 0  # position in ``order`` of the next pair to score
    cancelled: bool = False

    @property
    def left(self) -> int:
        return len(self.order) - self.next


class MicroBatcher:
    """One worker thread that scores the pairs of many requests in shared, bounded batches.

    Example:
        >>> batcher = MicroBatcher(engine, max_batch=32, max_wait_ms=5).start()  # doctest: +SKIP
        >>> logits = batcher.logits(pairs, timeout=30)  # doctest: +SKIP
    """

    def __init__(
        self,
        engine: StanceEngine,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        max_queue_pairs: int = 4096,
        max_batch_tokens: int = 8192,
        max_queue_seconds: float = float("inf"),
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queue_pairs = max_queue_pairs
        self.max_batch_tokens = max_batch_tokens
        self.max_queue_seconds = max_queue_seconds
        self.on_batch = on_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._active: deque[_Job] = deque()  # owned by the worker thread
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
        return self._submit(pairs).future

    def logits(self, pairs: Sequence[Pair], timeout: float | None = None) -> np.ndarray:
        """Blocking: the logits of ``pairs``, scored together with other callers' pairs.

        Raises:
            Overloaded: the queue is full (nothing was queued).
            RequestTimeout: not finished within ``timeout`` seconds (the rest of the work is dropped).
        """
        job = self._submit(pairs)
        try:
            return job.future.result(timeout)
        except FutureTimeout:
            job.cancelled = True  # the worker drops what is left of it at its next step
            raise RequestTimeout(timeout or 0.0, job.next, len(job.order)) from None

    def _submit(self, pairs: Sequence[Pair]) -> _Job:
        n = len(pairs)
        if not n:
            job = _Job(pairs, [], [])
            job.future.set_result(np.zeros((0, len(self.engine.model.config.id2label)), dtype=np.float32))
            return job
        with self._lock:
            if self._thread is None:
                raise RuntimeError("the batcher is not running; call start() first")
            # Refuse at the door, before any work: when the queue is full in pairs, or when the work
            # already queued would take longer than a request may wait (it would only time out).
            # A request larger than the whole queue is still admitted when the queue is empty.
            wait = (self._queued_pairs + n) * self._seconds_per_pair
            if self._queued_pairs and (
                self._queued_pairs + n > self.max_queue_pairs or wait > self.max_queue_seconds
            ):
                retry = max(1, round(self._queued_pairs * self._seconds_per_pair))
                raise Overloaded(self._queued_pairs, self.max_queue_pairs, retry)
            self._queued_pairs += n
        try:
            lengths = self.engine.token_lengths(pairs)
        except BaseException:
            self._release(n)
            raise
        job = _Job(pairs, sorted(range(n), key=lengths.__getitem__), lengths)
        self._queue.put(job)
        return job

    # -- worker ----------------------------------------------------------------------------------

    def _admit(self, waiting: int) -> bool:
        """Move arrived jobs to the active line; returns False once stop was asked for.

        With nothing to do (``waiting`` pairs in hand is 0) it blocks for the first job; then it
        gathers more for at most the wait window, or only what has already arrived once there is
        a full batch.
        """
        if not waiting:
            job = self._queue.get()
            if job is None:
                return False
            self._active.append(job)
            waiting = job.left
        deadline = time.perf_counter() + self.max_wait
        while True:
            left = deadline - time.perf_counter()
            try:
                if waiting >= self.max_batch or left <= 0:
                    job = self._queue.get_nowait()
                else:
                    job = self._queue.get(timeout=left)
            except queue.Empty:
                return True
            if job is None:
                return False
            self._active.append(job)
            waiting += job.left

    def _drop_cancelled(self) -> None:
        for job in [j for j in self._active if j.cancelled]:
            self._active.remove(job)
            self._release(job.left)

    def _release(self, n: int) -> None:
        with self._lock:
            self._queued_pairs -= n

    def _next_batch(self) -> list[tuple[_Job, list[int]]]:
        """Pairs for one forward pass: whole small jobs first in line, chunks of large ones."""
        batch: list[tuple[_Job, list[int]]] = []
        count, longest = 0, 0
        for job in list(self._active):
            take: list[int] = []
            while job.left > len(take) and count < self.max_batch:
                i = job.order[job.next + len(take)]
                width = max(longest, job.lengths[i])
                # the first pair always goes in, so a pair longer than the budget is still scored
                if count and (count + 1) * width > self.max_batch_tokens:
                    break
                take.append(i)
                count, longest = count + 1, width
            if take:
                batch.append((job, take))
            if count >= self.max_batch or (take and job.left > len(take)):
                break  # full, or this job alone fills what the token budget allows
        return batch

    def _run(self) -> None:
        running = True
        rest: list[_Job] = []  # partly served jobs: back in line after the newly arrived ones
        while running or self._active or rest:
            if running:
                running = self._admit(sum(j.left for j in (*self._active, *rest)))
            self._active.extend(rest)
            rest = []
            self._drop_cancelled()
            if not self._active:
                continue
            batch = self._next_batch()
            pairs = [job.pairs[i] for job, take in batch for i in take]
            started = time.perf_counter()
            try:
                logits = self.engine.logits(pairs, batch_size=len(pairs))
            except Exception as exc:  # noqa: BLE001 - every request in the pass must get the error
                for job, _ in batch:
                    self._finish(job, exc)
                continue
            elapsed = time.perf_counter() - started
            with self._lock:
                self._queued_pairs -= len(pairs)
                self._seconds_per_pair = 0.8 * self._seconds_per_pair + 0.2 * elapsed / len(pairs)
            offset = 0
            for job, take in batch:
                if job.logits is None:
                    job.logits = np.zeros((len(job.pairs), logits.shape[1]), dtype=np.float32)
                job.logits[take] = logits[offset : offset + len(take)]
                offset += len(take)
                job.next += len(take)
                if job.left == 0:
                    self._finish(job)
                else:  # round robin: the rest of a large request waits behind the others
                    self._active.remove(job)
                    rest.append(job)
            if self.on_batch is not None:
                self.on_batch(len(pairs), elapsed)

    def _finish(self, job: _Job, error: Exception | None = None) -> None:
        if job in self._active:
            self._active.remove(job)
        if error is not None:
            self._release(job.left)
            job.future.set_exception(error)
        else:
            job.future.set_result(job.logits)
