"""stancewire.model: labels, records, quote extraction, the inference engine and the pipeline.

Nothing here knows about HTTP, archives or training.
"""

from __future__ import annotations

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError, InvalidInput, ModelLoadError, StancewireError
from stancewire.model.labels import LABELS
from stancewire.model.pipeline import StancePipeline
from stancewire.model.quotes import QuoteExtractor
from stancewire.model.types import Pair, StancePrediction, Statement, StatementStances

__all__ = [
    "LABELS",
    "DataError",
    "InvalidInput",
    "ModelLoadError",
    "Pair",
    "QuoteExtractor",
    "StanceEngine",
    "StancePipeline",
    "StancePrediction",
    "Statement",
    "StatementStances",
    "StancewireError",
]
