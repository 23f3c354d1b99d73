from __future__ import annotations

import csv
import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError
from stancewire.serve.archive_input import Columns
from stancewire.serve.archive_output import read_rows
from stancewire.serve.batch import ScoreOptions, score_archive
from stancewire.serve.targets import read_targets, targets_fingerprint

QUOTE = "“We will not resign,” the mayor said. The ministry said it had never exported arms to Russia."


def make_articles(seed_text: str, n: int) -> list[dict[str, object]]:
    """n articles: slices of the seed article, dates over three months, two sources."""
    paragraphs = [p for p in seed_text.split("\n") if p.strip()]
    return [
        {
            "id": f"a{i:03d}",
            "text": "\n".join(paragraphs[i % 5 : i % 5 + 3]) + "\n" + QUOTE,
            "date": f"2024-0{1 + i % 3}-{10 + i % 18}",
            "source": "AP" if i % 2 else "Reuters",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def targets_file(tmp_path: Path) -> Path:
    path = tmp_path / "targets.jsonl"
    path.write_text(
        '{"id": "nk", "proposition": "North Korea exported arms to Russia.", "keywords": ["arms"]}\n'
        '{"id": "mayor", "proposition": "The mayor will resign.", "keywords": ["resign"]}\n'
    )
    return path


NO_FILTER = ScoreOptions(relevance=False, progress=False, chunk_size=3)


def test_batch_scores_archive_and_counts_rejects(
    tiny_engine: StanceEngine, tmp_path: Path, seed_text: str, targets_file: Path
) -> None:
    good = make_articles(seed_text, 5)
    archive = tmp_path / "news.jsonl"
    lines = [json.dumps(r).encode() for r in good[:2]]
    lines += [
        b"{not json",
        json.dumps({"id": "empty", "text": " "}).encode(),
        b'{"id": "x", "text": "caf\xe9"}',
    ]
    lines += [json.dumps({"id": "huge", "text": "word " * 5000}).encode()]
    lines += [json.dumps(r).encode() for r in good[2:]]
    archive.write_bytes(b"\n".join(lines) + b"\n")
    opts = ScoreOptions(relevance=False, progress=False, chunk_size=3, max_chars=10_000)
    summary = score_archive("unused", archive, targets_file, tmp_path / "out", opts, engine=tiny_engine)
    rows = read_rows(tmp_path / "out")
    assert summary["articles"] == 5 and summary["rejected"] == 4 and summary["targets"] == 2
    assert len(rows) == summary["rows"] == 2 * summary["statements"] > 0
    assert {r["article_id"] for r in rows} == {r["id"] for r in good}
    first = rows[0]
    assert first["date"] == "2024-01-10" and first["source"] == "Reuters"
    assert (
        first["model_version"] == "tiny-test"
        and first["targets_fingerprint"] == summary["targets_fingerprint"]
    )
    assert good[0]["text"][first["start"] : first["end"]] == first["statement"]  # type: ignore[index]
    assert abs(sum(first[f"p_{k}"] for k in ("deny", "confirm", "condemn", "threaten", "none")) - 1) < 1e-4
    assert [r["target_id"] for r in rows[:2]] == ["nk", "mayor"]
    rejects = [json.loads(x) for x in (tmp_path / "out" / "_rejects.jsonl").read_text().splitlines()]
    reasons = {r["record"]: r["reason"] for r in rejects}
    assert "invalid JSON" in reasons[3] and "text" in reasons[4]
    assert "UTF-8" in reasons[5] and "exceeds --max-chars" in reasons[6]
    assert rejects[1]["where"].endswith("news.jsonl:4")


def test_batch_every_input_format_gives_the_same_rows(
    tiny_engine: StanceEngine, tmp_path: Path, seed_text: str, targets_file: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    articles = make_articles(seed_text, 4)
    renamed = [
        {"doc": a["id"], "body": a["text"], "published": a["date"], "outlet": a["source"]} for a in articles
    ]
    with gzip.open(tmp_path / "in.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in renamed)
    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(renamed[0]))
        writer.writeheader()
        writer.writerows(renamed)
    pq.write_table(pa.Table.from_pylist(renamed), tmp_path / "in.parquet")
    txt = tmp_path / "txt"
    txt.mkdir()
    for a in articles:
        (txt / f"{a['id']}.txt").write_text(str(a["text"]), encoding="utf-8")
    cols = Columns(id="doc", text="body", date="published", source="outlet")
    outputs = {}
    for name in ("in.jsonl.gz", "in.csv", "in.parquet", "txt"):
        opts = ScoreOptions(relevance=False, progress=False, chunk_size=3, columns=cols)
        score_archive(
            "unused", tmp_path / name, targets_file, tmp_path / f"out-{name}", opts, engine=tiny_engine
        )
        outputs[name] = read_rows(tmp_path / f"out-{name}")
    assert outputs["in.jsonl.gz"] == outputs["in.csv"] == outputs["in.parquet"]
    keep = ("article_id", "statement", "start", "target_id", "label", "p_deny")
    assert [{k: r[k] for k in keep} for r in outputs["txt"]] == [
        {k: r[k] for k in keep} for r in outputs["in.csv"]
    ]
    assert outputs["txt"][0]["date"] is None


def test_batch_resume_and_manifest_refuses_another_target_set(
    tiny_engine: StanceEngine, tmp_path: Path, seed_text: str, targets_file: Path
) -> None:
    archive = write_jsonl(tmp_path / "news.jsonl", make_articles(seed_text, 7))
    out = tmp_path / "out"
    first = score_archive("unused", archive, targets_file, out, NO_FILTER, engine=tiny_engine)
    expected = read_rows(out)
    # a run that died after chunk 1: drop the other markers and a part, leave a torn temp file
    for marker in ("000002.json", "000003.json"):
        (out / "_chunks" / marker).unlink()
    (out / "part-000003.parquet").unlink()
    (out / ".part-000002.parquet.tmp-1").write_bytes(b"torn")
    again = score_archive("unused", archive, targets_file, out, NO_FILTER, engine=tiny_engine)
    assert again["resumed_chunks"] == 1 and read_rows(out) == expected
    assert {k: again[k] for k in ("articles", "rows")} == {k: first[k] for k in ("articles", "rows")}
    other = tmp_path / "other.txt"
    other.write_text("The mayor will resign.\n")
    with pytest.raises(DataError, match="targets_fingerprint.*--overwrite"):
        score_archive("unused", archive, other, out, NO_FILTER, engine=tiny_engine)
    opts = ScoreOptions(relevance=False, progress=False, chunk_size=3, overwrite=True)
    score_archive("unused", archive, other, out, opts, engine=tiny_engine)
    rows = read_rows(out)
    assert {r["target_id"] for r in rows} == {"t1"} and len(rows) == len(expected) // 2
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a stancewire output"):
        score_archive("unused", archive, other, tmp_path / "stranger", NO_FILTER, engine=tiny_engine)


def test_batch_kill_and_resume_equals_an_uninterrupted_run(
    tiny_engine: StanceEngine, tiny_model_dir: Path, tmp_path: Path, seed_text: str, targets_file: Path
) -> None:
    archive = write_jsonl(tmp_path / "news.jsonl", make_articles(seed_text, 40))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "stancewire", "score", "--model", str(tiny_model_dir),
           "--input", str(archive), "--targets", str(targets_file), "--output", str(out),
           "--no-prefilter", "--chunk-size", "2", "--device", "cpu", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    # kill it hard once a few chunks are committed: no chance to clean up, as in a crash
    while len(list((out / "_chunks").glob("*.json"))) < 3:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "scorer exited"
        assert time.monotonic() < deadline, "the scoring subprocess committed no chunk in 120 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = len(list((out / "_chunks").glob("*.json")))
    assert proc.returncode == -signal.SIGKILL and committed < 20
    assert not (out / "_SUCCESS.json").exists()
    opts = ScoreOptions(relevance=False, progress=False, chunk_size=2, device="cpu")
    resumed = score_archive(tiny_model_dir, archive, targets_file, out, opts, engine=tiny_engine)
    ref = tmp_path / "ref"
    reference = score_archive(tiny_model_dir, archive, targets_file, ref, opts, engine=tiny_engine)
    assert resumed["resumed_chunks"] == committed
    rows = read_rows(out)
    assert rows == read_rows(ref)
    keys = [(r["record"], r["start"], r["end"], r["target_id"]) for r in rows]
    assert len(keys) == len(set(keys)) == reference["rows"]
    assert resumed["rows"] == reference["rows"] and resumed["articles"] == 40


def test_batch_jsonl_output_partitioned_by_month(
    tiny_engine: StanceEngine, tmp_path: Path, seed_text: str, targets_file: Path
) -> None:
    archive = write_jsonl(tmp_path / "news.jsonl", make_articles(seed_text, 6))
    opts = ScoreOptions(
        relevance=False, progress=False, chunk_size=4, output_format="jsonl", partition="month"
    )
    score_archive("unused", archive, targets_file, tmp_path / "out", opts, engine=tiny_engine)
    months = sorted(p.name for p in (tmp_path / "out").glob("month=*"))
    assert months == ["month=2024-01", "month=2024-02", "month=2024-03"]
    for part in (tmp_path / "out").glob("month=*/part-*.jsonl"):
        month = part.parent.name.removeprefix("month=")
        assert {json.loads(x)["date"][:7] for x in part.read_text().splitlines()} == {month}


def test_batch_prefilter_keeps_keyword_pairs_and_can_be_switched_off(
    tiny_engine: StanceEngine, tiny_model_dir: Path, tmp_path: Path, targets_file: Path
) -> None:
    text = "“We sold no arms to anyone,” the minister said. “The weather is fine,” the farmer said."
    archive = write_jsonl(tmp_path / "news.jsonl", [{"id": "a", "text": text}])
    # above any cosine: only keyword hints keep a pair
    strict = ScoreOptions(progress=False, relevance_threshold=1.01, relevance_encoder=str(tiny_model_dir))
    summary = score_archive("unused", archive, targets_file, tmp_path / "strict", strict, engine=tiny_engine)
    rows = read_rows(tmp_path / "strict")
    assert [(r["statement"], r["target_id"]) for r in rows] == [("We sold no arms to anyone", "nk")]
    assert summary["pairs_skipped"] == 3 and rows[0]["relevance"] is not None
    off = ScoreOptions(progress=False, relevance=False)
    summary = score_archive("unused", archive, targets_file, tmp_path / "off", off, engine=tiny_engine)
    assert summary["rows"] == 4 and summary["pairs_skipped"] == 0


def test_batch_extraction_workers_give_the_same_rows(
    tiny_engine: StanceEngine, tmp_path: Path, seed_text: str, targets_file: Path
) -> None:
    archive = write_jsonl(tmp_path / "news.jsonl", make_articles(seed_text, 9))
    score_archive("unused", archive, targets_file, tmp_path / "one", NO_FILTER, engine=tiny_engine)
    opts = ScoreOptions(relevance=False, progress=False, chunk_size=3, workers=2)
    score_archive("unused", archive, targets_file, tmp_path / "two", opts, engine=tiny_engine)
    assert read_rows(tmp_path / "one") == read_rows(tmp_path / "two")


def test_batch_targets_file_formats_and_errors(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("# comment\nX did it.\n\nY did it.\n")
    (tmp_path / "t.yaml").write_text(
        "targets:\n  - {id: x, proposition: X did it., keywords: [x]}\n  - {id: y, proposition: Y did it.}\n"
    )
    assert [(t.id, t.proposition) for t in read_targets(tmp_path / "t.txt")] == [
        ("t1", "X did it."),
        ("t2", "Y did it."),
    ]
    yaml_targets = read_targets(tmp_path / "t.yaml")
    assert yaml_targets[0].keywords == ("x",) and yaml_targets[1].keywords == ()
    assert targets_fingerprint(yaml_targets) != targets_fingerprint(read_targets(tmp_path / "t.txt"))
    (tmp_path / "empty.txt").write_text("\n# only a comment\n")
    with pytest.raises(DataError, match="no targets"):
        read_targets(tmp_path / "empty.txt")
    (tmp_path / "t.jsonl").write_text('{"id": "t1", "proposition": "X did it."}\n{"id": "t2"}\n')
    with pytest.raises(DataError, match="t.jsonl:2"):
        read_targets(tmp_path / "t.jsonl")
    (tmp_path / "dup.jsonl").write_text(
        '{"id": "a", "proposition": "X."}\n{"id": "a", "proposition": "Y."}\n'
    )
    with pytest.raises(DataError, match="appears twice"):
        read_targets(tmp_path / "dup.jsonl")


def test_batch_csv_long_text_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    from stancewire.serve.archive_input import Article, Reject, iter_archive

    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        writer.writerow(["long", "x" * 200_000])
        writer.writerow(["ok", "“Fine,” she said."])
    items = list(iter_archive(path, max_chars=150_000))
    assert isinstance(items[0], Reject) and "exceeds --max-chars" in items[0].reason
    assert isinstance(items[1], Article) and items[1].id == "ok" and items[1].record == 2


def test_batch_onnx_backend_gives_the_same_rows_and_is_recorded(
    tiny_model_dir: Path, tmp_path: Path, seed_text: str, targets_file: Path
) -> None:
    pytest.importorskip("onnxruntime")
    archive = write_jsonl(tmp_path / "news.jsonl", make_articles(seed_text, 4))
    runs = {}
    for backend in ("torch", "onnx"):
        opts = ScoreOptions(relevance=False, progress=False, device="cpu", backend=backend)
        score_archive(tiny_model_dir, archive, targets_file, tmp_path / backend, opts)
        runs[backend] = read_rows(tmp_path / backend)
    assert len(runs["torch"]) == len(runs["onnx"]) > 0
    for a, b in zip(runs["torch"], runs["onnx"], strict=True):
        assert (a["article_id"], a["start"], a["target_id"], a["label"]) == (
            b["article_id"], b["start"], b["target_id"], b["label"]
        )
        assert abs(a["confidence"] - b["confidence"]) < 1e-4
    # resuming with the other backend would mix rows from two computations: refused
    with pytest.raises(DataError, match="backend"):
        score_archive(tiny_model_dir, archive, targets_file, tmp_path / "torch",
                      ScoreOptions(relevance=False, progress=False, device="cpu", backend="onnx"))
    with pytest.raises(DataError, match="--backend must be torch or onnx"):
        ScoreOptions(backend="auto")
