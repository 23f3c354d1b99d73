"""Target files for batch scoring: the propositions, their ids and optional keyword hints.

Formats: a text file (one proposition per line; blank lines and ``#`` comments skipped), or JSONL /
YAML records with ``id``, ``proposition`` and optional ``keywords`` (a list of strings).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stancewire.model.errors import DataError


@dataclass(frozen=True)
class Target:
    """One target proposition.

    Attributes:
        id: a stable name used in the output (``t1``, ``t2``, ... when the file gives none).
        proposition: the target proposition the classifier scores statements against.
        keywords: words whose presence in a statement marks it relevant to this target (pre-filter hint).
    """

    id: str
    proposition: str
    keywords: tuple[str, ...] = field(default=())


def _target_from_record(raw: Any, where: str, n: int) -> Target:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object with 'proposition', found {type(raw).__name__}")
    value = raw.get("proposition") or raw.get("target")
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: expected a non-empty 'proposition' string")
    keywords = raw.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise DataError(f"{where}: 'keywords' must be a list of strings")
    return Target(
        str(raw.get("id") or f"t{n}"), value.strip(), tuple(k.strip() for k in keywords if k.strip())
    )


def read_targets(path: str | Path) -> list[Target]:
    """Targets from a text, JSONL or YAML file; a bad record raises ``DataError`` naming file:line.

    Example:
        >>> read_targets("seeds/archive/targets.yaml")[0].id  # doctest: +SKIP
        'nk-arms'
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: targets file not found")
    targets: list[Target] = []
    if p.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DataError(f"{p}: invalid YAML ({exc})") from exc
        records = data.get("targets") if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise DataError(f"{p}: expected a list of targets (or a 'targets:' list)")
        targets = [_target_from_record(r, f"{p}: target {i}", i) for i, r in enumerate(records, 1)]
    else:
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if p.suffix == ".jsonl":
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{p}:{n}: invalid JSON ({exc.msg})") from exc
                targets.append(_target_from_record(raw, f"{p}:{n}", len(targets) + 1))
            else:
                targets.append(Target(f"t{len(targets) + 1}", line))
    if not targets:
        raise DataError(f"{p}: no targets found (one proposition per line)")
    seen: set[str] = set()
    for t in targets:
        if t.id in seen:
            raise DataError(f"{p}: target id {t.id!r} appears twice; ids must be unique")
        seen.add(t.id)
    return targets


def targets_fingerprint(targets: Sequence[Target]) -> str:
    """A short hash of ids, propositions and keywords: equal fingerprints mean the same target set."""
    blob = json.dumps([[t.id, t.proposition, list(t.keywords)] for t in targets], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
