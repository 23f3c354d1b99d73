from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS
from stancewire.serve.app import create_app
from stancewire.serve.settings import Settings

TARGETS = ["North Korea exported arms to Russia.", "Russia is buying weapons from North Korea."]


@pytest.fixture
def client(tiny_engine: StanceEngine) -> Iterator[TestClient]:
    settings = Settings(model_dir="unused", max_text_chars=20_000, max_targets=3, max_pairs=4)
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        yield c


def test_app_health_ready_and_model(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["model_version"] == "tiny-test"
    info = client.get("/v1/model").json()
    assert info["labels"] == list(LABELS) and info["version"] == "tiny-test"


def test_app_stance_on_seed_article(client: TestClient, seed_text: str) -> None:
    r = client.post("/v1/stance", json={"text": seed_text, "targets": TARGETS})
    assert r.status_code == 200
    body = r.json()
    assert body["targets"] == TARGETS and body["model_version"] == "tiny-test"
    denial = [s for s in body["statements"] if "never exported arms" in s["text"]]
    assert denial and denial[0]["kind"] == "direct" and denial[0]["speaker"]
    for st in body["statements"]:
        assert seed_text[st["start"] : st["end"]]
        assert [x["target"] for x in st["stances"]] == TARGETS
        for x in st["stances"]:
            assert set(x["probs"]) == set(LABELS) and abs(sum(x["probs"].values()) - 1) < 1e-4
    # every attributed statement belongs to exactly one speaker group, under its canonical name
    grouped = sorted(i for sp in body["speakers"] for i in sp["statements"])
    assert grouped == [i for i, st in enumerate(body["statements"]) if st["speaker"]]
    for sp in body["speakers"]:
        assert all(body["statements"][i]["speaker"] == sp["name"] for i in sp["statements"])
        mentions = {body["statements"][i]["speaker_mention"] for i in sp["statements"]}
        assert set(sp["mentions"]) == mentions


def test_app_classify_pairs(client: TestClient) -> None:
    pairs = [
        {"statement": "We never did it.", "target": "X did it.", "speaker": "X"},
        {"statement": "No.", "target": "Y."},
    ]
    r = client.post("/v1/classify", json={"pairs": pairs, "abstain_below": 1.0})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert len(preds) == 2 and all(p["label"] in LABELS and p["abstained"] for p in preds)


@pytest.mark.parametrize(
    ("route", "body", "status", "needle"),
    [
        ("/v1/stance", {"text": "x" * 20_001, "targets": ["T."]}, 413, "limit is 20000"),
        ("/v1/stance", {"text": "He said no.", "targets": ["a", "b", "c", "d"]}, 413, "4 targets"),
        ("/v1/stance", {"text": "He said no.", "targets": []}, 422, "targets is empty"),
        ("/v1/stance", {"text": "   ", "targets": ["T."]}, 422, "text is empty"),
        ("/v1/stance", {"text": "He said no.", "targets": [" "]}, 422, "targets[0] is empty"),
        ("/v1/stance", {"targets": ["T."]}, 422, "text"),
        ("/v1/classify", {"pairs": []}, 422, "pairs is empty"),
        ("/v1/classify", {"pairs": [{"statement": "s", "target": "t"}] * 5}, 413, "5 pairs"),
        ("/v1/classify", {"pairs": [{"statement": " ", "target": "t"}]}, 422, "pairs[0]"),
    ],
)
def test_app_bad_input_gets_4xx_with_message(
    client: TestClient, route: str, body: dict, status: int, needle: str
) -> None:
    r = client.post(route, json=body)
    assert r.status_code == status
    assert needle in str(r.json()["detail"])


def test_app_refuses_to_start_without_a_model(tmp_path) -> None:
    from stancewire.model.errors import ModelLoadError

    app = create_app(Settings(model_dir=str(tmp_path / "missing")))
    with pytest.raises(ModelLoadError, match="does not exist"), TestClient(app):
        pass


def test_app_readyz_is_503_before_load() -> None:
    app = create_app(Settings(model_dir="unused"))
    c = TestClient(app)  # used without its context manager: lifespan has not run
    assert c.get("/healthz").status_code == 200
    assert c.get("/readyz").status_code == 503


def test_app_api_keys_guard_v1_routes_only(tiny_engine, tiny_model_dir, tmp_path) -> None:
    keyfile = tmp_path / "keys.txt"
    keyfile.write_text("# ops keys\nfile-key\n")
    settings = Settings(model_dir=str(tiny_model_dir), api_keys="k1, k2", api_keys_file=str(keyfile))
    body = {"pairs": [{"statement": "We never did it.", "target": "X did it."}]}
    with TestClient(create_app(settings, engine=tiny_engine)) as client:
        assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200
        missing = client.post("/v1/classify", json=body)
        assert missing.status_code == 401 and "Bearer" in missing.json()["detail"]
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/v1/classify", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        for key in ("k1", "k2", "file-key"):
            ok = client.post("/v1/classify", json=body, headers={"Authorization": f"Bearer {key}"})
            assert ok.status_code == 200


def test_app_openapi_carries_the_seed_example(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "never exported arms" in schema["StanceRequest"]["examples"][0]["text"]
