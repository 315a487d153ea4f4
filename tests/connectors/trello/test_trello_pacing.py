"""`RatePacer`: under both of Trello's limits before Trello refuses; waits recorded; headers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from connectors.http import CallStats
from connectors.trello import RatePacer, TrelloClient
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox

MakeClient = Callable[..., TrelloClient]  # the make_client fixture (conftest.py)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def secret() -> str:
    return uuid.uuid4().hex


def pacer(clock: FakeClock, stats: CallStats, key: str, token: str, **limits: object) -> RatePacer:
    return RatePacer(key, token, stats, clock=clock, sleep=clock.sleep, **limits)  # type: ignore[arg-type]


def request_times(p: RatePacer, clock: FakeClock, n: int, duration: float = 0.0) -> list[float]:
    """When each of n back-to-back requests was sent, each taking `duration` seconds."""
    sent = []
    for _ in range(n):
        with p.slot():
            sent.append(clock.now)
            clock.now += duration
    return sent


# -- with a fake clock ----------------------------------------------------------------------------


def test_token_window_sleeps_the_minimum_and_records_each_wait() -> None:
    clock, stats = FakeClock(), CallStats()
    p = pacer(clock, stats, secret(), secret(), token_limit=3, key_limit=None)
    sent = request_times(p, clock, 7)
    assert [t - 1000 for t in sent] == [0, 0, 0, 10, 10, 10, 20]
    assert clock.slept == [10, 10]
    assert stats.rate_limit_waits == 2 and stats.rate_limit_wait_seconds == 20


def test_a_slot_frees_a_window_after_the_answer_not_after_the_send() -> None:
    clock, stats = FakeClock(), CallStats()
    p = pacer(clock, stats, secret(), secret(), token_limit=2, key_limit=None)
    sent = request_times(p, clock, 3, duration=1.5)
    # answers at +1.5 and +3.0: the third request waits for the first answer + 10 s
    assert [t - 1000 for t in sent] == [0, 1.5, 11.5]


def test_the_key_window_is_shared_by_every_client_on_the_key() -> None:
    clock, key = FakeClock(), secret()
    first, second = CallStats(), CallStats()
    a = pacer(clock, first, key, secret(), token_limit=100, key_limit=4)
    b = pacer(clock, second, key, secret(), token_limit=100, key_limit=4)
    assert request_times(a, clock, 2) == [1000, 1000]
    assert request_times(b, clock, 3) == [1000, 1000, 1010]
    assert (first.rate_limit_waits, second.rate_limit_waits) == (0, 1)
    other_key = pacer(clock, CallStats(), secret(), secret(), key_limit=4)
    assert request_times(other_key, clock, 4) == [1010] * 4  # another key: its own window


def test_the_token_window_is_shared_too() -> None:
    clock, token = FakeClock(), secret()
    a = pacer(clock, CallStats(), secret(), token, token_limit=2, key_limit=None)
    b = pacer(clock, CallStats(), secret(), token, token_limit=2, key_limit=None)
    assert request_times(a, clock, 2) + request_times(b, clock, 1) == [1000, 1000, 1010]


def test_remaining_headers_slow_the_pacer_down() -> None:
    clock, stats = FakeClock(), CallStats()
    p = pacer(clock, stats, secret(), secret())
    p.observe({})  # no headers: no effect
    p.observe({"x-rate-limit-api-token-remaining": "lots"})
    p.observe({"x-rate-limit-api-token-remaining": "50", "x-rate-limit-api-token-max": "100"})
    assert request_times(p, clock, 1) == [1000]
    headers = {
        "x-rate-limit-api-key-interval-ms": "10000",
        "x-rate-limit-api-key-max": "300",
        "x-rate-limit-api-key-remaining": "5",
    }
    p.observe(headers)  # under a tenth left: one request per window / limit
    assert request_times(p, clock, 1) == [1000 + 10 / 300]
    p.observe({**headers, "x-rate-limit-api-key-remaining": "0"})  # none left: a tenth
    before = clock.now
    assert request_times(p, clock, 1) == [before + 1.0]
    assert stats.rate_limit_waits == 2


def test_after_a_refusal_every_pacer_on_the_refused_credential_holds_off() -> None:
    clock, token = FakeClock(), secret()
    a = pacer(clock, CallStats(), secret(), token)
    b = pacer(clock, CallStats(), secret(), token)
    refused = {
        "x-rate-limit-api-token-interval-ms": "10000",
        "x-rate-limit-api-token-remaining": "0",
        "x-rate-limit-api-key-remaining": "299",
    }
    assert a.backoff_after_refusal(refused, cap=120) == 10
    assert request_times(b, clock, 1) == [1010]
    assert a.backoff_after_refusal({}, cap=3) == 3  # no headers: the window, capped


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="token_limit must be at least 1"):
        RatePacer("k", "t", CallStats(), token_limit=0)
    with pytest.raises(ValueError, match="window_seconds must be positive"):
        RatePacer("k", "t", CallStats(), window_seconds=0)


def test_a_full_window_of_requests_in_flight_waits_for_an_answer() -> None:
    stats = CallStats()
    p = RatePacer(secret(), secret(), stats, token_limit=1, key_limit=None, window_seconds=0.05)
    holding, done = threading.Event(), threading.Event()

    def slow_request() -> None:
        with p.slot():
            holding.set()
            done.wait(5)

    worker = threading.Thread(target=slow_request)
    worker.start()
    assert holding.wait(5)
    threading.Timer(0.1, done.set).start()
    started = time.monotonic()
    with p.slot():
        waited = time.monotonic() - started
    worker.join(5)
    assert waited >= 0.1 + 0.05 - 0.01  # the answer, then a window
    assert stats.rate_limit_waits == 1


# -- against the sandbox ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset() -> TrelloDataset:
    return TrelloDataset.generate(cards_per_board=5)


@pytest.fixture
def token_limited(dataset: TrelloDataset) -> Iterator[TrelloSandbox]:
    with TrelloSandbox(
        dataset, key=secret(), token=secret(), token_limit=5, key_limit=None,
        rate_window_seconds=0.5,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture
def key_limited(dataset: TrelloDataset) -> Iterator[TrelloSandbox]:
    with TrelloSandbox(
        dataset, key=secret(), token=secret(), token_limit=None, key_limit=6,
        rate_window_seconds=0.5,
    ) as running:  # fmt: skip
        yield running


def test_the_pacer_keeps_a_client_under_the_token_limit(
    token_limited: TrelloSandbox, make_client: MakeClient
) -> None:
    stats = CallStats()
    client = make_client(
        token_limited, stats, pacer_limits={"token_limit": 5, "window_seconds": 0.5}
    )
    started = time.monotonic()
    for _ in range(16):
        client.me()
    elapsed = time.monotonic() - started
    assert [r.status for r in token_limited.requests] == [200] * 16  # never a 429
    assert elapsed >= 3 * 0.5  # requests 6, 11 and 16 each waited out a window
    assert stats.api_calls == 16 and stats.retries == 0
    assert stats.rate_limit_waits >= 3 and stats.rate_limit_wait_seconds >= 1.0


def test_clients_sharing_a_key_stay_under_the_key_limit_together(
    key_limited: TrelloSandbox, dataset: TrelloDataset, make_client: MakeClient
) -> None:
    limits = {"token_limit": None, "key_limit": 6, "window_seconds": 0.5}
    first, second = CallStats(), CallStats()
    one = make_client(key_limited, first, pacer_limits=limits)
    other_token = key_limited.token_for(dataset.people[0])
    two = make_client(key_limited, second, pacer_limits=limits, token=other_token)
    started = time.monotonic()
    for _ in range(9):
        assert one.me()["id"] == dataset.bot.id
        assert two.me()["id"] == dataset.people[0].id
    assert [r.status for r in key_limited.requests] == [200] * 18
    assert time.monotonic() - started >= 2 * 0.5
    assert first.rate_limit_waits + second.rate_limit_waits >= 2


def test_without_pacing_the_sandbox_refuses_and_the_retry_recovers(
    token_limited: TrelloSandbox, make_client: MakeClient
) -> None:
    """The control: the limits are real, and a 429 (no Retry-After) waits out the window."""
    stats = CallStats()
    client = make_client(
        token_limited,
        stats,
        pacer_limits={"token_limit": None, "key_limit": None, "window_seconds": 0.5},
    )
    for _ in range(7):
        client.me()
    statuses = [r.status for r in token_limited.requests]
    assert statuses.count(200) == 7 and 429 in statuses
    assert stats.retries == statuses.count(429)
    assert stats.rate_limit_waits == statuses.count(429)
    assert stats.rate_limit_wait_seconds >= 0.5 * statuses.count(429) - 0.01
