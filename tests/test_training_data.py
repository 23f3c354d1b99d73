from __future__ import annotations

from pathlib import Path

import pytest

from stancewire.model.errors import DataError
from stancewire.training.check import check_files
from stancewire.training.data import Example, fingerprint, load_examples, split_examples, split_of

from .conftest import REPO, write_jsonl


def test_data_loads_jsonl_and_csv_and_ignores_unknown_fields(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [{"statement": "S", "target": "T", "label": "Deny", "mood": "x"}])
    (tmp_path / "b.csv").write_text("statement,target,label,speaker\nWe did it.,X did it.,confirm,the army\n")
    rows = load_examples([tmp_path])
    assert [(r.label, r.speaker) for r in rows] == [("deny", None), ("confirm", "the army")]
    assert rows[1].line == 2 and rows[1].path.endswith("b.csv")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"statement": "S", "target": "T"}', r"bad.jsonl:2: missing field\(s\) \['label'\]"),
        ('{"statement": "S", "target": "T", "label": "agree"}', r"bad.jsonl:2: label 'agree' is not one of"),
        (
            '{"statement": "", "target": "T", "label": "none"}',
            r"bad.jsonl:2: field 'statement' must be a non-empty",
        ),
        ('{"statement": "S", "target": "T", "label": "none"', r"bad.jsonl:2: invalid JSON"),
        ('["S", "T", "none"]', r"bad.jsonl:2: expected a JSON object"),
        ('{"statement": "S", "target": "T", "label": "none", "split": "holdout"}', r"split 'holdout'"),
    ],
)
def test_data_bad_rows_name_file_line_and_problem(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"statement": "ok", "target": "ok", "label": "none"}\n' + line + "\n")
    with pytest.raises(DataError, match=message):
        load_examples([path])


def test_data_non_utf8_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = b'{"statement": "ok", "target": "ok", "label": "none"}\n'
    latin1 = '{"statement": "Caf\u00e9", "target": "T", "label": "none"}\n'.encode("latin-1")
    path.write_bytes(good * 3 + latin1)
    with pytest.raises(DataError, match=r"mixed.jsonl:4: not valid UTF-8"):
        load_examples([path])


def test_data_check_of_tiny_files_with_repeated_ids(tmp_path: Path) -> None:
    # one-letter statements leave the near-duplicate vectoriser no words: a report, not a crash
    path = write_jsonl(
        tmp_path / "dup.jsonl",
        [
            {"id": "a1", "statement": "A.", "target": "X did it.", "label": "deny"},
            {"id": "a1", "statement": "B.", "target": "X did it.", "label": "none"},
        ],
    )
    report = check_files([path])
    assert any("ids used more than once" in e for e in report["errors"])


def test_data_missing_path_and_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_examples([tmp_path / "missing.jsonl"])
    with pytest.raises(DataError, match="no .jsonl or .csv"):
        load_examples([tmp_path])


def test_data_split_keeps_events_together_and_is_stable(small_labeled: Path) -> None:
    rows = load_examples([small_labeled])
    parts = split_examples(rows, dev_fraction=0.3, test_fraction=0.3)
    seen: dict[str, str] = {}
    for name, part in parts.items():
        for r in part:
            assert seen.setdefault(r.event or "", name) == name
    assert parts == split_examples(list(reversed(rows)), 0.3, 0.3) or all(
        {id(x) for x in parts[k]} == {id(x) for x in split_examples(list(reversed(rows)), 0.3, 0.3)[k]}
        for k in parts
    )
    explicit = Example("S", "T", "none", split="test")
    assert split_of(explicit) == "test"


def test_data_split_joins_near_duplicate_statements_across_events() -> None:
    a = Example("The ministry flatly rejected the report as baseless and false.", "T1", "deny", event="ev-a")
    b = Example("The ministry flatly rejected the report as baseless and false!", "T2", "deny", event="ev-b")
    others = [
        Example(f"Unrelated statement {i} about harvests.", "T", "none", event=f"o{i}") for i in range(30)
    ]
    parts = split_examples([a, b, *others], 0.3, 0.3)
    where = {name for name, rows in parts.items() for r in rows if r in (a, b)}
    assert len(where) == 1


def test_data_fingerprint_ignores_order_but_not_labels() -> None:
    a = Example("S1", "T", "deny")
    b = Example("S2", "T", "none")
    assert fingerprint([a, b]) == fingerprint([b, a])
    assert fingerprint([a, b]) != fingerprint([a, Example("S2", "T", "confirm")])


def test_data_check_flags_conflicts_and_passes_clean(tmp_path: Path, small_labeled: Path) -> None:
    assert check_files([small_labeled])["ok"]
    write_jsonl(
        tmp_path / "conflict.jsonl",
        [
            {"statement": "We did not.", "target": "X did it.", "label": "deny"},
            {"statement": "We did not.", "target": "X did it.", "label": "confirm"},
        ],
    )
    report = check_files([tmp_path / "conflict.jsonl"])
    assert not report["ok"] and "conflicting labels" in report["errors"][0]


def test_data_check_reports_schema_errors_per_file(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"statement": "S"}\n')
    report = check_files([tmp_path / "bad.jsonl"])
    assert not report["ok"] and "bad.jsonl:1" in report["errors"][0]


def test_data_seeds_corpus_passes_check() -> None:
    report = check_files([REPO / "seeds" / "corpus"])
    assert report["ok"], report["errors"][:3]
    assert report["rows"] >= 1500
