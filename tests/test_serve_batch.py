from __future__ import annotations

import json
from pathlib import Path

import pytest

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError
from stancewire.serve.batch import read_targets, score_archive


def test_batch_scores_archive_and_counts_rejects(
    tiny_engine: StanceEngine, tmp_path: Path, seed_text: str
) -> None:
    archive = tmp_path / "news.jsonl"
    archive.write_text(
        json.dumps({"id": "a1", "text": seed_text, "date": "2022-09-22", "source": "AP"})
        + "\n{not json\n"
        + json.dumps({"id": "a2", "text": ""})
        + "\n"
        + json.dumps({"id": "a3", "text": "“We will not resign,” the mayor said."})
        + "\n"
    )
    targets = tmp_path / "targets.txt"
    targets.write_text("# comment\nNorth Korea exported arms to Russia.\n\nThe mayor will resign.\n")
    out = tmp_path / "out" / "rows.jsonl"
    summary = score_archive("unused", archive, targets, out, engine=tiny_engine, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["articles"] == 2 and summary["rejected"] == 2 and summary["targets"] == 2
    assert len(rows) == summary["rows"] == 2 * summary["statements"]
    assert {r["article_id"] for r in rows} == {"a1", "a3"}
    first = rows[0]
    assert first["date"] == "2022-09-22" and first["source"] == "AP" and first["model_version"] == "tiny-test"
    assert seed_text[first["start"] : first["end"]] == first["statement"]
    rejects = (tmp_path / "out" / "rows.jsonl.rejects.jsonl").read_text().splitlines()
    assert [json.loads(r)["line"] for r in rejects] == [2, 3]
    assert not (tmp_path / "out" / "rows.jsonl.partial").exists()


def test_batch_targets_file_errors(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("\n# only a comment\n")
    with pytest.raises(DataError, match="no targets"):
        read_targets(tmp_path / "t.txt")
    (tmp_path / "t.jsonl").write_text('{"id": "t1", "proposition": "X did it."}\n{"id": "t2"}\n')
    with pytest.raises(DataError, match="t.jsonl:2"):
        read_targets(tmp_path / "t.jsonl")
