"""Streaming readers for news archives: JSONL (plain or .gz), CSV, Parquet, or a directory of .txt files.

Every reader yields one item per input record, in file order: an ``Article`` or a ``Reject`` with
the reason. Readers hold one record (or one Parquet record batch) at a time, so memory is bounded
however large the archive is. Record numbers count every record, rejected or not, so chunk
boundaries depend only on the input: that is what makes a resumed run exact.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from stancewire.model.errors import DataError

FORMATS = ("jsonl", "csv", "parquet", "txt")


@dataclass(frozen=True)
class Columns:
    """Names of the input fields that hold the article id, text, date and source."""

    id: str = "id"
    text: str = "text"
    date: str = "date"
    source: str = "source"


@dataclass(frozen=True)
class Article:
    """One usable article. ``record`` is its 1-based position in the input (rejects included)."""

    record: int
    id: str
    text: str
    date: str | None
    source: str | None


@dataclass(frozen=True)
class Reject:
    """A record that cannot be scored, with where it is and why."""

    record: int
    where: str
    reason: str
    id: str | None = None


Item = Article | Reject


def detect_format(path: Path) -> str:
    """The input format from the path: a directory is ``txt``; otherwise the file suffix decides."""
    if path.is_dir():
        return "txt"
    name = path.name.lower()
    for suffix, fmt in (
        (".jsonl", "jsonl"),
        (".jsonl.gz", "jsonl"),
        (".json.gz", "jsonl"),
        (".ndjson", "jsonl"),
        (".csv", "csv"),
        (".csv.gz", "csv"),
        (".parquet", "parquet"),
        (".pq", "parquet"),
    ):
        if name.endswith(suffix):
            return fmt
    raise DataError(
        f"{path}: cannot tell the archive format from the name; expected .jsonl[.gz], .csv[.gz], .parquet "
        "or a directory of .txt files (or pass --input-format)"
    )


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def make_item(raw: Any, record: int, where: str, cols: Columns, max_chars: int, default_id: str) -> Item:
    """Validate one raw record (a mapping) into an ``Article`` or a ``Reject``."""
    if not isinstance(raw, dict):
        return Reject(record, where, f"expected an object, found {type(raw).__name__}")
    rid = _opt_str(raw.get(cols.id))
    text = raw.get(cols.text)
    if not isinstance(text, str) or not text.strip():
        return Reject(record, where, f"no non-empty '{cols.text}' field", rid)
    # CSV and text files are decoded with surrogateescape so one bad byte rejects one record,
    # not the rest of the file; a lone surrogate marks such a byte.
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        return Reject(record, where, "invalid UTF-8 in the text", rid)
    if len(text) > max_chars:
        return Reject(record, where, f"text of {len(text)} characters exceeds --max-chars {max_chars}", rid)
    date = _opt_str(raw.get(cols.date))
    return Article(record, rid or default_id, text, date, _opt_str(raw.get(cols.source)))


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _read_jsonl(path: Path, cols: Columns, max_chars: int) -> Iterator[Item]:
    with _open_binary(path) as fh:
        record = 0
        for n, raw_line in enumerate(fh, 1):
            if not raw_line.strip():
                continue
            record += 1
            where = f"{path}:{n}"
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Reject(record, where, f"invalid UTF-8 ({exc.reason})")
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Reject(record, where, f"invalid JSON ({exc.msg})")
                continue
            yield make_item(raw, record, where, cols, max_chars, f"{path.name}:{n}")


def _read_csv(path: Path, cols: Columns, max_chars: int) -> Iterator[Item]:
    # the csv module refuses fields over 128 KiB by default; a long article must reach the
    # --max-chars check (a counted reject), not stop the run with a csv.Error
    csv.field_size_limit(max(csv.field_size_limit(), 4 * max_chars + 1024))
    with _open_binary(path) as raw_fh:
        text_fh = io.TextIOWrapper(raw_fh, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.DictReader(text_fh)
        if reader.fieldnames is None or cols.text not in reader.fieldnames:
            raise DataError(
                f"{path}:1: expected a header with a '{cols.text}' column, found {reader.fieldnames}; "
                "name the columns with --text-col/--id-col/--date-col/--source-col"
            )
        record = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(
                    f"{path}:{reader.line_num}: malformed CSV ({exc}); fix the quoting there or convert "
                    "the archive to JSONL"
                ) from exc
            record += 1
            where = f"{path}:{reader.line_num}"
            yield make_item(row, record, where, cols, max_chars, f"{path.name}:{record}")


def _read_parquet(path: Path, cols: Columns, max_chars: int, batch_rows: int = 1024) -> Iterator[Item]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if cols.text not in names:
        raise DataError(f"{path}: expected a '{cols.text}' column, found {names}; name it with --text-col")
    wanted = [c for c in (cols.id, cols.text, cols.date, cols.source) if c in names]
    record = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=list(dict.fromkeys(wanted))):
        for row in batch.to_pylist():
            record += 1
            yield make_item(row, record, f"{path}: row {record}", cols, max_chars, f"{path.name}:{record}")


def _read_txt_dir(path: Path, cols: Columns, max_chars: int) -> Iterator[Item]:
    # sorted so that the record order, and with it the chunking, is the same on every run
    files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    for record, file in enumerate(files, 1):
        rel = file.relative_to(path).as_posix()
        text = file.read_bytes().decode("utf-8", errors="surrogateescape")
        yield make_item(
            {cols.text: text, cols.id: rel[: -len(".txt")]}, record, str(file), cols, max_chars, rel
        )


def iter_archive(
    path: str | Path, fmt: str | None = None, cols: Columns | None = None, max_chars: int = 200_000
) -> Iterator[Item]:
    """Every record of the archive as an ``Article`` or a ``Reject``, streamed in input order.

    Example:
        >>> items = iter_archive("seeds/archive/articles.jsonl")  # doctest: +SKIP
        >>> next(items).id  # doctest: +SKIP
        'a001'
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: input archive not found")
    fmt = fmt or detect_format(p)
    cols = cols or Columns()
    readers = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet, "txt": _read_txt_dir}
    if fmt not in readers:
        raise DataError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")
    if (fmt == "txt") != p.is_dir():
        raise DataError(f"{p}: format {fmt} needs {'a directory' if fmt == 'txt' else 'a file'}")
    return readers[fmt](p, cols, max_chars)


def count_records(path: str | Path, fmt: str | None = None) -> int | None:
    """The number of records when it is cheap to know (for the progress bar's ETA), else ``None``."""
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(p).metadata.num_rows)
    if fmt == "txt":
        return sum(1 for f in p.rglob("*.txt") if f.is_file())
    if fmt == "jsonl" and not p.name.lower().endswith(".gz") and os.path.getsize(p) < 2 * 1024**3:
        with p.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    return None  # CSV records may span lines and .gz must be decompressed to count: no ETA there


def input_identity(path: str | Path) -> dict[str, Any]:
    """What the manifest records of the input: its resolved path, and its size when it is a file."""
    p = Path(path).resolve()
    ident: dict[str, Any] = {"path": str(p)}
    if p.is_file():
        ident["bytes"] = p.stat().st_size
    else:
        ident["files"] = sum(1 for f in p.rglob("*.txt") if f.is_file())
    return ident
