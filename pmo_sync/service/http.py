"""The service's HTTP endpoints: `/healthz`, `/readyz`, `/metrics` (stdlib server, one thread).

Bound to 127.0.0.1 unless configured otherwise: metrics name teams and
connectors, which is not for the whole network by default. `/readyz?connector=NAME`
judges one connector only (404 for a name the service does not run).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import structlog
from prometheus_client import CONTENT_TYPE_LATEST

__all__ = ["StatusServer"]

log = structlog.get_logger(__name__)

Readiness = Callable[[str | None], tuple[bool, dict[str, Any]]]


class StatusServer:
    """Serves the three endpoints from callables; `start()` runs it on a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        alive: Callable[[], bool],
        ready: Readiness,
        metrics: Callable[[], bytes],
    ) -> None:
        handler = _handler(alive, ready, metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pmo-sync-http", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        log.info("http_listening", host=self.address[0], port=self.address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(
    alive: Callable[[], bool], ready: Readiness, metrics: Callable[[], bytes]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pmo-sync"

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            try:
                if path == "/healthz":
                    ok = alive()
                    self._send(200 if ok else 503, "text/plain", b"ok\n" if ok else b"stopping\n")
                elif path == "/readyz":
                    wanted = parse_qs(query).get("connector", [None])[-1]
                    try:
                        ok, body = ready(wanted)
                    except KeyError:
                        self._send(404, "text/plain", f"no connector {wanted!r}\n".encode())
                        return
                    data = json.dumps(body, indent=2, default=str).encode() + b"\n"
                    self._send(200 if ok else 503, "application/json", data)
                elif path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, metrics())
                else:
                    self._send(404, "text/plain", b"not found: /healthz, /readyz, /metrics\n")
            except Exception as exc:  # an endpoint must answer, never kill the server
                log.exception("http_endpoint_failed", path=path)
                self._send(500, "text/plain", f"{type(exc).__name__}\n".encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Scrapes every few seconds are not news: no access log."""

    return Handler
