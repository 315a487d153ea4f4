"""What every sandbox tracker adds around its routes: an HTTP server, faults, a request log.

A sandbox (`JiraSandbox`, `AdoSandbox`, `TrelloSandbox`) subclasses `SandboxHarness`,
names its tracker's particulars in class attributes (which POSTs only read, its error
envelope, its sign-in page, its rate-limit headers, its message for a body that is not
JSON) and implements two hooks: `_admit` (authentication and limits) and `_answer`
(routing). Everything else is here, once:

- a stdlib `ThreadingHTTPServer` on 127.0.0.1 and a random port, started in a
  background thread (`start`/`stop`, or a `with` block);
- fault injection (`inject`): the (skip+1)-th to (skip+times)-th matching
  requests get a canned answer; with `applied=True` the request is carried out
  first and only its answer replaced (a lost response);
- the order of a request's checks (`_respond`), the same for every tracker, so a
  fault, a refusal and an answer relate alike whichever tracker a test drives;
- a log of every request with the status it got (`requests`), and of those
  that change state (`writes`).
"""

from __future__ import annotations

import json
import re
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["WRITE_METHODS", "Fault", "RecordedRequest", "SandboxHarness", "serve_until_stopped"]

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the sandbox received it; `headers` and `is_write` do not take part in ==."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    is_write: bool = field(default=False, compare=False)
    """Whether the request asks to change state (whatever status it got)."""


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


@dataclass
class Hold:
    """Matching requests wait here until `release()`: a tracker stalled mid-answer, so a test
    can act (kill the client, say) while a request is certainly in flight."""

    method: str | None
    path: re.Pattern[str]
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    max_wait_seconds: float = 60.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.path.search(path))

    def release(self) -> None:
        self.released.set()


class SandboxHarness(ABC):
    """Server, faults and request log shared by every sandbox tracker."""

    NAME: ClassVar[str]  # the thread's name and the Server header
    READ_ONLY_POST: ClassVar[re.Pattern[str]]  # POSTs that only read (searches, batches)
    PATH_FLAGS: ClassVar[int] = 0  # regex flags for fault paths (Azure DevOps: case-blind)
    RATE_LIMIT_HEADERS: ClassVar[Mapping[str, str]] = {"Retry-After": "1"}
    DEFAULT_FAULT_MESSAGES: ClassVar[Mapping[int, str]]
    SIGN_IN_PAGE: ClassVar[str]
    HTML_CONTENT_TYPE: ClassVar[str]
    JSON_CONTENT_TYPE: ClassVar[str]
    RESPONSE: ClassVar[type]  # the tracker's ApiResponse(status, body, headers, content_type)
    EXTRA_RESPONSE_HEADERS: ClassVar[Mapping[str, str]] = {}
    RECORD_HEADERS: ClassVar[bool] = False  # keep request headers (never Authorization)
    INVALID_JSON_MESSAGE: ClassVar[str]  # the 400's message for a body that is not JSON

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._holds: list[Hold] = []

    # -- what a tracker supplies ----------------------------------------------------------

    @abstractmethod
    def _error_body(self, message: str) -> Any:
        """The tracker's JSON error envelope around `message`."""

    @abstractmethod
    def _admit(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: Mapping[str, str],
    ) -> Any:
        """Authentication and limits: a `RESPONSE` refuses the request, and stands (an applied
        fault does not replace it: nothing was carried out); anything else admits it, and is
        handed on to `_authorize`, `_invalid_json` and `_answer` (the member, the token...)."""

    @abstractmethod
    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, admitted: Any
    ) -> Any:
        """The routes' `RESPONSE` to an admitted request whose body is JSON (or none)."""

    def _authorize(
        self, method: str, path: str, headers: Mapping[str, str], admitted: Any
    ) -> Any | None:
        """A `RESPONSE` refusing what the admitted credentials may not do, or None.

        Checked after the body is known to be JSON (a tracker answers a malformed body
        before it looks at scopes); like `_admit`'s refusals, it stands. None by default."""
        return None

    def _form_body(self, headers: Mapping[str, str], raw_body: bytes) -> Any | None:
        """The body, for one that is not JSON but a tracker takes anyway (Trello's form-encoded
        parameters); None leaves it a body that is not JSON, refused with a 400."""
        return None

    def _invalid_json(self, admitted: Any) -> Any:
        """The 400 for a body that is not JSON, with the tracker's message."""
        return self.RESPONSE(400, self._error_body(self.INVALID_JSON_MESSAGE))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; returns self for chaining."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self._host, self._port), self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.NAME,
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
        """`http://127.0.0.1:PORT`, where the server listens."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- faults and the request log -------------------------------------------------------

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

        `path` is a regex searched in the request path; a 429's `headers`
        default to the tracker's rate-limit headers (Retry-After: 1 at least).
        A `body` of None gets the tracker's JSON error envelope, or its sign-in
        page when `content_type` is text/html. With `applied`, the request is
        still carried out (its write happens) and only the answer is replaced.
        """
        if headers is None:
            headers = self.RATE_LIMIT_HEADERS if status == 429 else {}
        fault = Fault(
            method=method.upper() if method else None,
            path=re.compile(path, self.PATH_FLAGS),
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

    def hold(self, method: str | None = "GET", path: str = r".*") -> Hold:
        """Stall matching requests until the returned hold is released (at most a minute)."""
        stall = Hold(method.upper() if method else None, re.compile(path, self.PATH_FLAGS))
        with self._lock:
            self._holds.append(stall)
        return stall

    def _wait_if_held(self, method: str, raw_path: str) -> None:
        path = urlsplit(raw_path).path
        with self._lock:
            holds = [h for h in self._holds if not h.released.is_set() and h.matches(method, path)]
        for stall in holds:
            stall.arrived.set()
            stall.released.wait(stall.max_wait_seconds)

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

    # -- one request ----------------------------------------------------------------------

    def _respond(
        self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes
    ) -> tuple[Any, dict[str, list[str]], Any]:
        """(response, parsed query, parsed body) for one request, checked in this order:

        1. a fault that is not `applied` answers at once: the tracker never saw the request
           (a proxy's 429 or 503), so not even authentication runs;
        2. `_admit`: authentication and limits; a refusal stands;
        3. a body that is not JSON gets a 400, which stands (no route ran: nothing to lose);
        4. `_authorize`: what the credentials may not do; a refusal stands;
        5. `_answer`: the routes; an `applied` fault then replaces the answer, as a response
           lost after the write was carried out.
        """
        path, query, body, bad_json = self._parse(raw_path, raw_body)
        if bad_json:
            form = self._form_body(headers, raw_body)
            if form is not None:
                body, bad_json = form, False
        fault = self._fault_for(method, path)
        if fault is not None and not fault.applied:
            return self._fault_response(fault), query, body
        admitted = self._admit(method, path, query, body, headers)
        if isinstance(admitted, self.RESPONSE):
            return admitted, query, body
        if bad_json:
            return self._invalid_json(admitted), query, body
        refusal = self._authorize(method, path, headers, admitted)
        if refusal is not None:
            return refusal, query, body
        response = self._answer(method, path, query, body, admitted)
        return (self._fault_response(fault) if fault is not None else response), query, body

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

    def _fault_response(self, fault: Fault) -> Any:
        content_type, body = fault.content_type, fault.body
        if body is None:
            if content_type and content_type.startswith("text/html"):
                body = self.SIGN_IN_PAGE
            else:
                message = self.DEFAULT_FAULT_MESSAGES.get(fault.status, f"Error {fault.status}.")
                body = self._error_body(message)
        if content_type is None:
            content_type = (
                self.HTML_CONTENT_TYPE if isinstance(body, str) else self.JSON_CONTENT_TYPE
            )
        return self.RESPONSE(fault.status, body, dict(fault.headers), content_type)

    @staticmethod
    def _parse(raw_path: str, raw_body: bytes) -> tuple[str, dict[str, list[str]], Any, bool]:
        """(path, query, JSON body or None, whether the body was not JSON)."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if not raw_body:
            return parts.path, query, None, False
        try:
            return parts.path, query, json.loads(raw_body), False
        except (ValueError, UnicodeDecodeError):
            return parts.path, query, None, True

    def _is_write(self, method: str, path: str) -> bool:
        return method in WRITE_METHODS and not (
            method == "POST" and self.READ_ONLY_POST.search(path)
        )

    def _record(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        status: int,
        headers: Mapping[str, str],
    ) -> None:
        kept = (
            {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if self.RECORD_HEADERS
            else {}
        )
        request = RecordedRequest(
            method, path, query, body, status, kept, self._is_write(method, path)
        )
        with self._lock:
            self._log.append(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm on, a
            # keep-alive client (a requests.Session) waits for the delayed ACK, ~40 ms a
            # request; a real tracker answers in one segment.
            disable_nagle_algorithm = True
            server_version = f"{sandbox.NAME}/1.0"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw_body = self.rfile.read(length) if length else b""
                method = self.command.upper()
                sandbox._wait_if_held(method, self.path)
                try:
                    response, query, body = sandbox._respond(
                        method, self.path, self.headers, raw_body
                    )
                except Exception as exc:  # a sandbox bug must still answer, as a 500
                    response = sandbox.RESPONSE(500, sandbox._error_body(f"Sandbox error: {exc!r}"))
                    query, body = parse_qs(urlsplit(self.path).query), None
                payload = _encode(response)
                path = urlsplit(self.path).path
                sandbox._record(method, path, query, body, response.status, self.headers)
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in {**sandbox.EXTRA_RESPONSE_HEADERS, **response.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # tests read `sandbox.requests` instead

        return Handler


def _encode(response: Any) -> bytes:
    body = response.body
    if body is None or response.status == 204:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and not response.content_type.startswith("application/json"):
        return body.encode()
    return json.dumps(body).encode()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_stopped(sandbox: SandboxHarness, banner: str) -> None:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM (`pmo-sync sandbox serve`)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    sandbox.start()
    print(banner.format(sandbox=sandbox))
    try:
        while sandbox._thread is not None and sandbox._thread.is_alive():
            sandbox._thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
