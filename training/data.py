"""Labeled data: load JSONL/CSV rows, validate them with errors naming file and line, split by event.

A row needs ``statement``, ``target`` and ``label``; ``context``, ``speaker``, ``id``, ``event``,
``split``, ``topic``, ``kind``, ``style`` and ``source`` are optional; any other field is ignored.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stancewire.model.errors import DataError
from stancewire.model.labels import LABELS, normalize_label
from stancewire.model.types import Pair

REQUIRED = ("statement", "target", "label")
OPTIONAL_TEXT = ("context", "speaker", "id", "event", "split", "topic", "kind", "style", "source", "hard")
SPLITS = ("train", "dev", "test")
DATA_SUFFIXES = (".jsonl", ".csv", ".jsonl.gz")


@dataclass(frozen=True)
class Example:
    """One labeled pair with where it came from."""

    statement: str
    target: str
    label: str
    context: str | None = None
    speaker: str | None = None
    id: str | None = None
    event: str | None = None
    split: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    path: str = ""
    line: int = 0

    @property
    def pair(self) -> Pair:
        return Pair(self.statement, self.target, self.speaker, self.context)

    @property
    def group(self) -> str:
        """The unit a split never cuts: the event cluster, else the statement itself."""
        return self.event or f"statement:{self.statement.strip().lower()}"


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every JSONL/CSV file under named directories (sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(DATA_SUFFIXES))
            if not found:
                raise DataError(f"{path}: directory holds no .jsonl or .csv files")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise DataError(f"{path}: no such file or directory")
    return out


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, raw row) for a JSONL or CSV file; malformed lines raise DataError."""
    name = path.name
    opener = gzip.open if name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
            if name.endswith(".csv"):
                reader = csv.DictReader(fh)
                for row in reader:
                    yield reader.line_num, row
            else:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        yield n, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(
                            f"{path}:{n}: invalid JSON ({exc.msg} at column {exc.colno})"
                        ) from exc
    except UnicodeDecodeError as exc:
        line = _first_undecodable_line(path)
        raise DataError(
            f"{path}:{line}: not valid UTF-8 ({exc.reason}); save the file as UTF-8 "
            "(e.g. `iconv -f latin1 -t utf-8`)"
        ) from exc


def _first_undecodable_line(path: Path) -> int:
    """The number of the first line that is not UTF-8 (the decoder's offset is within a chunk)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        for n, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return int(n)
    return 0


def parse_row(raw: Any, path: Path, line: int) -> Example:
    """Validate one raw row into an Example, or raise DataError naming file, line and field."""
    where = f"{path}:{line}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(raw).__name__}")
    missing = [k for k in REQUIRED if k not in raw or raw[k] is None]
    if missing:
        raise DataError(f"{where}: missing field(s) {missing}; every row needs {list(REQUIRED)}")
    values: dict[str, str] = {}
    for key in REQUIRED:
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: field '{key}' must be a non-empty string, found {value!r}")
        values[key] = value
    label = normalize_label(values["label"])
    if label is None:
        raise DataError(f"{where}: label {values['label']!r} is not one of {list(LABELS)}")
    optional: dict[str, str] = {}
    for key in OPTIONAL_TEXT:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool | list | dict):
            raise DataError(f"{where}: field '{key}' must be a string, found {type(value).__name__}")
        optional[key] = str(value)
    split = optional.get("split")
    if split is not None and split not in SPLITS:
        raise DataError(f"{where}: split {split!r} must be one of {list(SPLITS)}")
    meta = {k: v for k, v in optional.items() if k not in ("context", "speaker", "id", "event", "split")}
    return Example(
        statement=values["statement"],
        target=values["target"],
        label=label,
        context=optional.get("context"),
        speaker=optional.get("speaker"),
        id=optional.get("id"),
        event=optional.get("event"),
        split=split,
        meta=meta,
        path=str(path),
        line=line,
    )


def load_examples(paths: Sequence[str | Path]) -> list[Example]:
    """Load and validate every row of every file; the first bad row stops with a DataError."""
    examples = [parse_row(raw, path, n) for path in expand_paths(paths) for n, raw in _rows(path)]
    if not examples:
        raise DataError(f"no labeled rows found in {[str(p) for p in paths]}")
    return examples


def split_of(example: Example, dev_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """The split of an example: its own ``split`` field, else a stable hash of its event cluster.

    Hashing the cluster (not the row) keeps every pair of one event, and every target of one
    statement, in the same split; the assignment never changes when rows are added.
    """
    if example.split:
        return example.split
    digest = hashlib.sha256(f"stancewire-split-v1:{example.group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + dev_fraction:
        return "dev"
    return "train"


def near_duplicate_pairs(texts: Sequence[str], threshold: float = 0.8) -> list[tuple[int, int]]:
    """Index pairs (i < j) of texts whose word uni+bigram TF-IDF cosine is at least ``threshold``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < 2:
        return []
    try:
        matrix = TfidfVectorizer(ngram_range=(1, 2), lowercase=True, sublinear_tf=True).fit_transform(texts)
    except ValueError:  # no word of two letters or more in any text ("A.", "…"): nothing to compare
        return []
    sims = (matrix @ matrix.T).tocoo()
    return [
        (int(i), int(j))
        for i, j, v in zip(sims.row, sims.col, sims.data, strict=True)
        if i < j and v >= threshold
    ]


def cluster_groups(examples: Sequence[Example], threshold: float = 0.8) -> dict[str, str]:
    """Map each example's group to a cluster root, joining groups that share near-duplicate statements.

    A statement rewritten under two event ids (or the same quote reused) must not land in two splits.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    statements = sorted({e.statement.strip() for e in examples})
    owners: dict[str, set[str]] = {}
    for e in examples:
        owners.setdefault(e.statement.strip(), set()).add(e.group)
        find(e.group)
    for groups in owners.values():
        first, *rest = sorted(groups)
        for g in rest:
            parent[find(g)] = find(first)
    for i, j in near_duplicate_pairs(statements, threshold):
        a, b = sorted(owners[statements[i]])[0], sorted(owners[statements[j]])[0]
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {g: find(g) for g in parent}


def split_examples(
    examples: Sequence[Example], dev_fraction: float = 0.1, test_fraction: float = 0.1
) -> dict[str, list[Example]]:
    """Split by event cluster, with clusters that share near-duplicate statements kept together.

    Rows with their own ``split`` field keep it.
    """
    roots = cluster_groups([e for e in examples if not e.split])
    parts: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for ex in examples:
        key = ex if ex.split else replace(ex, event=roots.get(ex.group, ex.group))
        parts[split_of(key, dev_fraction, test_fraction)].append(ex)
    return parts


def fingerprint(examples: Sequence[Example]) -> str:
    """sha256 of the labeled content (order-independent), recorded with every model."""
    h = hashlib.sha256()
    for row in sorted(
        json.dumps([e.statement, e.target, e.label, e.context, e.speaker], ensure_ascii=False)
        for e in examples
    ):
        h.update(row.encode())
        h.update(b"\n")
    return h.hexdigest()


def label_counts(examples: Iterable[Example]) -> dict[str, int]:
    counts = dict.fromkeys(LABELS, 0)
    for e in examples:
        counts[e.label] += 1
    return counts
