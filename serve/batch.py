"""Offline batch scoring of a news archive: articles in, one row per statement x target out.

``score_archive`` streams the archive in chunks of ``chunk_size`` records, scores each chunk with the
shared core (``serve/scoring.py``) and commits it to the output directory (``serve/archive_output.py``).
Re-running the same command skips committed chunks, so a run killed at any point resumes to exactly
the rows an uninterrupted run writes. Engines: ``local`` (this process, optionally with worker
processes for quote extraction) and ``ray`` (``serve/ray_engine.py``).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stancewire import __version__
from stancewire.model.errors import DataError
from stancewire.model.quotes import QuoteExtractor
from stancewire.model.relevance import DEFAULT_THRESHOLD
from stancewire.model.types import Statement
from stancewire.serve.archive_input import (
    Article,
    Columns,
    Item,
    Reject,
    count_records,
    detect_format,
    input_identity,
    iter_archive,
)
from stancewire.serve.archive_output import OutputDir, iter_chunked
from stancewire.serve.scoring import ChunkScorer, extract_chunk
from stancewire.serve.targets import Target, read_targets, targets_fingerprint

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ScoreOptions:
    """Settings of one batch run; the ones that change the rows are recorded in the manifest."""

    output_format: str = "parquet"
    """``parquet`` (default) or ``jsonl`` part files."""
    partition: str = "none"
    """``none``, or ``month``: part files under ``month=YYYY-MM/`` by the article date."""
    input_format: str | None = None
    """``jsonl``, ``csv``, ``parquet`` or ``txt``; default: from the input's name."""
    columns: Columns = field(default_factory=Columns)
    chunk_size: int = 64
    """Records per chunk: the unit of resumption, of a part file and of a Ray task."""
    batch_size: int = 64
    """Pairs per cross-encoder forward pass."""
    device: str = "auto"
    backend: str = "torch"
    """``torch`` or ``onnx`` (ONNX Runtime, CPU: about 1.3x faster here). Not ``auto``: a choice
    made by timing could differ between a run and its resumption, and the rows must not."""
    abstain_below: float = 0.0
    max_chars: int = 200_000
    """Texts longer than this are rejected (huge documents are usually scraping accidents)."""
    relevance: bool = True
    """Skip pairs the bi-encoder pre-filter finds clearly unrelated (see ``model/relevance.py``)."""
    relevance_threshold: float = DEFAULT_THRESHOLD
    relevance_encoder: str | None = None
    """Encoder directory of the pre-filter; default: the base package's all-MiniLM-L6-v2."""
    engine: str = "local"
    workers: int = 1
    """Local engine: processes that extract quotes (1: all in this process)."""
    actors: int = 2
    """Ray engine: model actors."""
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise DataError(f"--backend must be torch or onnx, found {self.backend!r}")
        if self.engine not in ENGINES:
            raise DataError(f"--engine must be one of {', '.join(ENGINES)}, found {self.engine!r}")
        if self.workers < 1 or self.actors < 1:
            raise DataError("--workers and --actors must be >= 1")
        if not 0.0 <= self.abstain_below <= 1.0:
            raise DataError(f"--abstain-below must be in [0, 1], found {self.abstain_below}")


def build_scorer(
    model_dir: str | Path, targets: list[Target], fingerprint: str, opts: ScoreOptions, engine: Any = None
) -> ChunkScorer:
    """The scoring core for these settings (used by the local engine and inside each Ray actor)."""
    from stancewire.model.engine import StanceEngine

    relevance = None
    if opts.relevance:
        from stancewire.model.relevance import RelevanceFilter, SentenceEncoder

        relevance = RelevanceFilter(
            SentenceEncoder.load(opts.relevance_encoder),
            [t.proposition for t in targets],
            [t.keywords for t in targets],
            opts.relevance_threshold,
        )
    engine = engine or StanceEngine.load(model_dir, device=opts.device, backend=opts.backend)
    return ChunkScorer(engine, targets, fingerprint, relevance, opts.batch_size, opts.abstain_below)


def manifest_for(input_path: Path, targets: list[Target], fingerprint: str, version: str, opts: ScoreOptions,
                 ) -> dict[str, Any]:  # fmt: skip
    """What the output directory records about the run that wrote it."""
    return {
        "stancewire": __version__,
        "model_version": version,
        "targets_fingerprint": fingerprint,
        "targets": [asdict(t) for t in targets],
        "input": input_identity(input_path),
        "input_format": opts.input_format or detect_format(input_path),
        "columns": asdict(opts.columns),
        "chunk_size": opts.chunk_size,
        "format": opts.output_format,
        "partition": opts.partition,
        "relevance": {"threshold": opts.relevance_threshold, "encoder": opts.relevance_encoder}
        if opts.relevance
        else None,
        "max_chars": opts.max_chars,
        "abstain_below": opts.abstain_below,
        "backend": opts.backend,
    }


def reject_record(r: Reject) -> dict[str, Any]:
    """A reject as one line of ``_rejects.jsonl``."""
    return {"record": r.record, "where": r.where, "id": r.id, "reason": r.reason}


def chunk_info(
    articles: list[Article], rejects: list[Reject], rows: list[dict[str, Any]], statements: int, targets: int
) -> dict[str, Any]:
    """The counts a chunk marker records."""
    return {
        "articles": len(articles),
        "statements": statements,
        "pairs_skipped": statements * targets - len(rows),
        "rejects": [reject_record(r) for r in rejects],
    }


def pending_chunks(
    items: Iterator[Item], chunk_size: int, done: set[int], progress: Any
) -> Iterator[tuple[int, list[Article], list[Reject]]]:
    """Chunks not yet committed, split into articles and rejects; committed ones only move the bar."""
    for n, chunk in iter_chunked(items, chunk_size):
        if n in done:
            progress.update(len(chunk))
            continue
        yield n, [a for a in chunk if isinstance(a, Article)], [r for r in chunk if isinstance(r, Reject)]


def _extract_worker(articles: list[Article]) -> list[list[Statement]]:
    return extract_chunk(QuoteExtractor(), articles)


def run_local(scorer: ChunkScorer, chunks: Iterator[tuple[int, list[Article], list[Reject]]],
              out: OutputDir, workers: int, progress: Any) -> None:  # fmt: skip
    """Score and commit chunks in order; with ``workers`` > 1, extraction runs ahead in worker processes."""
    k = len(scorer.targets)

    def commit(
        n: int, articles: list[Article], rejects: list[Reject], statements: list[list[Statement]]
    ) -> None:
        rows = scorer.score_extracted(articles, statements)
        n_statements = sum(len(s) for s in statements)
        out.write_chunk(n, rows, chunk_info(articles, rejects, rows, n_statements, k))
        progress.update(len(articles) + len(rejects))

    if workers <= 1:
        for n, articles, rejects in chunks:
            commit(n, articles, rejects, extract_chunk(QuoteExtractor(), articles))
        return
    # fork: the workers only run the pure-Python extractor, never torch, so forking after torch
    # has started its threads is safe here and avoids re-importing everything per worker
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        inflight: deque[tuple[int, list[Article], list[Reject], Any]] = deque()
        # at most 2 chunks per worker wait in flight: memory stays bounded by chunks, not the archive
        for n, articles, rejects in chunks:
            inflight.append((n, articles, rejects, pool.apply_async(_extract_worker, (articles,))))
            if len(inflight) >= 2 * workers:
                m, a, r, res = inflight.popleft()
                commit(m, a, r, res.get())
        while inflight:
            m, a, r, res = inflight.popleft()
            commit(m, a, r, res.get())


def score_archive(
    model_dir: str | Path,
    input_path: str | Path,
    targets_path: str | Path,
    output_dir: str | Path,
    opts: ScoreOptions | None = None,
    engine: Any = None,
) -> dict[str, Any]:
    """Score every article of an archive against every target into ``output_dir``; returns the totals.

    Resumes when ``output_dir`` holds an unfinished run of the same settings; refuses (``DataError``)
    when it holds rows of another model, target set or input, unless ``opts.overwrite``.

    Example:
        >>> score_archive("models/default", "seeds/archive/articles.jsonl",
        ...               "seeds/archive/targets.yaml", "out/")  # doctest: +SKIP
        {'targets': 5, ..., 'articles': 30, 'rows': 77, 'pairs_skipped': 163, 'rejected': 1, ...}
    """
    from tqdm import tqdm

    opts = opts or ScoreOptions()
    src = Path(input_path)
    targets = read_targets(targets_path)
    fingerprint = targets_fingerprint(targets)
    fmt = opts.input_format or detect_format(src)
    out = OutputDir(output_dir, opts.output_format, opts.partition)
    if opts.engine == "local":
        scorer = build_scorer(model_dir, targets, fingerprint, opts, engine)
        version = scorer.engine.version
    else:
        from stancewire.model.artifacts import read_engine_config

        version = engine.version if engine is not None else read_engine_config(Path(model_dir)).version
    out.prepare(manifest_for(src, targets, fingerprint, version, opts), opts.overwrite)
    done = out.done_chunks()
    items = iter_archive(src, fmt, opts.columns, opts.max_chars)
    total = count_records(src, fmt)
    with tqdm(total=total, desc="articles", unit="art", disable=not opts.progress, smoothing=0.1) as bar:
        chunks = pending_chunks(items, opts.chunk_size, done, bar)
        if opts.engine == "local":
            run_local(scorer, chunks, out, opts.workers, bar)
        else:
            from stancewire.serve.ray_engine import run_ray

            run_ray(model_dir, targets, fingerprint, opts, chunks, out, bar)
    summary = {"targets": len(targets), "model_version": version, "targets_fingerprint": fingerprint,
               "resumed_chunks": len(done), "engine": opts.engine}  # fmt: skip
    return out.finish(summary)
