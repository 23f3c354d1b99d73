"""Baselines, slices, ``stancewire compare`` and ``stancewire eval --report`` on the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from stancewire.cli import main
from stancewire.eval.baselines import LexiconBaseline, MajorityBaseline, TfidfBaseline
from stancewire.eval.run import slice_columns, slice_report
from stancewire.model.errors import StancewireError
from stancewire.model.labels import LABELS
from stancewire.training.data import Example, load_examples

from .conftest import build_tiny_model_dir, write_jsonl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def example(statement: str, label: str = "none", **meta: str) -> Example:
    speaker = meta.pop("speaker", None)
    return Example(
        statement=statement, target="Troops crossed the border.", label=label, speaker=speaker, meta=meta
    )


@pytest.fixture
def sliced_labeled(tmp_path: Path) -> Path:
    """Sixty rows over thirty events: 45 from 'wire', 15 from 'social'; kinds direct and reported."""
    rows = []
    for i in range(60):
        label = LABELS[i % len(LABELS)]
        rows.append(
            {
                "id": f"s{i}",
                "event": f"e{i // 2}",
                "statement": f"Statement {i} on event {i // 4}: the ministry says {label} <b>&</b>.",
                "target": f"Event {i // 4} happened.",
                "label": label,
                "speaker": "the ministry" if i % 3 else "",
                "source": "wire" if i < 45 else "social",
                "kind": "direct" if i % 2 else "reported",
            }
        )
    return write_jsonl(tmp_path / "sliced.jsonl", rows)


def test_eval_report_lexicon_baseline_reads_cues_in_tie_break_order() -> None:
    lexicon = LexiconBaseline().fit([])
    assert lexicon.label_of("The ministry denied the report, calling it baseless.") == "deny"
    assert lexicon.label_of("We will retaliate against any incursion.") == "threaten"
    assert lexicon.label_of("He warned that the army would respond.") == "threaten"
    assert lexicon.label_of("The minister condemned the shelling.") == "condemn"
    assert lexicon.label_of("The army confirmed the strike on Tuesday.") == "confirm"
    assert lexicon.label_of("The weather in the capital was mild.") == "none"
    # threaten outranks deny when both cues are present (the guide's tie-break)
    assert lexicon.label_of("They denied it and threatened to retaliate.") == "threaten"
    probs = lexicon.predict_proba([example("They rejected the claim.")])
    assert probs.tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]


def test_eval_report_majority_baseline_predicts_the_training_majority() -> None:
    train = [example("a", "deny"), example("b", "deny"), example("c", "none")]
    probs = MajorityBaseline().fit(train).predict_proba([example("x"), example("y", "confirm")])
    assert probs.shape == (2, len(LABELS)) and np.allclose(probs.sum(axis=1), 1)
    assert [LABELS[k] for k in probs.argmax(axis=1)] == ["deny", "deny"]
    with pytest.raises(StancewireError, match="at least one labeled row"):
        MajorityBaseline().fit([])


def test_eval_report_tfidf_baseline_fits_and_predicts_valid_labels(small_labeled: Path) -> None:
    rows = load_examples([small_labeled])
    model = TfidfBaseline().fit(rows[:30])
    probs = model.predict_proba(rows[30:])
    assert probs.shape == (10, len(LABELS)) and np.allclose(probs.sum(axis=1), 1)
    assert set(probs.argmax(axis=1).tolist()) <= set(range(len(LABELS)))
    assert model.predict_proba([]).shape == (0, len(LABELS))
    with pytest.raises(StancewireError, match="at least two labels"):
        TfidfBaseline().fit([example("a", "deny"), example("b", "deny")])


def test_eval_report_slices_group_rows_and_flag_small_ones() -> None:
    rows = [example(f"s{i}", "deny", source="wire", speaker="the army") for i in range(25)]
    rows += [example(f"t{i}", "none", source="social") for i in range(5)]
    rows += [example("u", "none")]  # no source at all
    probs = np.zeros((len(rows), len(LABELS)))
    probs[:, 0] = 1.0  # always deny: right on wire, wrong elsewhere
    assert slice_columns(rows, None) == ["source"]
    slices = slice_report(rows, probs, slice_columns(rows, ["source", "speaker"]))
    assert slices["source"]["wire"] == {"n": 25, "macro_f1": 1.0, "accuracy": 1.0, "small": False}
    assert slices["source"]["social"]["n"] == 5 and slices["source"]["social"]["small"]
    assert slices["source"]["social"]["accuracy"] == 0.0
    assert slices["source"]["(none)"]["n"] == 1
    assert slices["speaker"]["with speaker"]["n"] == 25 and slices["speaker"]["no speaker"]["n"] == 6
    with pytest.raises(StancewireError, match="--slice-by style: no evaluated row"):
        slice_columns(rows, ["style"])


def test_eval_report_cli_json_has_slices_and_baselines_without_training_data(
    tiny_model_dir: Path, sliced_labeled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "--model", str(tiny_model_dir), "--data", str(sliced_labeled), "--device", "cpu"]
    assert main([*args, "--baselines", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert set(report["slices"]) == {"source", "kind"}
    assert report["slices"]["source"]["social"]["small"] and not report["slices"]["source"]["wire"]["small"]
    # the tiny model has no train_config.json: one line says so, TF-IDF is left out
    assert captured.err.count("baselines: cannot read the model's training data") == 1
    assert set(report["baselines"]) == {"majority", "lexicon"}
    assert {"reliability", "selective", "macro_f1", "per_class", "ci95"} <= set(report)
    assert main([*args, "--slice-by", "topic"]) == 2
    assert "--slice-by topic: no evaluated row" in capsys.readouterr().err


def test_eval_report_cli_baselines_fit_on_the_models_train_split(
    tiny_model_dir: Path, sliced_labeled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    (model / "train_config.json").write_text(json.dumps({"data": [str(sliced_labeled)], "extra_sources": []}))
    args = ["eval", "--model", str(model), "--data", str(sliced_labeled), "--device", "cpu"]
    assert main([*args, "--split", "test", "--baselines", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert list(report["baselines"]) == ["majority", "tfidf-logreg", "lexicon"]
    assert "cannot read" not in captured.err
    assert "the train split of" in report["baselines"]["tfidf-logreg"]["fitted_on"]
    assert main([*args, "--baseline-train", str(sliced_labeled)]) == 0
    assert "model vs baselines" in capsys.readouterr().out


def test_eval_report_compare_two_tiny_models(
    tiny_model_dir: Path, sliced_labeled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = build_tiny_model_dir(tmp_path / "b", seed=1)
    args = ["compare", "--model", str(tiny_model_dir), "--model", str(other), "--data", str(sliced_labeled)]
    assert main([*args, "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 60 and set(result["per_class_f1_delta"]) == set(LABELS)
    delta = result["b"]["macro_f1"] - result["a"]["macro_f1"]
    assert abs(result["paired_bootstrap"]["delta_macro_f1"] - delta) < 1e-12
    lo, hi = result["paired_bootstrap"]["ci95"]
    assert lo <= hi and result["verdict"].startswith(("B is better", "A is better", "no significant"))
    assert main([*args, "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "A = " in text and result["verdict"] in text
    assert main(["compare", "--model", str(other), "--data", str(sliced_labeled)]) == 2
    assert "exactly two models" in capsys.readouterr().err


def test_eval_report_writes_html_pngs_and_json(
    tiny_model_dir: Path, sliced_labeled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    args = ["eval", "--model", str(tiny_model_dir), "--data", str(sliced_labeled), "--device", "cpu"]
    assert main([*args, "--baselines", "--report", str(out)]) == 0
    assert f"report written to {out / 'index.html'}" in capsys.readouterr().err
    page = (out / "index.html").read_text(encoding="utf-8")
    for name in ("confusion.png", "reliability.png", "per_class_f1.png", "coverage.png"):
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE, name
        assert f"src='{name}'" in page
    assert "<script" not in page.lower() and "http" not in page.lower()
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in page  # statements are escaped, never markup
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(saved["worst_errors"]) == min(25, saved["n"] - round(saved["accuracy"] * saved["n"]))
    worst = saved["worst_errors"]
    assert [e["confidence"] for e in worst] == sorted((e["confidence"] for e in worst), reverse=True)
    assert all(e["gold"] != e["predicted"] and set(e["probs"]) == set(LABELS) for e in worst)
    assert {"majority", "lexicon"} <= set(saved["baselines"]) and "slices" in saved


def test_eval_report_flags_need_data_not_articles(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .conftest import REPO

    articles = str(REPO / "seeds" / "article_000.json")
    assert main(["eval", "--model", str(tiny_model_dir), "--articles", articles, "--report", "x"]) == 2
    assert "--report work with --data only" in capsys.readouterr().err
