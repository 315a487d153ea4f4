"""`pmo-sync serve` as a real process against the sandbox Jira: cycles, SIGKILL, restart,
SIGHUP, SIGTERM, the endpoints, and a second replica on one SQLite file."""

from __future__ import annotations

import itertools
import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.cycles import iter_cycles

from ..schema_helpers import migrated_engine, stored_changes, stored_items
from .serve_helpers import (
    ServeProcess,
    ok_cycles,
    provision_kpi_fields,
    start_serve,
    wait_for,
    write_jira_config,
)

pytestmark = pytest.mark.slow  # each test starts and stops real serve processes: 5 to 15 s

SEARCH = r"/rest/api/\d/search"


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=20) as sandbox:
        provision_kpi_fields(sandbox)
        yield sandbox


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    engine = migrated_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture
def running() -> Iterator[list[ServeProcess]]:
    """Every serve started by a test; killed at teardown if the test left one running."""
    started: list[ServeProcess] = []
    yield started
    for serve in started:
        if serve.process.poll() is None:
            serve.kill()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _assert_store_equals_sandbox(engine: Engine, jira: JiraSandbox) -> None:
    issues = list(jira.dataset.issues)
    items = stored_items(engine)
    changes = {
        key: [(r.at, r.from_value, r.to_value) for r in rows]
        for key, rows in stored_changes(engine, "status").items()
    }
    assert set(items) == {issue.id for issue in issues}
    # (not `updated`: the last cycle's own push moves it after that cycle's sync read it)
    for issue in issues:
        assert items[issue.id].status == issue.status.name, issue.key
        assert changes.get(issue.id, []) == [
            (t.at, t.from_status, t.to_status) for t in issue.status_transitions
        ], issue.key


def _bot_comment_counts(jira: JiraSandbox) -> dict[str, int]:
    data = jira.dataset
    counts = {
        issue.key: sum(1 for c in data.comments(issue.key) if c.author_id == jira.account_id)
        for issue in data.issues
    }
    return {key: n for key, n in counts.items() if n}


def test_cycles_survive_a_sigkill_mid_sync_and_a_restart_catches_up(
    jira: JiraSandbox,
    sqlite_store: tuple[str, Engine],
    tmp_path: Path,
    running: list[ServeProcess],
) -> None:
    url, engine = sqlite_store
    write_jira_config(tmp_path / "config", jira.url, jira.email, seconds=1)
    serve = start_serve(tmp_path, url, tmp_path / "config", jira.token, "first")
    running.append(serve)

    # two cycles complete: sync, KPIs, findings, push
    wait_for(lambda: len(ok_cycles(engine)) >= 2, what="two cycles")
    status, body = _get(f"{serve.url}/readyz")
    assert status == 200, body
    one_status, one_body = _get(f"{serve.url}/readyz?connector=sandbox-jira")
    assert (one_status, list(json.loads(one_body)["connectors"])) == (200, ["sandbox-jira"])
    assert _get(f"{serve.url}/readyz?connector=nobody") == (404, b"no connector 'nobody'\n")
    ready = json.loads(body)["connectors"]["sandbox-jira"]
    assert ready["ready"] and ready["last_success_age_seconds"] is not None
    status, metrics = _get(f"{serve.url}/metrics")
    assert status == 200
    text = metrics.decode()
    assert 'pmo_sync_cycles_total{connector="sandbox-jira",outcome="success"}' in text
    assert 'pmo_sync_connector_up{connector="sandbox-jira"} 1.0' in text
    assert 'pmo_sync_kpi{metric="wip",team="portfolio"}' in text
    assert _get(f"{serve.url}/healthz") == (200, b"ok\n")
    comments = _bot_comment_counts(jira)
    assert comments and set(comments.values()) == {1}

    # the tracker changes, then stalls in the middle of the next sync: kill -9 there
    data = jira.dataset
    moved = [i.key for i in data.issues if i.status.name == "To Do"][:3]
    for key in moved:
        data.clock.advance(minutes=5)
        data.transition(key, "In Progress")
    stall = jira.hold("GET", SEARCH)
    assert stall.arrived.wait(30), "no sync reached the tracker"
    serve.kill()
    stall.release()
    interrupted = [c for c in iter_cycles(engine) if c.finished_at is None]
    assert len(interrupted) == 1 and interrupted[0].stage == "sync"

    # a restart catches up: the store equals the tracker, and no item has two bot comments
    before = len(ok_cycles(engine))
    again = start_serve(tmp_path, url, tmp_path / "config", jira.token, "second")
    running.append(again)
    wait_for(lambda: len(ok_cycles(engine)) >= before + 2, what="cycles after the restart")
    assert again.stop() == 0  # SIGTERM: a clean stop
    _assert_store_equals_sandbox(engine, jira)
    assert set(_bot_comment_counts(jira).values()) == {1}
    assert "service_stopped" in again.logs()
    # every line of a cycle carries its run id
    lines = [json.loads(line) for line in again.logs().splitlines() if line.startswith("{")]
    cycle_lines = [line for line in lines if line["event"] in ("sync_finished", "cycle_finished")]
    assert cycle_lines and all(line.get("run_id") for line in cycle_lines)


def test_a_second_replica_on_the_same_sqlite_file_refuses_to_start(
    jira: JiraSandbox,
    sqlite_store: tuple[str, Engine],
    tmp_path: Path,
    running: list[ServeProcess],
) -> None:
    url, _ = sqlite_store
    write_jira_config(tmp_path / "config", jira.url, jira.email, seconds=30)
    first = start_serve(tmp_path, url, tmp_path / "config", jira.token, "first")
    running.append(first)
    with pytest.raises(AssertionError) as refused:
        start_serve(tmp_path, url, tmp_path / "config", jira.token, "second")
    message = str(refused.value)
    assert "another pmo-sync serve already uses the SQLite store" in message
    assert f"pid {first.process.pid}" in message
    assert "use PostgreSQL for several replicas" in message
    assert first.stop() == 0


def test_sighup_keeps_the_old_config_on_a_bad_file_and_takes_a_good_one(
    jira: JiraSandbox,
    sqlite_store: tuple[str, Engine],
    tmp_path: Path,
    running: list[ServeProcess],
) -> None:
    url, engine = sqlite_store
    config_dir = tmp_path / "config"
    path = write_jira_config(config_dir, jira.url, jira.email, seconds=1)
    serve = start_serve(tmp_path, url, config_dir, jira.token, "serve")
    running.append(serve)
    wait_for(lambda: len(ok_cycles(engine)) >= 1, what="a first cycle")

    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("jql:", "jqll:"), encoding="utf-8")
    serve.signal(signal.SIGHUP)
    wait_for(lambda: "reload_rejected" in serve.logs(), what="the rejection")
    assert "jqll: unknown key" in serve.logs()
    done = len(ok_cycles(engine))
    wait_for(lambda: len(ok_cycles(engine)) >= done + 2, what="cycles on the old config")

    path.write_text(good.replace("interval_seconds: 1", "interval_seconds: 3600"))
    serve.signal(signal.SIGHUP)
    wait_for(lambda: "config_reloaded" in serve.logs(), what="the reload")
    assert serve.stop() == 0


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_two_replicas_on_postgresql_never_overlap_one_connectors_cycles(
    jira: JiraSandbox, store_url: str, tmp_path: Path, running: list[ServeProcess]
) -> None:
    engine = migrated_engine(store_url)
    try:
        config_dir = tmp_path / "config"
        write_jira_config(config_dir, jira.url, jira.email, seconds=1)
        write_jira_config(config_dir, jira.url, jira.email, seconds=1, name="second-jira")
        for name in ("a", "b"):
            running.append(start_serve(tmp_path, store_url, config_dir, jira.token, name))

        def cycles_of_each(count: int) -> bool:
            return all(len(ok_cycles(engine, c)) >= count for c in ("sandbox-jira", "second-jira"))

        def skips() -> int:
            return sum(s.logs().count("cycle_skipped_locked") for s in running)

        # Both run side by side. Which of them wins each run depends on their phase, so the
        # test makes sure of both halves: a sync held mid-cycle (its connector's lock taken)
        # makes the other replica's timer find the lock and skip; then the first replica is
        # stopped and the other must carry on alone, so both have done work.
        wait_for(lambda: cycles_of_each(6), timeout=120, what="six cycles of each connector")
        stall = jira.hold("GET", r"/rest/api/2/search/jql$")
        wait_for(stall.arrived.is_set, timeout=30, what="a sync held mid-cycle")
        wait_for(lambda: skips() > 0, timeout=30, what="the other replica skipping it")
        stall.release()
        assert running[0].stop() == 0
        wait_for(lambda: cycles_of_each(12), timeout=120, what="a dozen cycles of each connector")
        assert running[1].stop() == 0
        for connector in ("sandbox-jira", "second-jira"):
            cycles = list(iter_cycles(engine, connector))
            assert all(c.finished_at is not None for c in cycles)
            # the portfolio-wide KPI refresh never raced another replica's: every cycle
            # succeeded but those the final SIGTERM stopped
            failed = [c for c in cycles if not c.ok]
            assert all(c.errors[0].startswith("stopped by shutdown") for c in failed), failed
            for earlier, later in itertools.pairwise(cycles):
                assert earlier.finished_at is not None
                assert earlier.finished_at <= later.started_at, (earlier, later)
        replicas = {c.replica for c in iter_cycles(engine)}
        assert len(replicas) == 2  # both replicas did work, never at once on one connector
        assert skips() > 0  # and one found the other holding a connector
    finally:
        engine.dispose()


def test_sigterm_mid_sync_abandons_the_batch_cleanly_and_exits_zero(
    jira: JiraSandbox,
    sqlite_store: tuple[str, Engine],
    tmp_path: Path,
    running: list[ServeProcess],
) -> None:
    url, engine = sqlite_store
    write_jira_config(tmp_path / "config", jira.url, jira.email, seconds=1)
    serve = start_serve(tmp_path, url, tmp_path / "config", jira.token, "serve")
    running.append(serve)
    wait_for(lambda: ok_cycles(engine), what="a first cycle")
    data = jira.dataset
    key = next(i.key for i in data.issues if i.status.name == "To Do")
    data.clock.advance(minutes=5)
    data.transition(key, "In Progress")
    stall = jira.hold("GET", SEARCH)
    assert stall.arrived.wait(30), "no sync reached the tracker"
    serve.signal(signal.SIGTERM)
    stall.release()
    assert serve.process.wait(30) == 0
    last = list(iter_cycles(engine))[-1]
    assert last.finished_at is not None and last.ok is False and last.stage == "sync"
    assert last.errors[0].startswith("stopped by shutdown")
    # what was committed stays; the bookmark did not move, so the next run reads the change
    again = start_serve(tmp_path, url, tmp_path / "config", jira.token, "again")
    running.append(again)
    done = len(ok_cycles(engine))
    wait_for(lambda: len(ok_cycles(engine)) > done, what="a cycle after the restart")
    assert again.stop() == 0
    _assert_store_equals_sandbox(engine, jira)
