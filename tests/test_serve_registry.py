from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from stancewire.model.registry import ModelRegistry
from stancewire.serve.app import create_app
from stancewire.serve.archive_output import read_rows
from stancewire.serve.batch import ScoreOptions, score_archive
from stancewire.serve.settings import Settings


def two_version_registry(model_dir: Path, tmp_path: Path) -> tuple[ModelRegistry, str, str]:
    """A registry whose current version is the first of two (the second differs in temperature)."""
    registry = ModelRegistry.create(tmp_path / "reg")
    first = registry.add(model_dir)
    registry.promote(first)
    other = tmp_path / "other"
    shutil.copytree(model_dir, other)
    (other / "calibration.json").write_text(json.dumps({"temperature": 2.0}))
    return registry, first, registry.add(other)


def test_serve_registry_reload_picks_up_a_promotion_without_restart(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    registry, first, second = two_version_registry(tiny_model_dir, tmp_path)
    settings = Settings(model_dir=str(registry.root), device="cpu")
    with TestClient(create_app(settings)) as client:
        info = client.get("/v1/model").json()
        assert info["version"] == first and info["model_dir"].endswith(f"versions/{first}")
        registry.promote(second)
        assert client.get("/v1/model").json()["version"] == first  # nothing changes until reload
        r = client.post("/v1/admin/reload", json={})
        assert r.json() == {"model_version": second, "previous_version": first}
        assert client.get("/v1/model").json()["temperature"] == 2.0
        r = client.post("/v1/admin/reload", json={"version": first})
        assert r.status_code == 200 and client.get("/v1/model").json()["version"] == first
        for bad in ("../../etc", "current", f"{first}/.."):
            r = client.post("/v1/admin/reload", json={"version": bad})
            assert r.status_code == 422 and "is not a version id" in r.json()["detail"]
        r = client.post("/v1/admin/reload", json={"version": first, "model_dir": str(tiny_model_dir)})
        assert r.status_code == 422
        assert client.get("/v1/model").json()["version"] == first


def test_batch_scorer_resolves_the_registry_current(tiny_model_dir: Path, tmp_path: Path) -> None:
    registry = ModelRegistry.create(tmp_path / "reg")
    version = registry.add(tiny_model_dir)
    registry.promote(version)
    articles = tmp_path / "a.jsonl"
    articles.write_text(json.dumps({"id": "a1", "text": 'The ministry said: "We never sent troops."'}) + "\n")
    targets = tmp_path / "t.txt"
    targets.write_text("Troops were sent.\n")
    out = tmp_path / "out"
    options = ScoreOptions(device="cpu", progress=False, output_format="jsonl", relevance=False)
    score_archive(registry.root, articles, targets, out, options)
    rows = read_rows(out)
    assert rows and {r["model_version"] for r in rows} == {version}


def test_sighup_reloads_the_current_version_in_a_running_server(tiny_model_dir: Path, tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    registry, first, second = two_version_registry(tiny_model_dir, tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "stancewire", "serve", "--model", str(registry.root), "--port", str(port)],
        env={**os.environ, "STANCEWIRE_BACKEND": "torch", "STANCEWIRE_DEVICE": "cpu"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1/model"

    def served_version(deadline: float) -> str | None:
        while time.monotonic() < deadline and server.poll() is None:
            try:
                return httpx.get(url, timeout=2).json()["version"]
            except (httpx.HTTPError, KeyError):
                time.sleep(0.2)  # polling for readiness, not waiting for a result to appear
        return None

    try:
        assert served_version(time.monotonic() + 60) == first
        registry.promote(second)
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        version = served_version(deadline)
        while version == first and time.monotonic() < deadline:
            time.sleep(0.2)
            version = served_version(deadline)
        assert version == second
        assert server.poll() is None  # the signal reloaded; it did not stop the server
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert b"now serving model" in err
