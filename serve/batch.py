"""Offline batch scoring of a news archive: articles in, one row per statement x target out.

Articles are streamed in chunks, so memory stays bounded by the chunk, not the archive. Records
that cannot be scored (bad JSON, missing text) are counted and written to ``<output>.rejects.jsonl``
with the reason; they never stop the run.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError
from stancewire.model.pipeline import StancePipeline
from stancewire.model.quotes import QuoteExtractor


def read_targets(path: str | Path) -> list[str]:
    """Targets from a text file (one per line; blanks and # comments skipped) or JSONL (``proposition``)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: targets file not found")
    targets: list[str] = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if p.suffix == ".jsonl":
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}:{n}: invalid JSON ({exc.msg})") from exc
            value = row.get("proposition") or row.get("target") if isinstance(row, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"{p}:{n}: expected a 'proposition' string")
            line = value.strip()
        targets.append(line)
    if not targets:
        raise DataError(f"{p}: no targets found (one proposition per line)")
    return targets


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="strict")
    return path.open("r", encoding="utf-8", errors="strict")


def iter_articles(path: Path, rejects: list[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, article) for each usable record; unusable ones go to ``rejects`` with the reason."""
    with _open_text(path) as fh:
        n = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError as exc:
                rejects.append({"line": n + 1, "reason": f"invalid UTF-8 ({exc.reason})"})
                break  # the decoder cannot resynchronise inside a text stream
            if not line:
                break
            n += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                rejects.append({"line": n, "reason": f"invalid JSON ({exc.msg})"})
                continue
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                rejects.append({"line": n, "reason": "no non-empty 'text' field"})
                continue
            yield n, row


def score_archive(
    model_dir: str | Path,
    input_path: str | Path,
    targets_path: str | Path,
    output_path: str | Path,
    batch_size: int = 64,
    device: str = "auto",
    progress: bool = True,
    engine: StanceEngine | None = None,
    abstain_below: float = 0.0,
) -> dict[str, Any]:
    """Score every article of a JSONL archive against every target; returns counts."""
    from tqdm import tqdm

    src, dst = Path(input_path), Path(output_path)
    if not src.is_file():
        raise DataError(f"{src}: input archive not found")
    targets = read_targets(targets_path)
    engine = engine or StanceEngine.load(model_dir, device=device)
    pipeline = StancePipeline(QuoteExtractor(), engine, batch_size)
    rejects: list[dict[str, Any]] = []
    counts = {"articles": 0, "statements": 0, "rows": 0}
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".partial")
    with tmp.open("w", encoding="utf-8") as out:
        for line, article in tqdm(
            iter_articles(src, rejects), desc="articles", unit="art", disable=not progress
        ):
            article_id = str(article.get("id", f"line-{line}"))
            results = pipeline.analyze(article["text"], targets, abstain_below=abstain_below)
            counts["articles"] += 1
            counts["statements"] += len(results)
            for r in results:
                st = r.statement
                for target, p in zip(targets, r.stances, strict=True):
                    row = {
                        "article_id": article_id,
                        "date": article.get("date"),
                        "source": article.get("source"),
                        "statement": st.text,
                        "start": st.start,
                        "end": st.end,
                        "kind": st.kind,
                        "speaker": st.speaker,
                        "speaker_mention": st.speaker_mention,
                        "cue": st.cue,
                        "target": target,
                        "label": p.label,
                        "confidence": round(p.confidence, 6),
                        "abstained": p.abstained,
                        "probs": {k: round(v, 6) for k, v in p.probs.items()},
                        "model_version": engine.version,
                    }
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    counts["rows"] += 1
    tmp.replace(dst)  # the output appears only when complete
    reject_path = dst.with_name(dst.name + ".rejects.jsonl")
    if rejects:
        reject_path.write_text("".join(json.dumps(r) + "\n" for r in rejects), encoding="utf-8")
    return {**counts, "rejected": len(rejects), "output": str(dst), "targets": len(targets)}
