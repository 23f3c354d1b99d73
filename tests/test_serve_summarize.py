from __future__ import annotations

import json
from pathlib import Path

import pytest

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError
from stancewire.serve.archive_output import read_rows
from stancewire.serve.batch import ScoreOptions, score_archive
from stancewire.serve.summarize import format_summary, summarize

from .test_serve_batch import make_articles, write_jsonl


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_serve_summarize_counts_top_statements_and_plots(
    fmt: str, tiny_engine: StanceEngine, tmp_path: Path, seed_text: str
) -> None:
    archive = write_jsonl(tmp_path / "news.jsonl", make_articles(seed_text, 6))
    targets = tmp_path / "t.txt"
    targets.write_text("North Korea exported arms to Russia.\nThe mayor will resign.\n")
    opts = ScoreOptions(relevance=False, progress=False, output_format=fmt, partition="month")
    score_archive("unused", archive, targets, tmp_path / "out", opts, engine=tiny_engine)
    rows = read_rows(tmp_path / "out")
    report = summarize(tmp_path / "out", plots_dir=tmp_path / "plots", top=1)
    assert report["rows"] == len(rows) and report["articles"] == 6
    assert sum(c["n"] for c in report["counts"]) == len(rows)
    assert {c["month"] for c in report["counts"]} == {"2024-01", "2024-02", "2024-03"}
    mayor_denials = sum(
        1 for r in rows if r["target_id"] == "t2" and r["label"] == "deny" and r["speaker"] == "the mayor"
    )
    cell = [
        c["n"]
        for c in report["counts"]
        if (c["speaker"], c["target_id"], c["label"]) == ("the mayor", "t2", "deny")
    ]
    assert sum(cell) == mayor_denials
    cells = [(t["speaker"], t["target_id"], t["label"]) for t in report["top"]]
    assert len(cells) == len(set(cells)) and all(t["label"] != "none" for t in report["top"])
    for t in report["top"]:
        best = max(
            r["confidence"]
            for r in rows
            if (r["speaker"] or "(unknown)", r["target_id"], r["label"])
            == (t["speaker"], t["target_id"], t["label"])
        )
        assert t["confidence"] == round(best, 3)
    non_none_targets = {r["target_id"] for r in rows if r["label"] != "none"}
    assert sorted(Path(p).name for p in report["plots"]) == sorted(
        f"stance_{t}.png" for t in non_none_targets
    )
    assert all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in report["plots"])
    assert "rows from 6 articles" in format_summary(report)
    json.dumps(report, default=str)


def test_serve_summarize_refuses_a_directory_without_output(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a stancewire score output"):
        summarize(tmp_path)
