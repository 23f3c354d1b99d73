"""Shared fixtures: a tiny randomly initialised BERT cross-encoder, built offline once per session."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from stancewire.model.artifacts import EngineConfig, write_engine_config, write_labels
from stancewire.model.engine import StanceEngine
from stancewire.model.labels import ID2LABEL, LABEL2ID, LABELS
from stancewire.training.config import TrainConfig

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


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Exported ONNX graphs go to a temporary cache, never to the user's ~/.cache."""
    os.environ["STANCEWIRE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def _tiny_engine(tiny_model_dir: Path) -> StanceEngine:
    return StanceEngine.load(tiny_model_dir, device="cpu")


@pytest.fixture
def tiny_engine(_tiny_engine: StanceEngine) -> StanceEngine:
    """A private copy per test, so no test sees another's changes."""
    return copy.deepcopy(_tiny_engine)


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


def _same_recipe(model_dir: Path, cfg: TrainConfig) -> bool:
    """True if ``model_dir`` was trained by this exact recipe on this exact data."""
    from stancewire.training.data import fingerprint, load_examples, split_examples

    try:
        saved = json.loads((model_dir / "train_config.json").read_text())
        engine_cfg = json.loads((model_dir / "stancewire.json").read_text())
    except OSError:
        return False
    train_rows = split_examples(load_examples(cfg.data), cfg.dev_fraction, cfg.test_fraction)["train"]
    keys = ("epochs", "lr", "batch_size", "max_length", "input_format", "seed", "base", "max_steps")
    return engine_cfg.get("data_fingerprint") == fingerprint(train_rows) and all(
        saved.get(k) == getattr(cfg, k) for k in keys
    )


@pytest.fixture(scope="session")
def default_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default recipe of `make model`, trained once per session (about 34 minutes on 2 cores).

    Shared by every slow test that needs the real model (tests/test_slow_real_model.py and the
    browser test in tests/test_serve_page.py), so one session trains it once.
    STANCEWIRE_E2E_MODEL may name a model directory to reuse when it was trained by this same
    recipe on this same data (checked by fingerprint), so a rerun after a docs-only change need
    not train again; anything else is trained afresh.
    """
    from stancewire.training.finetune import train

    cfg = TrainConfig.from_yaml(REPO / "configs" / "default.yaml")
    cfg = TrainConfig(**{**cfg.to_dict(), "data": tuple(str(REPO / d) for d in cfg.data)})
    reuse = os.environ.get("STANCEWIRE_E2E_MODEL")
    if reuse and _same_recipe(Path(reuse), cfg):
        return Path(reuse)
    out = tmp_path_factory.mktemp("e2e") / "default"
    return train(TrainConfig(**{**cfg.to_dict(), "out": str(out)}), progress=False)
