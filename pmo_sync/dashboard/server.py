"""The threaded WSGI server `serve` and `dashboard` run the application on.

Werkzeug's `make_server` (Flask's own dependency) is a threaded server on the
standard library's `http.server`, as `/healthz` was served before: a PMO's
handful of readers and a metrics scraper need nothing more, and it stops
cleanly from another thread (`shutdown`), which the service's signal handling
relies on. `start()` runs it on a daemon thread.
"""

from __future__ import annotations

import threading

import structlog
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["WebServer"]

log = structlog.get_logger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def version_string(self) -> str:
        """`Server: pmo-sync`, not the framework's and Python's versions."""
        return "pmo-sync"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Scrapes every few seconds are not news: no access log (and no URL in the log)."""


class WebServer:
    def __init__(self, app: Flask, host: str, port: int) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
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
