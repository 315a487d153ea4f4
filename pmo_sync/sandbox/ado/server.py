"""`AdoSandbox`: the sandbox Azure DevOps over real HTTP, for the unmodified SDK.

A stdlib `ThreadingHTTPServer` on 127.0.0.1 and a random port; `url` is the
organisation URL (`http://127.0.0.1:PORT/contoso`), what `azure.devops.connection.
Connection(base_url=...)` takes. Around the routes (`api.AdoApi`) it adds:

- authentication: basic with any user and the PAT. A wrong or missing PAT gets 401
  when the request carries `X-TFS-FedAuthRedirect: Suppress` (the SDK always sends
  it) and otherwise 203 with an HTML sign-in page, as the real service does. Route
  discovery (`OPTIONS …/_apis`, `_apis/ResourceAreas`) is anonymous, so a bad PAT
  shows at the first real call;
- fault injection (`inject`): 429 with Retry-After and the X-RateLimit-* headers,
  5xx, sign-in pages; `applied=True` carries the write out and then answers with the
  fault (a lost response);
- a log of every request with the status it got (`requests`, `writes`).

    with AdoSandbox() as sandbox:
        conn = Connection(base_url=sandbox.url, creds=BasicAuthentication("", sandbox.pat))
        wit = conn.clients_v7_1.get_work_item_tracking_client()

The SDK caches discovery on disk for 12 h: point `AZURE_DEVOPS_CACHE_DIR` at a
temporary directory before importing it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from pmo_sync.sandbox.ado.api import AdoApi, ApiResponse, error_body
from pmo_sync.sandbox.ado.generator import AdoDataset, Person

__all__ = ["SIGN_IN_PAGE", "AdoSandbox", "Fault", "RecordedRequest", "serve"]

SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body>"
    '<h1>Sign in to your account</h1><form action="https://login.microsoftonline.com/" '
    'method="post"><input name="loginfmt" type="email"></form></body></html>'
)
_DEFAULT_FAULT_MESSAGES = {
    401: "TF400813: The user is not authorized to access this resource.",
    403: "TF400813: Access denied.",
    404: "The resource cannot be found.",
    429: "TF400733: The request has been throttled: the request rate exceeded the limit.",
    500: "VS402999: Internal server error.",
    502: "Bad gateway.",
    503: "TF400898: An Internal Error Occurred. Service unavailable.",
    504: "Gateway timeout.",
}
_WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_READ_ONLY_POST = re.compile(
    r"/_apis/wit/(wiql|workitemsbatch|reporting/workitemrevisions)/?$", re.I
)
_ANONYMOUS = re.compile(r"/_apis(/resourceareas(/.*)?)?/?$", re.I)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    headers: dict[str, str]

    @property
    def is_write(self) -> bool:
        return self.method in _WRITE_METHODS and not (
            self.method == "POST" and _READ_ONLY_POST.search(self.path)
        )


@dataclass
class Fault:
    """A canned answer for matching requests: the (skip+1)-th to (skip+times)-th of them."""

    method: str | None
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    content_type: str | None
    times: int
    skip: int
    applied: bool = False
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.path.search(path))

    def response(self) -> ApiResponse:
        content_type, body = self.content_type, self.body
        if body is None:
            if content_type and content_type.startswith("text/html"):
                body = SIGN_IN_PAGE
            else:
                body = error_body(
                    _DEFAULT_FAULT_MESSAGES.get(self.status, f"Error {self.status}."),
                    "VssServiceException",
                )
        if content_type is None:
            content_type = (
                "text/html; charset=utf-8"
                if isinstance(body, str)
                else "application/json; charset=utf-8"
            )
        return ApiResponse(self.status, body, dict(self.headers), content_type)


class AdoSandbox:
    """A running sandbox Azure DevOps; a context manager that starts and stops the server."""

    def __init__(
        self,
        dataset: AdoDataset | None = None,
        *,
        seed: object = 7,
        size: int = 300,
        pat: str = "sandbox-pat",
        wiql_cap: int = 20000,
        max_batch: int = 200,
        identity: Person | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.dataset = dataset or AdoDataset.generate(seed=seed, size=size)
        self.pat = pat
        self.api = AdoApi(self.dataset, wiql_cap=wiql_cap, max_batch=max_batch, identity=identity)
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: list[RecordedRequest] = []
        self._faults: list[Fault] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self._host, self._port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ado-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The organisation URL, e.g. http://127.0.0.1:PORT/contoso."""
        return f"{self.root_url}/{self.dataset.org}"

    @property
    def identity(self) -> Person:
        """Who the PAT belongs to: System.ChangedBy of every API write."""
        return self.api.identity

    # -- faults and the request log ---------------------------------------------------------

    def inject(
        self,
        method: str | None = "GET",
        path: str = r".*",
        status: int = 429,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        times: int = 1,
        skip: int = 0,
        applied: bool = False,
    ) -> Fault:
        """Answer matching requests with a fault instead of the real response.

        `path` is a regex searched (case-insensitively) in the request path. A 429
        defaults to ``Retry-After: 1`` plus ADO's X-RateLimit-* headers. A `body` of None
        gets the WrappedException JSON envelope, or a sign-in page when `content_type`
        is text/html. With `applied`, the request is still carried out and only the
        answer is replaced.
        """
        if headers is None:
            headers = (
                {
                    "Retry-After": "1",
                    "X-RateLimit-Resource": "ATCPU",
                    "X-RateLimit-Delay": "1.5",
                    "X-RateLimit-Limit": "200",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": "1800000000",
                }
                if status == 429
                else {}
            )
        fault = Fault(
            method=method.upper() if method else None,
            path=re.compile(path, re.I),
            status=status,
            headers=dict(headers),
            body=body,
            content_type=content_type,
            times=times,
            skip=skip,
            applied=applied,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_write]

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- one request ---------------------------------------------------------------------------

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            chosen = None
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                fault.seen += 1
                if chosen is None and fault.skip < fault.seen <= fault.skip + fault.times:
                    fault.fired += 1
                    chosen = fault
            return chosen

    def _authenticated(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded.partition(":")[2] == self.pat
        if scheme.lower() == "bearer":
            return value.strip() == self.pat
        return False

    def _respond(
        self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes
    ) -> tuple[ApiResponse, dict[str, list[str]], Any]:
        parts = urlsplit(raw_path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        bad_json = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except (ValueError, UnicodeDecodeError):
                bad_json = True
        fault = self._fault_for(method, path)
        if fault is not None and not fault.applied:
            return fault.response(), query, body
        anonymous = method == "OPTIONS" or (method == "GET" and _ANONYMOUS.search(path))
        if not anonymous and not self._authenticated(headers.get("Authorization")):
            if (headers.get("X-TFS-FedAuthRedirect") or "").lower() == "suppress":
                return (
                    ApiResponse(
                        401,
                        "Access Denied: The Personal Access Token used has expired or is invalid.",
                        {
                            "WWW-Authenticate": 'Basic realm="https://dev.azure.com/"',
                            "X-TFS-FedAuthRealm": "https://app.vssps.visualstudio.com/",
                        },
                        "text/plain; charset=utf-8",
                    ),
                    query,
                    body,
                )
            return ApiResponse(203, SIGN_IN_PAGE, {}, "text/html; charset=utf-8"), query, body
        if bad_json:
            return ApiResponse(400, error_body("The request body is not valid JSON.")), query, body
        response = self.api.handle(method, path, query, body, self.url)
        return (fault.response() if fault is not None else response), query, body

    def _record(self, method, path, query, body, status, headers) -> None:
        with self._lock:
            self._log.append(RecordedRequest(method, path, query, body, status, headers))


def _encode(response: ApiResponse) -> bytes:
    body = response.body
    if body is None or response.status == 204:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and not response.content_type.startswith("application/json"):
        return body.encode()
    return json.dumps(body).encode()


def _make_handler(sandbox: AdoSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SandboxAzureDevOps/1.0"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            method = self.command.upper()
            try:
                response, query, body = sandbox._respond(method, self.path, self.headers, raw_body)
            except Exception as exc:  # a sandbox bug must still answer, as a 500
                response = ApiResponse(500, error_body(f"Sandbox error: {exc!r}"))
                query, body = parse_qs(urlsplit(self.path).query), None
            payload = _encode(response)
            sandbox._record(
                method, urlsplit(self.path).path, query, body, response.status,
                {k: v for k, v in self.headers.items() if k.lower() != "authorization"},
            )  # fmt: skip
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("ActivityId", "00000000-0000-0000-0000-000000000000")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(host: str = "127.0.0.1", port: int = 8081, **kwargs: Any) -> None:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM."""
    sandbox = AdoSandbox(host=host, port=port, **kwargs)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    sandbox.start()
    print(f"Sandbox Azure DevOps at {sandbox.url} (PAT {sandbox.pat})")
    try:
        while sandbox._thread is not None and sandbox._thread.is_alive():
            sandbox._thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
