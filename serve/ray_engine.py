"""``--engine ray``: the same scoring core, run through Ray Data on a pool of model actors.

Each Ray row is one chunk of articles (the same chunks the local engine scores), and each actor
holds one ``ChunkScorer``, so the rows are the ones the local engine writes. The driver reads the
archive, hands Ray a window of pending chunks at a time (memory stays bounded by the window) and
commits every finished chunk through the same ``OutputDir``, so resume works the same way.

On a cluster, ``ray.init(address="auto")`` joins it (set ``RAY_ADDRESS``); the model directory
must be readable at the same path on every node.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from stancewire.model.errors import StancewireError
from stancewire.serve.archive_input import Article, Reject
from stancewire.serve.archive_output import OutputDir
from stancewire.serve.targets import Target


def ray_available() -> bool:
    """True when the optional extra ``stancewire[ray]`` is installed."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


class _ScorerActor:
    """A Ray actor: loads the model once, then scores one chunk per row it is given."""

    def __init__(
        self, model_dir: str, targets: list[dict[str, Any]], fingerprint: str, opts: dict[str, Any]
    ) -> None:
        from stancewire.serve.archive_input import Columns
        from stancewire.serve.batch import ScoreOptions, build_scorer

        opts = {**opts, "columns": Columns(**opts["columns"])}
        target_objs = [Target(t["id"], t["proposition"], tuple(t["keywords"])) for t in targets]
        self.scorer = build_scorer(model_dir, target_objs, fingerprint, ScoreOptions(**opts))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from stancewire.model.quotes import QuoteExtractor
        from stancewire.serve.scoring import extract_chunk

        out_rows, out_statements = [], []
        for payload in batch["articles"]:
            articles = [Article(**a) for a in json.loads(payload)]
            statements = extract_chunk(QuoteExtractor(), articles)
            rows = self.scorer.score_extracted(articles, statements)
            out_rows.append(json.dumps(rows, ensure_ascii=False))
            out_statements.append(sum(len(s) for s in statements))
        return {"chunk": batch["chunk"], "rows": out_rows, "statements": out_statements}


def run_ray(
    model_dir: str | Path,
    targets: list[Target],
    fingerprint: str,
    opts: Any,
    chunks: Iterator[tuple[int, list[Article], list[Reject]]],
    out: OutputDir,
    progress: Any,
    window: int | None = None,
) -> None:
    """Score pending chunks on ``opts.actors`` Ray actors and commit each through ``out``."""
    if not ray_available():
        raise StancewireError(
            "--engine ray needs the optional extra: pip install -c constraints.txt -e '.[ray]'"
        )
    import ray

    if not ray.is_initialized():
        # joins a cluster when RAY_ADDRESS is set; otherwise starts a local one sized to this machine
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    actor_opts = {**asdict(opts), "progress": False, "engine": "local", "workers": 1}
    targets_raw = [asdict(t) for t in targets]
    # enough chunks per window to keep every actor busy, few enough to bound the driver's memory
    window = window or 8 * opts.actors
    pending: dict[int, tuple[list[Article], list[Reject]]] = {}
    for n, articles, rejects in chunks:
        pending[n] = (articles, rejects)
        if len(pending) >= window:
            _score_window(
                ray, pending, str(model_dir), targets_raw, fingerprint, actor_opts, opts, out, progress
            )
            pending = {}
    if pending:
        _score_window(ray, pending, str(model_dir), targets_raw, fingerprint, actor_opts, opts, out, progress)


def _score_window(
    ray: Any,
    pending: dict[int, tuple[list[Article], list[Reject]]],
    model_dir: str,
    targets_raw: list[dict[str, Any]],
    fingerprint: str,
    actor_opts: dict[str, Any],
    opts: Any,
    out: OutputDir,
    progress: Any,
) -> None:
    from stancewire.serve.batch import chunk_info

    items = [
        {"chunk": n, "articles": json.dumps([asdict(a) for a in arts], ensure_ascii=False)}
        for n, (arts, _) in sorted(pending.items())
    ]
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * opts.actors))
    # num_cpus=1 per actor: on a 2-core machine num_cpus=2 left no CPU for the read stage (deadlock)
    scored = ds.map_batches(
        _ScorerActor,
        fn_constructor_args=(model_dir, targets_raw, fingerprint, actor_opts),
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=opts.actors),
        num_cpus=1,
        num_gpus=1 if opts.device == "cuda" else 0,
    )
    for row in scored.iter_rows():
        n = int(row["chunk"])
        articles, rejects = pending[n]
        rows = json.loads(row["rows"])
        out.write_chunk(
            n, rows, chunk_info(articles, rejects, rows, int(row["statements"]), len(targets_raw))
        )
        progress.update(len(articles) + len(rejects))
