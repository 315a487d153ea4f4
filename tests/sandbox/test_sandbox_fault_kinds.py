"""The harness's fault kinds beyond a canned answer (a dropped connection, a slow answer) and
its seeded random chaos, driven through the sandbox Jira; the other trackers' folders check
what differs per tracker (tests/sandbox_ado, tests/sandbox_trello)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.http import CallStats, install_http_policy
from pmo_sync.sandbox.harness import CHAOS_KINDS, DROPPED
from pmo_sync.sandbox.jira.server import JiraSandbox

MYSELF = "/rest/api/2/myself"
KEY = "ABC-1"
COMMENTS = f"/rest/api/2/issue/{KEY}/comment"


@pytest.fixture
def site() -> Iterator[JiraSandbox]:
    """A small sandbox of its own (faults and writes)."""
    with JiraSandbox(issues_per_project=5) as running:
        yield running


def _get(site: JiraSandbox, path: str = MYSELF, timeout: float = 5, **kwargs: Any):
    return requests.get(f"{site.url}{path}", auth=site.basic_auth, timeout=timeout, **kwargs)


def _comment(site: JiraSandbox, text: str, timeout: float = 5) -> requests.Response:
    return requests.post(
        f"{site.url}{COMMENTS}", json={"body": text}, auth=site.basic_auth, timeout=timeout
    )


def _comments(site: JiraSandbox) -> list[str]:
    return [c.text for c in site.dataset.comments(KEY)]


# -- a dropped connection ---------------------------------------------------------------------


def test_a_dropped_connection_gets_no_answer_and_is_logged_as_0(site: JiraSandbox) -> None:
    fault = site.inject(path=r"/myself$", drop=True)
    assert fault.kind == "drop"
    with pytest.raises(requests.ConnectionError, match="Remote end closed connection"):
        _get(site)
    assert _get(site).status_code == 200  # once: the next one is answered
    assert fault.fired == 1
    assert [(r.path, r.status) for r in site.requests] == [(MYSELF, DROPPED), (MYSELF, 200)]


def test_a_dropped_write_is_not_carried_out_unless_applied(site: JiraSandbox) -> None:
    site.inject(method="POST", path=r"/comment$", drop=True)
    with pytest.raises(requests.ConnectionError):
        _comment(site, "lost on the way in")
    assert _comments(site) == []

    site.inject(method="POST", path=r"/comment$", drop=True, applied=True)
    with pytest.raises(requests.ConnectionError):
        _comment(site, "answer lost")
    assert _comments(site) == ["answer lost"]  # carried out, then the connection dropped
    assert [(w.method, w.status) for w in site.writes] == [("POST", DROPPED), ("POST", DROPPED)]


def test_a_dropped_read_is_retried_by_the_connectors_http_policy(site: JiraSandbox) -> None:
    """pmo-sync's retry treats a dropped connection like a read error: the GET is sent
    again (`max_retries` times at most) and each attempt is counted."""
    session, stats = requests.Session(), CallStats()
    install_http_policy(session, stats, timeout=5, max_retries=2, max_retry_wait=0)
    site.inject(path=r"/myself$", drop=True, times=2)
    assert session.get(f"{site.url}{MYSELF}", auth=site.basic_auth).status_code == 200
    assert [r.status for r in site.requests] == [DROPPED, DROPPED, 200]
    assert (stats.api_calls, stats.retries) == (3, 2)

    site.inject(path=r"/myself$", drop=True, times=3)
    with pytest.raises(requests.ConnectionError):
        session.get(f"{site.url}{MYSELF}", auth=site.basic_auth)


# -- a slow answer ----------------------------------------------------------------------------


def test_a_slow_answer_times_a_shorter_timeout_out_and_reaches_a_patient_client(
    site: JiraSandbox,
) -> None:
    fault = site.inject(path=r"/myself$", delay=2)
    assert fault.kind == "slow"
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        _get(site, timeout=0.3)
    assert time.monotonic() - started < 1.5  # the client gave up; it did not wait the delay

    site.inject(path=r"/myself$", delay=0.3)
    started = time.monotonic()
    answer = _get(site, timeout=5)
    assert answer.status_code == 200 and answer.json()["emailAddress"] == site.email
    assert time.monotonic() - started >= 0.3
    assert _get(site, timeout=1).status_code == 200  # the faults have fired: prompt again
    # the log has the answer each request got (the first one's was sent to nobody)
    assert [r.status for r in site.requests] == [200, 200, 200]


def test_a_slow_write_is_carried_out_though_its_client_timed_out(site: JiraSandbox) -> None:
    site.inject(method="POST", path=r"/comment$", delay=1.5)
    with pytest.raises(requests.ReadTimeout):
        _comment(site, "written, answered late", timeout=0.5)
    assert _comments(site) == ["written, answered late"]  # at once, not after the delay


def test_a_slow_refusal_is_late_too(site: JiraSandbox) -> None:
    site.inject(path=r"/myself$", delay=0.3)
    started = time.monotonic()
    refused = requests.get(f"{site.url}{MYSELF}", auth=(site.email, "wrong"), timeout=5)
    assert refused.status_code == 401
    assert time.monotonic() - started >= 0.3


def test_stop_cuts_a_slow_answer_short(site: JiraSandbox) -> None:
    site.inject(path=r"/myself$", delay=30)
    with pytest.raises(requests.ReadTimeout):
        _get(site, timeout=0.5)
    started = time.monotonic()
    site.stop()
    assert time.monotonic() - started < 5


def test_a_slow_read_is_retried_after_the_timeout(site: JiraSandbox) -> None:
    session, stats = requests.Session(), CallStats()
    install_http_policy(session, stats, timeout=0.5, max_retries=1, max_retry_wait=0)
    site.inject(path=r"/myself$", delay=1.5)
    assert session.get(f"{site.url}{MYSELF}", auth=site.basic_auth).status_code == 200
    assert (stats.api_calls, stats.retries) == (2, 1)
    site.inject(path=r"/myself$", delay=1.5, times=2)
    with pytest.raises(requests.ConnectionError, match="timed out"):
        session.get(f"{site.url}{MYSELF}", auth=site.basic_auth)


def test_a_fault_drops_or_answers_late_not_both(site: JiraSandbox) -> None:
    with pytest.raises(ValueError, match="not both"):
        site.inject(drop=True, delay=1)
    with pytest.raises(ValueError, match=">= 0"):
        site.inject(delay=-1)


# -- chaos ------------------------------------------------------------------------------------


TIMEOUT = 0.5  # the client's; chaos answers slow ones 1 s late


def _outcome(site: JiraSandbox, session: requests.Session) -> str:
    """What one GET of /myself got, as the chaos kind it shows."""
    try:
        answer = session.get(f"{site.url}{MYSELF}", auth=site.basic_auth, timeout=TIMEOUT)
    except requests.ReadTimeout:
        return "slow"
    except requests.ConnectionError:
        return "drop"
    if answer.headers["Content-Type"].startswith("text/html"):
        assert answer.status_code == 200 and "<title>Sign in</title>" in answer.text
        return "html"
    if answer.status_code == 429:
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["errorMessages"] == ["Rate limit exceeded."]
    return str(answer.status_code) if answer.status_code != 200 else "ok"


def _run(site: JiraSandbox, n: int) -> list[str]:
    session = requests.Session()
    return [_outcome(site, session) for _ in range(n)]


def test_chaos_is_random_per_request_deterministic_per_seed_and_counted(
    site: JiraSandbox,
) -> None:
    chaos = site.chaos(rate=0.5, seed=11, slow_seconds=1)
    first = _run(site, 24)
    struck = [kind for kind in first if kind != "ok"]
    assert set(struck) == set(CHAOS_KINDS)  # every kind, by this seed
    assert chaos.seen == 24 and chaos.total == len(struck)
    assert chaos.fired == {kind: struck.count(kind) for kind in CHAOS_KINDS}
    assert [(n, kind) for n, _, _, kind in chaos.struck] == [
        (n, kind) for n, kind in enumerate(first, start=1) if kind != "ok"
    ]

    again = site.chaos(rate=0.5, seed=11, slow_seconds=1)  # replaces the first
    assert _run(site, 24) == first and again.fired == chaos.fired
    other = site.chaos(rate=0.5, seed=12, slow_seconds=1)
    assert _run(site, 24) != first and other.total > 0


def test_chaos_kinds_rate_and_scope(site: JiraSandbox) -> None:
    chaos = site.chaos(rate=1, seed=1, kinds=("503",), path=r"/myself$")
    assert _run(site, 3) == ["503", "503", "503"]
    assert _get(site, "/rest/api/2/serverInfo").status_code == 200  # out of its scope
    assert chaos.seen == 3 and chaos.fired == {"503": 3}

    site.chaos(rate=1, seed=1, kinds=("502", "lost"), method="POST")
    assert _get(site).status_code == 200  # only POSTs
    outcomes = []
    for n in range(6):
        try:
            outcomes.append(_comment(site, f"comment {n}").status_code)
        except requests.ConnectionError:
            outcomes.append(DROPPED)
    assert set(outcomes) == {502, DROPPED}
    lost = outcomes.count(DROPPED)
    assert len(_comments(site)) == lost  # "lost": carried out, then dropped; a 502 was not


def test_chaos_stops_at_rate_0_or_clear_faults_and_yields_to_injected_faults(
    site: JiraSandbox,
) -> None:
    site.chaos(rate=1, kinds=("500",))
    fault = site.inject(path=r"/myself$", status=418)
    chaos = site.chaos(rate=1, kinds=("500",))
    assert _run(site, 2) == ["418", "500"]
    assert fault.fired == 1 and chaos.seen == 2 and chaos.fired == {"500": 1}

    stopped = site.chaos(rate=0)
    assert _run(site, 3) == ["ok"] * 3 and stopped.total == 0
    site.chaos(rate=1, kinds=("500",))
    site.clear_faults()
    assert _run(site, 3) == ["ok"] * 3


def test_chaos_refuses_what_it_cannot_do(site: JiraSandbox) -> None:
    with pytest.raises(ValueError, match="unknown chaos kinds"):
        site.chaos(kinds=("teapot",))
    with pytest.raises(ValueError, match="between 0 and 1"):
        site.chaos(rate=1.5)
    with pytest.raises(ValueError, match="slow_seconds"):
        site.chaos(kinds=("slow",), slow_seconds=0)
