"""The dashboard served over real HTTP: `WebServer` in-process, `pmo-sync dashboard` and
`pmo-sync serve` as processes; authentication, GET/HEAD only, the security headers, and
the token never in the output or the logs."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from flask import Blueprint
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine
from werkzeug.security import generate_password_hash

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.auth import DashboardAuth
from pmo_sync.dashboard.security import CONTENT_SECURITY_POLICY
from pmo_sync.dashboard.server import WebServer
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.service.http import StatusServer, status_blueprint
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.kpis import read_kpi_values

from .conftest import SandboxStore

PMO_SYNC = Path(sys.executable).with_name("pmo-sync")
TOKEN = "dashboard-token-7c2e55"
PASSWORD = "correct horse battery"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CHALLENGE = 'Basic realm="pmo-sync", charset="UTF-8"'
PORTFOLIO_TITLE = b"<title>Portfolio \xc2\xb7 pmo-sync</title>"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _request(
    url: str, *, method: str = "GET", authorization: str | None = None, data: bytes | None = None
) -> Answer:
    headers = {"Authorization": authorization} if authorization else {}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return Answer(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read())


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _team_names(engine: Engine) -> list[str]:
    return sorted({v.scope_key for v in read_kpi_values(engine, scopes=["team"])})


# -- WebServer in-process, on a tiny migrated store -----------------------------------------


@pytest.fixture
def tiny_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite store, read through an engine that can only read."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    writer = make_engine(url)
    upgrade(writer)
    writer.dispose()
    engine = make_engine(url, read_only=True)
    yield engine
    engine.dispose()


def _ready(connector: str | None) -> tuple[bool, dict[str, object]]:
    if connector == "nobody":
        raise KeyError(connector)
    return connector != "late", {"connector": connector, "ready": connector != "late"}


def _probes() -> list[Blueprint]:
    return [
        status_blueprint(alive=lambda: True, ready=_ready, metrics=lambda: b"pmo_sync_up 1.0\n")
    ]


@pytest.fixture
def guarded(tiny_engine: Engine) -> Iterator[str]:
    """The pages behind a token and a users file, the probes beside them; its base URL."""
    auth = DashboardAuth(token=TOKEN, users={"ana": generate_password_hash(PASSWORD)})
    app = create_app(tiny_engine, auth=auth, extra=_probes())
    server = WebServer(app, "127.0.0.1", 0)
    server.start()
    host, port = server.address
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_the_probes_answer_without_credentials_as_before(guarded: str) -> None:
    healthz = _request(f"{guarded}/healthz")
    assert (healthz.status, healthz.headers["Content-Type"], healthz.body) == (
        200,
        "text/plain",
        b"ok\n",
    )
    ready = _request(f"{guarded}/readyz")
    assert (ready.status, ready.headers["Content-Type"]) == (200, "application/json")
    assert json.loads(ready.body) == {"connector": None, "ready": True}
    late = _request(f"{guarded}/readyz?connector=late")
    assert (late.status, json.loads(late.body)) == (503, {"connector": "late", "ready": False})
    nobody = _request(f"{guarded}/readyz?connector=nobody")
    assert (nobody.status, nobody.body) == (404, b"no connector 'nobody'\n")
    metrics = _request(f"{guarded}/metrics")
    assert (metrics.status, metrics.headers["Content-Type"], metrics.body) == (
        200,
        CONTENT_TYPE_LATEST,
        b"pmo_sync_up 1.0\n",
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        _basic("ana", "wrong horse"),
        _basic("bo", PASSWORD),
        _basic("ana", ""),
        f"Token {TOKEN}",
        "Basic not-base64!",
    ],
)
def test_a_missing_or_wrong_credential_is_401_with_a_basic_challenge(
    guarded: str, authorization: str | None
) -> None:
    for path in ("/", "/static/plotly.min.js", "/no-such-page"):
        answer = _request(f"{guarded}{path}", authorization=authorization)
        assert answer.status == 401, path
        assert answer.headers["WWW-Authenticate"] == CHALLENGE
        assert answer.body == b"authentication required\n"
        assert TOKEN.encode() not in answer.body


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}", _basic("anyone", TOKEN), _basic("ana", PASSWORD)],
    ids=["bearer-token", "basic-with-the-token", "users-file-user"],
)
def test_the_token_or_a_users_password_opens_the_pages(guarded: str, authorization: str) -> None:
    page = _request(f"{guarded}/", authorization=authorization)
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert PORTFOLIO_TITLE in page.body
    assert TOKEN.encode() not in page.body
    script = _request(f"{guarded}/static/plotly.min.js", authorization=authorization)
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    head = _request(f"{guarded}/", method="HEAD", authorization=authorization)
    assert (head.status, head.body) == (200, b"")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/healthz", "/metrics"])
def test_only_get_and_head_are_answered(guarded: str, method: str, path: str) -> None:
    answer = _request(
        f"{guarded}{path}", method=method, authorization=f"Bearer {TOKEN}", data=b"x=1"
    )
    assert answer.status == 405
    assert answer.headers["Allow"] == "GET, HEAD"


def test_every_response_carries_the_security_headers(guarded: str) -> None:
    answers = {
        "page": _request(f"{guarded}/", authorization=f"Bearer {TOKEN}"),
        "401": _request(f"{guarded}/"),
        "404": _request(f"{guarded}/no-such-page", authorization=f"Bearer {TOKEN}"),
        "405": _request(f"{guarded}/", method="POST", data=b""),
        "healthz": _request(f"{guarded}/healthz"),
        "metrics": _request(f"{guarded}/metrics"),
    }
    assert answers["404"].status == 404
    for name, answer in answers.items():
        for header, value in SECURITY_HEADERS.items():
            assert answer.headers.get(header) == value, (name, header)
        assert answer.headers["Server"] == "pmo-sync", name
        assert answer.headers["Cache-Control"] == "private, no-store", name


def test_on_loopback_with_no_authentication_the_pages_are_open(tiny_engine: Engine) -> None:
    server = WebServer(create_app(tiny_engine, extra=_probes()), "127.0.0.1", 0)
    server.start()
    try:
        page = _request("http://{}:{}/".format(*server.address))
    finally:
        server.stop()
    assert page.status == 200
    assert PORTFOLIO_TITLE in page.body


def test_the_probes_alone_serve_no_page() -> None:
    """`PMO_SYNC_DASHBOARD=off` and the soak bench: the three endpoints and nothing else."""
    server = StatusServer(
        "127.0.0.1", 0, alive=lambda: False, ready=_ready, metrics=lambda: b"pmo_sync_up 1.0\n"
    )
    server.start()
    base = "http://{}:{}".format(*server.address)
    try:
        page = _request(f"{base}/")
        healthz = _request(f"{base}/healthz")
        post = _request(f"{base}/healthz", method="POST", data=b"")
    finally:
        server.stop()
    assert (page.status, page.body) == (404, b"not found: /healthz, /readyz, /metrics\n")
    assert (healthz.status, healthz.body) == (503, b"stopping\n")
    assert (post.status, post.headers["Allow"]) == (405, "GET, HEAD")
    for answer in (page, healthz, post):
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_a_real_server_on_the_sandboxes_store_shows_every_team(sandbox_engine: Engine) -> None:
    server = WebServer(create_app(sandbox_engine, auth=DashboardAuth(token=TOKEN)), "127.0.0.1", 0)
    server.start()
    try:
        page = _request("http://{}:{}/".format(*server.address), authorization=f"Bearer {TOKEN}")
    finally:
        server.stop()
    assert page.status == 200
    teams = _team_names(sandbox_engine)
    assert len(teams) >= 3
    text = page.body.decode()
    for team in teams:
        assert html.escape(team) in text, team


# -- the commands as processes -----------------------------------------------------------------


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_SYNC_")}
    env.update(
        PMO_SYNC_HTTP_HOST="127.0.0.1",
        PMO_SYNC_HTTP_PORT="0",
        PMO_SYNC_LOG_FORMAT="json",
        PMO_SYNC_LOG_LEVEL="DEBUG",
        PMO_SYNC_CACHE_DIR=str(tmp_path / "cache"),
        **settings,
    )
    return env


def _start(
    tmp_path: Path, args: list[str], env: dict[str, str], log: IO[str]
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(PMO_SYNC), "--debug", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        process.wait(10)
    return line


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM; the exit code and what it printed after its first line."""
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)
    return process.returncode, rest


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Every process a test starts; killed at teardown if the test left one running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_the_dashboard_command_serves_the_store_until_sigterm_and_never_shows_the_token(
    sandbox_store: SandboxStore,
    sandbox_engine: Engine,
    tmp_path: Path,
    processes: list[subprocess.Popen[str]],
) -> None:
    env = _env(tmp_path, PMO_SYNC_DATABASE_URL=sandbox_store.url, PMO_SYNC_DASHBOARD_TOKEN=TOKEN)
    log_path = tmp_path / "dashboard.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = _start(tmp_path, ["dashboard", "--port", "0"], env, log)
        processes.append(process)
        line = _first_line(process)
        found = re.fullmatch(r"pmo-sync dashboard: http://127\.0\.0\.1:(\d+)/\n", line)
        assert found, (line, log_path.read_text())
        url = f"http://127.0.0.1:{found.group(1)}/"
        page = _request(url, authorization=f"Bearer {TOKEN}")
        refused = _request(url)
        wrong = _request(url, authorization=_basic("pmo", "not-the-token"))
        healthz = _request(f"{url}healthz")
        code, rest = _stop(process)
    assert page.status == 200
    for team in _team_names(sandbox_engine):
        assert html.escape(team) in page.body.decode(), team
    # no configuration shown: neither where the store is nor where the configs are
    assert str(sandbox_store.directory).encode() not in page.body
    assert (refused.status, wrong.status) == (401, 401)
    # open: the image's healthcheck asks any pmo-sync process for it
    assert (healthz.status, healthz.body) == (200, b"ok\n")
    assert code == 0
    assert rest == ""
    logs = log_path.read_text(encoding="utf-8")
    assert '"event": "http_listening"' in logs
    assert TOKEN not in line + rest + logs


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=3) as sandbox:
        yield sandbox


def _jira_config(config_dir: Path, jira: JiraSandbox) -> None:
    (config_dir / "connectors").mkdir(parents=True)
    (config_dir / "connectors" / "sandbox-jira.yaml").write_text(
        f"name: sandbox-jira\nkind: jira\nurl: {jira.url}\nemail: {jira.email}\n"
        "token: ${PMO_SYNC_TEST_JIRA_TOKEN}\njql: project in (ABC, DEF, GHI)\n"
        "max_retries: 1\nmax_retry_wait_seconds: 1\ntimeout_seconds: 5\n"
        "schedule:\n  interval_seconds: 3600\n",
        encoding="utf-8",
    )


@pytest.mark.slow
def test_serve_serves_the_pages_beside_the_probes_on_one_port(
    jira: JiraSandbox, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    _jira_config(tmp_path / "config", jira)
    env = _env(
        tmp_path,
        PMO_SYNC_DATABASE_URL=f"sqlite:///{tmp_path / 'store.sqlite3'}",
        PMO_SYNC_CONFIG_DIR=str(tmp_path / "config"),
        PMO_SYNC_DASHBOARD_TOKEN=TOKEN,
        PMO_SYNC_TEST_JIRA_TOKEN=jira.token,
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = _start(tmp_path, ["serve"], env, log)
        processes.append(process)
        line = _first_line(process)
        found = re.fullmatch(
            r"pmo-sync serve: 1 scheduled connector\(s\); http://127\.0\.0\.1:(\d+)/readyz; "
            r"dashboard http://127\.0\.0\.1:\1/\n",
            line,
        )
        assert found, (line, log_path.read_text())
        base = f"http://127.0.0.1:{found.group(1)}"
        page = _request(f"{base}/", authorization=_basic("pmo", TOKEN))
        refused = _request(f"{base}/")
        healthz = _request(f"{base}/healthz")
        metrics = _request(f"{base}/metrics")
        code, rest = _stop(process)
    assert page.status == 200 and PORTFOLIO_TITLE in page.body
    assert refused.status == 401
    assert (healthz.status, healthz.body) == (200, b"ok\n")
    assert metrics.status == 200 and b"pmo_sync_" in metrics.body
    assert code == 0
    logs = log_path.read_text(encoding="utf-8")
    assert TOKEN not in line + rest + logs
