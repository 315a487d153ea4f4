"""Authentication as a browser meets it: the dashboard served with a token asks for it.

A browser sends no header of its own: it answers the 401's Basic challenge
with what the reader types (here: credentials in the URL, which Chromium
sends as Basic). No credentials or a wrong token is a 401 and no page; the
token as the password shows the portfolio, drawn.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.auth import DashboardAuth
from pmo_sync.dashboard.server import WebServer
from pmo_sync.store.engine import make_engine

from ..dashboard_support import SandboxStore
from .browsing import Browser

TOKEN = "dash-board-token-7f3a"
_STATUS = "return performance.getEntriesByType('navigation')[0].responseStatus;"
_PLOTS = "return document.querySelectorAll('.plot, h1').length;"


@pytest.fixture
def guarded(sandbox_store: SandboxStore) -> Iterator[tuple[str, int]]:
    engine: Engine = make_engine(sandbox_store.url, read_only=True)
    server = WebServer(create_app(engine, auth=DashboardAuth(token=TOKEN)), "127.0.0.1", 0)
    server.start()
    try:
        yield server.address
    finally:
        server.stop()
        engine.dispose()


def test_a_missing_or_wrong_token_is_refused_and_the_right_one_shows_the_page(
    browser: Browser, guarded: tuple[str, int]
) -> None:
    host, port = guarded
    browser.driver.get(f"http://{host}:{port}/")
    assert (browser.script(_STATUS), browser.script(_PLOTS)) == (401, 0)
    browser.driver.get(f"http://pmo:not-{TOKEN}@{host}:{port}/")
    assert (browser.script(_STATUS), browser.script(_PLOTS)) == (401, 0)
    browser.console()  # the two 401s are the console's errors so far, by design
    charts = browser.open(f"http://pmo:{TOKEN}@{host}:{port}/")
    assert browser.script(_STATUS) == 200
    assert charts and all(c.series == c.expected_series == 1 for c in charts)
    assert browser.script("return document.querySelector('h1').textContent") == "Portfolio"
