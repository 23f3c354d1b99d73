"""The scoring core shared by every engine: a chunk of articles in, output rows out.

The local engine and the Ray engine both call ``ChunkScorer.score_chunk`` on the same chunks, so
their rows are the same. Rows are flat (one column per label probability) so that Parquet, JSONL and
DuckDB read them without nested types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS
from stancewire.model.quotes import QuoteExtractor
from stancewire.model.relevance import RelevanceFilter
from stancewire.model.types import Pair, Statement
from stancewire.serve.archive_input import Article
from stancewire.serve.targets import Target

ROUND = 6
"""Probabilities are rounded to 6 decimals: enough for any analysis, and it hides the last-bit
differences that different thread counts can cause in the same forward pass."""

COLUMNS: tuple[str, ...] = (
    "article_id", "record", "date", "source", "statement", "start", "end", "kind", "speaker",
    "speaker_mention", "cue", "target_id", "target", "label", "confidence", "abstained",
    *(f"p_{label}" for label in LABELS), "relevance", "model_version", "targets_fingerprint",
)  # fmt: skip


def extract_chunk(extractor: QuoteExtractor, articles: Sequence[Article]) -> list[list[Statement]]:
    """The statements of each article, in reading order (the CPU-only half of the work)."""
    return [extractor.extract(a.text) for a in articles]


@dataclass
class ChunkScorer:
    """Everything needed to turn articles into rows: engine, extractor, targets and the optional filter."""

    engine: StanceEngine
    targets: Sequence[Target]
    fingerprint: str
    relevance: RelevanceFilter | None = None
    batch_size: int = 64
    abstain_below: float = 0.0

    def score_chunk(self, articles: Sequence[Article]) -> list[dict[str, Any]]:
        """Rows for every kept statement x target of the articles, ordered by article, statement, target."""
        return self.score_extracted(articles, extract_chunk(QuoteExtractor(), articles))

    def score_extracted(
        self, articles: Sequence[Article], statements: Sequence[Sequence[Statement]]
    ) -> list[dict[str, Any]]:
        """Rows from statements already extracted (by worker processes, say)."""
        flat = [(a, st) for a, sts in zip(articles, statements, strict=True) for st in sts]
        k = len(self.targets)
        if self.relevance is not None and flat:
            keep, sims = self.relevance.keep_with_similarity(
                [st.text for _, st in flat], [st.context for _, st in flat]
            )
        else:
            keep = np.ones((len(flat), k), dtype=bool)
            sims = None
        # every kept pair of the whole chunk goes into one call, so the engine's length-sorted
        # batches are full even when each article has few statements
        index = [(i, j) for i in range(len(flat)) for j in range(k) if keep[i, j]]
        pairs = [flat[i][1].pair(self.targets[j].proposition) for i, j in index]
        probs = self._probs(pairs)
        rows: list[dict[str, Any]] = []
        for (i, j), p in zip(index, probs, strict=True):
            article, st = flat[i]
            best = int(np.argmax(p))
            rows.append(
                {
                    "article_id": article.id,
                    "record": article.record,
                    "date": article.date,
                    "source": article.source,
                    "statement": st.text,
                    "start": st.start,
                    "end": st.end,
                    "kind": st.kind,
                    "speaker": st.speaker,
                    "speaker_mention": st.speaker_mention,
                    "cue": st.cue,
                    "target_id": self.targets[j].id,
                    "target": self.targets[j].proposition,
                    "label": LABELS[best],
                    "confidence": round(float(p[best]), ROUND),
                    "abstained": bool(p[best] < self.abstain_below),
                    **{f"p_{label}": round(float(p[c]), ROUND) for c, label in enumerate(LABELS)},
                    "relevance": None if sims is None else round(float(sims[i, j]), 4),
                    "model_version": self.engine.version,
                    "targets_fingerprint": self.fingerprint,
                }
            )
        return rows

    def _probs(self, pairs: Sequence[Pair]) -> np.ndarray:
        if not pairs:
            return np.zeros((0, len(LABELS)))
        return self.engine.predict_proba(pairs, self.batch_size)
