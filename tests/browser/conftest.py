"""The real-browser tests' fixtures: headless Chromium from the OS packages, the app served.

The browser and its driver are the machine's (`/usr/bin/chromium`,
`/usr/bin/chromedriver`, as `apt-get install chromium chromium-driver` puts
them): nothing is downloaded, Selenium Manager never runs (a Service path
skips it, and a call to it fails the session). Without them the tests skip
with the reason, unless PMO_SYNC_REQUIRE_BROWSER=1 (.ci/run sets it), which
turns the skip into a failure. One driver serves the whole session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.server import WebServer
from pmo_sync.store.engine import make_engine

from ..dashboard.scripted_portfolio import scripted_store
from ..dashboard_support import SANDBOX_DAY, SandboxStore, sandbox_engine, sandbox_store
from .browsing import Browser

__all__ = ["SANDBOX_DAY", "SandboxStore", "sandbox_engine", "sandbox_store", "scripted_store"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[1] / ".screenshots"
OPTIONS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def _missing_reason() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        return (
            f"no {' and no '.join(missing)}: install the OS packages "
            "(apt-get install chromium chromium-driver) to run the browser tests"
        )
    return None


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the session, with a fresh profile and its console captured."""
    reason = _missing_reason()
    if reason is not None:
        if os.environ.get("PMO_SYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (PMO_SYNC_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def _no_download(*args: object, **kwargs: object) -> dict[str, str]:
        raise AssertionError("Selenium Manager ran: the browser tests download nothing")

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for option in OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SeleniumManager, "binary_paths", _no_download)
        chrome = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture
def browser(driver: Any, request: pytest.FixtureRequest) -> Browser:
    """The session's driver, with the helper that loads a page and checks its charts; its
    screenshots go to tests/.screenshots/<test>.png."""
    return Browser(driver, SCREENSHOTS, request.node.name)


@pytest.fixture(scope="session")
def dashboard_url(sandbox_store: SandboxStore) -> Iterator[str]:
    """The dashboard served on loopback (a free port) over the sandboxes' store, read-only."""
    engine: Engine = make_engine(sandbox_store.url, read_only=True)
    server = WebServer(create_app(engine), "127.0.0.1", 0)
    server.start()
    host, port = server.address
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        engine.dispose()
