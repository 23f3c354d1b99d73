"""The page for people at ``GET /``: plain HTML, CSS and JavaScript shipped inside the package.

Nothing is fetched from another host (no CDN, no web fonts), so the page works offline and behind
a firewall. The seed article is a copy in ``static/`` because ``seeds/`` is not installed with the
package; ``tests/test_serve_page.py`` keeps the copy equal to ``seeds/article_000.txt``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
"""The page's files: index.html, page.css, page.js and seed_article.txt."""


def mount(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files under ``/static/`` (outside ``/v1/``: no API key needed)."""
    if not (STATIC / "index.html").is_file():
        # a broken install should say so at start-up, not with a 404 to the first visitor
        raise RuntimeError(
            f"{STATIC / 'index.html'} is missing: reinstall stancewire (package data 'static/*')"
        )

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The page: paste an article, see who said what and where they stand."""
        # no-cache: a page from an older install must not linger after an upgrade
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
