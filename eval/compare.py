"""Two models on the same labeled rows: per-class F1 deltas, a paired bootstrap, and a verdict."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stancewire.eval.metrics import macro_f1, paired_bootstrap, per_class, to_ids
from stancewire.eval.run import load_eval_rows, score_examples
from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS


def verdict(paired: dict[str, Any]) -> str:
    """One line: which model is better, or that the 95% interval of the difference includes 0.

    Example:
        >>> verdict({"delta_macro_f1": 0.031, "ci95": [0.012, 0.050]})
        'B is better than A: +0.031 macro-F1, 95% CI +0.012..+0.050'
    """
    delta, (lo, hi) = paired["delta_macro_f1"], paired["ci95"]
    if lo > 0:
        return f"B is better than A: {delta:+.3f} macro-F1, 95% CI {lo:+.3f}..{hi:+.3f}"
    if hi < 0:
        # say it from A's side so the numbers read as A's lead
        return f"A is better than B: {-delta:+.3f} macro-F1, 95% CI {-hi:+.3f}..{-lo:+.3f}"
    return f"no significant difference: B - A = {delta:+.3f} macro-F1, 95% CI {lo:+.3f}..{hi:+.3f}"


def compare_models(
    model_a: str | Path,
    model_b: str | Path,
    data: Sequence[str | Path],
    split: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score both models on the same rows and compare them (B − A everywhere)."""
    examples = load_eval_rows(data, split)
    y_true = to_ids([e.label for e in examples])
    preds = {}
    for key, model_dir in (("a", model_a), ("b", model_b)):
        probs, _ = score_examples(StanceEngine.load(model_dir, device=device), examples, batch_size)
        preds[key] = probs.argmax(axis=1)
    classes = {key: per_class(y_true, p) for key, p in preds.items()}
    paired = paired_bootstrap(y_true, preds["a"], preds["b"], n_resamples=n_resamples, seed=seed)
    return {
        "n": len(examples),
        "data": [str(d) for d in data],
        "split": split or "all",
        "a": {"model": str(model_a), "macro_f1": macro_f1(y_true, preds["a"]), "per_class": classes["a"]},
        "b": {"model": str(model_b), "macro_f1": macro_f1(y_true, preds["b"]), "per_class": classes["b"]},
        "per_class_f1_delta": {x: classes["b"][x]["f1"] - classes["a"][x]["f1"] for x in LABELS},
        "paired_bootstrap": paired,
        "verdict": verdict(paired),
    }


def format_comparison(result: dict[str, Any]) -> str:
    """A plain-text table of a comparison, for people."""
    a, b = result["a"], result["b"]
    lines = [
        f"A = {a['model']}",
        f"B = {b['model']}",
        f"n={result['n']}  split={result['split']}",
        "",
        f"{'':<10}{'F1 A':>8}{'F1 B':>8}{'B - A':>8}",
        f"{'macro':<10}{a['macro_f1']:>8.3f}{b['macro_f1']:>8.3f}"
        f"{result['paired_bootstrap']['delta_macro_f1']:>+8.3f}",
    ]
    for label in LABELS:
        fa, fb = a["per_class"][label]["f1"], b["per_class"][label]["f1"]
        lines.append(f"{label:<10}{fa:>8.3f}{fb:>8.3f}{result['per_class_f1_delta'][label]:>+8.3f}")
    p = result["paired_bootstrap"]
    lines += [
        "",
        f"paired bootstrap, {p['n_resamples']} resamples: B <= A in a share of {p['p_value']:.3f}",
        result["verdict"],
    ]
    return "\n".join(lines)
