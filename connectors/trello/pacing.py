"""Keeping a Trello client under Trello's rate limits before Trello has to refuse it.

Trello allows 100 requests per 10 s per token and 300 per 10 s per API key,
and its documentation promises no `Retry-After` on the 429 it answers beyond
that. So the client paces itself: `RatePacer` keeps sliding windows of its
own requests and sleeps the minimum needed before a request that would go
over either limit.

- The windows are shared within the process by credential (a module-level
  registry keyed by a digest of the key or token, never the secret itself):
  several clients on one key — one per board connector, say — stay under the
  key's 300 together, and clients on one token under its 100.
- A request occupies its slot from when it is sent until its answer arrives,
  and frees it a full window after the answer. Trello counts a request when it
  arrives, which is after it was sent and before it was answered, so a client
  that waits a window after the answer can never be ahead of Trello's count,
  whatever the network latency.
- `x-rate-limit-api-{token,key}-remaining` headers, when Trello sends them,
  slow the pacer down further (another process sharing the token or key shows
  up there); the pacer never depends on them.
- Every wait is recorded in `CallStats` (`rate_limit_waits`,
  `rate_limit_wait_seconds`).

Retries that urllib3 sends on its own (after a 429 or a 5xx) reuse their
request's slot rather than queueing for a new one: a 429's retry first waits
out a whole window (`backoff_after_refusal`, which also holds off every pacer
on the refused credential), a 5xx's backs off exponentially. The sandbox does
not count refused requests; Trello's documentation does not say.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from connectors.http import CallStats

__all__ = [
    "KEY_LIMIT",
    "TOKEN_LIMIT",
    "WINDOW_SECONDS",
    "RatePacer",
]

TOKEN_LIMIT = 100
KEY_LIMIT = 300
WINDOW_SECONDS = 10.0
LOW_WATER_SHARE = 0.1
"""Below this share of a limit left (per Trello's headers), requests are spaced out."""


class _Slot:
    """One request's place in the windows: it ends when the answer arrives."""

    __slots__ = ("end",)

    def __init__(self) -> None:
        self.end = math.inf  # in flight


class _Window:
    """A sliding window of requests against one limit, shared by every pacer of a credential."""

    __slots__ = ("limit", "not_before", "seconds", "slots")

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.slots: list[_Slot] = []
        self.not_before = 0.0

    def wait(self, now: float) -> float:
        """Seconds until one more request fits (inf: until an in-flight one is answered)."""
        self.slots = [s for s in self.slots if s.end > now - self.seconds]
        wait = self.not_before - now
        if len(self.slots) >= self.limit:
            ends = sorted(s.end for s in self.slots)
            wait = max(wait, ends[len(ends) - self.limit] + self.seconds - now)
        return wait

    def hold_off(self, until: float) -> None:
        self.not_before = max(self.not_before, until)


_registry_lock = threading.Condition()
_windows: dict[tuple[str, str, int, float], _Window] = {}
"""Every window of the process, kept for its life: a run's client is replaced by the next
run's, which must still see the requests of the last 10 s. One small entry per credential."""


def _shared_window(scope: str, secret: str, limit: int, seconds: float) -> _Window:
    """The process-wide window of one credential (call with `_registry_lock` held)."""
    digest = hashlib.sha256(f"{scope}:{secret}".encode()).hexdigest()
    ident = (scope, digest, limit, seconds)
    window = _windows.get(ident)
    if window is None:
        window = _Window(limit, seconds)
        _windows[ident] = window
    return window


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class RatePacer:
    """Paces one client's requests under the token's and the key's limits.

    `token_limit` / `key_limit` of None turn that limit off. `clock` and
    `sleep` are for tests (a fake clock whose sleep moves it on).
    """

    def __init__(
        self,
        key: str,
        token: str,
        stats: CallStats,
        *,
        token_limit: int | None = TOKEN_LIMIT,
        key_limit: int | None = KEY_LIMIT,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        for name, limit in (("token_limit", token_limit), ("key_limit", key_limit)):
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit)")
        self.stats = stats
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        with _registry_lock:
            self._token = (
                _shared_window("token", token, token_limit, window_seconds)
                if token_limit is not None
                else None
            )
            self._key = (
                _shared_window("key", key, key_limit, window_seconds)
                if key_limit is not None
                else None
            )

    @property
    def _limits(self) -> tuple[_Window, ...]:
        return tuple(w for w in (self._token, self._key) if w is not None)

    # -- one request ---------------------------------------------------------------------------

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for room under both limits, then hold a slot until the block ends."""
        slot = self.acquire()
        try:
            yield
        finally:
            self.release(slot)

    def acquire(self) -> _Slot:
        """Block until one more request fits under both limits; the caller must `release`."""
        windows = self._limits
        slot = _Slot()
        started = self._clock()
        waited = False
        while True:
            with _registry_lock:
                now = self._clock()
                wait = max((w.wait(now) for w in windows), default=0.0)
                if wait <= 0:
                    for window in windows:
                        window.slots.append(slot)
                    break
                waited = True
                if math.isinf(wait):
                    # Every slot is taken by a request still in flight (another thread):
                    # its answer wakes us up.
                    _registry_lock.wait(timeout=self.window_seconds)
                    continue
            self._sleep(wait)
        if waited:
            self.stats.add_wait(max(0.0, self._clock() - started), rate_limited=True)
        return slot

    def release(self, slot: _Slot) -> None:
        """The request was answered (or failed): its slot frees a window from now."""
        with _registry_lock:
            slot.end = self._clock()
            _registry_lock.notify_all()

    # -- what Trello says -----------------------------------------------------------------------

    def observe(self, headers: Mapping[str, str]) -> None:
        """Slow down when Trello's `x-rate-limit-api-*-remaining` headers say a limit is near.

        Below a tenth of a limit left, requests are spaced at the limit's
        steady rate (window / limit); with nothing left, the next request
        waits a tenth of the window. Headers missing or malformed: no effect.
        """
        now = self._clock()
        with _registry_lock:
            for scope, window in (("token", self._token), ("key", self._key)):
                if window is None:
                    continue
                prefix = f"x-rate-limit-api-{scope}-"
                remaining = _header_number(headers, prefix + "remaining")
                if remaining is None:
                    continue
                maximum = _header_number(headers, prefix + "max") or window.limit
                interval_ms = _header_number(headers, prefix + "interval-ms")
                interval = interval_ms / 1000 if interval_ms else window.seconds
                if remaining >= max(1.0, maximum * LOW_WATER_SHARE):
                    continue
                pause = interval * LOW_WATER_SHARE if remaining < 1 else interval / maximum
                window.hold_off(now + pause)

    def backoff_after_refusal(self, headers: Mapping[str, str], cap: float) -> float:
        """How long to wait after a 429 that named no Retry-After, at most `cap` seconds.

        A whole window: the interval Trello's headers name, else the pacer's
        window. Every pacer sharing the refused credential (or both, when the
        headers do not say which) holds off as long.
        """
        interval = None
        refused: list[_Window] = []
        for scope, window in (("token", self._token), ("key", self._key)):
            prefix = f"x-rate-limit-api-{scope}-"
            interval_ms = _header_number(headers, prefix + "interval-ms")
            if interval_ms:
                interval = max(interval or 0.0, interval_ms / 1000)
            if window is not None and _header_number(headers, prefix + "remaining") == 0:
                refused.append(window)
        wait = min(interval or self.window_seconds, cap)
        with _registry_lock:
            for window in refused or self._limits:
                window.hold_off(self._clock() + wait)
        return max(0.0, wait)
