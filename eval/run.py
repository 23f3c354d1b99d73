"""The evaluation runner: score a labeled set with the engine, compute the report, print it."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stancewire.eval.baselines import (
    Baseline,
    TrainingRows,
    fit_baselines,
    load_training_rows,
    model_training_rows,
)
from stancewire.eval.metrics import classification_report, fnc_relative_score, macro_f1, to_ids
from stancewire.model.engine import StanceEngine
from stancewire.model.errors import StancewireError
from stancewire.model.labels import LABELS
from stancewire.training.data import Example, load_examples, split_examples

log = logging.getLogger(__name__)


SLICE_DEFAULT = ("source", "kind")
"""Slice columns reported when ``--slice-by`` is not given (those present in the data)."""
SMALL_SLICE = 20
"""Slices with fewer rows are still reported, flagged ``small``: their F1 moves a lot with one row."""
NO_VALUE = "(none)"


def score_examples(
    engine: StanceEngine, examples: Sequence[Example], batch_size: int = 64, progress: bool = False
) -> tuple[np.ndarray, float]:
    """Calibrated ``(N, K)`` probabilities of ``examples`` and the seconds it took."""
    from tqdm import tqdm

    from stancewire.model.engine import softmax

    started = time.perf_counter()
    with tqdm(total=len(examples), desc="scoring", unit="pair", disable=not progress, leave=False) as bar:
        logits = engine.logits([e.pair for e in examples], batch_size=batch_size, progress=bar.update)
    return softmax(logits / engine.temperature), time.perf_counter() - started


def evaluate_examples(
    engine: StanceEngine,
    examples: Sequence[Example],
    batch_size: int = 64,
    bootstrap: int = 1000,
    progress: bool = False,
) -> dict[str, Any]:
    """Score ``examples`` and return the metrics, with throughput."""
    probs, elapsed = score_examples(engine, examples, batch_size=batch_size, progress=progress)
    return report_of(examples, probs, elapsed, engine.version, bootstrap=bootstrap)


def report_of(
    examples: Sequence[Example], probs: np.ndarray, elapsed: float, version: str, bootstrap: int = 1000
) -> dict[str, Any]:
    report = classification_report([e.label for e in examples], probs, bootstrap=bootstrap)
    report["samples_per_second"] = len(examples) / elapsed if elapsed > 0 else None
    fnc_gold = [e.meta.get("fnc_label") for e in examples]
    if all(fnc_gold):
        predicted = [LABELS[k] for k in probs.argmax(axis=1)]
        report["fnc1_relative_score"] = fnc_relative_score(fnc_gold, predicted)  # type: ignore[arg-type]
    report["model_version"] = version
    return report


def slice_value(example: Example, column: str) -> str:
    """The slice an example falls in: its metadata value, or for ``speaker`` whether it has one."""
    if column == "speaker":
        return "with speaker" if example.speaker else "no speaker"
    return example.meta.get(column) or NO_VALUE


def slice_columns(examples: Sequence[Example], requested: Sequence[str] | None) -> list[str]:
    """The columns to slice by: those requested (all must exist), else the defaults that exist."""
    present = {key for e in examples for key in e.meta} | {"speaker"}
    if requested is None:
        return [c for c in SLICE_DEFAULT if c in present]
    missing = [c for c in requested if c not in present]
    if missing:
        raise StancewireError(
            f"--slice-by {', '.join(missing)}: no evaluated row has that field; "
            f"columns present: {', '.join(sorted(present))}"
        )
    return list(dict.fromkeys(requested))


def slice_report(
    examples: Sequence[Example], probs: np.ndarray, columns: Sequence[str], min_rows: int = SMALL_SLICE
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per column, per value: n, macro-F1, accuracy, and ``small`` when n < ``min_rows``."""
    y_true = to_ids([e.label for e in examples])
    y_pred = probs.argmax(axis=1)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for column in columns:
        values = np.array([slice_value(e, column) for e in examples])
        out[column] = {}
        for value in sorted(set(values.tolist())):
            mask = values == value
            n = int(mask.sum())
            out[column][value] = {
                "n": n,
                "macro_f1": macro_f1(y_true[mask], y_pred[mask]),
                "accuracy": float((y_true[mask] == y_pred[mask]).mean()),
                "small": n < min_rows,
            }
    return out


def baselines_report(
    baselines: Sequence[tuple[Baseline, str]], examples: Sequence[Example], bootstrap: int = 1000
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Metrics of each fitted baseline on ``examples`` (same bootstrap as the model), and their probs."""
    labels = [e.label for e in examples]
    reports: dict[str, dict[str, Any]] = {}
    probs: dict[str, np.ndarray] = {}
    for baseline, fitted_on in baselines:
        probs[baseline.name] = baseline.predict_proba(examples)
        full = classification_report(labels, probs[baseline.name], bootstrap=bootstrap)
        reports[baseline.name] = {
            "fitted_on": fitted_on,
            **{k: full[k] for k in ("n", "accuracy", "macro_f1", "per_class", "ece") if k in full},
            **({"ci95": full["ci95"]} if "ci95" in full else {}),
        }
    return reports, probs


def load_labeled(data: Sequence[str | Path]) -> list[Example]:
    """Labeled files, and public datasets named ``NAME:PATH`` (``stancewire.training.sources``)."""
    from stancewire.training.sources import SOURCES, load_source

    examples: list[Example] = []
    files: list[str | Path] = []
    for item in data:
        name = str(item).partition(":")[0]
        if name in SOURCES and ":" in str(item):
            examples.extend(load_source(str(item), for_training=False))
        else:
            files.append(item)
    if files:
        examples.extend(load_examples(files))
    return examples


def load_eval_rows(data: Sequence[str | Path], split: str | None = None) -> list[Example]:
    """The labeled rows to evaluate: all of ``data``, or one split of it."""
    examples = load_labeled(data)
    if split:
        examples = split_examples(examples)[split]
        if not examples:
            raise StancewireError(f"the {split} split of {[str(d) for d in data]} is empty; drop --split")
    return examples


@dataclass
class Evaluation:
    """One evaluation run: the rows, the model's probabilities, the baselines', and the report."""

    examples: list[Example]
    probs: np.ndarray
    report: dict[str, Any]
    baseline_probs: dict[str, np.ndarray] = field(default_factory=dict)


def baseline_training_rows(
    model_dir: str | Path, baseline_train: Sequence[str] | None, warn: Callable[[str], None]
) -> TrainingRows | None:
    """Rows for the learned baselines: ``--baseline-train`` files, else the model's own train split.

    When the model's training data cannot be read, ``warn`` gets one line and None comes back
    (the report then has majority and lexicon only). A ``--baseline-train`` file that cannot be
    read is the user's error and raises.
    """
    if baseline_train:
        rows = load_training_rows(baseline_train)
        return TrainingRows(rows, f"the train split of {', '.join(baseline_train)} ({len(rows)} rows)")
    try:
        return model_training_rows(model_dir)
    except StancewireError as exc:
        warn(
            f"baselines: cannot read the model's training data ({exc}); reporting majority and lexicon "
            "only (give --baseline-train FILE to fit the TF-IDF baseline)"
        )
        return None


def run_evaluation(
    model_dir: str | Path,
    data: Sequence[str | Path],
    split: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    bootstrap: int = 1000,
    progress: bool = False,
    slice_by: Sequence[str] | None = None,
    baselines: bool = False,
    baseline_train: Sequence[str] | None = None,
    warn: Callable[[str], None] = log.warning,
) -> Evaluation:
    """Evaluate a model directory on labeled files, with slices and (optionally) baselines."""
    engine = StanceEngine.load(model_dir, device=device)
    examples = load_eval_rows(data, split)
    columns = slice_columns(examples, slice_by)
    probs, elapsed = score_examples(engine, examples, batch_size=batch_size, progress=progress)
    report = report_of(examples, probs, elapsed, engine.version, bootstrap=bootstrap)
    report["data"] = [str(d) for d in data]
    report["split"] = split or "all"
    report["slices"] = slice_report(examples, probs, columns)
    evaluation = Evaluation(examples, probs, report)
    if baselines or baseline_train:
        train = baseline_training_rows(model_dir, baseline_train, warn)
        fitted = fit_baselines(train, examples)
        report["baselines"], evaluation.baseline_probs = baselines_report(fitted, examples, bootstrap)
    return evaluation


def evaluate(
    model_dir: str | Path,
    data: Sequence[str | Path],
    split: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    bootstrap: int = 1000,
    progress: bool = False,
    slice_by: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate a model directory on labeled files (optionally only one split of them)."""
    return run_evaluation(
        model_dir, data, split, device, batch_size, bootstrap, progress, slice_by=slice_by
    ).report


def _finite(value: Any) -> Any:
    """``value`` with every NaN float replaced by None, recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def report_json(report: dict[str, Any], indent: int | None = None) -> str:
    """A report as strict JSON: a class absent from every bootstrap resample has an interval of
    NaN, which ``json.dumps`` would write as the non-standard ``NaN``; it becomes ``null``."""
    return json.dumps(_finite(report), ensure_ascii=False, indent=indent, allow_nan=False)


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of a report, for people."""
    lines = [
        f"n={report['n']}  accuracy={report['accuracy']:.3f}  macro-F1={report['macro_f1']:.3f}"
        + (
            f"  (95% CI {report['ci95']['macro_f1'][0]:.3f}–{report['ci95']['macro_f1'][1]:.3f})"
            if "ci95" in report
            else ""
        )
        + f"  ECE={report['ece']:.3f}",
        *(
            [f"macro-F1 over the gold labels present: {report['macro_f1_gold_labels']:.3f}"]
            if "macro_f1_gold_labels" in report
            else []
        ),
        *(
            [f"FNC-1 relative score: {report['fnc1_relative_score']:.3f}"]
            if "fnc1_relative_score" in report
            else []
        ),
        "",
        f"{'label':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for label in LABELS:
        row = report["per_class"][label]
        lines.append(
            f"{label:<10}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10d}"
        )
    lines += [
        "",
        "confusion (rows: gold, columns: predicted)",
        " " * 10 + "".join(f"{x:>10}" for x in LABELS),
    ]
    for label, row in zip(LABELS, report["confusion"]["matrix"], strict=True):
        lines.append(f"{label:<10}" + "".join(f"{v:>10d}" for v in row))
    lines += format_selective(report.get("selective"))
    lines += format_slices(report.get("slices") or {})
    lines += format_baselines(report)
    return "\n".join(lines)


def format_ci(ci: Sequence[float] | None) -> str:
    return f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "-"


def format_selective(curve: dict[str, list[float]] | None, at: Sequence[float] = (0.8, 0.5)) -> list[str]:
    """One line: accuracy when keeping only the most confident 80% and 50% of the predictions."""
    if not curve or not curve["coverage"]:
        return []
    parts = []
    for target in at:
        # the point whose coverage is closest to the target share
        i = int(np.argmin([abs(c - target) for c in curve["coverage"]]))
        parts.append(
            f"accuracy {curve['accuracy'][i]:.3f} at coverage {curve['coverage'][i]:.2f}"
            f" (confidence ≥ {curve['thresholds'][i]:.3f})"
        )
    return ["", "abstaining below a confidence: " + "; ".join(parts)]


def format_slices(slices: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    lines: list[str] = []
    for column, values in slices.items():
        width = max([10, *(len(v) + 2 for v in values)])
        lines += ["", f"by {column}", f"{'':<{width}}{'n':>8}{'macro-F1':>10}{'accuracy':>10}"]
        for value, row in values.items():
            flag = f"  (small: < {SMALL_SLICE} rows)" if row["small"] else ""
            lines.append(
                f"{value:<{width}}{row['n']:>8d}{row['macro_f1']:>10.3f}{row['accuracy']:>10.3f}{flag}"
            )
    return lines


def comparison_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, metrics) of the model and each baseline, the model first."""
    return [("model", report), *(report.get("baselines") or {}).items()]


def format_baselines(report: dict[str, Any]) -> list[str]:
    if not report.get("baselines"):
        return []
    lines = [
        "",
        "model vs baselines (per-class F1)",
        f"{'':<14}{'macro-F1':>9}{'95% CI':>14}{'accuracy':>10}" + "".join(f"{x:>10}" for x in LABELS),
    ]
    for name, row in comparison_rows(report):
        ci = format_ci(row.get("ci95", {}).get("macro_f1"))
        lines.append(
            f"{name:<14}{row['macro_f1']:>9.3f}{ci:>14}{row['accuracy']:>10.3f}"
            + "".join(f"{row['per_class'][x]['f1']:>10.3f}" for x in LABELS)
        )
    for name, row in report["baselines"].items():
        lines.append(f"  {name} fitted on {row['fitted_on']}")
    return lines
