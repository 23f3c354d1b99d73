"""ONNX Runtime as a second compute backend for the engine's forward pass (CPU).

On the 2-core development CPU, ONNX Runtime ran the MiniLM cross-encoder 1.3–1.6× faster than
PyTorch fp32 at the same batch (BENCHMARKS.md), so the server may use it. The engine stays the one
place where pairs become model input: this module only turns a padded batch of token ids into
logits.

The exported graph is a cache, never part of a model directory (model directories are immutable):
it lives under ``$STANCEWIRE_CACHE_DIR`` (default ``~/.cache/stancewire``) in ``onnx/``, named by a
hash of the weights and config, and is written atomically so two processes may export at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stancewire.model.errors import ModelLoadError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")
# the order of BertForSequenceClassification.forward's first arguments: the graph takes them by position
FORWARD_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def onnx_available() -> bool:
    """Whether ONNX Runtime is installed (it comes with the ``serve`` extra)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def cache_dir() -> Path:
    return Path(os.environ.get("STANCEWIRE_CACHE_DIR") or Path.home() / ".cache" / "stancewire")


def graph_path(model_dir: Path) -> Path:
    """Where the exported graph of ``model_dir`` is cached: one file per weights + config content."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        with (model_dir / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    digest.update(f"opset{OPSET}-torch{torch.__version__}".encode())
    return cache_dir() / "onnx" / f"{digest.hexdigest()[:24]}.onnx"


def export_graph(model_dir: Path, sample: dict[str, torch.Tensor], path: Path) -> Path:
    """Export the classifier of ``model_dir`` to ONNX at ``path`` (atomically), with dynamic shapes."""
    from transformers import AutoModelForSequenceClassification

    # eager attention traces to plain ops whose mask handling survives export unchanged
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, local_files_only=True, use_safetensors=True, attn_implementation="eager"
    ).eval()
    names = [n for n in FORWARD_INPUTS if n in sample]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notices about shapes the graph keeps dynamic
            torch.onnx.export(
                model,
                tuple(sample[n] for n in names),
                tmp,
                input_names=names,
                output_names=["logits"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logits": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class OnnxRunner:
    """Logits of a padded batch through an ONNX Runtime session on the CPU."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        options.log_severity_level = 3  # errors only: the session's own notices are not the user's
        # Idle worker threads sleep instead of spinning: spinning wins a little on an idle machine
        # and loses a lot when the cores are shared (the batcher thread, other processes).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a load boundary: a corrupt cached graph
            raise ModelLoadError(
                f"{path}: cannot load the ONNX graph ({exc}); delete the file to re-export"
            ) from exc
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.path = path

    @classmethod
    def for_model(cls, model_dir: Path, sample: dict[str, torch.Tensor]) -> OnnxRunner:
        """The runner of ``model_dir``, exporting its graph into the cache the first time."""
        path = graph_path(model_dir)
        if not path.exists():
            log.info("exporting %s to ONNX at %s", model_dir, path)
            export_graph(model_dir, sample, path)
        return cls(path)

    def __call__(self, batch: dict[str, Any]) -> np.ndarray:
        feed = {name: np.ascontiguousarray(batch[name].cpu().numpy(), dtype=np.int64) for name in self.inputs}
        (logits,) = self.session.run(["logits"], feed)
        return np.asarray(logits, dtype=np.float32)
