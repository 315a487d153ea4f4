"""What every sandbox tracker adds around its routes: an HTTP server, faults, a request log.

A sandbox (`JiraSandbox`, `AdoSandbox`, `TrelloSandbox`) subclasses `SandboxHarness`,
names its tracker's particulars in class attributes (which POSTs only read, its error
envelope, its sign-in page, its rate-limit headers, its message for a body that is not
JSON) and implements two hooks: `_admit` (authentication and limits) and `_answer`
(routing). Everything else is here, once:

- a stdlib `ThreadingHTTPServer` on 127.0.0.1 and a random port, started in a
  background thread (`start`/`stop`, or a `with` block), quiet about clients that
  hang up (a timeout, a killed test client);
- fault injection (`inject`): the (skip+1)-th to (skip+times)-th matching
  requests get a fault of one of three kinds instead of their answer:
  - a canned answer (a status, headers, a body: a 429 with Retry-After, a 5xx,
    an HTML sign-in page); with `applied=True` the request is carried out first
    and only its answer replaced (a lost response);
  - a dropped connection (`drop=True`): the server closes the socket without a
    byte of answer, so the client sees the connection aborted; with `applied=True`
    after carrying the request out;
  - a slow answer (`delay=seconds`): the request is carried out at once and its
    own answer held back that long, so a client whose timeout is shorter times out
    (a client that waits gets the answer);
- seeded random chaos (`chaos`): each request, independently, with probability
  `rate`, gets one of a set of faults (429, 500, 503, HTML page, drop, slow),
  the same ones for the same seed and order of requests; `Chaos` counts what fired;
- the order of a request's checks (`_respond`), the same for every tracker, so a
  fault, a refusal and an answer relate alike whichever tracker a test drives;
- a log of every request with the status it got (`requests`; 0 for one dropped
  without an answer), and of those that change state (`writes`).

`clear_faults()` removes every injected fault and stops chaos.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "CHAOS_KINDS",
    "DROPPED",
    "WRITE_METHODS",
    "Chaos",
    "Fault",
    "LateAnswer",
    "NoAnswer",
    "RecordedRequest",
    "SandboxHarness",
    "serve_until_stopped",
]

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})

CHAOS_KINDS = ("429", "500", "503", "html", "drop", "slow")
"""What `SandboxHarness.chaos` draws from by default: a 429 with the tracker's rate-limit
headers (Retry-After where the tracker sends one), a 500, a 503, an HTML sign-in page
served 200, a dropped connection, a slow answer. It also knows "lost" (the request is
carried out, then the connection dropped) and any other status given as digits ("502")."""

DROPPED = 0
"""The status the request log records for a request whose connection was dropped unanswered."""


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
    """A fault for matching requests, the (skip+1)-th to (skip+times)-th of them: a canned
    answer (`status`, `headers`, `body`, `content_type`), a dropped connection (`drop`) or a
    slow answer (`delay` seconds late; always carried out)."""

    method: str | None
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    content_type: str | None
    times: int
    skip: int
    applied: bool = False
    drop: bool = False
    delay: float = 0.0
    seen: int = 0
    fired: int = 0

    @property
    def kind(self) -> str:
        """`answer` (canned), `drop` or `slow`."""
        return "drop" if self.drop else "slow" if self.delay > 0 else "answer"

    @property
    def carried_out(self) -> bool:
        """Whether the request reaches the tracker's routes before the fault strikes."""
        return self.applied or self.delay > 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.path.search(path))


@dataclass(frozen=True)
class NoAnswer:
    """What `_respond` gives for a dropped connection: the handler closes the socket unanswered."""

    status: int = DROPPED


@dataclass(frozen=True)
class LateAnswer:
    """What `_respond` gives for a slow answer: `response`, sent `seconds` late."""

    response: Any
    seconds: float

    @property
    def status(self) -> int:
        return int(self.response.status)


@dataclass
class Chaos:
    """Seeded random faults: each matching request, independently, with probability `rate`,
    gets one of `kinds` (see `CHAOS_KINDS`), unless an injected fault answers it first.

    Two numbers are drawn per matching request whether a fault fires or not, so the n-th
    request gets the same fault for the same seed: deterministic for a client that sends its
    requests one at a time (concurrent ones arrive in an order of their own)."""

    rate: float
    seed: object
    kinds: tuple[str, ...]
    method: str | None
    path: re.Pattern[str]
    slow_seconds: float
    seen: int = 0
    """Matching requests so far."""
    fired: Counter[str] = field(default_factory=Counter)
    """How many of each kind actually struck."""
    struck: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(request number among the matching ones, method, path, kind), in order."""
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(repr(self.seed))

    @property
    def total(self) -> int:
        """Faults that struck, all kinds together."""
        return sum(self.fired.values())

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.path.search(path))

    def draw(self) -> str | None:
        """The kind the next matching request gets, or None (the caller holds the lock)."""
        self.seen += 1
        roll, pick = self._rng.random(), self._rng.randrange(len(self.kinds))
        return self.kinds[pick] if roll < self.rate else None

    def record(self, method: str, path: str, kind: str) -> None:
        self.fired[kind] += 1
        self.struck.append((self.seen, method, path, kind))


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


class _RequestHeaders(Mapping[str, str]):
    """A request's headers as the `Mapping` the sandboxes read, names matched in any case
    (as `http.server` matches them)."""

    def __init__(self, message: Message) -> None:
        self._message = message

    def __getitem__(self, name: str) -> str:
        value = self._message[name]
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._message.keys())

    def __len__(self) -> int:
        return len(self._message)


_ACCEPT_TIMEOUT_S = 0.5


class _Server(ThreadingHTTPServer):
    """The stdlib server, quiet about clients that hang up: a client that timed out, or a
    test's simulated kill, resets its connection, which is no error of the sandbox's."""

    daemon_threads = True

    def server_activate(self) -> None:
        super().server_activate()
        # serve_forever accepts once select() says a connection waits; were it gone by then, a
        # blocking accept() would wait for the next one and hold shutdown() (a test's
        # teardown) until one came. With a timeout it gives up, as on any accept error.
        self.socket.settimeout(_ACCEPT_TIMEOUT_S)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


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
        self._chaos: Chaos | None = None
        self._holds: list[Hold] = []
        self._stopping = threading.Event()  # cuts slow answers short at `stop()`

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
        self._stopping.clear()
        server = _Server((self._host, self._port), self._handler())
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
        self._stopping.set()
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
        return f"http://{self._host}:{self._server.server_port}"

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
        drop: bool = False,
        delay: float = 0.0,
    ) -> Fault:
        """Answer matching requests with a fault instead of the real response.

        `path` is a regex searched in the request path; a 429's `headers`
        default to the tracker's rate-limit headers (Retry-After: 1 at least).
        A `body` of None gets the tracker's JSON error envelope, or its sign-in
        page when `content_type` is text/html. With `applied`, the request is
        still carried out (its write happens) and only the answer is replaced.

        Two more kinds (the canned answer's `status`, `headers`, `body` and
        `content_type` do not apply to them):

        - `drop=True`: the connection is closed without any answer (the client
          sees it aborted); with `applied`, after the request was carried out;
        - `delay=seconds`: the request is carried out at once and its own answer
          (whatever it is, a refusal included) sent that many seconds late, so a
          client with a shorter timeout times out; `stop()` cuts the wait short.
        """
        if drop and delay:
            raise ValueError("a fault drops the connection or answers late, not both")
        if delay < 0:
            raise ValueError("delay must be >= 0 seconds")
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
            drop=drop,
            delay=float(delay),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def chaos(
        self,
        rate: float = 0.1,
        seed: object = 0,
        kinds: Iterable[str] = CHAOS_KINDS,
        *,
        method: str | None = None,
        path: str = r".*",
        slow_seconds: float = 2.0,
    ) -> Chaos:
        """From now on, each matching request, independently, with probability `rate`, gets
        a fault of one of `kinds` (drawn evenly), the same ones for the same `seed` and order of
        requests. Kinds: "429" (the tracker's rate-limit headers), "500", "503", any other
        status as digits, "html" (a sign-in page served 200), "drop" (the connection closed,
        nothing carried out), "lost" (carried out, then the connection closed), "slow" (carried
        out, answered `slow_seconds` late). An injected fault matching a request comes first.

        Replaces any chaos before it; `chaos(rate=0)` or `clear_faults()` stops it. The
        returned `Chaos` counts what struck (`fired`, `total`, `struck`)."""
        chosen = tuple(kinds)
        unknown = [k for k in chosen if not (k.isdigit() or k in {*CHAOS_KINDS, "lost"})]
        if unknown or not chosen:
            raise ValueError(f"unknown chaos kinds {unknown or chosen!r}; known: {CHAOS_KINDS}")
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if "slow" in chosen and slow_seconds <= 0:
            raise ValueError("slow_seconds must be > 0")
        chaos = Chaos(
            rate=rate,
            seed=seed,
            kinds=chosen,
            method=method.upper() if method else None,
            path=re.compile(path, self.PATH_FLAGS),
            slow_seconds=float(slow_seconds),
        )
        with self._lock:
            self._chaos = chaos if rate > 0 else None
        return chaos

    def _chaos_fault(self, chaos: Chaos, kind: str) -> Fault:
        """The one-off fault a chaos kind stands for."""
        status, headers, content_type = 500, {}, None
        drop = applied = False
        delay = 0.0
        if kind == "html":
            status, content_type = 200, "text/html; charset=utf-8"
        elif kind in ("drop", "lost"):
            drop, applied = True, kind == "lost"
        elif kind == "slow":
            delay = chaos.slow_seconds
        else:
            status = int(kind)
            if status == 429:
                headers = dict(self.RATE_LIMIT_HEADERS)
        return Fault(
            method=None,
            path=re.compile(""),
            status=status,
            headers=headers,
            body=None,
            content_type=content_type,
            times=1,
            skip=0,
            applied=applied,
            drop=drop,
            delay=delay,
            seen=1,
            fired=1,
        )

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
        """Remove every injected fault and stop chaos (holds stay until released)."""
        with self._lock:
            self._faults.clear()
            self._chaos = None

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

        1. a fault not carried out (neither `applied` nor slow) strikes at once: the tracker
           never saw the request (a proxy's 429 or 503, a connection lost on the way in), so
           not even authentication runs;
        2. `_admit`: authentication and limits; a refusal stands;
        3. a body that is not JSON gets a 400, which stands (no route ran: nothing to lose);
        4. `_authorize`: what the credentials may not do; a refusal stands;
        5. `_answer`: the routes; an `applied` fault then replaces the answer, as a response
           lost after the write was carried out.

        The response is a `NoAnswer` for a dropped connection, and a `LateAnswer` around
        whichever answer steps 2-5 gave for a slow one.
        """
        path, query, body, bad_json = self._parse(raw_path, raw_body)
        if bad_json:
            form = self._form_body(headers, raw_body)
            if form is not None:
                body, bad_json = form, False
        fault = self._fault_for(method, path)
        if fault is not None and not fault.carried_out:
            return self._fault_response(fault), query, body
        response = self._carry_out(method, path, query, body, headers, bad_json, fault)
        if fault is not None and fault.delay > 0:
            response = LateAnswer(response, fault.delay)
        return response, query, body

    def _carry_out(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: Mapping[str, str],
        bad_json: bool,
        fault: Fault | None,
    ) -> Any:
        """Steps 2-5 of `_respond`: a refusal, or the routes' answer (replaced by an
        `applied` fault)."""
        admitted = self._admit(method, path, query, body, headers)
        if isinstance(admitted, self.RESPONSE):
            return admitted
        if bad_json:
            return self._invalid_json(admitted)
        refusal = self._authorize(method, path, headers, admitted)
        if refusal is not None:
            return refusal
        response = self._answer(method, path, query, body, admitted)
        if fault is not None and fault.applied:
            return self._fault_response(fault)
        return response

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
            chaos = self._chaos
            if chaos is not None and chaos.matches(method, path):
                kind = chaos.draw()
                if chosen is None and kind is not None:
                    chaos.record(method, path, kind)
                    chosen = self._chaos_fault(chaos, kind)
            return chosen

    def _fault_response(self, fault: Fault) -> Any:
        if fault.drop:
            return NoAnswer()
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
                headers = _RequestHeaders(self.headers)
                sandbox._wait_if_held(method, self.path)
                try:
                    response, query, body = sandbox._respond(method, self.path, headers, raw_body)
                except Exception as exc:  # a sandbox bug must still answer, as a 500
                    response = sandbox.RESPONSE(500, sandbox._error_body(f"Sandbox error: {exc!r}"))
                    query, body = parse_qs(urlsplit(self.path).query), None
                path = urlsplit(self.path).path
                if isinstance(response, NoAnswer):  # a dropped connection: not a byte back
                    sandbox._record(method, path, query, body, DROPPED, headers)
                    self.close_connection = True
                    return
                delay = 0.0
                if isinstance(response, LateAnswer):
                    delay, response = response.seconds, response.response
                payload = _encode(response)
                sandbox._record(method, path, query, body, response.status, headers)
                if delay and sandbox._stopping.wait(delay):
                    self.close_connection = True
                    return  # stopped while it waited: never answered
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    answer_headers = {**sandbox.EXTRA_RESPONSE_HEADERS, **response.headers}
                    for name, value in answer_headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(payload)
                except OSError:  # the client gave up waiting (a slow answer) and hung up
                    self.close_connection = True

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


def serve_until_stopped(sandbox: SandboxHarness, banner: Callable[[], str]) -> None:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM (`pmo-sync sandbox serve`).

    `banner` is printed once, when the sandbox listens (its URL known then)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    sandbox.start()
    print(banner(), flush=True)
    try:
        while sandbox._thread is not None and sandbox._thread.is_alive():
            sandbox._thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
