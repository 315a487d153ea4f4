"""The HTTP behaviour every connector shares, installed on the client library's own session.

The tracker libraries (`jira`, `azure-devops`) each hold a `requests.Session`.
Rather than wrap every library call, pmo-sync mounts one retrying adapter and
two response hooks on that session:

- `RecordingRetry` retries 429, 5xx and dropped connections *per request*
  (so a 500 in the middle of paging retries that page, not the whole crawl),
  honours `Retry-After` up to a cap, backs off exponentially otherwise, and
  records every attempt and every wait in `CallStats`;
- `count_response` counts each response that reached the caller;
- `reject_html` turns an HTML page where JSON was expected (an SSO login
  page, a proxy error page) into a clear `UnexpectedResponseError`.

Every request gets a timeout through `TimeoutAdapter`.

A tracker that cannot be reached at all (connection refused, host not found, no
connection within the timeout) is *not* retried: nothing reached it, the next
attempt a second later ends the same, and five attempts with back-off cost an
admin 15 s of silence before the one line that matters. (A lost SYN is already
retried by the kernel within the connect timeout.) What reached the tracker and
failed there is retried: 429, 5xx, a read timeout, a connection dropped
mid-answer.

`transport_error` turns any request that got no HTTP answer into one line with
no urllib3 or requests text: `cannot reach Jira at URL (connection refused): is
the url right and the tracker up?`, or, once the tracker was reached,
`Jira at URL did not answer while trying to ... (timed out after 30 s; tried 6
times): ...`.
"""

from __future__ import annotations

import errno
import http.client
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util.retry import Retry

from connectors.errors import (
    TrackerUnavailableError,
    TrackerUnreachableError,
    UnexpectedResponseError,
    WriteOutcomeUnknownError,
)

__all__ = [
    "NO_ANSWER_ERRORS",
    "UNREACHABLE_HINT",
    "CallStats",
    "RecordingRetry",
    "TimeoutAdapter",
    "TransportFailure",
    "describe_transport_failure",
    "install_http_policy",
    "never_sent",
    "public_url",
    "transport_error",
]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class CallStats:
    """API calls and rate-limit waits of one connector run (thread-safe counters)."""

    api_calls: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    backoff_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_call(self) -> None:
        with self._lock:
            self.api_calls += 1

    def add_retry(self) -> None:
        with self._lock:
            self.api_calls += 1
            self.retries += 1

    def add_wait(self, seconds: float, rate_limited: bool) -> None:
        with self._lock:
            if rate_limited:
                self.rate_limit_waits += 1
                self.rate_limit_wait_seconds += seconds
            else:
                self.backoff_seconds += seconds


class RecordingRetry(Retry):
    """urllib3 `Retry` that records attempts and waits, and retries 429 on any method.

    A 429 means the tracker did not process the request, so even a POST is
    safe to send again; 5xx are retried only for the methods in
    `allowed_methods` (reads, and the read-only POSTs a connector declares).
    """

    def __init__(self, *args: Any, stats: CallStats | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats = stats if stats is not None else CallStats()

    def new(self, **kw: Any) -> RecordingRetry:
        kw.setdefault("stats", self.stats)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:
            return bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, *args: Any, **kwargs: Any) -> RecordingRetry:
        try:
            new = super().increment(*args, **kwargs)
        except MaxRetryError:
            if kwargs.get("response") is None:
                self.stats.add_call()  # the last attempt failed without a response
            raise
        except Exception:
            # A method that may not be retried (a POST that timed out) re-raises its own
            # error here: the attempt still happened and must be counted.
            if kwargs.get("response") is None:
                self.stats.add_call()
            raise
        self.stats.add_retry()
        return new

    def sleep(self, response: Any = None) -> None:
        rate_limited = response is not None and response.status in (429, 503)
        started = time.monotonic()
        super().sleep(response)
        waited = time.monotonic() - started
        if waited > 0:
            self.stats.add_wait(waited, rate_limited)


class TimeoutAdapter(HTTPAdapter):
    """An adapter that never lets a request wait forever."""

    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(*args, **kwargs)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def reject_html(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Raise when a tracker answered with an HTML page instead of JSON."""
    ctype = response.headers.get("Content-Type", "")
    if "html" not in ctype.lower():
        head = response.content[:200].lstrip().lower()
        if not (head.startswith(b"<!doctype html") or head.startswith(b"<html")):
            return response
    match = _TITLE.search(response.content[:4000])
    title = match.group(1).decode("utf-8", "replace").strip() if match else "untitled"
    raise UnexpectedResponseError(
        f"{response.request.method} {_path_only(response.url)} "
        f"answered HTTP {response.status_code} "
        f"with an HTML page ({title!r}) instead of JSON: the URL may point at a login page, "
        "a proxy or the wrong host",
        status_code=response.status_code,
    )


def _path_only(url: str) -> str:
    return url.split("?", 1)[0]


def install_http_policy(
    session: requests.Session,
    stats: CallStats,
    *,
    timeout: float,
    max_retries: int,
    max_retry_wait: float,
    retry_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"}),
    backoff_factor: float = 0.5,
) -> None:
    """Mount the retrying, timing-out, counting adapter and the hooks on a library's session."""
    retry = RecordingRetry(
        total=max_retries,
        connect=0,  # refused, host not found, no connection: fail at once (module docstring)
        read=max_retries,
        status=max_retries,
        other=0,
        allowed_methods=retry_methods,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=max_retry_wait,
        retry_after_max=int(max_retry_wait),
        respect_retry_after_header=True,
        raise_on_status=False,
        stats=stats,
    )
    adapter = TimeoutAdapter(max_retries=retry, timeout=timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)

    def count_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        stats.add_call()

    session.hooks["response"] = [count_response, reject_html]


def never_sent(exc: requests.exceptions.RequestException) -> bool:
    """Whether a transport error happened before the request reached the tracker.

    Only then is a failed POST safe to send again: after a read timeout or a
    dropped connection the tracker may have carried it out.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


# -- a request that got no HTTP answer, in one line ---------------------------------------------

UNREACHABLE_HINT = "is the url right and the tracker up?"

NO_ANSWER_ERRORS: tuple[type[requests.exceptions.RequestException], ...] = (
    requests.exceptions.ConnectionError,  # refused, DNS, TLS, proxy, dropped, retried timeouts
    requests.exceptions.Timeout,
    requests.exceptions.RetryError,
    requests.exceptions.ChunkedEncodingError,  # the body was cut off
)
"""The `requests` errors that mean no (whole) HTTP answer came: what `transport_error` words."""


@dataclass(frozen=True)
class TransportFailure:
    """What went wrong on the wire, in an admin's words (never urllib3's text).

    `reached` is whether the request may have got to the tracker: False for a
    refused connection, an unknown host, no connection within the timeout, a
    TLS or proxy failure; True for a timeout waiting for the answer or a
    connection dropped mid-answer.
    """

    reason: str
    reached: bool
    hint: str


_DROPPED_HINT = "try again later; if it keeps happening, a proxy may be cutting connections"
_SLOW_HINT = "try again later, or raise timeout_seconds if the tracker is only slow"
_TLS_HINT = (
    "is the url right, and does this machine trust the tracker's certificate (REQUESTS_CA_BUNDLE)?"
)
_PROXY_HINT = "is the proxy (HTTPS_PROXY, HTTP_PROXY) right and up?"
_OTHER_HINT = "try again later; `pmo-sync --debug` logs the underlying error"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception inside it: requests wraps urllib3's `MaxRetryError`, which
    holds the `reason`, which was raised from the socket's `OSError`; msrest keeps the
    requests error as `inner_exception`."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [
            getattr(current, "reason", None),
            getattr(current, "inner_exception", None),
            getattr(current, "original_error", None),
            current.__cause__,
            current.__context__,
            *current.args,
        ]
        todo.extend(n for n in nested if isinstance(n, BaseException))


def describe_transport_failure(
    exc: BaseException, *, host: str, timeout: float
) -> TransportFailure:
    """Classify a request's transport error (pure: reads the exception chain only).

    `host` is the tracker's host (named when it does not resolve), `timeout` the
    configured seconds (named when they ran out).
    """
    chain = list(_chain(exc))

    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    def os_error(*codes: int) -> bool:
        return any(isinstance(e, OSError) and e.errno in codes for e in chain)

    if has(NameResolutionError, socket.gaierror):
        return TransportFailure(f"host not found: {host}", False, UNREACHABLE_HINT)
    if has(ConnectionRefusedError) or os_error(errno.ECONNREFUSED):
        return TransportFailure("connection refused", False, UNREACHABLE_HINT)
    if os_error(errno.EHOSTUNREACH):
        return TransportFailure("no route to host", False, UNREACHABLE_HINT)
    if os_error(errno.ENETUNREACH):
        return TransportFailure("network unreachable", False, UNREACHABLE_HINT)
    if has(ProxyError, requests.exceptions.ProxyError):
        return TransportFailure("the proxy failed", False, _PROXY_HINT)
    if has(SSLError, ssl.SSLError, requests.exceptions.SSLError):
        text = " ".join(str(e) for e in chain).lower()
        reason = "TLS certificate not trusted" if "certificate" in text else "TLS handshake failed"
        return TransportFailure(reason, False, _TLS_HINT)
    connect_timeout = any(
        isinstance(e, ConnectTimeoutError) and not isinstance(e, NewConnectionError) for e in chain
    )
    if connect_timeout or has(requests.exceptions.ConnectTimeout):
        return TransportFailure(f"no connection within {timeout:g} s", False, UNREACHABLE_HINT)
    if has(NewConnectionError):
        reason = "connection timed out" if os_error(errno.ETIMEDOUT) else "could not connect"
        return TransportFailure(reason, False, UNREACHABLE_HINT)
    if has(ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError):
        return TransportFailure(f"timed out after {timeout:g} s", True, _SLOW_HINT)
    if has(
        ProtocolError,
        requests.exceptions.ChunkedEncodingError,
        http.client.HTTPException,  # RemoteDisconnected, IncompleteRead
        ConnectionError,  # the builtin: reset, aborted, broken pipe
    ):
        return TransportFailure("connection dropped mid-answer", True, _DROPPED_HINT)
    for inner in chain:
        if isinstance(inner, ResponseError) and inner.args:
            return TransportFailure(str(inner.args[0])[:80], True, _OTHER_HINT)
    return TransportFailure(f"network error ({type(chain[-1]).__name__})", True, _OTHER_HINT)


def public_url(url: str) -> str:
    """The URL as an admin may see it: no `user:password@`, no query (Trello's key and token
    travel there), no trailing slash."""
    parts = urlsplit(str(url))
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"  # an IPv6 address
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def transport_error(
    exc: BaseException,
    *,
    tracker: str,
    url: str,
    action: str,
    timeout: float,
    max_retries: int,
    may_have_written: bool = False,
) -> TrackerUnavailableError:
    """The one-line `ConnectorError` for a request that got no HTTP answer.

    Unreached (`TrackerUnreachableError`): `cannot reach Jira at URL (connection
    refused): is the url right and the tracker up?`; the action does not matter, any
    call would have failed the same. Reached: `Jira at URL did not answer while trying
    to ACTION (REASON; tried N times): HINT`. With `may_have_written` (a write that is
    not retried), a reached failure is a `WriteOutcomeUnknownError`. The raw error is
    logged at debug level only (`pmo-sync --debug`; the log redacts secrets).
    """
    hostname = urlsplit(str(url)).hostname or str(url)
    failure = describe_transport_failure(exc, host=hostname, timeout=timeout)
    where = f"{tracker} at {public_url(url)}"
    log.debug("transport error while trying to %s at %s: %r", action, where, exc)
    if not failure.reached:
        return TrackerUnreachableError(f"cannot reach {where} ({failure.reason}): {failure.hint}")
    retried = max_retries > 0 and any(isinstance(e, MaxRetryError) for e in _chain(exc))
    tried = f"; tried {max_retries + 1} times" if retried else ""
    message = f"{where} did not answer while trying to {action} ({failure.reason}{tried})"
    if may_have_written:
        return WriteOutcomeUnknownError(
            f"{message}: it may have been carried out; check before sending it again"
        )
    return TrackerUnavailableError(f"{message}: {failure.hint}")
