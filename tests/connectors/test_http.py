"""The shared HTTP policy: retries honour Retry-After, every attempt is counted, HTML is refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors.errors import UnexpectedResponseError
from connectors.http import CallStats, install_http_policy


class ScriptedServer:
    """Answers each request with the next scripted (status, headers, body); then 200 JSON."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.times: list[float] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.times.append(time.monotonic())
                if self.command == "POST":
                    self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers, body = (
                    server.script.pop(0) if server.script else (200, {}, b'{"ok": true}')
                )
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def session_with(stats: CallStats, retries: int = 3, methods: frozenset[str] | None = None):
    session = requests.Session()
    install_http_policy(
        session,
        stats,
        timeout=5,
        max_retries=retries,
        max_retry_wait=10,
        backoff_factor=0.01,
        **({"retry_methods": methods} if methods else {}),
    )
    return session


def test_429_waits_for_retry_after_then_succeeds(server: ScriptedServer) -> None:
    """One 429 with Retry-After: 1 → the second attempt comes ≥ 1 s later; 2 calls, 1 wait."""
    server.script = [(429, {"Retry-After": "1"}, b'{"errorMessages": ["slow down"]}')]
    stats = CallStats()
    response = session_with(stats).get(server.url + "/rest/api/2/myself")
    assert response.status_code == 200
    assert server.times[1] - server.times[0] >= 1.0
    assert (stats.api_calls, stats.retries, stats.rate_limit_waits) == (2, 1, 1)
    assert stats.rate_limit_wait_seconds >= 1.0


def test_429_is_retried_even_for_post(server: ScriptedServer) -> None:
    """A 429 means the request was not processed, so a POST is safe to send again."""
    server.script = [(429, {"Retry-After": "0"}, b"{}")]
    stats = CallStats()
    response = session_with(stats, methods=frozenset({"GET"})).post(server.url + "/x", json={})
    assert response.status_code == 200
    assert stats.api_calls == 2


def test_500_on_post_is_not_retried_unless_declared_read_only(server: ScriptedServer) -> None:
    server.script = [(500, {}, b"{}")]
    stats = CallStats()
    response = session_with(stats, methods=frozenset({"GET"})).post(server.url + "/x", json={})
    assert response.status_code == 500
    assert (stats.api_calls, stats.retries) == (1, 0)


def test_5xx_retries_with_backoff_until_exhausted(server: ScriptedServer) -> None:
    """Four 503s with 3 retries: 4 attempts, and the last 503 reaches the caller."""
    server.script = [(503, {}, b"{}")] * 4
    stats = CallStats()
    response = session_with(stats, retries=3).get(server.url + "/x")
    assert response.status_code == 503
    assert len(server.times) == 4
    assert (stats.api_calls, stats.retries) == (4, 3)


def test_html_page_instead_of_json_is_a_clear_error(server: ScriptedServer) -> None:
    page = b"<!DOCTYPE html><html><head><title>Sign in to your account</title></head></html>"
    server.script = [(200, {"Content-Type": "text/html; charset=utf-8"}, page)]
    stats = CallStats()
    with pytest.raises(UnexpectedResponseError) as raised:
        session_with(stats).get(server.url + "/rest/api/2/search/jql?jql=x&token=abc")
    message = str(raised.value)
    assert "GET " in message and "/rest/api/2/search/jql answered HTTP 200" in message
    assert "'Sign in to your account'" in message
    assert "token=abc" not in message  # the query string never reaches the message
    assert stats.api_calls == 1


def test_html_without_content_type_is_recognised_by_its_body(server: ScriptedServer) -> None:
    server.script = [(200, {"Content-Type": "application/octet-stream"}, b"<html><body>x")]
    with pytest.raises(UnexpectedResponseError, match="'untitled'"):
        session_with(CallStats()).get(server.url + "/x")


def test_json_passes_untouched(server: ScriptedServer) -> None:
    server.script = [(200, {}, json.dumps({"a": 1}).encode())]
    assert session_with(CallStats()).get(server.url + "/x").json() == {"a": 1}


def test_connection_refused_is_one_attempt_not_retried() -> None:
    """Nothing listens: the one attempt is counted, and not retried (nothing was reached)."""
    stats = CallStats()
    with pytest.raises(requests.exceptions.ConnectionError):
        session_with(stats, retries=2).get("http://127.0.0.1:9/x")
    assert (stats.api_calls, stats.retries) == (1, 0)
