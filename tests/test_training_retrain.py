from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stancewire.cli import main
from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError
from stancewire.model.registry import VERSION_FILE, ModelRegistry
from stancewire.training import retrain
from stancewire.training.config import TrainConfig
from stancewire.training.finetune import balanced_class_weights, fit, load_training_data
from stancewire.training.retrain import GateResult, gate, train_version

from .conftest import write_jsonl


def registry_config(tiny_model_dir: Path, data: Path, registry: Path, **kw: Any) -> TrainConfig:
    settings: dict[str, Any] = {
        "max_steps": 3,
        "batch_size": 8,
        "max_length": 48,
        "device": "cpu",
        "dev_fraction": 0.25,
        "test_fraction": 0.25,
        "base": str(tiny_model_dir),
        "eval_data": (str(data),),
        "eval_split": "all",
        "replay_rows": 10,
    }
    settings.update(kw)
    return TrainConfig(data=(str(data),), registry=str(registry), **settings)


@pytest.fixture
def new_labeled(tmp_path: Path) -> Path:
    """Ten new rows on new events: the 'feedback' a retrain adds."""
    statements = [
        "The harbour never closed, not for a single hour.",
        "Yes, we shut the port on Monday morning.",
        "Closing the docks was a reckless act against workers.",
        "Anyone who blocks our ships again will regret it.",
        "We have no information about shipping at this time.",
        "Reports of a closure are simply invented by rivals.",
        "Our authority ordered every berth emptied yesterday.",
        "This shutdown is a disgrace to the whole region.",
        "Keep the cranes idle and you will pay a heavy price.",
        "It is too early to say what happened at the quay.",
    ]
    labels = ["deny", "confirm", "condemn", "threaten", "none"]
    rows = [
        {"event": f"new{i}", "statement": s, "target": "The harbour closed.", "label": labels[i % 5]}
        for i, s in enumerate(statements)
    ]
    return write_jsonl(tmp_path / "new.jsonl", rows)


def comparison(macro: float, **classes: float) -> dict[str, Any]:
    return {"paired_bootstrap": {"delta_macro_f1": macro}, "per_class_f1_delta": classes}


def test_retrain_gate_passes_within_tolerance_and_names_every_failure() -> None:
    assert gate(comparison(-0.005, deny=-0.04, none=0.1), 0.01, 0.05).passed
    failed = gate(comparison(-0.02, deny=-0.06, none=0.0, threaten=-0.2), 0.01, 0.05)
    assert not failed.passed
    assert failed.reasons == [
        "macro-F1 dropped by 0.020 (tolerance 0.010)",
        "deny F1 dropped by 0.060 (tolerance 0.050)",
        "threaten F1 dropped by 0.200 (tolerance 0.050)",
    ]


def test_retrain_from_current_replays_parent_data_records_and_promotes(
    tiny_model_dir: Path, small_labeled: Path, new_labeled: Path, tmp_path: Path
) -> None:
    reg_dir = tmp_path / "reg"
    first = train_version(registry_config(tiny_model_dir, small_labeled, reg_dir), progress=False)
    assert first.promoted and first.comparison is None and first.parent is None
    cfg = registry_config(
        tiny_model_dir, small_labeled, reg_dir, base="current", max_macro_f1_drop=1.0, max_class_f1_drop=1.0
    )
    cfg = TrainConfig(**{**cfg.__dict__, "data": (str(new_labeled),)})
    second = train_version(cfg, progress=False)
    assert second.parent == first.version and second.compared_with == first.version
    assert second.promoted and ModelRegistry(reg_dir).current() == second.version
    record = json.loads((second.path / VERSION_FILE).read_text())
    # the parent's data became the replay data, and the replay sample reached the train split
    assert record["train_config"]["replay_data"] == [str(small_labeled)]
    assert record["train_config"]["base"] == str(first.path)
    assert sum(record["counts"]["train"].values()) > len(
        load_training_data(TrainConfig(data=(str(new_labeled),), dev_fraction=0.25, test_fraction=0.25))[
            "train"
        ]
    )
    assert set(record["data_files"]) == {str(new_labeled)} and set(record["replay_data_files"]) == {
        str(small_labeled)
    }
    assert all(len(h) == 64 for h in record["data_files"].values())
    assert record["package_version"] and "commit" in record["git"]
    assert {"dev", "test"} <= set(record["metrics"]) and 0 <= record["eval"]["macro_f1"] <= 1
    assert record["temperature"] > 0 and record["promotion"]["passed"] is True
    stored = json.loads((second.path / "comparison.json").read_text())
    assert stored["a"]["model"] == f"current ({first.version})" and stored["n"] == 40
    assert StanceEngine.load(reg_dir, device="cpu").version == second.version


def test_retrain_failed_gate_keeps_the_version_but_not_current_unless_forced(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg_dir = tmp_path / "reg"
    first = train_version(registry_config(tiny_model_dir, small_labeled, reg_dir), progress=False)
    monkeypatch.setattr(
        retrain, "gate", lambda *a: GateResult(False, ["deny F1 dropped by 0.300"], 0.01, 0.05)
    )
    cfg = registry_config(tiny_model_dir, small_labeled, reg_dir, base="current")
    refused = train_version(cfg, progress=False)
    registry = ModelRegistry(reg_dir)
    assert not refused.promoted and registry.current() == first.version
    assert (
        "NOT promoted" in refused.summary() and "gate failed: deny F1 dropped by 0.300" in refused.summary()
    )
    assert json.loads((refused.path / VERSION_FILE).read_text())["promotion"]["passed"] is False
    forced = train_version(TrainConfig(**{**cfg.__dict__, "seed": 14}), progress=False, force=True)
    assert forced.promoted and registry.current() == forced.version
    last = registry.history()[-1]
    assert last["forced"] is True and "deny F1 dropped" in last["reason"]


def test_retrain_crash_after_training_leaves_registry_untouched(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg_dir = tmp_path / "reg"
    first = train_version(registry_config(tiny_model_dir, small_labeled, reg_dir), progress=False)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("evaluation set vanished")

    monkeypatch.setattr(retrain, "compare_models", crash)
    with pytest.raises(RuntimeError):
        train_version(registry_config(tiny_model_dir, small_labeled, reg_dir, base="current"), progress=False)
    registry = ModelRegistry(reg_dir)
    assert registry.versions() == [first.version] and registry.current() == first.version
    assert registry.stale_staging() == []
    assert StanceEngine.load(reg_dir, device="cpu").version == first.version


def test_retrain_same_data_config_and_seed_give_the_same_metrics(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path
) -> None:
    cfg = registry_config(tiny_model_dir, small_labeled, tmp_path / "reg")
    a = train_version(cfg, progress=False)
    b = train_version(TrainConfig(**{**cfg.__dict__, "registry": str(tmp_path / "reg2")}), progress=False)
    ra, rb = (json.loads((r.path / VERSION_FILE).read_text()) for r in (a, b))
    # CPU training is deterministic here: equal to 1e-6 (stated tolerance), labels identical
    assert ra["eval"]["per_class"] == rb["eval"]["per_class"]
    for split in ("dev", "test"):
        assert ra["metrics"][split]["macro_f1"] == pytest.approx(rb["metrics"][split]["macro_f1"], abs=1e-6)
        assert ra["metrics"][split]["ece"] == pytest.approx(rb["metrics"][split]["ece"], abs=1e-6)
    assert ra["temperature"] == pytest.approx(rb["temperature"], abs=1e-6)
    assert ra["train_data_fingerprint"] == rb["train_data_fingerprint"]


def test_scale_settings_reach_the_trainer(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    seen: dict[str, Any] = {}
    real = transformers.TrainingArguments

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers, "TrainingArguments", spy)
    cfg = TrainConfig(
        data=(str(small_labeled),),
        base=str(tiny_model_dir),
        max_steps=3,
        batch_size=4,
        max_length=48,
        device="cpu",
        dev_fraction=0.25,
        test_fraction=0.25,
        grad_accum_steps=2,
        early_stopping_patience=1,
        eval_steps=1,
        class_weighting="balanced",
        mixed_precision="auto",
    )
    fitted = fit(cfg, load_training_data(cfg), progress=False)
    assert fitted is not None
    _, metrics, _ = fitted
    assert seen["gradient_accumulation_steps"] == 2 and seen["load_best_model_at_end"] is True
    assert seen["metric_for_best_model"] == "macro_f1" and seen["eval_steps"] == 1
    assert seen["bf16"] is False and seen["fp16"] is False  # auto on CPU: full precision
    assert metrics["mixed_precision"] == "no" and metrics["early_stopping"]["best_dev_macro_f1"] is not None


def test_scale_config_checks_and_class_weights(small_labeled: Path) -> None:
    with pytest.raises(DataError, match="fp16 needs a CUDA GPU"):
        fit(TrainConfig(data=(str(small_labeled),), mixed_precision="fp16", device="cpu"), {"train": []})
    with pytest.raises(DataError, match="--early-stopping-patience needs a dev split"):
        TrainConfig(early_stopping_patience=2, dev_fraction=0)
    with pytest.raises(DataError, match="--grad-accum-steps"):
        TrainConfig(grad_accum_steps=0)
    rows = load_training_data(TrainConfig(data=(str(small_labeled),)))["train"]
    weights = balanced_class_weights(rows)
    counts = [sum(e.label == x for e in rows) for x in ("deny", "confirm", "condemn", "threaten", "none")]
    assert weights.tolist() == pytest.approx([len(rows) / (5 * c) for c in counts])


def test_cli_train_registry_and_models_commands(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = str(tmp_path / "reg")
    common = ["--max-steps", "2", "--batch-size", "8", "--max-length", "48", "--device", "cpu", "--quiet"]
    argv = ["train", "--registry", reg, "--data", str(small_labeled), "--base", str(tiny_model_dir)]
    argv += ["--eval-data", str(small_labeled), "--eval-split", "all", *common]
    assert main(argv) == 0
    first = ModelRegistry(reg).current()
    assert f"promoted {first}: the registry had no current version" in capsys.readouterr().out
    argv = ["train", "--registry", reg, "--data", str(small_labeled), "--base", "current", "--seed", "5"]
    argv += ["--eval-data", str(small_labeled), "--eval-split", "all", "--max-macro-f1-drop", "1"]
    assert main([*argv, "--max-class-f1-drop", "1", *common]) == 0
    out = capsys.readouterr().out
    second = ModelRegistry(reg).current()
    assert "F1 A" in out and "paired bootstrap" in out and f"promoted {second}" in out
    assert main(["models", "list", "--registry", reg]) == 0
    listing = capsys.readouterr().out
    assert f"* {second}" in listing and first in listing
    assert main(["models", "show", "current", "--registry", reg]) == 0
    assert json.loads(capsys.readouterr().out)["parent"] == first
    assert main(["models", "rollback", "--registry", reg]) == 0
    assert ModelRegistry(reg).current() == first
    assert main(["models", "promote", "../../etc", "--registry", reg]) == 2
    assert "is not a version id" in capsys.readouterr().err
    assert main(["train", "--data", str(small_labeled), "--base", "current"]) == 2
    assert "--base current names a registry version" in capsys.readouterr().err


def test_retrain_missing_evaluation_set_fails_before_training(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = tmp_path / "reg"
    registry = ModelRegistry.create(reg)
    registry.promote(registry.add(tiny_model_dir))
    monkeypatch.setattr(retrain, "fit", lambda *a, **k: pytest.fail("trained although the gate cannot run"))
    cfg = registry_config(
        tiny_model_dir, small_labeled, reg, base="current", eval_data=(str(tmp_path / "gone"),)
    )
    with pytest.raises(DataError, match="evaluation set of the promotion gate cannot be read"):
        train_version(cfg, progress=False)
    assert main(["train", "--registry", str(reg), "--out", "x", "--data", str(small_labeled)]) == 2
