"""Pure metric functions of (labels, probs). Column k of ``probs`` is ``LABELS[k]``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from stancewire.model.labels import LABEL2ID, LABELS

PRIMARY_METRIC = "macro_f1"


def to_ids(labels: Sequence[str]) -> np.ndarray:
    return np.array([LABEL2ID[label] for label in labels], dtype=np.int64)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the labels present in gold or predictions (sklearn's default label set)."""
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0)) if len(y_true) else 0.0


def per_class(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, dict[str, float]]:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(len(LABELS)), zero_division=0)
    return {
        label: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(s[k])}
        for k, label in enumerate(LABELS)
    }


def reliability_bins(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> list[dict[str, Any]]:
    """Top-label confidence in ``n_bins`` equal-width bins: per bin its edges, count, mean confidence
    and accuracy (None for an empty bin). A confidence of exactly 1.0 falls in the last bin.

    Example:
        >>> probs = np.array([[0.9, 0.1, 0, 0, 0], [0.3, 0.7, 0, 0, 0]])
        >>> [b["count"] for b in reliability_bins(np.array([0, 0]), probs, n_bins=2)]
        [0, 2]
    """
    confidence = probs.max(axis=1) if len(probs) else np.empty(0)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64) if len(probs) else np.empty(0)
    which = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = which == b
        count = int(mask.sum())
        bins.append(
            {
                "lo": b / n_bins,
                "hi": (b + 1) / n_bins,
                "count": count,
                "confidence": float(confidence[mask].mean()) if count else None,
                "accuracy": float(correct[mask].mean()) if count else None,
            }
        )
    return bins


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """ECE of the top-label confidence: the count-weighted gap between accuracy and confidence per bin."""
    bins = reliability_bins(y_true, probs, n_bins)
    n = sum(b["count"] for b in bins)
    return float(
        sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]) if n else 0.0
    )


def selective_curve(y_true: np.ndarray, probs: np.ndarray, n_points: int = 20) -> dict[str, list[float]]:
    """Accuracy and macro-F1 when abstaining on every prediction below a confidence threshold.

    Thresholds are the confidences at which about 100%, 95%, ... of the rows are kept (``n_points``
    coverage levels), ascending; a row is kept when its confidence is at least the threshold, so ties
    can keep a little more than the nominal share. The first point keeps every row (coverage 1.0).
    """
    curve: dict[str, list[float]] = {"thresholds": [], "coverage": [], "accuracy": [], "macro_f1": []}
    if not len(y_true):
        return curve
    confidence = probs.max(axis=1)
    y_pred = probs.argmax(axis=1)
    ranked = np.sort(confidence)[::-1]
    levels = np.arange(n_points, 0, -1) / n_points
    thresholds = sorted({float(ranked[max(int(np.ceil(c * len(ranked))), 1) - 1]) for c in levels})
    for t in thresholds:
        kept = confidence >= t
        curve["thresholds"].append(t)
        curve["coverage"].append(float(kept.mean()))
        curve["accuracy"].append(float((y_true[kept] == y_pred[kept]).mean()))
        curve["macro_f1"].append(macro_f1(y_true[kept], y_pred[kept]))
    return curve


def _class_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-class F1 from a confusion count (fast enough for the thousands of calls of a bootstrap);
    NaN for a label in neither gold nor predictions: it has no F1 there."""
    k = len(LABELS)
    counts = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    seen = counts.sum(axis=1) + counts.sum(axis=0)  # = 2 TP + FP + FN
    f1 = np.full(k, np.nan)
    f1[seen > 0] = 2 * np.diag(counts)[seen > 0] / seen[seen > 0]
    return f1


def _fast_macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``macro_f1`` (sklearn averages over labels seen in gold or predictions), from ``_class_f1``."""
    f1 = _class_f1(y_true, y_pred)
    return float(np.nanmean(f1)) if not np.isnan(f1).all() else 0.0


def bootstrap_ci(
    y_true: np.ndarray, y_pred: np.ndarray, n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, Any]:
    """Percentile bootstrap 95% intervals for macro-F1 and each class F1."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    macro = np.empty(n_resamples)
    classes = np.empty((n_resamples, len(LABELS)))
    for i in range(n_resamples):
        idx = rng.integers(0, n, n)
        classes[i] = _class_f1(y_true[idx], y_pred[idx])
        macro[i] = np.nanmean(classes[i])
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
    with warnings.catch_warnings():
        # a label absent from every resample has no interval: NaN (null in JSON), expected, not news
        warnings.simplefilter("ignore", RuntimeWarning)
        per_class_ci = {
            label: [float(np.nanpercentile(classes[:, k], lo)), float(np.nanpercentile(classes[:, k], hi))]
            for k, label in enumerate(LABELS)
        }
    return {
        "macro_f1": [float(np.percentile(macro, lo)), float(np.percentile(macro, hi))],
        "per_class_f1": per_class_ci,
    }


def paired_bootstrap(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Macro-F1 of B minus A on the same rows, with a paired percentile bootstrap.

    Both systems are scored on the same resampled rows, so row difficulty cancels out. ``p_value`` is
    the share of resamples where B is not better than A (a one-sided bootstrap p-value).
    """
    n = len(y_true)
    if not n:
        return {"delta_macro_f1": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0, "n_resamples": 0, "seed": seed}
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_resamples)
    for i in range(n_resamples):
        idx = rng.integers(0, n, n)
        deltas[i] = _fast_macro_f1(y_true[idx], pred_b[idx]) - _fast_macro_f1(y_true[idx], pred_a[idx])
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
    return {
        "delta_macro_f1": macro_f1(y_true, pred_b) - macro_f1(y_true, pred_a),
        "ci95": [float(np.percentile(deltas, lo)), float(np.percentile(deltas, hi))],
        "p_value": float((deltas <= 0).mean()),
        "n_resamples": n_resamples,
        "seed": seed,
    }


def classification_report(labels: Sequence[str], probs: np.ndarray, bootstrap: int = 1000) -> dict[str, Any]:
    """Everything ``stancewire eval --json`` reports for one labeled set."""
    y_true = to_ids(labels)
    y_pred = probs.argmax(axis=1)
    report: dict[str, Any] = {
        "n": len(y_true),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        PRIMARY_METRIC: macro_f1(y_true, y_pred),
        "per_class": per_class(y_true, y_pred),
        "confusion": {
            "labels": list(LABELS),
            "matrix": confusion_matrix(y_true, y_pred, labels=range(len(LABELS))).tolist(),
        },
        "ece": expected_calibration_error(y_true, probs),
        "reliability": reliability_bins(y_true, probs),
        "selective": selective_curve(y_true, probs),
    }
    present = sorted(set(y_true.tolist()))
    if len(present) < len(LABELS):
        # sets such as FNC-1 or Emergent have no condemn/threaten gold: also report F1 over their labels
        report["macro_f1_gold_labels"] = float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        )
    if bootstrap and len(y_true):
        report["ci95"] = bootstrap_ci(y_true, y_pred, n_resamples=bootstrap)
    return report


FNC_RELATED = ("agree", "disagree", "discuss")
PRED_TO_FNC = {"confirm": "agree", "deny": "disagree", "condemn": "discuss", "threaten": "discuss"}
"""Our labels read back as FNC-1 stances; ``none`` becomes ``unrelated`` (we cannot tell discuss from it)."""


def fnc_relative_score(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """FNC-1's official weighted score divided by the best possible score.

    0.25 for getting related vs unrelated right; 0.75 more for the exact agree/disagree/discuss
    stance of a related pair. ``predicted`` holds our labels, mapped back with PRED_TO_FNC.
    """
    score = best = 0.0
    for g, p in zip(gold, predicted, strict=True):
        fnc = PRED_TO_FNC.get(p, "unrelated")
        best += 1.0 if g in FNC_RELATED else 0.25
        if (g in FNC_RELATED) == (fnc in FNC_RELATED):
            score += 0.25
            if g in FNC_RELATED and g == fnc:
                score += 0.75
    return score / best if best else 0.0
