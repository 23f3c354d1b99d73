"""``stancewire data check``: is a labeled corpus fit to train on?

Checks the schema and label set of every row (the first bad row of a file is reported with its
line), duplicate and conflicting pairs, and leaks between the event-cluster splits (the same or a
near-duplicate statement in two of train / dev / test); prints label, topic, kind and style
statistics.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stancewire.model.errors import DataError
from stancewire.model.labels import LABELS
from stancewire.training.data import (
    Example,
    expand_paths,
    load_examples,
    near_duplicate_pairs,
    split_examples,
)

NEAR_DUPLICATE = 0.8


def check_examples(examples: Sequence[Example]) -> dict[str, Any]:
    """Statistics, errors and warnings for already-parsed examples."""
    errors: list[str] = []
    warnings: list[str] = []
    by_pair: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for e in examples:
        by_pair[(e.statement.strip().lower(), e.target.strip().lower())].append(e)
    duplicates = conflicts = 0
    for rows in by_pair.values():
        if len(rows) > 1:
            if len({r.label for r in rows}) > 1:
                conflicts += 1
                if conflicts <= 10:
                    where = ", ".join(f"{r.path}:{r.line} ({r.label})" for r in rows)
                    errors.append(f"conflicting labels for one (statement, target): {where}")
            else:
                duplicates += 1
    ids = Counter(e.id for e in examples if e.id)
    repeated = [i for i, c in ids.items() if c > 1]
    if repeated:
        errors.append(f"{len(repeated)} ids used more than once, e.g. {repeated[:5]}")
    if duplicates:
        warnings.append(f"{duplicates} (statement, target) pairs appear more than once with the same label")

    parts = split_examples(examples)
    split_of = {id(e): name for name, rows in parts.items() for e in rows}
    statement_splits: dict[str, set[str]] = defaultdict(set)
    for e in examples:
        statement_splits[e.statement.strip()].add(split_of[id(e)])
    exact_leaks = [s for s, splits in statement_splits.items() if len(splits) > 1]
    if exact_leaks:
        errors.append(f"{len(exact_leaks)} statements appear in more than one split, e.g. {exact_leaks[:3]}")
    statements = sorted(statement_splits)
    near_leaks = [
        (statements[i], statements[j])
        for i, j in near_duplicate_pairs(statements, NEAR_DUPLICATE)
        if statement_splits[statements[i]] != statement_splits[statements[j]]
    ]
    if near_leaks:
        errors.append(f"{len(near_leaks)} near-duplicate statement pairs cross splits, e.g. {near_leaks[:2]}")

    n = len(examples)
    labels = Counter(e.label for e in examples)
    for label in LABELS:
        if n and labels[label] / n < 0.15:
            warnings.append(f"label {label!r} is {labels[label] / n:.1%} of rows (< 15%)")
    return {
        "ok": not errors,
        "rows": n,
        "labels": {label: labels[label] for label in LABELS},
        "splits": {name: len(rows) for name, rows in parts.items()},
        "split_labels": {name: dict(Counter(e.label for e in rows)) for name, rows in parts.items()},
        "events": len({e.event for e in examples if e.event}),
        "unique_statements": len(statements),
        "topics": dict(Counter(e.meta.get("topic", "?") for e in examples).most_common()),
        "kinds": dict(Counter(e.meta.get("kind", "?") for e in examples).most_common()),
        "styles": dict(Counter(e.meta.get("style", "?") for e in examples).most_common()),
        "duplicates": duplicates,
        "conflicts": conflicts,
        "errors": errors,
        "warnings": warnings,
    }


def check_files(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Load every file (schema errors are reported per file, not raised) and check the whole."""
    examples: list[Example] = []
    schema_errors: list[str] = []
    try:
        files = expand_paths(paths)
    except DataError as exc:
        return {"ok": False, "rows": 0, "errors": [str(exc)], "warnings": []}
    for path in files:
        try:
            examples.extend(load_examples([path]))
        except DataError as exc:
            schema_errors.append(str(exc))
    report = check_examples(examples) if examples else {"ok": False, "rows": 0, "errors": [], "warnings": []}
    report["files"] = len(files)
    report["errors"] = schema_errors + report["errors"]
    report["ok"] = not report["errors"] and report["rows"] > 0
    return report


def format_check(report: dict[str, Any]) -> str:
    lines = [f"{report.get('files', 0)} files, {report['rows']} rows: {'OK' if report['ok'] else 'PROBLEMS'}"]
    if report["rows"]:
        n = report["rows"]
        lines.append("labels: " + ", ".join(f"{k} {v} ({v / n:.0%})" for k, v in report["labels"].items()))
        lines.append("splits: " + ", ".join(f"{k} {v}" for k, v in report["splits"].items()))
        lines.append(f"events: {report['events']}, unique statements: {report['unique_statements']}")
        lines.append(
            f"topics ({len(report['topics'])}): "
            + ", ".join(f"{k} {v}" for k, v in list(report["topics"].items())[:50])
        )
        lines.append("kinds: " + ", ".join(f"{k} {v}" for k, v in report["kinds"].items()))
        lines.append("styles: " + ", ".join(f"{k} {v}" for k, v in report["styles"].items()))
    lines += [f"error: {e}" for e in report["errors"]]
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)
