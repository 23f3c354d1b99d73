"""A model registry: immutable versioned model directories and an atomically switched ``current``.

Layout of a registry directory::

    models/
      registry.json            marker ({"format": 1}); makes the directory a registry
      versions/<VERSION>/      one complete model directory per version, never changed after commit
      current -> versions/V    a relative symlink, switched with os.replace (atomic on POSIX)
      history.jsonl            one line per promotion or rollback (who, when, from, to, why, forced)
      .staging/                versions being written; a crash leaves debris here, never in versions/

A version id is ``YYYYMMDDTHHMMSSZ-<12 hex>``: the UTC commit time and the first 12 hex digits of
the sha256 of the model's weights, tokenizer, labels, engine settings and calibration. Version names
given by a user or a request are checked against that pattern before they touch the filesystem, so
no argument reaches outside ``versions/``.

This module knows model directories only: it imports nothing from ``serve/`` or ``training/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stancewire.model.artifacts import (
    ENGINE_FILE,
    atomic_tmp_prefix,
    atomic_write_bytes,
    read_engine_config,
    read_json,
    read_labels,
    write_engine_config,
    write_json,
)
from stancewire.model.errors import StancewireError

MARKER_FILE = "registry.json"
VERSIONS_DIR = "versions"
CURRENT = "current"
HISTORY_FILE = "history.jsonl"
STAGING_DIR = ".staging"
LOCK_FILE = ".lock"
VERSION_FILE = "version.json"
"""The record of a version: parent, base model, config, data fingerprints, metrics, comparison."""

VERSION_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}$")
# Files that are the record of a version rather than its behaviour: they are left out of the
# content hash (stancewire.json holds the version id itself, so hashing it would be circular).
_UNHASHED = {VERSION_FILE, ENGINE_FILE, "card.md", "metrics.json", "train_config.json", "comparison.json"}


class RegistryError(StancewireError):
    """A registry operation that cannot be done (bad version name, nothing to roll back to...)."""


_MARKER_TMP_PREFIX = atomic_tmp_prefix(MARKER_FILE)


def _registry_own(name: str) -> bool:
    """True for the entries a registry being created holds before its marker is in place."""
    return name in (VERSIONS_DIR, STAGING_DIR, MARKER_FILE) or name.startswith(_MARKER_TMP_PREFIX)


def is_registry(path: str | Path) -> bool:
    """True when ``path`` is a registry directory (it holds ``registry.json``)."""
    return (Path(path) / MARKER_FILE).is_file()


def resolve_model_dir(path: str | Path) -> Path:
    """The model directory to load for ``path``: the version ``current`` names in a registry, else ``path``.

    The symlink is read once and the concrete version directory returned, so a promotion that
    happens while a loader reads files cannot mix two versions.
    """
    path = Path(path)
    if is_registry(path):
        return ModelRegistry(path).current_path()
    return path


def validate_version(name: str) -> str:
    """Return ``name`` if it is a well-formed version id, else raise with what a valid one looks like."""
    if not isinstance(name, str) or not VERSION_RE.match(name):
        raise RegistryError(
            f"{name!r} is not a version id; ids look like 20261128T041500Z-0123456789ab "
            f"(see `stancewire models list`)"
        )
    return name


def content_hash(model_dir: Path) -> str:
    """sha256 over the relative names and bytes of the files that decide what the model predicts."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir).as_posix()
        if rel in _UNHASHED:
            continue
        digest.update(rel.encode() + b"\0")
        digest.update(file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of one file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` so a rename after it publishes whole files only."""
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class VersionInfo:
    """One row of ``stancewire models list``."""

    version: str
    created_at: str
    parent: str | None
    is_current: bool
    eval_macro_f1: float | None
    promoted: bool | None


class ModelRegistry:
    """A directory of immutable model versions with a ``current`` pointer and a promotion log.

    Example:
        >>> reg = ModelRegistry.create("models/registry")  # doctest: +SKIP
        >>> v = reg.add("models/default")  # doctest: +SKIP
        >>> reg.promote(v, reason="first version")  # doctest: +SKIP
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not is_registry(self.root):
            raise RegistryError(
                f"{self.root} is not a model registry (no {MARKER_FILE}); create one with "
                f"`stancewire models add MODEL_DIR --registry {self.root}` or "
                f"`stancewire train --registry {self.root} ...`"
            )

    @classmethod
    def create(cls, root: str | Path) -> ModelRegistry:
        """Open the registry at ``root``, making it if it does not exist (an empty directory is fine)."""
        root = Path(root)
        if not is_registry(root):
            # Under torchrun every rank opens the registry at once: entries another process is making
            # right now (versions/, .staging/, the marker's temporary file) must not count as "not empty".
            entries = root.iterdir() if root.exists() else []
            foreign = sorted(p.name for p in entries if not _registry_own(p.name))
            if foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise RegistryError(
                    f"{root} exists and is not empty ({shown}); a registry needs its own directory "
                    f"(a plain model directory cannot become one)"
                )
            (root / VERSIONS_DIR).mkdir(parents=True, exist_ok=True)
            # written to a private name and renamed, so no process ever reads a half-written marker
            marker = json.dumps({"format": 1}, indent=2) + "\n"
            atomic_write_bytes(root / MARKER_FILE, marker.encode("utf-8"))
        return cls(root)

    # -- reading ---------------------------------------------------------------------------

    def path(self, version: str) -> Path:
        """The directory of ``version`` (validated; it must exist)."""
        path = self.root / VERSIONS_DIR / validate_version(version)
        if not path.is_dir():
            raise RegistryError(f"no version {version} in {self.root}; see `stancewire models list`")
        return path

    def current(self) -> str | None:
        """The version ``current`` points to, or None before the first promotion."""
        link = self.root / CURRENT
        if not link.is_symlink():
            return None
        target = Path(os.readlink(link))
        # the link is only ever written by promote(); check anyway, it is the served model
        if target.parent != Path(VERSIONS_DIR):
            raise RegistryError(f"{link} points to {target}, outside {VERSIONS_DIR}/; re-promote a version")
        return validate_version(target.name)

    def current_path(self) -> Path:
        """The directory of the current version, with an error saying what to do when there is none."""
        version = self.current()
        if version is None:
            raise RegistryError(
                f"registry {self.root} has no current version yet; promote one with "
                f"`stancewire models promote VERSION --registry {self.root}`"
            )
        return self.path(version)

    def record(self, version: str) -> dict[str, Any]:
        """The ``version.json`` record of a version."""
        path = self.path(version) / VERSION_FILE
        return read_json(path) if path.exists() else {"version": version}

    def versions(self) -> list[str]:
        """Every committed version, oldest first (ids sort by time)."""
        base = self.root / VERSIONS_DIR
        return sorted(p.name for p in base.iterdir() if p.is_dir() and VERSION_RE.match(p.name))

    def summaries(self) -> list[VersionInfo]:
        """A summary of every version, oldest first."""
        current = self.current()
        rows = []
        for version in self.versions():
            rec = self.record(version)
            ev = rec.get("eval") or {}
            promotion = rec.get("promotion") or {}
            rows.append(
                VersionInfo(
                    version=version,
                    created_at=str(rec.get("created_at", "")),
                    parent=rec.get("parent"),
                    is_current=version == current,
                    eval_macro_f1=ev.get("macro_f1"),
                    promoted=promotion.get("passed"),
                )
            )
        return rows

    def history(self) -> list[dict[str, Any]]:
        """Every promotion and rollback, oldest first."""
        path = self.root / HISTORY_FILE
        if not path.exists():
            return []
        entries = []
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                if n == len(lines):  # a write cut off by a crash: that promotion never happened
                    break
                raise RegistryError(f"{path}:{n}: not a JSON history entry ({exc.msg})") from exc
        return entries

    def stale_staging(self) -> list[Path]:
        """Directories left in ``.staging/`` by interrupted saves (safe to delete when nothing trains)."""
        staging = self.root / STAGING_DIR
        return sorted(p for p in staging.iterdir()) if staging.is_dir() else []

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """An exclusive lock, so two promotions or commits never interleave."""
        with (self.root / LOCK_FILE).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh directory inside the registry to build a version in; removed if the block raises.

        Staging on the registry's own filesystem is what makes the final rename atomic.
        """
        staging = self.root / STAGING_DIR
        staging.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=staging))
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def commit(self, staged: Path, record: dict[str, Any]) -> str:
        """Give the complete model directory ``staged`` a version id and move it into ``versions/``.

        ``record`` becomes ``version.json`` (with ``version``, ``created_at`` and ``content_sha256``
        added). The directory is flushed to disk and renamed in one step: a crash before the rename
        leaves only ``.staging/`` debris, after it a whole version.
        """
        read_labels(staged)  # refuse to publish something that is not a model directory
        if not (staged / "config.json").exists():
            raise RegistryError(f"{staged} has no config.json; it is not a complete model directory")
        digest = content_hash(staged)
        now = datetime.now(UTC)
        version = f"{now:%Y%m%dT%H%M%SZ}-{digest[:12]}"
        engine_config = read_engine_config(staged)
        previous_id = engine_config.version
        write_engine_config(staged, replace(engine_config, version=version))
        full = {
            **({"original_version": previous_id} if previous_id not in ("", "untrained", version) else {}),
            **record,
            # after the caller's record: these describe this commit and must not be overridden
            "version": version,
            "created_at": now.isoformat(timespec="seconds"),
            "content_sha256": digest,
        }
        write_json(staged / VERSION_FILE, full)
        _fsync_tree(staged)
        with self._lock():
            dest = self.root / VERSIONS_DIR / version
            if dest.exists():
                raise RegistryError(f"version {version} already exists; the same model was committed twice")
            staged.rename(dest)
            _fsync_dir(dest.parent)
        return version

    def add(self, model_dir: str | Path, record: dict[str, Any] | None = None) -> str:
        """Copy an existing model directory into the registry as a new version (not promoted)."""
        source = Path(model_dir)
        read_labels(source)
        with self.staging() as tmp:
            for item in source.iterdir():
                if item.is_file() and item.name != VERSION_FILE:
                    shutil.copy2(item, tmp / item.name)
            base: dict[str, Any] = {}
            old_record = source / VERSION_FILE
            if old_record.exists():
                # keep what a version from another registry records about its training, not its
                # identity, lineage or promotion there
                dropped = ("version", "created_at", "content_sha256", "parent", "promotion")
                base.update({k: v for k, v in read_json(old_record).items() if k not in dropped})
            base.update(
                parent=None,
                base_model=read_engine_config(source).base_model,
                imported_from=str(source.resolve()),
            )
            train_config = source / "train_config.json"
            if train_config.exists():
                base.setdefault("train_config", read_json(train_config))
            metrics = source / "metrics.json"
            if metrics.exists():
                held_out = {k: v for k, v in read_json(metrics).items() if k in ("dev", "test")}
                base.setdefault("metrics", held_out)
            return self.commit(tmp, {**base, **(record or {})})

    def promote(
        self, version: str, reason: str = "", forced: bool = False, action: str = "promote"
    ) -> dict[str, Any]:
        """Point ``current`` at ``version`` atomically and log it; returns the history entry."""
        target = self.path(version)
        read_labels(target)
        with self._lock():
            previous = self.current()
            if previous == version:
                raise RegistryError(f"{version} is already the current version of {self.root}")
            entry = {
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "action": action,
                "version": version,
                "previous": previous,
                "reason": reason,
                "forced": forced,
                "user": os.environ.get("USER", ""),
            }
            # The log entry is written before the switch. A crash between the two leaves an entry
            # for a version that is not current, which rollback skips (it looks for the entry that
            # made the current version current); the reverse order could leave a current version
            # that no entry explains, and rollback would have nowhere to go.
            with (self.root / HISTORY_FILE).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            tmp_link = self.root / f".{CURRENT}.tmp-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp_link.unlink()
            os.symlink(Path(VERSIONS_DIR) / version, tmp_link)
            os.replace(tmp_link, self.root / CURRENT)
            _fsync_dir(self.root)
        return entry

    def rollback(self, reason: str = "") -> dict[str, Any]:
        """Make the version that was current before the current one's last promotion current again.

        Repeated rollbacks walk further back (C -> B -> A), because each looks up the promotion
        that made the now-current version current.
        """
        current = self.current()
        if current is None:
            raise RegistryError(f"registry {self.root} has no current version to roll back from")
        for entry in reversed(self.history()):
            if entry.get("action") == "promote" and entry.get("version") == current:
                previous = entry.get("previous")
                if not previous:
                    break
                return self.promote(previous, reason=reason or f"rollback from {current}", action="rollback")
        raise RegistryError(
            f"{current} was the first version promoted in {self.root}; there is nothing to roll back to "
            f"(promote another version with `stancewire models promote VERSION`)"
        )
