"""Request body limit, CORS and JSON logs."""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stancewire.model.engine import StanceEngine
from stancewire.serve.app import create_app
from stancewire.serve.logs import JsonFormatter, log_config
from stancewire.serve.settings import Settings

PAIRS = {"pairs": [{"statement": "We never did it.", "target": "X did it."}]}


def client_for(engine: StanceEngine, model_dir: Path, **settings: object) -> TestClient:
    return TestClient(
        create_app(Settings(model_dir=str(model_dir), batch_wait_ms=0, **settings), engine=engine)
    )


def test_an_oversized_body_is_refused_before_it_is_read(
    tiny_engine: StanceEngine, tiny_model_dir: Path
) -> None:
    with client_for(tiny_engine, tiny_model_dir, max_body_bytes=1_000) as client:
        assert client.post("/v1/classify", json=PAIRS).status_code == 200
        big = {"pairs": [{"statement": "word " * 400, "target": "X did it."}]}
        r = client.post("/v1/classify", json=big)
        assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]

        def chunks(total: int) -> Iterator[bytes]:  # no Content-Length: sent chunked
            body = json.dumps({"pairs": [{"statement": "w " * total, "target": "X did it."}]}).encode()
            for i in range(0, len(body), 100):
                yield body[i : i + 100]

        r = client.post("/v1/classify", content=chunks(2_000), headers={"content-type": "application/json"})
        assert r.status_code == 413
        small = client.post("/v1/classify", content=chunks(10), headers={"content-type": "application/json"})
        assert small.status_code == 200 and len(small.json()["predictions"]) == 1


def test_cors_is_off_by_default_and_answers_preflights_when_set(
    tiny_engine: StanceEngine, tiny_model_dir: Path
) -> None:
    preflight = {
        "Origin": "https://newsroom.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    with client_for(tiny_engine, tiny_model_dir) as client:
        r = client.post("/v1/classify", json=PAIRS, headers={"Origin": "https://newsroom.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    with client_for(
        tiny_engine, tiny_model_dir, cors_origins="https://newsroom.example", api_keys="k1"
    ) as client:
        r = client.options("/v1/classify", headers=preflight)  # a preflight carries no key
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://newsroom.example"
        other = client.options("/v1/classify", headers={**preflight, "Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
        r = client.post(
            "/v1/classify",
            json=PAIRS,
            headers={"Origin": "https://newsroom.example", "Authorization": "Bearer k1"},
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://newsroom.example"


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(log_config("json"))
    try:
        logging.getLogger("stancewire.test").warning("model %s loaded", "v1", extra={"pairs": 3})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("failed")
        lines = capsys.readouterr().err.strip().splitlines()
        first, second = (json.loads(line) for line in lines[-2:])
        assert first["level"] == "warning" and first["logger"] == "stancewire.test"
        assert (
            first["message"] == "model v1 loaded" and first["pairs"] == 3 and first["time"].endswith("+00:00")
        )
        assert second["level"] == "error" and "ValueError: boom" in second["exception"]
    finally:
        logging.config.dictConfig(log_config("text"))
    with pytest.raises(ValueError, match="log format"):
        log_config("xml")
    assert (
        json.loads(JsonFormatter().format(logging.makeLogRecord({"msg": "x", "levelname": "INFO"})))[
            "message"
        ]
        == "x"
    )


def test_every_request_gets_an_id_in_its_answer_and_its_json_log_line(
    tiny_engine: StanceEngine, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(log_config("json"))
    try:
        with client_for(tiny_engine, tiny_model_dir) as client:
            given = client.post("/v1/classify", json=PAIRS, headers={"X-Request-ID": "job-42.7"})
            fresh = client.get("/healthz")
            odd = client.get("/healthz", headers={"X-Request-ID": "has space"})
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    finally:
        logging.config.dictConfig(log_config("text"))
    assert given.headers["x-request-id"] == "job-42.7"
    assert len(fresh.headers["x-request-id"]) == 32  # a new uuid when the caller sends none
    assert odd.headers["x-request-id"] != "has space"  # not a sane token: replaced
    access = [x for x in lines if x["logger"] == "stancewire.access"]
    entry = next(x for x in access if x["request_id"] == "job-42.7")
    assert entry["method"] == "POST" and entry["path"] == "/v1/classify" and entry["status"] == 200
    assert entry["ms"] >= 0 and entry["message"].startswith("POST /v1/classify 200")
