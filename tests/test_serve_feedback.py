"""POST /v1/feedback, the feedback store, and `stancewire feedback export`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stancewire.cli import main
from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS
from stancewire.serve.app import create_app
from stancewire.serve.feedback import Correction, FeedbackError, FeedbackStore, export_rows
from stancewire.serve.settings import Settings
from stancewire.training.check import check_examples
from stancewire.training.data import load_examples

DENIAL = "We have never exported arms or ammunition to Russia before"
TARGET = "North Korea exported arms to Russia."


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sub' / 'feedback.sqlite3'}"


@pytest.fixture
def client(tiny_engine: StanceEngine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(model_dir="unused", feedback_db_url=db_url(tmp_path), max_statement_chars=200)
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        yield c


def test_feedback_post_stores_the_correction_and_answers_201(client: TestClient, tmp_path: Path) -> None:
    body = {
        "statement": DENIAL,
        "target": TARGET,
        "label": " Deny ",
        "speaker": "the official",
        "request_id": "req-1",
        "model_version": "tiny-test",
    }
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == 201
    assert r.json()["label"] == "deny"
    stored = FeedbackStore(db_url(tmp_path)).corrections()
    assert [(c.id, c.statement, c.label, c.speaker, c.request_id, c.model_version) for c in stored] == [
        (r.json()["id"], DENIAL, "deny", "the official", "req-1", "tiny-test")
    ]
    second = client.post("/v1/feedback", json={**body, "label": "none"})
    assert second.json()["id"] == r.json()["id"] + 1


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"statement": DENIAL, "target": TARGET, "label": "agree"}, 422, "is not one of"),
        ({"statement": DENIAL, "target": TARGET}, 422, "label"),
        ({"statement": " ", "target": TARGET, "label": "deny"}, 422, "must be non-empty"),
        ({"statement": "x" * 201, "target": TARGET, "label": "deny"}, 413, "longer than 200"),
    ],
)
def test_feedback_post_rejects_bad_corrections_with_a_message(
    client: TestClient, tmp_path: Path, body: dict, status: int, needle: str
) -> None:
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == status
    assert needle in json.dumps(r.json()["detail"])
    assert not (tmp_path / "sub" / "feedback.sqlite3").exists() or not FeedbackStore(
        db_url(tmp_path)
    ).corrections()


def test_feedback_needs_the_api_key_when_keys_are_set(tiny_engine: StanceEngine, tmp_path: Path) -> None:
    settings = Settings(model_dir="unused", feedback_db_url=db_url(tmp_path), api_keys="k1")
    body = {"statement": DENIAL, "target": TARGET, "label": "deny"}
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        assert c.post("/v1/feedback", json=body).status_code == 401
        ok = c.post("/v1/feedback", json=body, headers={"Authorization": "Bearer k1"})
        assert ok.status_code == 201


def test_feedback_unusable_database_is_a_503_naming_the_setting(
    tiny_engine: StanceEngine, tmp_path: Path
) -> None:
    settings = Settings(model_dir="unused", feedback_db_url="nosuchdialect://x")
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        r = c.post("/v1/feedback", json={"statement": DENIAL, "target": TARGET, "label": "deny"})
        assert r.status_code == 503
        assert "STANCEWIRE_FEEDBACK_DB_URL" in r.json()["detail"]
        # scoring does not depend on the feedback database
        assert c.post("/v1/stance", json={"text": "He said no.", "targets": [TARGET]}).status_code == 200


def test_feedback_store_refuses_an_unknown_label() -> None:
    with pytest.raises(FeedbackError, match="not one of"):
        FeedbackStore("sqlite://").add(Correction(DENIAL, TARGET, "agree"))


def test_feedback_export_latest_wins_and_conflicts_are_reported() -> None:
    store = FeedbackStore("sqlite://")
    store.add(Correction(DENIAL, TARGET, "confirm", speaker="the official"))
    store.add(Correction("Another thing.", TARGET, "none"))
    store.add(Correction(f"  {DENIAL} ", TARGET.lower(), "deny", context="It said so.", request_id="r9"))
    store.add(Correction("Another thing.", TARGET, "none"))
    export = export_rows(store.corrections())
    assert export.stored == 4
    by_statement = {r["statement"]: r for r in export.rows}
    assert set(by_statement) == {DENIAL, "Another thing."}
    assert by_statement[DENIAL]["label"] == "deny" and by_statement[DENIAL]["context"] == "It said so."
    assert by_statement[DENIAL]["id"] == "feedback-3" and by_statement[DENIAL]["source"] == "feedback"
    assert by_statement[DENIAL]["event"] == "feedback-r9" and "event" not in by_statement["Another thing."]
    assert len(export.conflicts) == 1 and "confirm then deny" in export.conflicts[0]
    assert "kept deny" in export.conflicts[0]


def test_feedback_export_cli_writes_rows_the_training_loader_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = db_url(tmp_path)
    store = FeedbackStore(url)
    for i, label in enumerate(LABELS * 2):
        store.add(Correction(f"Statement {i} by the ministry.", f"Event {i} happened.", label, speaker="X"))
    store.add(Correction("Statement 0 by the ministry.", "Event 0 happened.", "none"))
    out = tmp_path / "out" / "corrections.jsonl"
    code = main(["feedback", "export", "--db", url, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "wrote 10 rows" in printed and "from 11 corrections" in printed
    assert "conflict: 'Statement 0 by the ministry.'" in printed
    examples = load_examples([out])
    assert len(examples) == 10 and check_examples(examples)["ok"]
    assert {e.statement: e.label for e in examples}["Statement 0 by the ministry."] == "none"


def test_feedback_export_cli_says_when_there_is_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["feedback", "export", "--db", db_url(tmp_path), "--out", str(tmp_path / "x.jsonl")])
    assert code == 2
    assert "holds no feedback yet" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
