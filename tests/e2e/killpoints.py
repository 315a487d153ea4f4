"""Kill points: end this process's sync or push at an exact point, as SIGKILL would.

A process killed with SIGKILL keeps exactly what it had committed to the store and what
the tracker had carried out; nothing after that moment happens, not even a `finally`.
`KillSwitch` reproduces that in-process, so a test can sweep every point of a run in
seconds instead of spawning a process per point:

- **answer k** (`at_answer=k`): the k-th HTTP answer arrives (the tracker carried the
  request out) and the process dies before reading it: a lost answer;
- **request k** (`at_request=k`): everything done with answers 1..k-1 stands and the
  process dies before sending request k: the kill between two answers;
- **commit k** (`at_commit=k`): the process dies as the store is about to commit its k-th
  write transaction: that transaction is lost, every one before it stands.

Once fired the switch stays fired: every later request and commit raises `SimulatedKill`
too, so a `finally` that would write (the run record, a ledger row) writes nothing, as in
a dead process. `SimulatedKill` derives from `BaseException`, so code that catches
`Exception` to survive a tracker's failure does not survive it either.

A run with no switch armed counts its requests and commits (`requests`, `commits`), which
is how a sweep learns how many points there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import Engine, event

__all__ = ["KillSwitch", "SimulatedKill", "kill_switch"]


class SimulatedKill(BaseException):
    """The process died here (no handler in pmo-sync may catch it)."""


class KillSwitch:
    """Counts HTTP requests and store commits; raises `SimulatedKill` at the armed point."""

    def __init__(self) -> None:
        self.requests = 0
        self.answers = 0
        self.commits = 0
        self.at_request: int | None = None
        self.at_answer: int | None = None
        self.at_commit: int | None = None
        self.fired: str | None = None
        """Where the kill happened (`request 3`, `answer 3`, `commit 5`), once it has."""

    def arm(
        self,
        *,
        at_request: int | None = None,
        at_answer: int | None = None,
        at_commit: int | None = None,
    ) -> None:
        """Count afresh from now and die at the given point (exactly one)."""
        if sum(x is not None for x in (at_request, at_answer, at_commit)) != 1:
            raise ValueError("arm exactly one kill point")
        self.requests = self.answers = self.commits = 0
        self.at_request, self.at_answer, self.at_commit = at_request, at_answer, at_commit
        self.fired = None

    def disarm(self) -> None:
        """Back to counting only: the process was restarted."""
        self.at_request = self.at_answer = self.at_commit = None
        self.fired = None
        self.requests = self.answers = self.commits = 0

    def _die(self, where: str) -> None:
        if self.fired is None:
            self.fired = where
        raise SimulatedKill(f"killed at {self.fired}")

    def before_request(self) -> None:
        if self.fired is not None:
            self._die("")
        self.requests += 1
        if self.at_request == self.requests:
            self._die(f"request {self.requests}")

    def after_answer(self) -> None:
        self.answers += 1
        if self.at_answer == self.answers:
            self._die(f"answer {self.answers}")

    def before_commit(self) -> None:
        if self.fired is not None:
            self._die("")
        self.commits += 1
        if self.at_commit == self.commits:
            self._die(f"commit {self.commits}")


@contextmanager
def _patched_http(switch: KillSwitch, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every `requests` call of any tracker client goes through the switch (retries inside)."""
    original = HTTPAdapter.send

    def send(self: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        switch.before_request()
        response = original(self, request, **kwargs)
        switch.after_answer()
        return response

    monkeypatch.setattr(HTTPAdapter, "send", send)
    yield


@contextmanager
def kill_switch(monkeypatch: pytest.MonkeyPatch, *engines: Engine) -> Iterator[KillSwitch]:
    """A switch on every HTTP request of this process and every commit on `engines`."""
    switch = KillSwitch()

    def on_commit(connection: Any) -> None:
        switch.before_commit()

    for engine in engines:
        event.listen(engine, "commit", on_commit)
    try:
        with _patched_http(switch, monkeypatch):
            yield switch
    finally:
        for engine in engines:
            event.remove(engine, "commit", on_commit)
