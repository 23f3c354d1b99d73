"""Shared fixtures: a tiny randomly initialised BERT cross-encoder, built offline once per session."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from stancewire.model.artifacts import EngineConfig, write_engine_config, write_labels
from stancewire.model.engine import StanceEngine
from stancewire.model.labels import ID2LABEL, LABEL2ID, LABELS

REPO = Path(__file__).resolve().parents[1]
SEED_ARTICLE = REPO / "seeds" / "article_000.txt"
SHARED_DATA = REPO.parent / "shared" / "data"


def build_tiny_model_dir(path: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT with a 5-way head and the real MiniLM tokenizer (no network)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from stancewire.training.finetune import default_base_model

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(default_base_model(), local_files_only=True)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(LABELS),
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )
    model = BertForSequenceClassification(config)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    write_labels(path)
    write_engine_config(path, EngineConfig(max_length=64, version="tiny-test", base_model="tiny"))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def _tiny_engine(tiny_model_dir: Path) -> StanceEngine:
    return StanceEngine.load(tiny_model_dir, device="cpu")


@pytest.fixture
def tiny_engine(_tiny_engine: StanceEngine) -> StanceEngine:
    """A private copy per test, so no test sees another's changes."""
    e = _tiny_engine
    return StanceEngine(
        copy.deepcopy(e.model),
        copy.deepcopy(e.tokenizer),
        e.config,
        e.temperature,
        e.device,
        e.dtype,
        e.model_dir,
    )


@pytest.fixture
def seed_text() -> str:
    return SEED_ARTICLE.read_text(encoding="utf-8")


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def small_labeled(tmp_path: Path) -> Path:
    """Forty labeled rows over twenty events, every label present."""
    rows = []
    for i in range(40):
        label = LABELS[i % len(LABELS)]
        rows.append(
            {
                "id": f"r{i}",
                "event": f"e{i // 2}",
                "statement": f"Statement number {i} about event {i // 5} said by the ministry {label}.",
                "target": f"Event {i // 5} happened.",
                "label": label,
                "speaker": "the ministry",
            }
        )
    return write_jsonl(tmp_path / "small.jsonl", rows)
