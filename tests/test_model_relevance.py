from __future__ import annotations

from pathlib import Path

import numpy as np

from stancewire.model.relevance import RelevanceFilter, SentenceEncoder

TEXTS = [
    "We never sold arms to anyone.",
    "The weather is fine.",
    "A much longer statement about the port strike.",
]


def test_model_relevance_encoder_unit_rows_in_input_order(tiny_model_dir: Path) -> None:
    encoder = SentenceEncoder.load(tiny_model_dir)
    together = encoder.encode(TEXTS, batch_size=2)
    assert together.shape == (3, 32)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # length-sorted batching must not reorder the rows
    alone = np.stack([encoder.encode([t])[0] for t in TEXTS])
    assert np.allclose(together, alone, atol=1e-5)


def test_model_relevance_filter_threshold_and_keywords(tiny_model_dir: Path) -> None:
    encoder = SentenceEncoder.load(tiny_model_dir)
    targets = ["X sold arms.", "Dock workers will strike."]
    keep_all = RelevanceFilter(encoder, targets, threshold=-1.01)
    assert keep_all.keep(TEXTS, [""] * 3).all()
    only_hints = RelevanceFilter(encoder, targets, [["arms"], ["STRIKE"]], threshold=1.01)
    mask = only_hints.keep(TEXTS, ["", "", ""])
    assert mask.tolist() == [[True, False], [False, False], [False, True]]
    # a hint in the context counts too; "armstrong" is not the word "arms"
    mask = only_hints.keep(["It was not us.", "Armstrong spoke."], ["They asked about arms.", ""])
    assert mask.tolist() == [[True, False], [False, False]]
    sims = only_hints.similarity(TEXTS)
    assert sims.shape == (3, 2) and np.all(np.abs(sims) <= 1.0 + 1e-5)
