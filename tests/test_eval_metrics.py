from __future__ import annotations

import numpy as np

from stancewire.eval.metrics import (
    bootstrap_ci,
    classification_report,
    expected_calibration_error,
    macro_f1,
    paired_bootstrap,
    reliability_bins,
    selective_curve,
    to_ids,
)
from stancewire.eval.run import format_report
from stancewire.model.labels import LABELS


def one_hot(labels: list[str], confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(labels), len(LABELS)), (1 - confidence) / (len(LABELS) - 1))
    probs[np.arange(len(labels)), to_ids(labels)] = confidence
    return probs


def test_metrics_perfect_predictions() -> None:
    gold = list(LABELS) * 4
    report = classification_report(gold, one_hot(gold), bootstrap=50)
    assert report["macro_f1"] == 1.0 and report["accuracy"] == 1.0
    assert np.trace(np.array(report["confusion"]["matrix"])) == len(gold)
    assert report["ci95"]["macro_f1"] == [1.0, 1.0]


def test_metrics_known_values() -> None:
    y_true = to_ids(["deny", "deny", "confirm", "none"])
    y_pred = to_ids(["deny", "confirm", "confirm", "none"])
    # deny F1 2/3, confirm 2/3, none 1; labels absent from both sides are not averaged
    assert abs(macro_f1(y_true, y_pred) - (2 / 3 + 2 / 3 + 1) / 3) < 1e-9


def test_metrics_ece_zero_when_confidence_matches_accuracy() -> None:
    gold = ["deny"] * 10
    probs = one_hot(["deny"] * 8 + ["none"] * 2, confidence=0.8)
    assert expected_calibration_error(to_ids(gold), probs) < 1e-9
    assert expected_calibration_error(to_ids(gold), one_hot(["none"] * 10, 0.99)) > 0.9


def test_metrics_bootstrap_interval_contains_point_estimate() -> None:
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 5, 300))
    ci = bootstrap_ci(y_true, y_pred, n_resamples=200)
    lo, hi = ci["macro_f1"]
    assert lo <= macro_f1(y_true, y_pred) <= hi and hi - lo < 0.2


def test_metrics_report_text_lists_every_label() -> None:
    gold = list(LABELS)
    text = format_report(classification_report(gold, one_hot(gold), bootstrap=0))
    assert all(label in text for label in LABELS) and "macro-F1=1.000" in text


def test_eval_articles_extraction_floor_on_gold_articles() -> None:
    from stancewire.eval.articles import evaluate_articles, load_articles

    from .conftest import REPO

    report = evaluate_articles(
        load_articles([REPO / "seeds" / "article_000.json", REPO / "seeds" / "articles"])
    )
    assert report["articles"] >= 31
    # Floors under what the extractor measures on the 36 articles (0.997 / 0.918 / 0.905); the tighter
    # per-kind floors are in tests/test_model_quotes.py.
    assert report["extraction_precision"] >= 0.98
    assert report["extraction_recall"] >= 0.90
    assert report["speaker_accuracy"] >= 0.89
    assert report["exact_recall"] <= report["extraction_recall"]
    assert sum(c["gold"] for c in report["by_kind"].values()) == report["gold_quotes"]
    assert sum(c["extracted"] for c in report["by_kind"].values()) == report["extracted"]
    assert report["by_kind"]["reported"]["precision"] >= 0.9


def test_eval_articles_cli_reports_stance(tiny_model_dir, capsys) -> None:
    import json

    from stancewire.cli import main

    from .conftest import REPO

    assert (
        main(
            [
                "eval",
                "--model",
                str(tiny_model_dir),
                "--articles",
                str(REPO / "seeds" / "article_000.json"),
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["stance"]["n"] > 0 and "macro_f1" in report["stance"]


def rows(*spec: tuple[int, float]) -> np.ndarray:
    """Probability rows from (predicted column, confidence); the rest is spread evenly."""
    probs = np.empty((len(spec), len(LABELS)))
    for i, (k, confidence) in enumerate(spec):
        probs[i] = (1 - confidence) / (len(LABELS) - 1)
        probs[i, k] = confidence
    return probs


def test_metrics_reliability_bins_and_ece_on_a_known_case() -> None:
    y_true = np.array([0, 0, 0, 0])
    probs = rows((0, 0.9), (0, 0.9), (1, 0.9), (0, 0.35))
    bins = reliability_bins(y_true, probs, n_bins=10)
    assert [b["count"] for b in bins] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 3]
    assert bins[9]["accuracy"] == 2 / 3 and abs(bins[9]["confidence"] - 0.9) < 1e-12
    assert bins[3]["accuracy"] == 1.0 and abs(bins[3]["confidence"] - 0.35) < 1e-12
    assert bins[0]["accuracy"] is None and bins[0]["confidence"] is None
    # ECE = 3/4 * |2/3 - 0.9| + 1/4 * |1 - 0.35| = 0.175 + 0.1625
    assert abs(expected_calibration_error(y_true, probs) - 0.3375) < 1e-12


def test_metrics_reliability_confidence_one_lands_in_the_last_bin() -> None:
    bins = reliability_bins(np.array([0]), rows((0, 1.0)), n_bins=5)
    assert bins[-1]["count"] == 1 and sum(b["count"] for b in bins) == 1


def test_metrics_selective_curve_known_points() -> None:
    y_true = np.array([0, 1, 2, 3])
    probs = rows((0, 0.9), (1, 0.8), (0, 0.6), (0, 0.4))  # the two least confident are wrong
    curve = selective_curve(y_true, probs, n_points=4)
    assert curve["thresholds"] == [0.4, 0.6, 0.8, 0.9]
    assert curve["coverage"] == [1.0, 0.75, 0.5, 0.25]
    assert curve["accuracy"] == [0.5, 2 / 3, 1.0, 1.0]
    assert curve["macro_f1"][-1] == 1.0


def test_metrics_selective_curve_full_coverage_is_plain_accuracy_and_coverage_is_monotone() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(len(LABELS)), 200)
    y_true = rng.integers(0, len(LABELS), 200)
    curve = selective_curve(y_true, probs)
    assert curve["coverage"][0] == 1.0
    assert curve["accuracy"][0] == float((probs.argmax(axis=1) == y_true).mean())
    assert all(a >= b for a, b in zip(curve["coverage"], curve["coverage"][1:], strict=False))
    assert curve["thresholds"] == sorted(curve["thresholds"]) and len(curve["coverage"]) <= 20
    assert selective_curve(np.array([], dtype=int), np.empty((0, len(LABELS))))["coverage"] == []


def test_metrics_report_has_reliability_and_selective_and_strict_json() -> None:
    import json

    from stancewire.eval.run import report_json

    gold = ["deny", "confirm", "deny", "none"]  # condemn and threaten never occur: NaN intervals
    report = classification_report(gold, one_hot(["deny", "deny", "deny", "none"]), bootstrap=20)
    assert len(report["reliability"]) == 10 and report["selective"]["coverage"][0] == 1.0

    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    parsed = json.loads(report_json(report), parse_constant=refuse)
    assert parsed["ci95"]["per_class_f1"]["threaten"] == [None, None]


def test_metrics_bootstrap_is_deterministic_per_seed() -> None:
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 5, 120)
    y_pred = np.where(rng.random(120) < 0.6, y_true, rng.integers(0, 5, 120))
    assert bootstrap_ci(y_true, y_pred, 100, seed=7) == bootstrap_ci(y_true, y_pred, 100, seed=7)
    others = [bootstrap_ci(y_true, y_pred, 100, seed=s)["macro_f1"] for s in (8, 9, 10)]
    assert any(ci != bootstrap_ci(y_true, y_pred, 100, seed=7)["macro_f1"] for ci in others)
    a = np.where(rng.random(120) < 0.5, y_true, 0)
    assert paired_bootstrap(y_true, a, y_pred, 200, seed=1) == paired_bootstrap(
        y_true, a, y_pred, 200, seed=1
    )


def test_metrics_paired_bootstrap_sign_and_verdict() -> None:
    from stancewire.eval.compare import verdict

    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 5, 200)
    worse = np.where(rng.random(200) < 0.6, y_true, (y_true + 1) % 5)
    better = y_true.copy()  # B is right everywhere A is, and on every row A gets wrong
    result = paired_bootstrap(y_true, worse, better, n_resamples=300)
    assert result["delta_macro_f1"] > 0 and result["ci95"][0] > 0 and result["p_value"] == 0.0
    assert verdict(result).startswith("B is better than A: +")
    flipped = paired_bootstrap(y_true, better, worse, n_resamples=300)
    assert flipped["delta_macro_f1"] < 0 and flipped["ci95"][1] < 0
    assert verdict(flipped).startswith("A is better than B: +")
    same = paired_bootstrap(y_true, worse, worse, n_resamples=50)
    assert same["delta_macro_f1"] == 0 and verdict(same).startswith("no significant difference")
    assert verdict({"delta_macro_f1": 0.031, "ci95": [0.012, 0.05]}) == (
        "B is better than A: +0.031 macro-F1, 95% CI +0.012..+0.050"
    )
