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
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from connectors.errors import UnexpectedResponseError

__all__ = [
    "CallStats",
    "RecordingRetry",
    "TimeoutAdapter",
    "install_http_policy",
    "never_sent",
]

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
        connect=max_retries,
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
