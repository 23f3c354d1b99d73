"""Public-dataset adapters (NAME:PATH): formats, label mappings, splits, errors, and the FNC-1 score."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from stancewire.eval.metrics import fnc_relative_score
from stancewire.eval.run import evaluate, load_labeled
from stancewire.model.errors import DataError
from stancewire.training.config import TrainConfig
from stancewire.training.data import split_examples
from stancewire.training.sources import FNC_THIN, SOURCES, load_source, parse_spec

from .conftest import SHARED_DATA


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def fnc_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "fnc1"
    folder.mkdir()
    body = "Officials said the report was false. " * 60  # longer than the lead cut
    write_csv(folder / "train_bodies.csv", ["Body ID", "articleBody"], [["1", body], ["2", "Short body."]])
    stances = [["Claim agreed", "1", "agree"], ["Claim disputed", "2", "disagree"]]
    stances += [[f"Headline {i}", "1", "unrelated"] for i in range(200)]
    stances += [[f"Discussed {i}", "2", "discuss"] for i in range(40)]
    write_csv(folder / "train_stances_part1.csv", ["Headline", "Body ID", "Stance"], stances)
    write_csv(folder / "competition_test_bodies.csv", ["Body ID", "articleBody"], [["9", "Test body."]])
    write_csv(
        folder / "competition_test_stances.csv",
        ["Headline", "Body ID", "Stance"],
        [["A", "9", "agree"], ["B", "9", "unrelated"], ["C", "9", "discuss"]],
    )
    return folder


def test_fnc1_maps_labels_thins_easy_rows_and_cuts_long_bodies(fnc_dir: Path) -> None:
    rows = load_source(f"fnc1:{fnc_dir}")
    by_fnc = Counter(e.meta["fnc_label"] for e in rows)
    assert by_fnc["agree"] == 1 and by_fnc["disagree"] == 1  # never thinned
    assert 0 < by_fnc["unrelated"] < 200 / FNC_THIN["unrelated"] * 2.5
    assert 0 < by_fnc["discuss"] < 40
    labels = {e.meta["fnc_label"]: e.label for e in rows}
    assert labels == {"agree": "confirm", "disagree": "deny", "unrelated": "none", "discuss": "none"}
    assert all(e.split == "train" for e in rows)
    agree = next(e for e in rows if e.meta["fnc_label"] == "agree")
    assert agree.target == "Claim agreed" and len(agree.statement) <= 1200
    assert agree.statement.endswith(".")  # cut at a sentence end
    # thinning is deterministic
    assert [e.target for e in load_source(f"fnc1:{fnc_dir}")] == [e.target for e in rows]


def test_fnc1_test_is_evaluation_only_and_complete(fnc_dir: Path) -> None:
    with pytest.raises(DataError, match="evaluation set"):
        load_source(f"fnc1-test:{fnc_dir}")
    rows = load_source(f"fnc1-test:{fnc_dir}", for_training=False)
    assert [e.meta["fnc_label"] for e in rows] == ["agree", "unrelated", "discuss"]
    assert all(e.split == "test" for e in rows)


def test_fnc1_names_the_bad_row(fnc_dir: Path) -> None:
    with (fnc_dir / "train_stances_part1.csv").open("a", encoding="utf-8") as fh:
        fh.write("Orphan headline,77,agree\n")
    with pytest.raises(DataError, match=r"train_stances_part1.csv:\d+: Body ID 77"):
        load_source(f"fnc1:{fnc_dir}")


def test_emergent_uses_the_official_claim_split(tmp_path: Path) -> None:
    header = ["id", "claimHeadline", "articleHeadline", "articleHeadlineStance", "articleId", "claimId"]
    write_csv(
        tmp_path / "url-versions-2015-06-14-clean.csv",
        header,
        [
            ["0", "Claim one", "Officials deny claim one", "against", "a1", "c1"],
            ["1", "Claim one", "Claim one is true", "for", "a2", "c1"],
            ["2", "Claim two", "Reports of claim two", "observing", "a3", "c2"],
        ],
    )
    test_header = ["", "claimHeadline", "articleHeadline", "y", "y_hat", "articleId", "claimId"]
    for name in ("correct", "errors"):
        write_csv(
            tmp_path / f"mscproject_output_url-versions-2015-06-14-clean-test-{name}.csv",
            test_header,
            [["2", "Claim two", "Reports of claim two", "observing", "observing", "a3", "c2"]],
        )
    train = load_source(f"emergent:{tmp_path}")
    test = load_source(f"emergent-test:{tmp_path}", for_training=False)
    assert [e.label for e in train] == ["deny", "confirm"]
    assert [(e.label, e.split) for e in test] == [("none", "test")]
    assert {e.event for e in train} == {"emergent-c1"}


def test_plover_rte_and_news_events(tmp_path: Path) -> None:
    plover = tmp_path / "PLOVER_GSR_CAMEO.txt"
    plover.write_text(
        json.dumps(
            [
                {"DOCUMENT": "header"},
                {
                    "id": "T1",
                    "event": "THREATEN",
                    "text": "Iran threatened Iraq.",
                    "source": [{"actorText": "Iran"}],
                    "target": [{"actorText": "Iraq"}],
                },
                {
                    "id": "D1",
                    "event": "DISAPPROVE",
                    "text": "Albania denounced Serbia.",
                    "source": "Albania",
                    "target": "Serbia",
                },
                {"id": "A1", "event": "AGREE", "text": "They agreed.", "source": [{"actorText": "X"}]},
                {"id": "S1", "event": "SANCTION", "text": "X banned Y.", "target": [{"actorText": "Y"}]},
            ]
        ),
        encoding="utf-8",
    )
    rows = load_source(f"plover:{tmp_path}")
    assert [(e.target, e.label, e.speaker) for e in rows] == [
        ("Iraq", "threaten", "Iran"),
        ("Serbia", "condemn", "Albania"),
        ("Y", "none", None),  # no source actor; the no-target record is skipped
    ]
    write_csv(
        tmp_path / "rte_train.tsv",
        ["index", "sentence1", "sentence2", "label"],
        [["0", "A said B.", "B.", "entailment"], ["1", "C.", "D.", "not_entailment"]],
        delimiter="\t",
    )
    assert [e.label for e in load_source(f"rte:{tmp_path}")] == ["confirm", "none"]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"statement": "S.", "target": "T.", "label": "deny"}) + "\n", encoding="utf-8"
    )
    (row,) = load_source(f"news_events:{pairs}")
    assert (row.label, row.split, row.meta["source"]) == ("deny", "train", "news_events")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fnc1", "NAME:PATH"),
        ("nosuch:/tmp", "unknown extra source 'nosuch'"),
        ("fnc1:/no/such/dir", "does not exist"),
    ],
)
def test_bad_specs_say_what_to_do(spec: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_spec(spec)


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train_stances"):
        load_source(f"fnc1:{tmp_path}")
    with pytest.raises(DataError, match=r"missing \['url-versions"):
        load_source(f"emergent:{tmp_path}")


def test_extra_rows_only_ever_train(fnc_dir: Path, small_labeled: Path) -> None:
    from stancewire.training.data import load_examples

    seeds = load_examples([small_labeled])
    extra = load_source(f"fnc1:{fnc_dir}")
    parts = split_examples(seeds + extra)
    assert all(e.meta.get("source") != "fnc1" for e in parts["dev"] + parts["test"])
    assert TrainConfig(extra_sources=(f"fnc1:{fnc_dir}",)).extra_sources == (f"fnc1:{fnc_dir}",)


def test_eval_reads_sources_and_reports_the_fnc_score(fnc_dir: Path, tiny_model_dir: Path) -> None:
    rows = load_labeled([f"fnc1-test:{fnc_dir}"])
    assert len(rows) == 3
    report = evaluate(tiny_model_dir, [f"fnc1-test:{fnc_dir}"], bootstrap=0)
    assert 0.0 <= report["fnc1_relative_score"] <= 1.0
    assert "macro_f1_gold_labels" in report


def test_fnc_relative_score_follows_the_official_weights() -> None:
    gold = ["agree", "unrelated", "discuss", "disagree"]
    assert fnc_relative_score(gold, ["confirm", "none", "condemn", "deny"]) == 1.0
    # best = 1 + 0.25 + 1 + 1; related-but-wrong earns 0.25, unrelated-for-related earns 0
    assert fnc_relative_score(gold, ["deny", "none", "none", "confirm"]) == pytest.approx(0.75 / 3.25)
    assert fnc_relative_score(gold, ["none"] * 4) == pytest.approx(0.25 / 3.25)
    assert np.isclose(fnc_relative_score([], []), 0.0)


def test_every_source_has_help() -> None:
    assert all(s.help for s in SOURCES.values())


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present")
@pytest.mark.parametrize(
    ("spec", "training", "at_least"),
    [
        ("fnc1:fnc1", True, 9000),
        ("fnc1-test:fnc1", False, 25000),
        ("emergent:emergent", True, 2000),
        ("emergent-test:emergent", False, 500),
        ("plover:plover_gsr", True, 200),
        ("rte:nli_rte", True, 2700),
        ("news_events:news_events_relabeled", True, 1000),
    ],
)
def test_real_shared_datasets_load(spec: str, training: bool, at_least: int) -> None:
    name, _, sub = spec.partition(":")
    rows = load_source(f"{name}:{SHARED_DATA / sub}", for_training=training)
    assert len(rows) >= at_least


def test_cli_train_adds_extra_rows_to_train_only(
    fnc_dir: Path, small_labeled: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from stancewire.cli import main

    out = tmp_path / "m"
    args = ["train", "--data", str(small_labeled), "--extra", f"fnc1:{fnc_dir}", "--out", str(out)]
    args += [
        "--base",
        str(tiny_model_dir),
        "--max-steps",
        "2",
        "--max-length",
        "48",
        "--device",
        "cpu",
        "--quiet",
    ]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    n_extra = len(load_source(f"fnc1:{fnc_dir}"))
    seeds_train = sum(metrics["counts"]["train"].values()) - n_extra
    assert seeds_train > 0
    assert json.loads((out / "train_config.json").read_text())["extra_sources"] == [f"fnc1:{fnc_dir}"]
    assert (
        main(["train", "--data", str(small_labeled), "--extra", f"fnc1-test:{fnc_dir}", "--out", str(out)])
        == 2
    )
