"""The output directory of a batch run: part files, per-chunk done markers, the manifest and rejects.

Layout of ``OUTPUT/``::

    _manifest.json            what produced these rows: input, model version, target fingerprint, settings
    part-000001.parquet       rows of chunk 1 (or month=2024-03/part-000001.parquet when partitioned)
    _chunks/000001.json       chunk 1 is finished: its counts, rejects and files
    _rejects.jsonl            every rejected record with the reason (assembled at the end)
    _SUCCESS.json             the run's totals, written last

Every file is written to a temporary name and moved into place with ``os.replace``, so a reader (or a
resumed run) never sees half a file. A chunk counts as done only once its marker exists, and the
marker is written after its parts: a run killed in between rewrites the same part names on resume.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from stancewire.model.artifacts import atomic_write_bytes
from stancewire.model.errors import DataError
from stancewire.model.labels import LABELS
from stancewire.serve.scoring import COLUMNS

MANIFEST = "_manifest.json"
CHUNKS_DIR = "_chunks"
REJECTS = "_rejects.jsonl"
SUCCESS = "_SUCCESS.json"
OUTPUT_FORMATS = ("parquet", "jsonl")
PARTITIONS = ("none", "month")
MANIFEST_KEYS = (
    "model_version", "targets_fingerprint", "input", "input_format", "columns", "chunk_size", "format",
    "partition", "relevance", "max_chars", "abstain_below", "backend",
)  # fmt: skip
"""Manifest fields that must match for a run to add to an existing output."""

_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


def arrow_schema() -> Any:
    """The Parquet schema of the output rows (explicit, so all-null columns keep their type)."""
    import pyarrow as pa

    types = {
        "record": pa.int64(), "start": pa.int32(), "end": pa.int32(), "abstained": pa.bool_(),
        "confidence": pa.float64(), "relevance": pa.float64(),
        **{f"p_{label}": pa.float64() for label in LABELS},
    }  # fmt: skip
    return pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])


def month_of(date: str | None) -> str:
    """The ``YYYY-MM`` partition of an ISO-like date, or ``unknown``."""
    m = _MONTH.match(date or "")
    return f"{m.group(1)}-{m.group(2)}" if m else "unknown"


class OutputDir:
    """Reads and writes one run's output directory."""

    def __init__(self, root: str | Path, fmt: str = "parquet", partition: str = "none") -> None:
        if fmt not in OUTPUT_FORMATS:
            raise DataError(f"unknown output format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}")
        if partition not in PARTITIONS:
            raise DataError(f"unknown partitioning {partition!r}; use one of {', '.join(PARTITIONS)}")
        if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
            raise DataError(
                "Parquet output needs pyarrow: pip install -c constraints.txt -e '.[archive]', "
                "or write JSONL with --format jsonl"
            )
        self.root = Path(root)
        self.fmt = fmt
        self.partition = partition

    # -- manifest ------------------------------------------------------------------------------
    def prepare(self, manifest: dict[str, Any], overwrite: bool) -> None:
        """Create the directory, or check that an existing one was made by the same settings.

        Raises ``DataError`` when the directory holds something else, or rows of another model,
        target set, input or settings (unless ``overwrite``, which deletes them first).
        """
        path = self.root / MANIFEST
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"{self.root}: --output must be a directory, found a file")
        if self.root.is_dir() and any(self.root.iterdir()) and not path.is_file():
            raise DataError(
                f"{self.root}: not empty and has no {MANIFEST}, so it is not a stancewire output; "
                "choose a new --output directory"
            )
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            diff = [k for k in MANIFEST_KEYS if old.get(k) != manifest.get(k)]
            if diff and not overwrite:
                details = "; ".join(f"{k}: was {old.get(k)!r}, now {manifest.get(k)!r}" for k in diff)
                raise DataError(
                    f"{self.root}: holds rows of a different run ({details}); pass --overwrite to delete "
                    "them and start again, or choose another --output"
                )
            if overwrite:
                self.clear()
        self.root.mkdir(parents=True, exist_ok=True)
        if not path.is_file():
            atomic_write_json(path, manifest)

    def clear(self) -> None:
        """Delete what a previous run wrote here (only stancewire's own files and folders)."""
        for child in self.root.iterdir():
            name = child.name
            ours = name in (MANIFEST, REJECTS, SUCCESS, CHUNKS_DIR) or name.startswith(
                ("part-", "month=", ".")
            )
            if not ours:
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    # -- chunks --------------------------------------------------------------------------------
    def marker(self, chunk: int) -> Path:
        return self.root / CHUNKS_DIR / f"{chunk:06d}.json"

    def done_chunks(self) -> set[int]:
        """Chunks whose marker exists: their rows are complete on disk."""
        folder = self.root / CHUNKS_DIR
        if not folder.is_dir():
            return set()
        return {int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()}

    def write_chunk(self, chunk: int, rows: Sequence[dict[str, Any]], info: dict[str, Any]) -> None:
        """Write the chunk's part file(s), then its marker: the marker is the commit point."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            key = month_of(row["date"]) if self.partition == "month" else ""
            groups.setdefault(key, []).append(row)
        files = []
        for key, group in sorted(groups.items()):
            folder = self.root / f"month={key}" if key else self.root
            path = folder / f"part-{chunk:06d}.{self.fmt}"
            atomic_write_bytes(path, self._encode(group))
            files.append(path.relative_to(self.root).as_posix())
        atomic_write_json(self.marker(chunk), {**info, "chunk": chunk, "rows": len(rows), "files": files})

    def _encode(self, rows: Sequence[dict[str, Any]]) -> bytes:
        if self.fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(list(rows), schema=arrow_schema())
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return bytes(sink.getvalue().to_pybytes())

    # -- end of run ----------------------------------------------------------------------------
    def finish(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Assemble the rejects file and the totals from every chunk marker; write ``_SUCCESS.json``."""
        markers = [json.loads(self.marker(c).read_text(encoding="utf-8")) for c in sorted(self.done_chunks())]
        totals = {
            k: sum(m.get(k, 0) for m in markers) for k in ("articles", "statements", "rows", "pairs_skipped")
        }
        rejects = [r for m in markers for r in m.get("rejects", [])]
        atomic_write_bytes(
            self.root / REJECTS, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects).encode()
        )
        result = {
            **summary,
            **totals,
            "rejected": len(rejects),
            "chunks": len(markers),
            "output": str(self.root),
        }
        atomic_write_json(self.root / SUCCESS, result)
        return result


def read_rows(root: str | Path) -> list[dict[str, Any]]:
    """Every output row of a directory, parts in chunk order (tests and small outputs only)."""
    root_path = Path(root)
    parts = sorted(
        (p for p in root_path.rglob("part-*") if p.suffix in (".parquet", ".jsonl")),
        key=lambda p: (p.name, p.parent.as_posix()),
    )
    rows: list[dict[str, Any]] = []
    for part in parts:
        if part.suffix == ".jsonl":
            rows.extend(json.loads(line) for line in part.read_text(encoding="utf-8").splitlines())
        else:
            import pyarrow.parquet as pq

            rows.extend(pq.read_table(part, schema=arrow_schema()).to_pylist())
    return rows


def iter_chunked(items: Iterable[Any], size: int) -> Iterable[tuple[int, list[Any]]]:
    """(chunk number from 1, items) for consecutive groups of ``size`` items."""
    if size < 1:
        raise DataError(f"--chunk-size must be >= 1, found {size}")
    chunk: list[Any] = []
    n = 0
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            n += 1
            yield n, chunk
            chunk = []
    if chunk:
        yield n + 1, chunk
