"""Two training processes over gloo on CPU, as `torchrun` / `accelerate launch` run them on GPUs."""

from __future__ import annotations

import os
import shutil
import signal
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
    # its own process group, so that on a timeout the workers die with the agent instead of
    # waiting forever for the agent's rendezvous store
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"torchrun did not finish within 300 s: {stderr[-2000:]}")
    assert proc.returncode == 0, stderr[-2000:]
    # rank 0 alone commits, promotes and reports; rank 1 leaves nothing behind
    assert stdout.count("new version") == 1
    registry = ModelRegistry(reg)
    assert len(registry.versions()) == 1 and registry.stale_staging() == []
    assert StanceEngine.load(reg, device="cpu").version == registry.current()
