"""The service's HTTP endpoints: `/healthz`, `/readyz`, `/metrics`, as a Flask blueprint.

`serve` mounts the blueprint beside the dashboard's pages (one application,
one port: `pmo_sync.dashboard.create_app(..., extra=[blueprint])`); with the
dashboard off (`PMO_SYNC_DASHBOARD=off`), or for the soak bench,
`StatusServer` serves the endpoints alone. Bound to 127.0.0.1 unless
configured otherwise: metrics name teams and connectors, which is not for the
whole network by default. `/readyz?connector=NAME` judges one connector only
(404 for a name the service does not run). The three stay open without
authentication: probes and scrapers carry no credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog
from flask import Blueprint, Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response as BaseResponse

from pmo_sync.dashboard.security import add_security_headers
from pmo_sync.dashboard.server import WebServer

__all__ = ["PROBE_PATHS", "StatusServer", "probes_app", "status_blueprint"]

log = structlog.get_logger(__name__)

Readiness = Callable[[str | None], tuple[bool, dict[str, Any]]]
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_TEXT = "text/plain"  # as set, no charset appended: the bodies are ASCII


def status_blueprint(
    *, alive: Callable[[], bool], ready: Readiness, metrics: Callable[[], bytes]
) -> Blueprint:
    """The three endpoints, answering from the service's callables."""
    blueprint = Blueprint("status", __name__)

    def answering(endpoint: Callable[[], Response]) -> Callable[[], Response]:
        """An endpoint must answer, never take the server down: a failure is a logged 500."""

        def guarded() -> Response:
            try:
                return endpoint()
            except Exception as exc:
                log.exception("http_endpoint_failed", path=request.path)
                return Response(f"{type(exc).__name__}\n", 500, content_type=_TEXT)

        guarded.__name__ = endpoint.__name__
        return guarded

    @answering
    def healthz() -> Response:
        ok = alive()
        return Response(b"ok\n" if ok else b"stopping\n", 200 if ok else 503, content_type=_TEXT)

    @answering
    def readyz() -> Response:
        wanted = [name for name in request.args.getlist("connector") if name]  # as parse_qs
        connector = wanted[-1] if wanted else None
        try:
            ok, body = ready(connector)
        except KeyError:
            return Response(f"no connector {connector!r}\n", 404, content_type=_TEXT)
        data = json.dumps(body, indent=2, default=str).encode() + b"\n"
        return Response(data, 200 if ok else 503, content_type="application/json")

    @answering
    def metrics_() -> Response:
        return Response(metrics(), 200, content_type=CONTENT_TYPE_LATEST)

    blueprint.add_url_rule("/healthz", view_func=healthz)
    blueprint.add_url_rule("/readyz", view_func=readyz)
    blueprint.add_url_rule("/metrics", view_func=metrics_)
    return blueprint


def probes_app(blueprint: Blueprint) -> Flask:
    """The endpoints alone (no pages): GET/HEAD only, the dashboard's security headers."""
    app = Flask(__name__)
    app.register_blueprint(blueprint)

    @app.before_request
    def _only_reads() -> None:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(valid_methods=["GET", "HEAD"])

    @app.errorhandler(HTTPException)
    def _plain(error: HTTPException) -> BaseResponse:
        body = "not found: /healthz, /readyz, /metrics\n" if error.code == 404 else ""
        response = error.get_response()
        response.set_data(body or f"{error.name}\n")
        response.content_type = _TEXT
        return response

    app.after_request(add_security_headers)
    return app


class StatusServer(WebServer):
    """The endpoints alone on a threaded server; `start()` runs it on a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        alive: Callable[[], bool],
        ready: Readiness,
        metrics: Callable[[], bytes],
    ) -> None:
        blueprint = status_blueprint(alive=alive, ready=ready, metrics=metrics)
        super().__init__(probes_app(blueprint), host, port)
