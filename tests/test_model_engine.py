from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stancewire.model.artifacts import LABELS_FILE
from stancewire.model.engine import StanceEngine, format_pair
from stancewire.model.errors import InvalidInput, ModelLoadError
from stancewire.model.labels import LABELS
from stancewire.model.types import Pair

PAIRS = [
    Pair("We have never exported arms to Russia.", "North Korea exported arms to Russia.", "the official"),
    Pair("They will pay a heavy price.", "Country X attacked the border post."),
    Pair("No comment.", "The merger will go ahead.", "a spokesman", "Asked about the deal on Monday"),
]


def test_engine_probs_rows_sum_to_one_in_label_order(tiny_engine: StanceEngine) -> None:
    probs = tiny_engine.predict_proba(PAIRS)
    assert probs.shape == (len(PAIRS), len(LABELS))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    preds = tiny_engine.score(PAIRS)
    for row, pred in zip(probs, preds, strict=True):
        assert pred.label == LABELS[int(row.argmax())]
        assert list(pred.probs) == list(LABELS)


def test_engine_batch_size_and_order_do_not_change_results(tiny_engine: StanceEngine) -> None:
    a = tiny_engine.logits(PAIRS, batch_size=1)
    b = tiny_engine.logits(PAIRS, batch_size=64)
    np.testing.assert_allclose(a, b, atol=1e-4)
    c = tiny_engine.logits(PAIRS[::-1], batch_size=2)
    np.testing.assert_allclose(a, c[::-1], atol=1e-4)


def test_engine_temperature_softens_without_changing_argmax(tiny_engine: StanceEngine) -> None:
    before = tiny_engine.predict_proba(PAIRS)
    tiny_engine.temperature = 5.0
    after = tiny_engine.predict_proba(PAIRS)
    assert (before.argmax(1) == after.argmax(1)).all()
    assert after.max(axis=1).max() <= before.max(axis=1).max() + 1e-6


def test_engine_empty_input_and_empty_pair(tiny_engine: StanceEngine) -> None:
    assert tiny_engine.score([]) == []
    with pytest.raises(InvalidInput, match="non-empty"):
        tiny_engine.score([Pair("  ", "target")])


def test_engine_abstains_below_threshold(tiny_engine: StanceEngine) -> None:
    preds = tiny_engine.score(PAIRS, abstain_below=1.01)
    assert all(p.abstained for p in preds)
    assert not any(p.abstained for p in tiny_engine.score(PAIRS))


def test_engine_truncates_long_input(tiny_engine: StanceEngine) -> None:
    long = Pair("word " * 2000, "A target.")
    batch = tiny_engine.encode([long])
    assert batch["input_ids"].shape[1] == tiny_engine.config.max_length
    assert tiny_engine.score([long])[0].label in LABELS


def test_engine_format_pair_puts_target_first_and_speaker_in_second() -> None:
    first, second = format_pair(PAIRS[2], "speaker_statement_context", "[SEP]")
    assert first == "The merger will go ahead."
    assert second == "a spokesman: No comment. [SEP] Asked about the deal on Monday"
    assert format_pair(PAIRS[2], "statement", "[SEP]") == ("The merger will go ahead.", "No comment.")


def test_engine_load_errors_are_clear(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        StanceEngine.load(tmp_path / "nope")
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    (bad / LABELS_FILE).write_text(json.dumps({"labels": ["yes", "no"]}))
    with pytest.raises(ModelLoadError, match="expected labels"):
        StanceEngine.load(bad)
    (bad / LABELS_FILE).unlink()
    with pytest.raises(ModelLoadError, match="not a stancewire model directory"):
        StanceEngine.load(bad)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelLoadError, match="cannot load"):
        StanceEngine.load(broken)


def _copy_with_weights(src: Path, dst: Path, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    weights = edit(load_file(dst / "model.safetensors"))
    save_file(weights, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_engine_load_refuses_a_missing_classification_head(tiny_model_dir: Path, tmp_path: Path) -> None:
    # transformers would only warn and initialise the head at random: a server answering noise
    headless = _copy_with_weights(
        tiny_model_dir, tmp_path / "headless", lambda w: {k: v for k, v in w.items() if "classifier" not in k}
    )
    with pytest.raises(ModelLoadError, match=r"missing weights classifier\."):
        StanceEngine.load(headless)


def test_engine_load_refuses_weights_of_the_wrong_shape(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    def three_way_head(w: dict[str, Any]) -> dict[str, Any]:
        return {**w, "classifier.weight": torch.zeros(3, 32), "classifier.bias": torch.zeros(3)}

    wrong = _copy_with_weights(tiny_model_dir, tmp_path / "wrong", three_way_head)
    with pytest.raises(ModelLoadError, match="cannot load|wrong shape"):
        StanceEngine.load(wrong)


def test_engine_load_refuses_pickle_weights_and_no_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="safetensors only"):
        StanceEngine.load(pickled)
    (pickled / "pytorch_model.bin").unlink()
    with pytest.raises(ModelLoadError, match="no model.safetensors"):
        StanceEngine.load(pickled)


def test_engine_load_refuses_a_truncated_weights_file(tiny_model_dir: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    shutil.copytree(tiny_model_dir, cut)
    data = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="cannot load"):
        StanceEngine.load(cut)


def test_engine_describe_reports_version_and_labels(tiny_engine: StanceEngine) -> None:
    info = tiny_engine.describe()
    assert info["version"] == "tiny-test"
    assert info["labels"] == list(LABELS)


def test_engine_tokenises_safely_from_many_threads(tiny_engine: StanceEngine) -> None:
    # the API measures token lengths in request threads while the batcher thread encodes
    from concurrent.futures import ThreadPoolExecutor

    pairs = [Pair("word " * (i % 40 + 1), "X did it.") for i in range(64)]
    expected = tiny_engine.token_lengths(pairs)

    def work(k: int) -> list[int]:
        if k % 2:
            tiny_engine.encode(pairs[k % 8 :])
        return tiny_engine.token_lengths(pairs)

    with ThreadPoolExecutor(8) as pool:
        assert all(got == expected for got in pool.map(work, range(200)))


def test_reduced_precision_is_checked_against_fp32_before_use(tiny_model_dir: Path) -> None:
    import torch

    engine = StanceEngine.load(tiny_model_dir, device="cpu", precision="bf16")
    check = engine.describe()["precision_check"]
    assert check["tried"] == "bfloat16" and check["pairs"] == 200
    assert 0.0 <= check["agreement_with_fp32"] <= 1.0
    # the outcome follows the rule: kept only at or above the minimum agreement
    assert check["used"] == (check["agreement_with_fp32"] >= check["minimum"])
    assert (engine.dtype == torch.bfloat16) == check["used"]


def test_reduced_precision_falls_back_to_fp32_when_labels_disagree(tiny_engine: StanceEngine) -> None:
    import torch

    from stancewire.model.engine import precision_check_pairs

    tiny_engine.dtype = torch.bfloat16
    agreement = tiny_engine.gate_precision(precision_check_pairs()[:20], minimum=1.01)  # unreachable bar
    assert tiny_engine.dtype == torch.float32
    assert tiny_engine.precision_check["used"] is False
    assert tiny_engine.precision_check["agreement_with_fp32"] == round(agreement, 4)
    tiny_engine.dtype = torch.bfloat16
    tiny_engine.gate_precision(precision_check_pairs()[:20], minimum=0.0)
    assert tiny_engine.dtype == torch.bfloat16 and tiny_engine.precision_check["used"] is True


def test_fp32_engines_skip_the_precision_check(tiny_engine: StanceEngine) -> None:
    assert tiny_engine.describe()["precision_check"] == {}


def test_onnx_backend_gives_the_same_logits_and_caches_its_graph(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("STANCEWIRE_CACHE_DIR", str(tmp_path / "cache"))
    plain = StanceEngine.load(tiny_model_dir, device="cpu")
    fast = StanceEngine.load(tiny_model_dir, device="cpu", backend="onnx")
    assert fast.backend_check["used"] == "onnx" and fast.runner is not None
    assert fast.backend_check["agreement_with_torch"] == 1.0
    pairs = PAIRS * 5 + [Pair("word " * 200, "A long statement is truncated the same way.")]
    np.testing.assert_allclose(fast.logits(pairs, batch_size=4), plain.logits(pairs, batch_size=4), atol=1e-4)
    graph = Path(fast.backend_check["graph"])
    assert graph.parent.parent == tmp_path / "cache" and graph.exists()
    exported_at = graph.stat().st_mtime_ns
    again = StanceEngine.load(tiny_model_dir, device="cpu", backend="onnx")
    assert again.backend_check["graph"] == str(graph) and graph.stat().st_mtime_ns == exported_at
    assert fast.describe()["backend"]["used"] == "onnx"


def test_auto_backend_keeps_the_faster_of_two_that_agree(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("STANCEWIRE_CACHE_DIR", str(tmp_path / "cache"))
    engine = StanceEngine.load(tiny_model_dir, device="cpu", backend="auto")
    check = engine.backend_check
    faster = "onnx" if check["onnx_pairs_per_s"] > check["torch_pairs_per_s"] else "torch"
    assert check["used"] == faster and (engine.runner is not None) == (faster == "onnx")
    assert engine.choose_backend("torch") == "torch" and engine.runner is None
    with pytest.raises(InvalidInput, match="backend must be one of"):
        engine.choose_backend("tensorrt")


def test_onnx_backend_without_onnxruntime_is_a_clear_error(
    tiny_engine: StanceEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stancewire.model.backends as backends

    monkeypatch.setattr(backends, "onnx_available", lambda: False)
    with pytest.raises(ModelLoadError, match="needs onnxruntime"):
        tiny_engine.choose_backend("onnx")
    assert tiny_engine.choose_backend("auto") == "torch"
    assert tiny_engine.backend_check["reason"] == "onnxruntime is not installed"
