"""The pipeline: text and targets in, statements with their stance toward every target out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import InvalidInput
from stancewire.model.quotes import QuoteExtractor
from stancewire.model.types import StatementStances


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

    def analyze(
        self, text: str, targets: Sequence[str], abstain_below: float = 0.0
    ) -> list[StatementStances]:
        """Statements of ``text`` in reading order, each with one prediction per target."""
        clean_targets = [t.strip() for t in targets]
        if not clean_targets or any(not t for t in clean_targets):
            raise InvalidInput("give at least one target, and no empty targets")
        statements = self.extractor.extract(text)
        pairs = [st.pair(target) for st in statements for target in clean_targets]
        predictions = self.engine.score(pairs, self.batch_size, abstain_below)
        k = len(clean_targets)
        return [
            StatementStances(st, tuple(predictions[i * k : (i + 1) * k])) for i, st in enumerate(statements)
        ]
