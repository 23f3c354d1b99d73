from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stancewire.model.engine import StanceEngine
from stancewire.serve.archive_output import read_rows
from stancewire.serve.batch import ScoreOptions, score_archive

from .test_serve_batch import make_articles, write_jsonl

ray = pytest.importorskip("ray", reason="the optional extra stancewire[ray] is not installed")


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_serve_ray_engine_rows_equal_the_local_engine(
    ray_local: None, tiny_engine: StanceEngine, tiny_model_dir: Path, tmp_path: Path, seed_text: str
) -> None:
    archive = write_jsonl(tmp_path / "news.jsonl", [*make_articles(seed_text, 9), {"id": "bad", "text": ""}])
    targets = tmp_path / "targets.jsonl"
    targets.write_text(
        '{"id": "nk", "proposition": "North Korea exported arms to Russia.", "keywords": ["arms"]}\n'
        '{"id": "mayor", "proposition": "The mayor will resign."}\n'
    )
    # the pre-filter on, with the tiny model as its encoder, so the actors run the whole core
    common = {"progress": False, "chunk_size": 3, "device": "cpu", "relevance_encoder": str(tiny_model_dir)}
    local = score_archive(
        tiny_model_dir, archive, targets, tmp_path / "local", ScoreOptions(**common), engine=tiny_engine
    )
    on_ray = score_archive(
        tiny_model_dir, archive, targets, tmp_path / "ray", ScoreOptions(engine="ray", actors=2, **common)
    )
    rows = read_rows(tmp_path / "ray")
    assert rows == read_rows(tmp_path / "local") and len(rows) > 0
    for key in ("articles", "statements", "rows", "pairs_skipped", "rejected", "chunks"):
        assert on_ray[key] == local[key], key
