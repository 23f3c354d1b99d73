"""Pure metric functions of (labels, probs). Column k of ``probs`` is ``LABELS[k]``."""

from __future__ import annotations

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


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """ECE of the top-label confidence over equal-width bins."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


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
        t, p = y_true[idx], y_pred[idx]
        classes[i] = f1_score(t, p, labels=range(len(LABELS)), average=None, zero_division=0)
        present = np.isin(np.arange(len(LABELS)), np.concatenate([t, p]))
        classes[i, ~present] = np.nan  # a label absent from a resample has no F1 there
        macro[i] = np.nanmean(classes[i])
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
    return {
        "macro_f1": [float(np.percentile(macro, lo)), float(np.percentile(macro, hi))],
        "per_class_f1": {
            label: [float(np.nanpercentile(classes[:, k], lo)), float(np.nanpercentile(classes[:, k], hi))]
            for k, label in enumerate(LABELS)
        },
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
