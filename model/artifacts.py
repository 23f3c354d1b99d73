"""What a stancewire model directory holds, and reading its self-description.

A model directory is a plain Hugging Face sequence-classification directory (``config.json``,
``model.safetensors``, tokenizer files) plus stancewire's own small JSON files:

- ``labels.json``: the label order of the classification head (must equal ``LABELS``);
- ``stancewire.json``: how pairs are turned into model input (``max_length``, ``input_format``),
  the model version, the base model and the training-data fingerprint;
- ``calibration.json``: the temperature fitted on the dev split;
- ``metrics.json`` and ``train_config.json``: written by training, reported by ``GET /v1/model``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stancewire.model.errors import ModelLoadError
from stancewire.model.labels import LABELS

LABELS_FILE = "labels.json"
ENGINE_FILE = "stancewire.json"
CALIBRATION_FILE = "calibration.json"
METRICS_FILE = "metrics.json"
TRAIN_CONFIG_FILE = "train_config.json"

INPUT_FORMATS = ("statement", "speaker_statement", "speaker_statement_context")


@dataclass(frozen=True)
class EngineConfig:
    """How the engine turns a pair into model input; saved as ``stancewire.json``.

    Attributes:
        max_length: token budget of one (target, statement) input; longer inputs are truncated
            from the statement side, never the target.
        input_format: which fields go into the second segment (see ``INPUT_FORMATS``).
        version: model version id, set by training.
        base_model: the model directory training started from.
        data_fingerprint: sha256 of the training data, set by training.
    """

    max_length: int = 128
    input_format: str = "speaker_statement"
    version: str = "untrained"
    base_model: str = ""
    data_fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ModelLoadError(f"input_format must be one of {INPUT_FORMATS}, found {self.input_format!r}")
        if not 16 <= self.max_length <= 512:
            raise ModelLoadError(f"max_length must be between 16 and 512, found {self.max_length}")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path`` with an error that names the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def atomic_tmp_prefix(name: str) -> str:
    """The start of the temporary names ``atomic_write_bytes`` uses for a file called ``name``."""
    return f".{name}.tmp-"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent or complete (temporary name, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{atomic_tmp_prefix(path.name)}{os.getpid()}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_engine_config(model_dir: Path) -> EngineConfig:
    """Read ``stancewire.json``; a plain HF directory without it gets the defaults."""
    path = model_dir / ENGINE_FILE
    if not path.exists():
        return EngineConfig()
    data = read_json(path)
    known = {f for f in EngineConfig.__dataclass_fields__}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ModelLoadError(f"{path}: unknown keys {unknown}; expected some of {sorted(known)}")
    return EngineConfig(**data)


def write_engine_config(model_dir: Path, config: EngineConfig) -> None:
    write_json(model_dir / ENGINE_FILE, asdict(config))


def read_labels(model_dir: Path) -> tuple[str, ...]:
    """Read and check ``labels.json``: the head's label order must be the guide's ``LABELS``."""
    path = model_dir / LABELS_FILE
    if not path.exists():
        raise ModelLoadError(
            f"{model_dir} has no {LABELS_FILE}: it is not a stancewire model directory. "
            f"Train one with `stancewire train --data FILE --out DIR`."
        )
    labels = tuple(read_json(path).get("labels", ()))
    if labels != LABELS:
        raise ModelLoadError(f"{path}: expected labels {list(LABELS)}, found {list(labels)}")
    return labels


def write_labels(model_dir: Path) -> None:
    write_json(model_dir / LABELS_FILE, {"labels": list(LABELS)})


def read_temperature(model_dir: Path) -> float:
    path = model_dir / CALIBRATION_FILE
    if not path.exists():
        return 1.0
    temperature = read_json(path).get("temperature", 1.0)
    if not isinstance(temperature, int | float) or not 0.05 <= temperature <= 20:
        raise ModelLoadError(f"{path}: temperature must be a number in [0.05, 20], found {temperature!r}")
    return float(temperature)


def read_optional(model_dir: Path, name: str) -> dict[str, Any]:
    """Read an optional JSON file of the model directory, or an empty dict."""
    path = model_dir / name
    return read_json(path) if path.exists() else {}
