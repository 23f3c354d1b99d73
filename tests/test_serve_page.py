"""The page at ``GET /``: its files, and end-to-end tests in headless Chromium.

The browser tests drive Debian's ``/usr/bin/chromium`` through Playwright (its bundled driver, never
a downloaded browser) against the app served by uvicorn on loopback in a background thread. With
the tiny random model they check mechanics, not quality: every highlight carries the label the API
returned, switching the target recolours, corrections reach the feedback database, API errors are
shown. One slow test checks the real default model on the seed article's denial.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from stancewire.model.engine import StanceEngine
from stancewire.model.labels import LABELS
from stancewire.serve.app import create_app
from stancewire.serve.feedback import FeedbackStore
from stancewire.serve.page import STATIC
from stancewire.serve.settings import Settings

from .conftest import REPO, SEED_ARTICLE

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "tests" / "artifacts"
TARGETS = ["North Korea exported arms to Russia.", "North Korea will conduct a nuclear test."]
MAX_TEXT = 20_000
WAIT_MS = 20_000
DENIAL = "We have never exported arms or ammunition to Russia before"


# ---- the files, without a browser ---------------------------------------------------------------


def test_page_index_and_its_files_are_served_without_a_key(tiny_engine: StanceEngine) -> None:
    settings = Settings(model_dir="unused", api_keys="secret")
    with TestClient(create_app(settings, engine=tiny_engine)) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "static/page.js" in page.text and "static/page.css" in page.text
        for name in ("page.js", "page.css", "seed_article.txt"):
            assert client.get(f"/static/{name}").status_code == 200, name
        assert client.post("/v1/stance", json={"text": "x", "targets": ["y"]}).status_code == 401


def test_page_files_load_nothing_from_another_host() -> None:
    for path in STATIC.iterdir():
        if path.suffix in (".html", ".css", ".js"):
            text = path.read_text(encoding="utf-8")
            assert "http://" not in text and "https://" not in text and "//cdn" not in text, path.name


def test_page_seed_article_copy_matches_seeds() -> None:
    # the installed package has no seeds/ folder, so the page ships a copy; it must not drift
    assert (STATIC / "seed_article.txt").read_bytes() == SEED_ARTICLE.read_bytes()


# ---- a live server and a browser ----------------------------------------------------------------


@dataclass
class Live:
    """A running server: its base URL and the feedback database it writes to."""

    url: str
    feedback_url: str


def serve_in_thread(app: Any) -> tuple[str, Callable[[], None]]:
    """Run ``app`` with uvicorn on a free loopback port; return its URL and a stop function."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; handing uvicorn the socket avoids a race
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    # wait on the server's own flag (lifespan done, socket listening), not on a fixed delay
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start; see the log above")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

    return f"http://127.0.0.1:{port}", stop


def live_server(engine: StanceEngine, tmp: Path, **settings: Any) -> Iterator[Live]:
    feedback_url = f"sqlite:///{tmp / 'feedback.sqlite3'}"
    app = create_app(
        Settings(model_dir="unused", feedback_db_url=feedback_url, max_text_chars=MAX_TEXT, **settings),
        engine=engine,
    )
    url, stop = serve_in_thread(app)
    try:
        yield Live(url, feedback_url)
    finally:
        stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) to run")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live(_tiny_engine: StanceEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from live_server(copy.deepcopy(_tiny_engine), tmp_path_factory.mktemp("live"))


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(live.url + "/")
    tab.wait_for_selector("body[data-ready=true]")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def analyse(tab: Any) -> None:
    tab.click("#analyse")
    tab.wait_for_selector("#result:not([hidden]) mark.stmt")


def target_values(tab: Any) -> list[str]:
    return tab.eval_on_selector_all("#targets input.target", "inputs => inputs.map(i => i.value)")


def page_payload(tab: Any) -> dict[str, Any]:
    """The request the page sends for what is in its form now."""
    return {
        "text": tab.input_value("#article"),
        "targets": [t for t in target_values(tab) if t.strip()],
        "abstain_below": float(tab.input_value("#abstain")),
    }


def marks(tab: Any) -> list[dict[str, Any]]:
    return tab.eval_on_selector_all(
        "mark.stmt",
        """ms => ms.map(m => ({index: Number(m.dataset.index), classes: [...m.classList],
            uncertain: m.dataset.uncertain === "true",
            text: [...m.childNodes].filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.data).join(""),
            colour: getComputedStyle(m).backgroundColor}))""",
    )


def legend_colours(tab: Any) -> dict[str, str]:
    return tab.eval_on_selector_all(
        "#legend li[class*=label-]",
        """ls => Object.fromEntries(ls.map(l => [l.className.match(/label-(\\w+)/)[1],
            getComputedStyle(l).backgroundColor]))""",
    )


def assert_marks_follow(tab: Any, expected: list[dict[str, Any]]) -> None:
    """Each highlight's class, colour and uncertainty are those of the API's answer for it."""
    colours = legend_colours(tab)
    assert set(colours) == set(LABELS)
    shown = marks(tab)
    assert shown
    for mark in shown:
        stance = expected[mark["index"]]
        assert f"label-{stance['label']}" in mark["classes"], (mark, stance)
        assert [c for c in mark["classes"] if c.startswith("label-")] == [f"label-{stance['label']}"]
        assert mark["colour"] == colours[stance["label"]]
        assert mark["uncertain"] == stance["abstained"] == ("uncertain" in mark["classes"])


# ---- the tests in the browser -------------------------------------------------------------------


def test_page_analyses_the_seed_article_and_colours_by_the_selected_target(page: Any, live: Live) -> None:
    assert page.input_value("#article") == SEED_ARTICLE.read_text(encoding="utf-8")
    assert target_values(page) == TARGETS
    analyse(page)
    truth = httpx.post(live.url + "/v1/stance", json=page_payload(page), timeout=60).json()
    statements = truth["statements"]
    assert len(page.locator("mark.stmt").all()) == len(statements) > 1
    shown = marks(page)
    # every statement is highlighted in place: the marked text is the API's span of the article
    chars = list(SEED_ARTICLE.read_text(encoding="utf-8"))
    for mark in shown:
        st = statements[mark["index"]]
        assert mark["text"] == "".join(chars[st["start"] : st["end"]])
    assert_marks_follow(page, [s["stances"][0] for s in statements])
    page.get_by_role("button", name=TARGETS[1]).click()
    assert page.get_by_role("button", name=TARGETS[1]).get_attribute("aria-pressed") == "true"
    assert_marks_follow(page, [s["stances"][1] for s in statements])
    # the speaker table has one row per speaker (plus one for unattributed statements) and a column per target
    rows = page.locator("#speaker-table tbody tr").count()
    unattributed = any(not s["speaker"] for s in statements)
    assert rows == len(truth["speakers"]) + unattributed
    assert page.locator("#speaker-table thead th").all_inner_texts()[1:] == TARGETS
    page.locator("mark.stmt").first.click()
    assert page.locator("#details .bars").count() == len(TARGETS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-tiny-model.png"), full_page=True)


def test_page_switching_target_recolours_every_changed_statement(page: Any) -> None:
    # The tiny random model may give both targets the same labels; rewrite the second target's
    # labels in the real answer so that switching must change every highlight.
    def rotate(route: Any) -> None:
        answer = route.fetch().json()
        for st in answer["statements"]:
            second = st["stances"][1]
            second["label"] = LABELS[(LABELS.index(st["stances"][0]["label"]) + 1) % len(LABELS)]
            second["abstained"] = not st["stances"][0]["abstained"]
        route.fulfill(json=answer)

    page.route("**/v1/stance", rotate)
    analyse(page)
    before = {m["index"]: m["classes"] for m in marks(page)}
    page.get_by_role("button", name=TARGETS[1]).click()
    after = {m["index"]: m["classes"] for m in marks(page)}
    assert before.keys() == after.keys()
    for i in before:
        old = next(c for c in before[i] if c.startswith("label-"))
        new = next(c for c in after[i] if c.startswith("label-"))
        assert LABELS.index(new.removeprefix("label-")) == (LABELS.index(old.removeprefix("label-")) + 1) % 5
        assert ("uncertain" in before[i]) != ("uncertain" in after[i])


def test_page_correction_from_the_picker_lands_in_the_feedback_database(page: Any, live: Live) -> None:
    analyse(page)
    mark = page.locator("mark.stmt").first
    index = int(mark.get_attribute("data-index"))
    predicted = mark.get_attribute("data-label")
    mark.click()
    block = page.locator("#details section.stance[data-target='0']")
    block.get_by_role("button", name="This is wrong").click()
    right = next(label for label in LABELS if label != predicted)
    assert block.locator(f"input[value={predicted}]").is_disabled()
    block.locator(f"input[value={right}]").check()
    block.get_by_role("button", name="Send correction").click()
    status = block.locator(".picker-status.ok")
    status.wait_for()
    stored_id = int(status.inner_text().split("#")[1].split()[0])
    statement = json.loads(page.evaluate("JSON.stringify(state.result.statements)"))[index]
    found = {c.id: c for c in FeedbackStore(live.feedback_url).corrections()}
    assert stored_id in found
    correction = found[stored_id]
    stored = (correction.statement, correction.target, correction.label)
    assert stored == (statement["text"], TARGETS[0], right)
    assert correction.model_version == "tiny-test" and correction.request_id


def test_page_shows_api_errors_as_messages(page: Any) -> None:
    removes = page.locator("#targets button.remove")
    while removes.count():
        removes.first.click()
    page.click("#analyse")
    message = page.locator("#message.error")
    message.wait_for()
    assert "targets is empty" in message.inner_text()

    page.click("#add-target")
    page.locator("#targets input.target").first.fill(TARGETS[0])
    page.fill("#article", "x" * (MAX_TEXT + 1))
    page.click("#analyse")
    page.wait_for_function("document.getElementById('message').textContent.includes('limit is')")
    assert f"limit is {MAX_TEXT}" in message.inner_text() and "Shorten it" in message.inner_text()

    # a busy server is hard to produce on demand; answer the request the way the batcher's 503 does
    page.route(
        "**/v1/stance",
        lambda route: route.fulfill(
            status=503,
            headers={"Retry-After": "3", "Content-Type": "application/json"},
            body=json.dumps({"detail": "more than 4096 pairs are waiting"}),
        ),
    )
    page.fill("#article", "He said no.")
    page.click("#analyse")
    page.wait_for_function("document.getElementById('message').textContent.includes('busy')")
    assert "try again in 3 s" in message.inner_text().lower()
    assert page.locator("#analyse").is_enabled()


def test_page_asks_for_the_api_key_and_keeps_it_for_the_tab(
    browser: Any, _tiny_engine: StanceEngine, tmp_path: Path
) -> None:
    for server in live_server(copy.deepcopy(_tiny_engine), tmp_path, api_keys="s3cret"):
        context = browser.new_context()
        tab = context.new_page()
        tab.set_default_timeout(WAIT_MS)
        tab.goto(server.url + "/")
        tab.wait_for_selector("body[data-ready=true]")
        tab.click("#analyse")
        tab.locator("#key-panel").wait_for()
        assert "needs an API key" in tab.locator("#message").inner_text()
        tab.fill("#api-key", "wrong")
        tab.click("#key-form button[type=submit]")
        tab.click("#analyse")
        tab.wait_for_function("document.getElementById('message').textContent.includes('did not accept')")
        tab.fill("#api-key", "s3cret")
        tab.click("#key-form button[type=submit]")
        assert tab.evaluate("sessionStorage.getItem('stancewire.apiKey')") == "s3cret"
        analyse(tab)
        assert tab.locator("#key-panel").is_hidden()
        context.close()


def test_page_fits_a_phone_screen(browser: Any, live: Live) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.goto(live.url + "/")
    tab.wait_for_selector("body[data-ready=true]")
    analyse(tab)
    tab.locator("mark.stmt").first.click()
    # nothing but the (scrollable) speaker table may be wider than the screen
    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # both boxes in one call: the page scrolls to the details after the click
    stacked = tab.evaluate(
        """() => document.getElementById("details").getBoundingClientRect().top >=
                 document.getElementById("highlighted").getBoundingClientRect().bottom"""
    )
    assert stacked  # one column on a phone, not side by side
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "page-tiny-model-phone.png"), full_page=True)
    context.close()


@pytest.mark.slow
def test_page_real_model_highlights_the_seed_denial_as_deny(
    browser: Any, default_model: Path, tmp_path: Path
) -> None:
    engine = StanceEngine.load(default_model, device="cpu")
    for server in live_server(engine, tmp_path):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        tab.goto(server.url + "/")
        tab.wait_for_selector("body[data-ready=true]")
        analyse(tab)
        denial = tab.locator("mark.stmt", has_text=DENIAL)
        assert denial.count() == 1
        assert denial.get_attribute("data-label") == "deny"
        assert "label-deny" in (denial.get_attribute("class") or "").split()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "page-default-model.png"), full_page=True)
        context.close()
