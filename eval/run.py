"""The evaluation runner: score a labeled set with the engine, compute the report, print it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stancewire.eval.metrics import classification_report, fnc_relative_score
from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS
from stancewire.training.data import Example, load_examples, split_examples


def evaluate_examples(
    engine: StanceEngine,
    examples: Sequence[Example],
    batch_size: int = 64,
    bootstrap: int = 1000,
    progress: bool = False,
) -> dict[str, Any]:
    """Score ``examples`` and return the metrics, with throughput."""
    from tqdm import tqdm

    from stancewire.model.engine import softmax

    started = time.perf_counter()
    with tqdm(total=len(examples), desc="scoring", unit="pair", disable=not progress, leave=False) as bar:
        logits = engine.logits([e.pair for e in examples], batch_size=batch_size, progress=bar.update)
    probs = softmax(logits / engine.temperature)
    elapsed = time.perf_counter() - started
    report = classification_report([e.label for e in examples], probs, bootstrap=bootstrap)
    report["samples_per_second"] = len(examples) / elapsed if elapsed > 0 else None
    fnc_gold = [e.meta.get("fnc_label") for e in examples]
    if all(fnc_gold):
        predicted = [LABELS[k] for k in probs.argmax(axis=1)]
        report["fnc1_relative_score"] = fnc_relative_score(fnc_gold, predicted)  # type: ignore[arg-type]
    report["model_version"] = engine.version
    return report


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


def evaluate(
    model_dir: str | Path,
    data: Sequence[str | Path],
    split: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    bootstrap: int = 1000,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate a model directory on labeled files (optionally only one split of them)."""
    engine = StanceEngine.load(model_dir, device=device)
    examples = load_labeled(data)
    if split:
        examples = split_examples(examples)[split]
    report = evaluate_examples(
        engine, examples, batch_size=batch_size, bootstrap=bootstrap, progress=progress
    )
    report["data"] = [str(d) for d in data]
    report["split"] = split or "all"
    return report


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
    return "\n".join(lines)
