from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError
from stancewire.model.labels import LABELS
from stancewire.model.types import Pair
from stancewire.training.calibration import TemperatureScaler
from stancewire.training.config import TrainConfig
from stancewire.training.finetune import train

EXPECTED_FILES = {
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "labels.json",
    "stancewire.json",
    "calibration.json",
    "metrics.json",
    "train_config.json",
    "card.md",
}


def tiny_config(tiny_model_dir: Path, data: Path, out: Path, **kw: object) -> TrainConfig:
    settings = {
        "max_steps": 3,
        "batch_size": 8,
        "max_length": 48,
        "device": "cpu",
        "dev_fraction": 0.25,
        "test_fraction": 0.25,
    }
    settings.update(kw)
    return TrainConfig(data=(str(data),), out=str(out), base=str(tiny_model_dir), **settings)  # type: ignore[arg-type]


def test_finetune_writes_a_complete_loadable_model_dir(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path
) -> None:
    out = train(tiny_config(tiny_model_dir, small_labeled, tmp_path / "m"), progress=False)
    assert EXPECTED_FILES <= {p.name for p in out.iterdir()}
    engine = StanceEngine.load(out, device="cpu")
    assert engine.config.max_length == 48 and len(engine.config.data_fingerprint) == 64
    assert engine.version.endswith(engine.config.data_fingerprint[:8])
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"dev", "test", "train_seconds", "counts"} <= set(metrics)
    assert set(metrics["test"]["per_class"]) == set(LABELS)
    assert json.loads((out / "train_config.json").read_text())["max_steps"] == 3
    assert engine.score([Pair("We never did it.", "X did it.")])[0].label in LABELS
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.")]  # no temp dirs left behind


def test_finetune_continues_from_a_stancewire_model_and_replaces_out(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path
) -> None:
    first = train(tiny_config(tiny_model_dir, small_labeled, tmp_path / "m1"), progress=False)
    out = tmp_path / "m2"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    second = train(tiny_config(first, small_labeled, out), progress=False)
    assert not (second / "stale.txt").exists()
    assert json.loads((second / "stancewire.json").read_text())["base_model"] == str(first)


def test_finetune_same_seed_same_weights(tiny_model_dir: Path, small_labeled: Path, tmp_path: Path) -> None:
    a = StanceEngine.load(train(tiny_config(tiny_model_dir, small_labeled, tmp_path / "a"), progress=False))
    b = StanceEngine.load(train(tiny_config(tiny_model_dir, small_labeled, tmp_path / "b"), progress=False))
    pairs = [Pair("We will respond with force.", "X attacks Y."), Pair("No comment.", "Z resigned.")]
    np.testing.assert_allclose(a.logits(pairs), b.logits(pairs), atol=1e-5)


def test_finetune_config_rejects_bad_values_naming_the_flag() -> None:
    with pytest.raises(DataError, match="--lr must be > 0"):
        TrainConfig(lr=0)
    with pytest.raises(DataError, match="--input-format"):
        TrainConfig(input_format="everything")


def test_finetune_config_yaml_rejects_unknown_keys(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("epochs: 2\nlearning_rate: 0.1\n")
    with pytest.raises(DataError, match="unknown keys \\['learning_rate'\\]"):
        TrainConfig.from_yaml(tmp_path / "c.yaml")


def test_finetune_temperature_scaler_softens_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    logits = rng.normal(size=(400, 5))
    logits[np.arange(400), labels] += 1.0
    scaler = TemperatureScaler().fit(logits * 10, labels)
    assert scaler.temperature_ > 3
