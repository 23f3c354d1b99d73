"""The inference engine: load a model directory, batch pairs, return calibrated probabilities.

The API, the CLI, the batch scorer, the evaluator and training's dev evaluation all call this one
object. Turning a pair into model input (format, tokenisation, truncation), the label map and the
temperature live only here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from stancewire.model.artifacts import (
    EngineConfig,
    read_engine_config,
    read_labels,
    read_temperature,
)
from stancewire.model.errors import InvalidInput, ModelLoadError
from stancewire.model.labels import LABELS
from stancewire.model.types import Pair, StancePrediction

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def format_pair(pair: Pair, input_format: str, sep: str) -> tuple[str, str]:
    """Return the two text segments of a pair: (target, statement side).

    The target goes first so that truncation (longest first) nearly always cuts the statement
    side, whose end (context) matters least.

    Example:
        >>> pair = Pair("We never did it.", "X did it.", speaker="the ministry")
        >>> format_pair(pair, "speaker_statement", "[SEP]")
        ('X did it.', 'the ministry: We never did it.')
    """
    second = pair.statement.strip()
    if input_format != "statement" and pair.speaker:
        second = f"{pair.speaker.strip()}: {second}"
    if input_format == "speaker_statement_context" and pair.context:
        second = f"{second} {sep} {pair.context.strip()}"
    return pair.target.strip(), second


def resolve_device(device: str) -> torch.device:
    """Map ``auto|cpu|cuda`` to a torch device, with a clear error when CUDA is asked for but absent."""
    if device not in DEVICES:
        raise InvalidInput(f"device must be one of {DEVICES}, found {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInput("device 'cuda' was asked for but no CUDA GPU is visible; use --device cpu")
    return torch.device(device)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """Pick the compute dtype. ``auto`` is fp32 on CPU and bf16 on CUDA GPUs that support it."""
    if precision not in PRECISIONS:
        raise InvalidInput(f"precision must be one of {PRECISIONS}, found {precision!r}")
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


class StanceEngine:
    """A loaded stance classifier.

    Example:
        >>> engine = StanceEngine.load("models/default")  # doctest: +SKIP
        >>> engine.score([Pair("We never sold them arms.", "X sold arms.")])[0].label  # doctest: +SKIP
        'deny'
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: object,
        config: EngineConfig,
        temperature: float = 1.0,
        device: torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        model_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.temperature = temperature
        self.device = device or torch.device("cpu")
        self.dtype = dtype
        self.model_dir = model_dir
        self.model.to(self.device)
        self.model.eval()

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", precision: str = "auto") -> StanceEngine:
        """Load a stancewire model directory, or the current version of a model registry.

        Every inconsistency is a ``ModelLoadError`` (a registry without a current version a
        ``RegistryError``).
        """
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from stancewire.model.registry import resolve_model_dir

        # a registry directory means its current version (read once: a promotion mid-load cannot mix two)
        model_dir = resolve_model_dir(path)
        if not model_dir.is_dir():
            raise ModelLoadError(
                f"model directory {model_dir} does not exist; train one with "
                f"`stancewire train --data seeds/corpus --out {model_dir}` (or `make model`)"
            )
        read_labels(model_dir)
        config = read_engine_config(model_dir)
        temperature = read_temperature(model_dir)
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True)
        except Exception as exc:  # a load boundary: any failure means an unusable directory
            raise ModelLoadError(f"{model_dir}: cannot load weights or tokenizer ({exc})") from exc
        if model.config.num_labels != len(LABELS):
            raise ModelLoadError(
                f"{model_dir}: the classification head has {model.config.num_labels} outputs "
                f"but labels.json lists {len(LABELS)} labels"
            )
        if len(tokenizer) > model.config.vocab_size:
            raise ModelLoadError(
                f"{model_dir}: the tokenizer has {len(tokenizer)} tokens but the model's vocabulary "
                f"has {model.config.vocab_size}; the tokenizer does not belong to these weights"
            )
        torch_device = resolve_device(device)
        dtype = resolve_precision(precision, torch_device)
        if torch_device.type == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
            torch.set_num_threads(max(1, os.cpu_count() or 1))
        return cls(model, tokenizer, config, temperature, torch_device, dtype, model_dir)

    @property
    def version(self) -> str:
        return self.config.version

    def encode(self, pairs: Sequence[Pair]) -> dict[str, torch.Tensor]:
        """Tokenise pairs into padded model input; the one place truncation happens."""
        sep = getattr(self.tokenizer, "sep_token", None) or "|"
        firsts, seconds = zip(*(format_pair(p, self.config.input_format, sep) for p in pairs), strict=True)
        return self.tokenizer(  # type: ignore[operator,no-any-return]
            list(firsts),
            list(seconds),
            truncation="longest_first",
            max_length=self.config.max_length,
            padding=True,
            return_tensors="pt",
        )

    def logits(
        self,
        pairs: Sequence[Pair],
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Raw logits ``(N, K)`` in input order, before temperature.

        Pairs are sorted by length before batching so short pairs are not padded to long ones.
        """
        for i, pair in enumerate(pairs):
            if not pair.statement.strip() or not pair.target.strip():
                raise InvalidInput(f"pair {i}: statement and target must be non-empty")
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be >= 1, found {batch_size}")
        out = np.zeros((len(pairs), len(LABELS)), dtype=np.float32)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].statement) + len(pairs[i].target))
        use_autocast = self.dtype != torch.float32
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = {k: v.to(self.device) for k, v in self.encode([pairs[i] for i in idx]).items()}
                with torch.autocast(self.device.type, dtype=self.dtype, enabled=use_autocast):
                    logits = self.model(**batch).logits
                out[idx] = logits.float().cpu().numpy()
                if progress is not None:
                    progress(len(idx))
        return out

    def predict_proba(self, pairs: Sequence[Pair], batch_size: int = 32) -> np.ndarray:
        """Calibrated probabilities ``(N, K)``, columns in ``LABELS`` order, rows summing to 1."""
        return softmax(self.logits(pairs, batch_size) / self.temperature)

    def score(
        self, pairs: Sequence[Pair], batch_size: int = 32, abstain_below: float = 0.0
    ) -> list[StancePrediction]:
        """Label every pair; a prediction whose confidence is below ``abstain_below`` is marked abstained."""
        if not pairs:
            return []
        return self.predictions(self.logits(pairs, batch_size), abstain_below)

    def predictions(self, logits: np.ndarray, abstain_below: float = 0.0) -> list[StancePrediction]:
        """Calibrated predictions from raw logits (computed here or by a batcher that shares passes)."""
        probs = softmax(logits / self.temperature)
        return [StancePrediction.from_row(row.tolist(), abstain_below) for row in probs]

    def describe(self) -> dict[str, object]:
        """What ``GET /v1/model`` and the CLI report about this model."""
        from stancewire.model.artifacts import METRICS_FILE, TRAIN_CONFIG_FILE, read_optional
        from stancewire.model.registry import VERSION_FILE

        record = read_optional(self.model_dir, VERSION_FILE) if self.model_dir else {}
        metrics = read_optional(self.model_dir, METRICS_FILE) if self.model_dir else {}
        train_config = read_optional(self.model_dir, TRAIN_CONFIG_FILE) if self.model_dir else {}
        return {
            "version": self.config.version,
            "model_dir": str(self.model_dir) if self.model_dir else "",
            "base_model": self.config.base_model,
            "labels": list(LABELS),
            "data_fingerprint": self.config.data_fingerprint,
            "input_format": self.config.input_format,
            "max_length": self.config.max_length,
            "temperature": self.temperature,
            "device": str(self.device),
            "precision": str(self.dtype).removeprefix("torch."),
            "metrics": metrics,
            "train_config": train_config,
            # set for a registry version: where it came from and how its promotion went
            "registry": {k: record[k] for k in ("created_at", "parent", "promotion") if k in record},
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
