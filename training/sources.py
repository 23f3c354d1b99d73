"""Public labeled datasets as extra training and evaluation sources: ``NAME:PATH``.

Each adapter reads one dataset in its original format from a path the user gives (nothing is
downloaded or copied) and maps its labels to ours with the mapping its provenance note proposes:

=================  ===========================================================  =================
name               rows read                                                   label mapping
=================  ===========================================================  =================
news_events        ``pairs.jsonl`` (statement/target pairs already in our       as labeled
                   labels)
fnc1               FNC-1 training stances + bodies (body = statement,           agree→confirm,
                   headline = target); unrelated rows thinned to 1 in 10 and     disagree→deny,
                   discuss to 1 in 4, bodies cut to their first sentences,      discuss/unrelated
                   so that long, easy rows do not swamp training                →none
fnc1-test          FNC-1 competition test (25,413 pairs; evaluation only)       as fnc1, unthinned
emergent           Emergent headlines toward their claim, official train split  for→confirm,
                   (claims not in the authors' test split)                      against→deny,
                                                                                observing→none
emergent-test      Emergent official test split (524 rows)                      as emergent
plover             PLOVER gold-standard sentences; target = the target actor    THREATEN→threaten,
                                                                                DISAPPROVE→condemn,
                                                                                rest→none
rte                RTE premise (statement) and hypothesis (target)              entailment→confirm,
                                                                                rest→none
=================  ===========================================================  =================

Rows from an extra source are training rows only (``split`` = train) unless the source is an
evaluation set; the seeds' own dev and test splits stay the yardstick. Overlaps to keep in mind:
FNC-1 is built from Emergent (never train on one and evaluate on the other), and the PLOVER
sentences are also in ``news_events``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from stancewire.model.errors import DataError
from stancewire.training.data import Example, load_examples

FNC_LABELS = {"agree": "confirm", "disagree": "deny", "discuss": "none", "unrelated": "none"}
EMERGENT_LABELS = {"for": "confirm", "against": "deny", "observing": "none"}
PLOVER_LABELS = {"THREATEN": "threaten", "DISAPPROVE": "condemn"}
RTE_LABELS = {"entailment": "confirm", "not_entailment": "none"}
FNC_THIN = {"unrelated": 10, "discuss": 4}
"""Keep one FNC-1 training row in this many per stance: unrelated (73% of rows) is trivially easy and
discuss (18%) is plentiful; agree and disagree are all kept."""
FNC_BODY_CHARS = 1200
"""FNC-1 bodies are cut to their first sentences within this many characters (the model reads ~128 tokens)."""


@dataclass(frozen=True)
class Source:
    """A named reader of one public dataset."""

    name: str
    read: Callable[[Path], list[Example]]
    train: bool
    """False for evaluation-only sets (their rows carry split=test)."""
    help: str


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, row
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc


def _need(folder: Path, *names: str) -> list[Path]:
    paths = [folder / n for n in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{folder}: missing {missing}; point the source at the dataset's folder")
    return paths


def _column(row: dict[str, str], key: str, where: str) -> str:
    value = row.get(key)
    if value is None:
        raise DataError(f"{where}: no column {key!r} (found {sorted(row)})")
    return value


def _mapped(label: str, mapping: dict[str, str], where: str) -> str:
    if label not in mapping:
        raise DataError(f"{where}: label {label!r} is not one of {sorted(mapping)}")
    return mapping[label]


def _keep_one_in(n: int, key: str) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % n == 0


def _lead(text: str, limit: int = FNC_BODY_CHARS) -> str:
    """The first sentences of an article body, up to ``limit`` characters."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind('." '), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > limit // 3 else cut


def _fnc(folder: Path, stance_files: list[str], bodies_file: str, thin: bool, split: str) -> list[Example]:
    bodies_path, *stance_paths = _need(folder, bodies_file, *stance_files)
    bodies: dict[str, str] = {}
    for n, row in _csv_rows(bodies_path):
        bodies[_column(row, "Body ID", f"{bodies_path}:{n}")] = _column(
            row, "articleBody", f"{bodies_path}:{n}"
        )
    out: list[Example] = []
    for path in stance_paths:
        for n, row in _csv_rows(path):
            where = f"{path}:{n}"
            headline, body_id = _column(row, "Headline", where), _column(row, "Body ID", where)
            stance = _column(row, "Stance", where)
            if body_id not in bodies:
                raise DataError(f"{where}: Body ID {body_id} is not in {bodies_path.name}")
            keep_every = FNC_THIN.get(stance, 1) if thin else 1
            if not _keep_one_in(keep_every, f"{headline}|{body_id}"):
                continue
            out.append(
                Example(
                    statement=_lead(bodies[body_id]),
                    target=headline.strip(),
                    label=_mapped(stance, FNC_LABELS, where),
                    # a body with its headlines is one cluster: it never straddles two splits
                    event=f"fnc1-body-{body_id}",
                    split=split,
                    meta={"source": "fnc1", "fnc_label": stance},
                    path=str(path),
                    line=n,
                )
            )
    return out


def read_fnc1(folder: Path) -> list[Example]:
    stances = sorted(p.name for p in folder.glob("train_stances*.csv"))
    if not stances:
        raise DataError(f"{folder}: no train_stances*.csv file; point fnc1 at the FNC-1 folder")
    return _fnc(folder, stances, "train_bodies.csv", thin=True, split="train")


def read_fnc1_test(folder: Path) -> list[Example]:
    return _fnc(
        folder, ["competition_test_stances.csv"], "competition_test_bodies.csv", thin=False, split="test"
    )


EMERGENT_MAIN = "url-versions-2015-06-14-clean.csv"
EMERGENT_TEST = (
    "mscproject_output_url-versions-2015-06-14-clean-test-correct.csv",
    "mscproject_output_url-versions-2015-06-14-clean-test-errors.csv",
)


def _emergent(folder: Path, want_test: bool) -> list[Example]:
    (main,) = _need(folder, EMERGENT_MAIN)
    test_claims = {row["claimId"] for p in _need(folder, *EMERGENT_TEST) for _, row in _csv_rows(p)}
    out: list[Example] = []
    for n, row in _csv_rows(main):
        where = f"{main}:{n}"
        claim = _column(row, "claimId", where)
        if (claim in test_claims) != want_test:
            continue
        out.append(
            Example(
                statement=_column(row, "articleHeadline", where).strip(),
                target=_column(row, "claimHeadline", where).strip(),
                label=_mapped(_column(row, "articleHeadlineStance", where), EMERGENT_LABELS, where),
                event=f"emergent-{claim}",
                split="test" if want_test else "train",
                meta={"source": "emergent"},
                path=str(main),
                line=n,
            )
        )
    return out


def read_emergent(folder: Path) -> list[Example]:
    return _emergent(folder, want_test=False)


def read_emergent_test(folder: Path) -> list[Example]:
    return _emergent(folder, want_test=True)


def _actors(field: object) -> list[str]:
    """Actor names of a PLOVER source/target field (a list of {actorText: ...}, or a bare string)."""
    items = field if isinstance(field, list) else [field] if field else []
    names = [it.get("actorText", "") if isinstance(it, dict) else str(it) for it in items]
    return [n.strip() for n in names if n and n.strip()]


def read_plover(path: Path) -> list[Example]:
    if path.is_dir():
        path = _need(path, "PLOVER_GSR_CAMEO.txt")[0]
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not the PLOVER JSON array ({exc})") from exc
    out: list[Example] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "text" not in rec or "event" not in rec:
            continue  # the DOCUMENT header record
        targets = _actors(rec.get("target"))
        if not targets:
            continue  # no target actor to take a stance toward
        speakers = _actors(rec.get("source"))
        out.append(
            Example(
                statement=rec["text"].strip(),
                target=" and ".join(targets),
                label=PLOVER_LABELS.get(rec["event"], "none"),
                speaker=" and ".join(speakers) or None,
                id=rec.get("id"),
                event=f"plover-{rec.get('id', i)}",
                split="train",
                meta={"source": "plover", "plover_event": rec["event"]},
                path=str(path),
                line=i,
            )
        )
    return out


def read_rte(path: Path) -> list[Example]:
    files = sorted(path.glob("rte_*.tsv")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no rte_*.tsv files")
    out: list[Example] = []
    for f in files:
        with f.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            for row in reader:
                where = f"{f}:{reader.line_num}"
                out.append(
                    Example(
                        statement=_column(row, "sentence1", where).strip(),
                        target=_column(row, "sentence2", where).strip(),
                        label=_mapped(_column(row, "label", where), RTE_LABELS, where),
                        split="train",
                        meta={"source": "rte"},
                        path=str(f),
                        line=reader.line_num,
                    )
                )
    return out


def read_news_events(path: Path) -> list[Example]:
    if path.is_dir():
        path = _need(path, "pairs.jsonl")[0]
    rows = load_examples([path])
    return [replace(e, split="train", meta={**e.meta, "source": "news_events"}) for e in rows]


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("news_events", read_news_events, True, "relabeled news-event sentences (pairs.jsonl)"),
        Source("fnc1", read_fnc1, True, "FNC-1 training stances (folder)"),
        Source("fnc1-test", read_fnc1_test, False, "FNC-1 competition test (folder)"),
        Source("emergent", read_emergent, True, "Emergent official train split (folder)"),
        Source("emergent-test", read_emergent_test, False, "Emergent official test split (folder)"),
        Source("plover", read_plover, True, "PLOVER gold-standard records (file or folder)"),
        Source("rte", read_rte, True, "RTE premise/hypothesis pairs (folder or .tsv)"),
    )
}


def parse_spec(spec: str) -> tuple[Source, Path]:
    """``NAME:PATH`` → (source, path), with errors that list the known names."""
    name, sep, raw = spec.partition(":")
    if not sep or not raw:
        raise DataError(f"extra source {spec!r} must look like NAME:PATH, e.g. fnc1:../shared/data/fnc1")
    if name not in SOURCES:
        raise DataError(f"unknown extra source {name!r}; known: {sorted(SOURCES)}")
    path = Path(raw)
    if not path.exists():
        raise DataError(f"{name}: {path} does not exist")
    return SOURCES[name], path


def load_source(spec: str, for_training: bool = True) -> list[Example]:
    """Read one ``NAME:PATH`` source; evaluation-only sources are refused for training."""
    source, path = parse_spec(spec)
    if for_training and not source.train:
        raise DataError(f"{source.name} is an evaluation set; train on {source.name.removesuffix('-test')}")
    rows = source.read(path)
    if not rows:
        raise DataError(f"{source.name}: no rows read from {path}")
    return rows
