"""The inference engine: load a model directory, batch pairs, return calibrated probabilities.

The API, the CLI, the batch scorer, the evaluator and training's dev evaluation all call this one
object. Turning a pair into model input (format, tokenisation, truncation), the label map and the
temperature live only here.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
MIN_PRECISION_AGREEMENT = 0.995
"""A reduced precision is used only if its labels agree with fp32 on at least this share of pairs."""
PRECISION_CHECK_PAIRS = Path(__file__).with_name("precision_check.jsonl")
"""200 fixed pairs (40 per gold label, from the seeds corpus test split) for that check."""


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
        self._tokenizer_lock = threading.Lock()
        self.precision_check: dict[str, Any] = {}
        self.runner: Callable[[dict[str, torch.Tensor]], np.ndarray] | None = None  # ONNX Runtime, if used
        self.backend_check: dict[str, Any] = {"used": "torch"}
        self.model.to(self.device)
        self.model.eval()

    @classmethod
    def load(
        cls, path: str | Path, device: str = "auto", precision: str = "auto", backend: str = "torch"
    ) -> StanceEngine:
        """Load a stancewire model directory, or the current version of a model registry.

        Every inconsistency is a ``ModelLoadError`` (a registry without a current version a
        ``RegistryError``). ``backend`` is ``torch`` (default), ``onnx`` or ``auto`` (see
        :meth:`choose_backend`).
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
        check_weights_file(model_dir)
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            # safetensors only and no remote code: loading a model directory never runs its code
            model, info = AutoModelForSequenceClassification.from_pretrained(
                model_dir,
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=False,
                output_loading_info=True,
            )
        except Exception as exc:  # a load boundary: any failure means an unusable directory
            raise ModelLoadError(f"{model_dir}: cannot load weights or tokenizer ({exc})") from exc
        check_loading_info(model_dir, info)
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
        engine = cls(model, tokenizer, config, temperature, torch_device, dtype, model_dir)
        if dtype != torch.float32:
            engine.gate_precision(precision_check_pairs())
        if backend != "torch":
            engine.choose_backend(backend)
        return engine

    def gate_precision(self, pairs: Sequence[Pair], minimum: float = MIN_PRECISION_AGREEMENT) -> float:
        """Keep a reduced precision only if its labels agree with fp32 on ``pairs``; else use fp32.

        The outcome is kept in ``precision_check`` (reported by :meth:`describe`). Returns the
        agreement, the share of pairs whose argmax label is the same in both precisions.
        """
        chosen = self.dtype
        agreement = self._agreement_with_plain(pairs)
        kept = agreement >= minimum
        if not kept:
            self.dtype = torch.float32
            log.warning(
                "%s labels agree with fp32 on only %.1f%% of %d check pairs (need %.1f%%): using fp32",
                _name(chosen),
                100 * agreement,
                len(pairs),
                100 * minimum,
            )
        self.precision_check = {
            "tried": _name(chosen),
            "agreement_with_fp32": round(agreement, 4),
            "pairs": len(pairs),
            "minimum": minimum,
            "used": kept,
        }
        return agreement

    def choose_backend(self, backend: str, pairs: Sequence[Pair] | None = None) -> str:
        """Pick the compute backend: ``torch``, ``onnx`` (ONNX Runtime, CPU, fp32) or ``auto``.

        ``auto`` exports the graph, checks that its labels agree with PyTorch on the fixed check
        pairs (as for reduced precision) and keeps whichever of the two ran those pairs faster on
        this machine; ``onnx`` keeps ONNX Runtime whenever it agrees. The outcome is kept in
        ``backend_check`` (reported by :meth:`describe`). Returns the backend in use.
        """
        from stancewire.model.backends import BACKENDS, OnnxRunner, onnx_available

        if backend not in BACKENDS:
            raise InvalidInput(f"backend must be one of {BACKENDS}, found {backend!r}")
        self.runner = None
        if backend == "torch":
            return self._backend("torch", reason="asked for")
        if self.device.type != "cpu" or self.dtype != torch.float32 or self.model_dir is None:
            return self._backend("torch", reason="ONNX Runtime is used for fp32 on the CPU only")
        if not onnx_available():
            if backend == "onnx":
                raise ModelLoadError("backend 'onnx' needs onnxruntime: pip install 'stancewire[serve]'")
            return self._backend("torch", reason="onnxruntime is not installed")
        pairs = list(pairs or precision_check_pairs())
        runner = OnnxRunner.for_model(self.model_dir, self.encode(pairs[:2]))
        torch_seconds = _best_time(lambda: self.logits(pairs[:64]))
        self.runner = runner
        agreement = self._agreement_with_plain(pairs)
        onnx_seconds = _best_time(lambda: self.logits(pairs[:64]))
        faster = onnx_seconds < torch_seconds
        kept = agreement >= MIN_PRECISION_AGREEMENT and (backend == "onnx" or faster)
        if not kept:
            self.runner = None
        if agreement < MIN_PRECISION_AGREEMENT:
            log.warning(
                "ONNX labels agree with PyTorch on only %.1f%% of check pairs: using PyTorch", 100 * agreement
            )
        n = min(64, len(pairs))
        return self._backend(
            "onnx" if kept else "torch",
            agreement_with_torch=round(agreement, 4),
            torch_pairs_per_s=round(n / torch_seconds, 1),
            onnx_pairs_per_s=round(n / onnx_seconds, 1),
            graph=str(runner.path),
        )

    def _backend(self, used: str, **facts: Any) -> str:
        self.backend_check = {"used": used, **facts}
        return used

    def _agreement_with_plain(self, pairs: Sequence[Pair]) -> float:
        """Share of ``pairs`` labelled the same as by plain PyTorch fp32 (no runner, no autocast)."""
        labels = self.logits(pairs).argmax(axis=1)
        dtype, runner = self.dtype, self.runner
        self.dtype, self.runner = torch.float32, None
        try:
            plain = self.logits(pairs).argmax(axis=1)
        finally:
            self.dtype, self.runner = dtype, runner
        return float((labels == plain).mean())

    def __getstate__(self) -> dict[str, Any]:
        # a lock cannot be copied or pickled; a copy of the engine gets a lock of its own
        state = dict(self.__dict__)
        del state["_tokenizer_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tokenizer_lock = threading.Lock()

    @property
    def version(self) -> str:
        return self.config.version

    def encode(self, pairs: Sequence[Pair]) -> dict[str, torch.Tensor]:
        """Tokenise pairs into padded model input; the one place truncation happens."""
        return self._tokenize(pairs, padding=True, return_tensors="pt")  # type: ignore[return-value]

    def token_lengths(self, pairs: Sequence[Pair]) -> list[int]:
        """The length in tokens of each pair's model input after truncation (no padding).

        The micro-batcher uses it to keep each forward pass within a token budget and to group
        pairs of similar length.
        """
        return [len(ids) for ids in self._tokenize(pairs)["input_ids"]] if pairs else []

    def _tokenize(self, pairs: Sequence[Pair], **options: Any) -> Any:
        sep = getattr(self.tokenizer, "sep_token", None) or "|"
        firsts, seconds = zip(*(format_pair(p, self.config.input_format, sep) for p in pairs), strict=True)
        # A fast tokenizer sets its truncation state on each call and fails with "Already borrowed"
        # when two threads call it at once (request threads measure lengths while the batcher encodes).
        with self._tokenizer_lock:
            return self.tokenizer(  # type: ignore[operator]
                list(firsts),
                list(seconds),
                truncation="longest_first",
                max_length=self.config.max_length,
                **options,
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
                encoded = self.encode([pairs[i] for i in idx])
                if self.runner is not None:
                    out[idx] = self.runner(encoded)
                else:
                    batch = {k: v.to(self.device) for k, v in encoded.items()}
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
            "precision_check": self.precision_check,
            "backend": self.backend_check,
            "metrics": metrics,
            "train_config": train_config,
            # set for a registry version: where it came from and how its promotion went
            "registry": {k: record[k] for k in ("created_at", "parent", "promotion") if k in record},
        }


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _best_time(run: Callable[[], object], repeats: int = 2) -> float:
    """The fastest of ``repeats`` runs, in seconds: the least disturbed by other work on the machine."""
    import time

    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def precision_check_pairs() -> list[Pair]:
    """The fixed pairs that every reduced-precision path is checked on."""
    import json

    with PRECISION_CHECK_PAIRS.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [Pair(r["statement"], r["target"], r.get("speaker") or None) for r in rows]


def check_weights_file(model_dir: Path) -> None:
    """Refuse directories whose weights are not in safetensors form (pickle files can run code)."""
    if any(model_dir.glob("*.safetensors")):
        return
    pickled = sorted(p.name for p in model_dir.glob("*.bin")) + sorted(p.name for p in model_dir.glob("*.pt"))
    if pickled:
        raise ModelLoadError(
            f"{model_dir}: weights are only in pickle form ({', '.join(pickled)}); stancewire loads "
            "safetensors only. Convert them once with transformers, where you trust the file: "
            "`AutoModelForSequenceClassification.from_pretrained(DIR)"
            ".save_pretrained(DIR, safe_serialization=True)`"
        )
    raise ModelLoadError(f"{model_dir}: no model.safetensors; the directory has no weights")


def check_loading_info(model_dir: Path, info: dict[str, list[str]]) -> None:
    """A weight the model needs but the file lacks would be randomly initialised: refuse it.

    transformers only warns in that case, which would give a server that answers with a random
    classification head; an error at start-up is the only safe outcome.
    """
    missing = list(info.get("missing_keys", []))
    mismatched = [
        str(m[0]) if isinstance(m, tuple | list) else str(m) for m in info.get("mismatched_keys", [])
    ]
    problems = []
    if missing:
        problems.append(f"missing weights {_few(missing)}")
    if mismatched:
        problems.append(f"weights of the wrong shape {_few(mismatched)}")
    if problems:
        raise ModelLoadError(
            f"{model_dir}/model.safetensors does not match config.json: {'; '.join(problems)}. "
            "The file is truncated or belongs to another model; retrain or copy the whole directory again."
        )


def _few(names: list[str], n: int = 3) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
