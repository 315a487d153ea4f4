"""The service in-process: a tracker that is down backs off and is unready; the others go on."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.service.runner import Service
from pmo_sync.store.cycles import iter_cycles

from .serve_helpers import (
    TOKEN_VARIABLE,
    ok_cycles,
    provision_kpi_fields,
    wait_for,
    write_jira_config,
)


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=10) as sandbox:
        provision_kpi_fields(sandbox)
        yield sandbox


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_a_down_tracker_backs_off_and_is_unready_while_the_others_keep_their_schedule(
    jira: JiraSandbox, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, jira.token)
    config_dir = tmp_path / "config"
    write_jira_config(config_dir, jira.url, jira.email, seconds=1, name="healthy")
    refused = f"http://127.0.0.1:{_closed_port()}"
    write_jira_config(config_dir, refused, jira.email, seconds=1, name="refused")
    with JiraSandbox(issues_per_project=1) as silent:
        stall = silent.hold(None, r".*")  # accepts the connection, never answers
        write_jira_config(config_dir, silent.url, silent.email, seconds=1, name="silent")
        service = Service(engine, config_dir)
        assert service.start() == []
        try:
            wait_for(lambda: len(ok_cycles(engine, "healthy")) >= 4, what="healthy cycles")
            wait_for(lambda: service.states["silent"].failures >= 1, timeout=30, what="a timeout")
            ready, body = service.readiness()
            one_ready, one = service.readiness("healthy")  # `/readyz?connector=healthy`
            with pytest.raises(KeyError):
                service.readiness("nobody")
        finally:
            stall.release()
            service.stop()
    assert not ready
    assert one_ready and list(one["connectors"]) == ["healthy"]  # the others do not count
    connectors = body["connectors"]
    assert connectors["healthy"]["ready"] and connectors["healthy"]["consecutive_failures"] == 0
    for name, words in (("refused", "connection refused"), ("silent", "did not answer")):
        state = connectors[name]
        assert not state["ready"], name
        assert state["backing_off_until"] is not None, name
        assert state["last_success"] is None, name
        assert words in state["last_error"], state["last_error"]
    # back-off: after the n-th failure the refused tracker waits 2^(n-1) intervals (1 s here)
    refused_cycles = list(iter_cycles(engine, "refused"))
    assert len(refused_cycles) >= 3
    assert all(c.ok is False and c.stage == "sync" for c in refused_cycles)
    for n, (failed, retried) in enumerate(itertools.pairwise(refused_cycles), start=1):
        assert failed.finished_at is not None
        wait = (retried.started_at - failed.finished_at).total_seconds()
        assert wait >= 2 ** (n - 1) - 0.05, (n, wait)
    assert len(ok_cycles(engine, "healthy")) > len(refused_cycles)


def test_a_failed_write_back_is_reported_but_leaves_the_connector_ready(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No KPI field exists in this tracker: every push stops at its first field write (the
    actions before it are made: here two bot comments, open epic ABC-1's stakeholder sentence,
    which every open request gets even without a finding, and ABC-2's finding), the sync is
    fine."""
    with JiraSandbox(issues_per_project=5) as bare:
        monkeypatch.setenv(TOKEN_VARIABLE, bare.token)
        write_jira_config(tmp_path / "config", bare.url, bare.email, seconds=1, name="bare")
        service = Service(engine, tmp_path / "config")
        assert service.start() == []
        try:
            wait_for(lambda: len(ok_cycles(engine, "bare")) >= 2, what="two cycles")
            ready, body = service.readiness()
        finally:
            service.stop()
    assert ready, body
    cycles = ok_cycles(engine, "bare")
    bot_comments = [
        c
        for issue in bare.dataset.issues
        for c in issue.comments
        if c.author.account_id == bare.account_id
    ]
    assert cycles[0].push_failed > 0 and cycles[0].pushed == len(bot_comments) == 2
    keys = {issue.id: issue.key for issue in bare.dataset.issues}
    assert sorted(keys[c.issue_id] for c in bot_comments) == ["ABC-1", "ABC-2"]
    assert "\nWhen: " in next(c.body for c in bot_comments if keys[c.issue_id] == "ABC-1")
    assert "no field named 'Cycle time (days)'" in cycles[0].errors[0]
