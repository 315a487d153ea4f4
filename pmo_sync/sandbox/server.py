"""`JiraSandbox`: the sandbox Jira over real HTTP, for the real `jira` client.

A stdlib `ThreadingHTTPServer` on 127.0.0.1 and a random port. On top of the
endpoints (`jira_api.JiraApi`) it adds what a test needs around them: basic
(and, in server mode, bearer) authentication, fault injection — 429s with
Retry-After, 5xx, an HTML sign-in page served with 200, 403s — and a log of
every request with the status it got.

Faults work for writes too: `inject(method="PUT", path=r"/issue/ABC-1$", status=429)`
refuses the edit, while `applied=True` carries the write out and *then* answers
with the fault (a 504 after the comment was stored), which is how a retrying
client ends up with duplicate comments. `writes` is the log of state-changing
requests (POST/PUT/DELETE, minus the read-only POST searches).

    with JiraSandbox(forbidden_projects={"GHI"}) as sandbox:
        client = jira.JIRA(sandbox.url, basic_auth=sandbox.basic_auth)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import signal
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from pmo_sync.sandbox.generator import JiraDataset
from pmo_sync.sandbox.jira_api import JSON_CONTENT_TYPE, ApiResponse, JiraApi, error_body
from pmo_sync.sandbox.model import User

__all__ = ["SIGN_IN_PAGE", "Fault", "JiraSandbox", "RecordedRequest", "serve"]

SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    '<h1>Sign in to continue</h1><form action="/login" method="post">'
    '<input name="username"><input name="password" type="password"></form></body></html>'
)
_DEFAULT_FAULT_MESSAGES = {
    401: "Client must be authenticated to access this resource.",
    403: "You do not have permission to access this resource.",
    404: "The requested resource does not exist.",
    429: "Rate limit exceeded.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service unavailable. Please try again later.",
    504: "Gateway timeout.",
}
_WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
# POSTs that only read: searches, counts and bulk changelog fetches.
_READ_ONLY_POST = re.compile(
    r"^/rest/api/[23]/(search(/jql|/approximate-count)?|changelog/bulkfetch)/?$"
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int

    @property
    def is_write(self) -> bool:
        """Whether the request asks to change state (whatever status it got)."""
        return self.method in _WRITE_METHODS and not (
            self.method == "POST" and _READ_ONLY_POST.match(self.path)
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
        content_type = self.content_type
        body = self.body
        if body is None:
            if content_type and content_type.startswith("text/html"):
                body = SIGN_IN_PAGE
            else:
                message = _DEFAULT_FAULT_MESSAGES.get(self.status, f"Error {self.status}.")
                body = error_body(message)
        if content_type is None:
            content_type = "text/html;charset=UTF-8" if isinstance(body, str) else JSON_CONTENT_TYPE
        return ApiResponse(self.status, body, dict(self.headers), content_type)


class JiraSandbox:
    """A running sandbox Jira; a context manager that starts and stops the server."""

    def __init__(
        self,
        dataset: JiraDataset | None = None,
        *,
        seed: object = 7,
        issues_per_project: int = 100,
        deployment: str = "cloud",
        email: str = "pmo-bot@acme.example",
        token: str = "sandbox-token",
        forbidden_projects: Collection[str] = frozenset(),
        admin: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`admin`: whether the API user has the Administer Jira global permission
        (needed for POST /field and POST /screens/addToDefault/{fieldId})."""
        self.dataset = dataset or JiraDataset.generate(
            seed=seed, issues_per_project=issues_per_project
        )
        self.deployment = deployment
        self.email = email
        self.token = token
        self.api = JiraApi(
            self.dataset,
            deployment=deployment,
            email=email,
            forbidden_projects=frozenset(forbidden_projects),
            admin=admin,
        )
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: list[RecordedRequest] = []
        self._faults: list[Fault] = []

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; returns self for chaining."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self._host, self._port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="jira-sandbox",
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
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def basic_auth(self) -> tuple[str, str]:
        """(email, token), as `jira.JIRA(basic_auth=...)` takes it."""
        return (self.email, self.token)

    @property
    def api_user(self) -> User:
        """The API user (the bot): author of every write made through the API."""
        return self.api.api_user

    @property
    def account_id(self) -> str:
        """The API user's accountId, as /myself reports it."""
        return self.api.api_user.account_id

    # -- faults and the request log -----------------------------------------------------

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

        `path` is a regex searched in the request path; `headers` default to
        ``Retry-After: 1`` for a 429. A `body` of None gets Jira's JSON error
        envelope, or a sign-in page when `content_type` is text/html. With
        `applied`, the request is still carried out (its write happens) and only
        the answer is replaced: a lost response.
        """
        if headers is None:
            headers = {"Retry-After": "1"} if status == 429 else {}
        fault = Fault(
            method=method.upper() if method else None,
            path=re.compile(path),
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
        """A snapshot of the requests received so far, in arrival order."""
        with self._lock:
            return list(self._log)

    @property
    def writes(self) -> list[RecordedRequest]:
        """The state-changing requests received so far (any status), in arrival order."""
        return [r for r in self.requests if r.is_write]

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- one request -----------------------------------------------------------------------

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
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.email}:{self.token}"
        if scheme == "bearer" and self.deployment == "server":
            return value.strip() == self.token
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
        if not self._authenticated(headers.get("Authorization")):
            return (
                ApiResponse(
                    401,
                    error_body("Client must be authenticated to access this resource."),
                    {
                        "WWW-Authenticate": 'Basic realm="protected-area"',
                        "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
                    },
                ),
                query,
                body,
            )
        if bad_json:
            return (
                ApiResponse(
                    400,
                    error_body(
                        "Invalid request payload. Refer to the REST API "
                        "documentation and try again."
                    ),
                ),
                query,
                body,
            )
        response = self.api.handle(method, path, query, body, self.url)
        return (fault.response() if fault is not None else response), query, body

    def _record(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, status: int
    ) -> None:
        with self._lock:
            self._log.append(RecordedRequest(method, path, query, body, status))


def _encode(response: ApiResponse) -> bytes:
    body = response.body
    if body is None or response.status == 204:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and not response.content_type.startswith("application/json"):
        return body.encode()
    return json.dumps(body).encode()


def _make_handler(sandbox: JiraSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SandboxJira/1.0"

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
            sandbox._record(method, urlsplit(self.path).path, query, body, response.status)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read `sandbox.requests` instead

    return Handler


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(host: str = "127.0.0.1", port: int = 8080, **kwargs: Any) -> None:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM (for `pmo-sync sandbox serve`)."""
    sandbox = JiraSandbox(host=host, port=port, **kwargs)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    sandbox.start()
    print(f"Sandbox Jira at {sandbox.url} (user {sandbox.email}, token {sandbox.token})")
    try:
        while sandbox._thread is not None and sandbox._thread.is_alive():
            sandbox._thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
