"""Two training processes over gloo on CPU, as `torchrun` / `accelerate launch` run them on GPUs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stancewire.model.engine import StanceEngine
from stancewire.model.registry import ModelRegistry


@pytest.mark.skipif(
    shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="no torchrun"
)
def test_torchrun_two_cpu_processes_train_one_version(
    tiny_model_dir: Path, small_labeled: Path, tmp_path: Path
) -> None:
    reg = tmp_path / "reg"
    torchrun = str(Path(sys.executable).parent / "torchrun")
    argv = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "stancewire", "train"]
    argv += ["--registry", str(reg), "--data", str(small_labeled), "--base", str(tiny_model_dir)]
    argv += ["--max-steps", "2", "--batch-size", "4", "--max-length", "48", "--device", "cpu", "--quiet"]
    argv += ["--eval-data", str(small_labeled), "--eval-split", "all"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    # rank 0 alone commits, promotes and reports; rank 1 leaves nothing behind
    assert done.stdout.count("new version") == 1
    registry = ModelRegistry(reg)
    assert len(registry.versions()) == 1 and registry.stale_staging() == []
    assert StanceEngine.load(reg, device="cpu").version == registry.current()
