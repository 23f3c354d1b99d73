from __future__ import annotations

import pytest

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import InvalidInput
from stancewire.model.pipeline import StancePipeline
from stancewire.model.quotes import QuoteExtractor

TARGETS = ["North Korea exported arms to Russia.", "Russia is buying weapons from North Korea."]


def test_pipeline_every_statement_gets_one_stance_per_target(
    tiny_engine: StanceEngine, seed_text: str
) -> None:
    pipeline = StancePipeline(QuoteExtractor(), tiny_engine)
    results = pipeline.analyze(seed_text, TARGETS)
    assert len(results) == len(QuoteExtractor().extract(seed_text)) > 5
    for r in results:
        assert len(r.stances) == len(TARGETS)
        assert seed_text[r.statement.start : r.statement.end]


def test_pipeline_text_without_statements_is_empty(tiny_engine: StanceEngine) -> None:
    assert StancePipeline(QuoteExtractor(), tiny_engine).analyze("Rain fell on Tuesday.", TARGETS) == []


def test_pipeline_rejects_missing_targets(tiny_engine: StanceEngine) -> None:
    pipeline = StancePipeline(QuoteExtractor(), tiny_engine)
    with pytest.raises(InvalidInput):
        pipeline.analyze("He said no.", [])
    with pytest.raises(InvalidInput):
        pipeline.analyze("He said no.", ["  "])
