"""Retrain into a model registry: continue from a version, replay old data, gate the promotion.

The recipe, in order:
1. resolve the base (``current``, a version id, a plain directory, or the default encoder) and,
   for a registry version, take its training data as the replay data;
2. load the new data plus a seeded replay sample (``finetune.load_training_data``);
3. train, calibrate and evaluate (``finetune.fit``) and write the model into the registry's
   staging directory;
4. compare the candidate with ``current`` on the fixed evaluation set (paired bootstrap of
   ``stancewire compare``) and apply the gate;
5. record parent, base, config, data fingerprints, code version, metrics, temperature and the
   comparison in ``version.json``, then commit the version (one rename);
6. promote it when it passed the gate (or ``force``), else leave ``current`` unchanged.

A crash anywhere before step 5's rename leaves only debris in ``.staging/``; ``current`` moves only
in step 6, by an atomic symlink swap.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stancewire import __version__
from stancewire.eval.compare import compare_models, format_comparison
from stancewire.eval.metrics import macro_f1, per_class, to_ids
from stancewire.eval.run import load_eval_rows, score_examples
from stancewire.model.artifacts import TRAIN_CONFIG_FILE, read_json, write_json
from stancewire.model.engine import StanceEngine
from stancewire.model.errors import DataError
from stancewire.model.registry import VERSION_RE, ModelRegistry, RegistryError, file_sha256
from stancewire.training.config import TrainConfig
from stancewire.training.data import expand_paths
from stancewire.training.finetune import default_base_model, fit, load_training_data, write_model_files

log = logging.getLogger(__name__)

COMPARISON_FILE = "comparison.json"


@dataclass(frozen=True)
class GateResult:
    """Whether a candidate may replace ``current``, and every reason it may not."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    max_macro_f1_drop: float = 0.0
    max_class_f1_drop: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "max_macro_f1_drop": self.max_macro_f1_drop,
            "max_class_f1_drop": self.max_class_f1_drop,
        }


def gate(comparison: dict[str, Any], max_macro_f1_drop: float, max_class_f1_drop: float) -> GateResult:
    """Apply the promotion gate to a ``compare_models`` result (A = current, B = candidate).

    The point estimates of the differences are held to the tolerances; the bootstrap interval is
    reported beside them. Holding the interval's lower end to the tolerance instead would block
    nearly every retrain on a test split of a few hundred rows, where the interval is ±0.03 wide.

    Example:
        >>> gate({"paired_bootstrap": {"delta_macro_f1": -0.02},
        ...       "per_class_f1_delta": {"deny": 0.0}}, 0.01, 0.05).reasons
        ['macro-F1 dropped by 0.020 (tolerance 0.010)']
    """
    reasons = []
    delta = comparison["paired_bootstrap"]["delta_macro_f1"]
    if -delta > max_macro_f1_drop:
        reasons.append(f"macro-F1 dropped by {-delta:.3f} (tolerance {max_macro_f1_drop:.3f})")
    for label, class_delta in comparison["per_class_f1_delta"].items():
        if -class_delta > max_class_f1_drop:
            reasons.append(f"{label} F1 dropped by {-class_delta:.3f} (tolerance {max_class_f1_drop:.3f})")
    return GateResult(not reasons, reasons, max_macro_f1_drop, max_class_f1_drop)


@dataclass(frozen=True)
class RetrainResult:
    """What ``train_version`` did: the new version, its comparison with current, and the decision."""

    version: str
    path: Path
    parent: str | None
    compared_with: str | None
    comparison: dict[str, Any] | None
    gate: GateResult | None
    promoted: bool
    decision: str

    def summary(self) -> str:
        """The lines ``stancewire train --registry`` prints."""
        lines = [f"new version {self.version} (parent {self.parent or 'none'})"]
        if self.comparison is not None:
            lines += ["", format_comparison(self.comparison), ""]
        if self.gate is not None and not self.gate.passed:
            lines += [f"gate failed: {reason}" for reason in self.gate.reasons]
        lines.append(self.decision)
        return "\n".join(lines)


def resolve_base(registry: ModelRegistry, base: str) -> tuple[str | None, Path | None]:
    """(parent version, base directory) for ``--base``: current, a version id, a directory, or ''."""
    if base == "current":
        version = registry.current()
        if version is None:
            raise registry_error(registry, "--base current, but the registry has no current version yet")
        return version, registry.path(version)
    if VERSION_RE.match(base):
        return base, registry.path(base)
    return None, (Path(base) if base else None)


def registry_error(registry: ModelRegistry, message: str) -> RegistryError:
    """A RegistryError that also says how to give the registry a first version."""
    return RegistryError(
        f"{message}; add a model first: `stancewire models add MODEL_DIR --registry {registry.root}` "
        f"then `stancewire models promote VERSION --registry {registry.root}`"
    )


def parent_replay_data(parent_dir: Path) -> tuple[str, ...]:
    """The data a parent version learnt from: its own data and what it replayed (its lineage)."""
    config = read_json(parent_dir / TRAIN_CONFIG_FILE) if (parent_dir / TRAIN_CONFIG_FILE).exists() else {}
    seen: dict[str, None] = {}
    for path in [*config.get("data", []), *config.get("replay_data", [])]:
        seen.setdefault(str(path), None)
    return tuple(seen)


def git_commit() -> dict[str, Any]:
    """The commit of the code that trained (and whether the checkout had local changes), if in git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(status.strip())}


def data_fingerprints(paths: tuple[str, ...]) -> dict[str, str]:
    """sha256 of every data file under ``paths`` (directories expanded), keyed by path."""
    return {str(p): file_sha256(p) for p in expand_paths(paths)} if paths else {}


def evaluate_alone(model_dir: Path, cfg: TrainConfig) -> dict[str, Any]:
    """Macro-F1 and per-class F1 of one model on the fixed evaluation set (no current to compare with)."""
    examples = load_eval_rows(cfg.eval_data, None if cfg.eval_split == "all" else cfg.eval_split)
    probs, _ = score_examples(StanceEngine.load(model_dir, device=cfg.device), examples, 64)
    y_true, y_pred = to_ids([e.label for e in examples]), probs.argmax(axis=1)
    return {"macro_f1": macro_f1(y_true, y_pred), "per_class": per_class(y_true, y_pred)}


def train_version(cfg: TrainConfig, progress: bool = True, force: bool = False) -> RetrainResult:
    """Train a new version into ``cfg.registry`` and promote it if it passes the gate (or ``force``)."""
    registry = ModelRegistry.create(cfg.registry)
    current = registry.current()
    # 1. base and replay data
    parent, base_dir = resolve_base(registry, cfg.base)
    if parent is not None and base_dir is not None:
        replay = cfg.replay_data or parent_replay_data(base_dir)
        cfg = replace(cfg, base=str(base_dir), replay_data=replay)
    split = None if cfg.eval_split == "all" else cfg.eval_split
    if current is not None:
        try:  # fail before the training, not after it
            expand_paths(cfg.eval_data)
        except DataError as exc:
            raise DataError(
                f"the evaluation set of the promotion gate cannot be read ({exc}); run from the repository "
                f"root or pass --eval-data FILE"
            ) from exc
    with registry.staging() as staged:
        # 2-3. data, training, model files
        fitted = fit(cfg, load_training_data(cfg), progress)
        if fitted is None:  # a non-main process of a distributed run: rank 0 commits
            shutil.rmtree(staged, ignore_errors=True)
            return RetrainResult("", staged, parent, None, None, None, False, "not the main process")
        engine, metrics, temperature = fitted
        write_model_files(engine, staged, cfg, metrics, temperature)
        # 4. comparison and gate
        comparison, verdict = None, None
        if current is not None:
            comparison = compare_models(
                registry.path(current), staged, cfg.eval_data, split=split, device=cfg.device
            )
            comparison["a"]["model"], comparison["b"]["model"] = f"current ({current})", "candidate"
            verdict = gate(comparison, cfg.max_macro_f1_drop, cfg.max_class_f1_drop)
            write_json(staged / COMPARISON_FILE, comparison)
            evaluation = {k: comparison["b"][k] for k in ("macro_f1", "per_class")}
        else:
            evaluation = evaluate_alone(staged, cfg)
        passed = verdict is None or verdict.passed
        forced = force and not passed
        # 5. the record, then one rename
        record = {
            "parent": parent,
            "base_model": str(cfg.base or default_base_model()),
            "train_config": cfg.to_dict(),
            "data_files": data_fingerprints(cfg.data),
            "replay_data_files": data_fingerprints(cfg.replay_data) if cfg.replay_data else {},
            "train_data_fingerprint": engine.config.data_fingerprint,
            "package_version": __version__,
            "git": git_commit(),
            "metrics": {k: metrics[k] for k in ("dev", "test") if k in metrics},
            "counts": metrics.get("counts", {}),
            "eval": {"data": list(cfg.eval_data), "split": cfg.eval_split, **evaluation},
            "temperature": temperature,
            "promotion": {
                "compared_with": current,
                "gate": verdict.to_dict() if verdict else None,
                "passed": verdict.passed if verdict else None,
                "forced": forced,
                "comparison_file": COMPARISON_FILE if comparison else None,
            },
        }
        version = registry.commit(staged, record)
    path = registry.path(version)
    # 6. promotion
    if current is None:
        registry.promote(version, reason="first version of the registry")
        decision = f"promoted {version}: the registry had no current version"
    elif passed:
        registry.promote(version, reason=f"passed the gate against {current}")
        decision = f"promoted {version}: it passed the gate against {current}"
    elif forced:
        assert verdict is not None
        registry.promote(version, reason="forced past the gate: " + "; ".join(verdict.reasons), forced=True)
        log.warning("promoted %s past a failed gate (--force): %s", version, "; ".join(verdict.reasons))
        decision = f"promoted {version} with --force although the gate failed (logged in history.jsonl)"
    else:
        decision = (
            f"NOT promoted: current stays {current}. The version is kept; promote it anyway with "
            f"`stancewire models promote {version} --registry {registry.root}`"
        )
    return RetrainResult(version, path, parent, current, comparison, verdict, passed or forced, decision)
