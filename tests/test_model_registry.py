from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stancewire.model.engine import StanceEngine
from stancewire.model.registry import (
    CURRENT,
    VERSION_FILE,
    ModelRegistry,
    RegistryError,
    is_registry,
    resolve_model_dir,
    validate_version,
)


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry.create(tmp_path / "reg")


def _variant(tiny_model_dir: Path, dest: Path, note: str) -> Path:
    """A copy of the tiny model whose content (and so version hash) differs by one file."""
    shutil.copytree(tiny_model_dir, dest)
    (dest / "calibration.json").write_text(json.dumps({"temperature": 1.0, "note": note}))
    return dest


def test_registry_add_promote_and_load_current(
    registry: ModelRegistry, tiny_model_dir: Path, tmp_path: Path
) -> None:
    assert is_registry(registry.root) and registry.current() is None
    with pytest.raises(RegistryError, match="no current version yet"):
        StanceEngine.load(registry.root, device="cpu")
    version = registry.add(tiny_model_dir)
    validate_version(version)
    assert registry.current() is None  # adding never promotes
    entry = registry.promote(version, reason="first")
    assert entry["previous"] is None and entry["version"] == version
    engine = StanceEngine.load(registry.root, device="cpu")
    assert engine.version == version  # stancewire.json carries the registry id
    assert engine.model_dir == registry.root / "versions" / version
    record = json.loads((engine.model_dir / VERSION_FILE).read_text())
    assert record["original_version"] == "tiny-test" and len(record["content_sha256"]) == 64
    assert [v.version for v in registry.summaries() if v.is_current] == [version]
    assert os.readlink(registry.root / CURRENT) == f"versions/{version}"
    # a plain model directory still resolves to itself
    assert resolve_model_dir(tiny_model_dir) == tiny_model_dir


@pytest.mark.parametrize(
    "name", ["../x", "current", "/etc/passwd", "20261128T041500Z-0123456789ab/../../x", "", "20261128-0415"]
)
def test_registry_rejects_version_names_that_are_not_ids(registry: ModelRegistry, name: str) -> None:
    with pytest.raises(RegistryError, match="is not a version id"):
        registry.path(name)


def test_registry_rollback_walks_back_and_logs(
    registry: ModelRegistry, tiny_model_dir: Path, tmp_path: Path
) -> None:
    a = registry.add(_variant(tiny_model_dir, tmp_path / "a", "a"))
    b = registry.add(_variant(tiny_model_dir, tmp_path / "b", "b"))
    c = registry.add(_variant(tiny_model_dir, tmp_path / "c", "c"))
    assert len({a, b, c}) == 3
    for v in (a, b, c):
        registry.promote(v)
    assert registry.rollback()["version"] == b
    assert registry.rollback()["version"] == a
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback()
    actions = [(e["action"], e["version"]) for e in registry.history()]
    assert actions == [("promote", a), ("promote", b), ("promote", c), ("rollback", b), ("rollback", a)]
    assert registry.current() == a


def test_registry_exception_while_staging_leaves_no_version(
    registry: ModelRegistry, tiny_model_dir: Path
) -> None:
    registry.promote(registry.add(tiny_model_dir))
    before = registry.versions()
    with pytest.raises(RuntimeError), registry.staging() as tmp:
        shutil.copy2(tiny_model_dir / "config.json", tmp / "config.json")
        raise RuntimeError("disk full")
    assert registry.versions() == before and registry.stale_staging() == []
    StanceEngine.load(registry.root, device="cpu")


def test_registry_sigkill_mid_save_leaves_only_whole_versions(
    registry: ModelRegistry, tiny_model_dir: Path
) -> None:
    current = registry.add(tiny_model_dir)
    registry.promote(current)
    # the child stages half a model, says so, then blocks until it is killed: a crash mid-save
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import shutil, sys\n"
            "from stancewire.model.registry import ModelRegistry\n"
            f"reg = ModelRegistry({str(registry.root)!r})\n"
            "with reg.staging() as tmp:\n"
            f"    shutil.copy2({str(tiny_model_dir / 'config.json')!r}, tmp / 'config.json')\n"
            "    print('staged', flush=True)\n"
            "    sys.stdin.read()\n"
            "    reg.commit(tmp, {})\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "staged"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert registry.versions() == [current] and registry.current() == current
    assert len(registry.stale_staging()) == 1  # the debris is confined to .staging/
    assert StanceEngine.load(registry.root, device="cpu").version == current


def test_registry_commit_refuses_an_incomplete_directory(registry: ModelRegistry, tmp_path: Path) -> None:
    with registry.staging() as tmp:
        (tmp / "config.json").write_text("{}")
        with pytest.raises(Exception, match="labels.json"):
            registry.commit(tmp, {})
    assert registry.versions() == []


def test_registry_create_refuses_a_non_empty_plain_directory(tiny_model_dir: Path) -> None:
    with pytest.raises(RegistryError, match="not empty"):
        ModelRegistry.create(tiny_model_dir)


def test_registry_create_joins_a_registry_another_rank_is_creating(tmp_path: Path) -> None:
    # torchrun starts every rank at once: one may see versions/ (and the marker's temporary file)
    # before the marker exists; that is the same registry being made, not a foreign directory
    root = tmp_path / "reg"
    (root / "versions").mkdir(parents=True)
    (root / ".staging").mkdir()
    (root / ".registry.json.tmp-4242").write_text("{")
    reg = ModelRegistry.create(root)
    assert is_registry(root) and reg.versions() == []
    assert json.loads((root / "registry.json").read_text()) == {"format": 1}
    assert ModelRegistry.create(root).root == root  # and the other rank opens it too


def test_registry_create_from_many_processes_at_once(tmp_path: Path) -> None:
    root = tmp_path / "reg"
    code = "import sys; from stancewire.model.registry import ModelRegistry as R; R.create(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(root)], stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    errors = [p.communicate()[1] for p in procs if p.wait() != 0]
    assert errors == [] and is_registry(root)
    assert sorted(p.name for p in root.iterdir()) == ["registry.json", "versions"]


def test_eval_baselines_read_the_current_versions_data_and_replay_data(
    registry: ModelRegistry, tiny_model_dir: Path, small_labeled: Path, tmp_path: Path
) -> None:
    from stancewire.eval.baselines import model_training_rows

    new = tmp_path / "new.jsonl"
    new.write_text(
        json.dumps({"statement": "We never closed the port.", "target": "The port closed.", "label": "deny"})
        + "\n"
    )
    model = _variant(tiny_model_dir, tmp_path / "m", "m")
    (model / "train_config.json").write_text(
        json.dumps(
            {"data": [str(new)], "replay_data": [str(small_labeled)], "dev_fraction": 0, "test_fraction": 0}
        )
    )
    registry.promote(registry.add(model))
    rows = model_training_rows(registry.root)
    assert len(rows.examples) == 41  # the new row and all 40 replayable rows


def test_registry_promoting_the_current_version_is_refused(
    registry: ModelRegistry, tiny_model_dir: Path
) -> None:
    version = registry.add(tiny_model_dir)
    registry.promote(version)
    with pytest.raises(RegistryError, match="already the current version"):
        registry.promote(version)
    assert len(registry.history()) == 1


def test_registry_import_from_another_registry_gets_a_fresh_record(
    registry: ModelRegistry, tiny_model_dir: Path, tmp_path: Path
) -> None:
    other = ModelRegistry.create(tmp_path / "other")
    first = other.add(tiny_model_dir)
    version = registry.add(other.path(first))
    record = registry.record(version)
    assert record["version"] == version and record["content_sha256"].startswith(version[-12:])
    assert record["imported_from"] == str(other.path(first).resolve())


def test_registry_sigkill_during_promotions_leaves_a_consistent_current(
    registry: ModelRegistry, tiny_model_dir: Path, tmp_path: Path
) -> None:
    versions = []
    for t in (1.0, 2.0, 3.0):
        copy = tmp_path / f"t{t}"
        shutil.copytree(tiny_model_dir, copy)
        (copy / "calibration.json").write_text(json.dumps({"temperature": t}))
        versions.append(registry.add(copy))
    registry.promote(versions[0])
    # the child promotes round a cycle of three as fast as it can; it is killed at several points
    script = (
        "from stancewire.model.registry import ModelRegistry\n"
        f"reg = ModelRegistry({str(registry.root)!r})\n"
        f"cycle = {versions!r}\n"
        "n = 0\n"
        "while True:\n"
        "    reg.promote(cycle[(cycle.index(reg.current()) + 1) % 3])\n"
        "    n += 1\n"
        "    if n % 5 == 0:\n"
        "        print(n, flush=True)\n"
    )
    for kills in (1, 2, 4, 8, 16):
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        for _ in range(kills):  # let it get some promotions done, then kill it mid-flight
            assert child.stdout.readline().strip()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        current = registry.current()
        assert StanceEngine.load(registry.root, device="cpu").version == current
        # the log explains current: its last entry made it current, or was cut off before the switch
        last = registry.history()[-1]
        assert current in (last["version"], last["previous"])
    rolled = registry.rollback()
    assert rolled["version"] in versions and registry.current() == rolled["version"]


def test_registry_history_ignores_a_torn_last_line_only(
    registry: ModelRegistry, tiny_model_dir: Path
) -> None:
    version = registry.add(tiny_model_dir)
    registry.promote(version)
    log = registry.root / "history.jsonl"
    log.write_text(log.read_text() + '{"time": "2026-')
    assert [e["version"] for e in registry.history()] == [version]
    log.write_text('{"broken\n' + log.read_text())
    with pytest.raises(RegistryError, match="history.jsonl:1"):
        registry.history()
