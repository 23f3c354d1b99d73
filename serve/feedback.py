"""Corrections sent by people (``POST /v1/feedback``), stored in a database and exported as training rows.

The store speaks SQLAlchemy Core, so ``feedback_db_url`` is a real database URL: the default is an
embedded SQLite file, and ``postgresql+psycopg://user:pass@host/db`` works once a PostgreSQL driver
is installed. Rows are only ever appended; the export decides which correction of a
(statement, target) pair wins (the latest) and reports pairs that people labeled differently.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stancewire.model.errors import StancewireError
from stancewire.model.labels import LABELS

DEFAULT_DB_URL = "sqlite:///feedback.sqlite3"
"""Relative to the working directory, so `make serve` keeps it in the repository root (git-ignored)."""

SOURCE = "feedback"
"""The ``source`` field of exported rows, so slices and data checks can tell corrections apart."""


class FeedbackError(StancewireError):
    """The feedback database cannot be opened, written or read."""


@dataclass(frozen=True)
class Correction:
    """One person's label for one (statement, target) pair, as stored."""

    statement: str
    target: str
    label: str
    context: str | None = None
    speaker: str | None = None
    request_id: str | None = None
    model_version: str | None = None
    id: int | None = None
    created_at: str | None = None


@dataclass
class Export:
    """What ``export_rows`` made of the stored corrections."""

    rows: list[dict[str, str]] = field(default_factory=list)
    stored: int = 0
    """Corrections read from the database."""
    conflicts: list[str] = field(default_factory=list)
    """One line per pair whose corrections disagree: the labels in time order and the one kept."""


def _table(metadata: Any) -> Any:
    from sqlalchemy import Column, Integer, String, Table, Text

    return Table(
        "stancewire_feedback",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("created_at", String(32), nullable=False),
        Column("statement", Text, nullable=False),
        Column("target", Text, nullable=False),
        Column("label", String(16), nullable=False),
        Column("context", Text),
        Column("speaker", Text),
        Column("request_id", String(128)),
        Column("model_version", String(128)),
    )


class FeedbackStore:
    """An append-only table of corrections in the database at ``url``; the table is created if missing.

    Example:
        >>> store = FeedbackStore("sqlite://")  # in memory
        >>> store.add(Correction("We never did it.", "X did it.", "deny"))
        1
        >>> [c.label for c in store.corrections()]
        ['deny']
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy import MetaData, create_engine
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        self.url = url
        try:
            self._engine = create_engine(url)
        except (ArgumentError, ImportError) as exc:
            raise FeedbackError(
                f"feedback database URL {url!r} cannot be used ({exc}); give a URL such as "
                "'sqlite:///feedback.sqlite3', or 'postgresql+psycopg://user@host/db' with its driver "
                "installed"
            ) from exc
        if self._engine.dialect.name == "sqlite" and self._engine.url.database:
            # SQLite creates the file but not its folder; a missing folder is a typo-shaped error otherwise
            Path(self._engine.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        metadata = MetaData()
        self._table = _table(metadata)
        try:
            metadata.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise FeedbackError(f"cannot open the feedback database {self._engine.url!r}: {exc}") from exc

    def add(self, correction: Correction) -> int:
        """Store one correction and return its id."""
        from sqlalchemy.exc import SQLAlchemyError

        if correction.label not in LABELS:
            raise FeedbackError(f"label {correction.label!r} is not one of {list(LABELS)}")
        values = {
            "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "statement": correction.statement,
            "target": correction.target,
            "label": correction.label,
            "context": correction.context,
            "speaker": correction.speaker,
            "request_id": correction.request_id,
            "model_version": correction.model_version,
        }
        try:
            with self._engine.begin() as conn:
                result = conn.execute(self._table.insert().values(**values))
                key = result.inserted_primary_key
        except SQLAlchemyError as exc:
            raise FeedbackError(f"cannot store feedback in {self._engine.url!r}: {exc}") from exc
        return int(key[0])

    def corrections(self) -> list[Correction]:
        """Every stored correction, oldest first."""
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.connect() as conn:
                rows = conn.execute(select(self._table).order_by(self._table.c.id)).mappings().all()
        except SQLAlchemyError as exc:
            raise FeedbackError(f"cannot read feedback from {self._engine.url!r}: {exc}") from exc
        return [Correction(**dict(row)) for row in rows]

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()


class LazyStore:
    """Opens the store on first use, so a server whose page nobody corrects never creates a database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: FeedbackStore | None = None
        self._lock = threading.Lock()

    def get(self) -> FeedbackStore:
        """The open store (opened now if this is the first call)."""
        with self._lock:
            if self._store is None:
                self._store = FeedbackStore(self.url)
            return self._store

    def close(self) -> None:
        """Close the store if it was ever opened."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _key(text: str) -> str:
    # the same normalisation as `stancewire data check`, so its duplicate test agrees with ours
    return " ".join(text.split()).lower()


def export_rows(corrections: list[Correction]) -> Export:
    """Training rows from corrections: one per (statement, target), the latest correction winning.

    Rows carry the fields of the labeled format (``statement``, ``target``, ``label``, ``speaker``,
    ``context``, ``id``, ``event``, ``source``), so ``training.data.load_examples`` reads them like
    any corpus file.
    """
    by_pair: dict[tuple[str, str], list[Correction]] = {}
    for c in sorted(corrections, key=lambda c: (c.created_at or "", c.id or 0)):
        by_pair.setdefault((_key(c.statement), _key(c.target)), []).append(c)
    out = Export(stored=len(corrections))
    for history in by_pair.values():
        latest = history[-1]
        labels = [c.label for c in history]
        if len(set(labels)) > 1:
            out.conflicts.append(
                f"{latest.statement[:60]!r} / {latest.target[:60]!r}: labeled "
                f"{' then '.join(labels)} (ids {', '.join(str(c.id) for c in history)}); kept {latest.label}"
            )
        row = {
            "id": f"feedback-{latest.id}",
            "statement": latest.statement.strip(),
            "target": latest.target.strip(),
            "label": latest.label,
            "source": SOURCE,
        }
        for key in ("speaker", "context"):
            value = getattr(latest, key)
            if value and value.strip():
                row[key] = value.strip()
        if latest.request_id:
            # corrections made on one analysis (one article) form one event cluster, so a split
            # never puts some of an article's statements in train and others in test
            row["event"] = f"feedback-{latest.request_id}"
        out.rows.append(row)
    return out
