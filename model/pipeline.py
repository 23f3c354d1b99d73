"""The pipeline: text and targets in, statements with their stance toward every target out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import InvalidInput
from stancewire.model.quotes import QuoteExtractor
from stancewire.model.types import Pair, StancePrediction, StatementStances


@dataclass
class StancePipeline:
    """Extract statements from a text, then score every statement against every target in one batch.

    Example:
        >>> pipe = StancePipeline(QuoteExtractor(), StanceEngine.load("models/default"))  # doctest: +SKIP
        >>> result = pipe.analyze(article, ["North Korea exported arms to Russia."])  # doctest: +SKIP
    """

    extractor: QuoteExtractor
    engine: StanceEngine
    batch_size: int = 32
    scorer: Callable[[Sequence[Pair]], np.ndarray] | None = None
    """Raw logits for pairs; default the engine itself. The API passes a micro-batcher here so that
    concurrent requests share forward passes."""

    def analyze(
        self, text: str, targets: Sequence[str], abstain_below: float = 0.0
    ) -> list[StatementStances]:
        """Statements of ``text`` in reading order, each with one prediction per target."""
        clean_targets = [t.strip() for t in targets]
        if not clean_targets or any(not t for t in clean_targets):
            raise InvalidInput("give at least one target, and no empty targets")
        statements = self.extractor.extract(text)
        pairs = [st.pair(target) for st in statements for target in clean_targets]
        predictions = self.score(pairs, abstain_below)
        k = len(clean_targets)
        return [
            StatementStances(st, tuple(predictions[i * k : (i + 1) * k])) for i, st in enumerate(statements)
        ]

    def score(self, pairs: Sequence[Pair], abstain_below: float = 0.0) -> list[StancePrediction]:
        """Calibrated predictions for pairs, through the scorer (a shared batcher) when there is one."""
        if not pairs:
            return []
        logits = self.scorer(pairs) if self.scorer else self.engine.logits(pairs, self.batch_size)
        return self.engine.predictions(logits, abstain_below)
