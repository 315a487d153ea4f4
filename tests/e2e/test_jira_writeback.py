"""Sync, KPIs, findings, push, again and again: each change written once, one comment per item."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connectors.jira import JiraConfig
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.writeback.service import PushSummary

from .cycles import load_rules, service_cycle

FIELDS = {
    "cycle_time_days": "Cycle time (days)",
    "wip_age_days": "WIP age (days)",
    "team_cycle_time_p85_days": "Team p85 cycle time (days)",
}


@pytest.fixture
def writeback_sandbox(jira_sandbox: JiraSandbox) -> JiraSandbox:
    """The sandbox with the three KPI fields created and on every project's edit screen."""
    data = jira_sandbox.dataset
    for name in FIELDS.values():
        field_id = data.create_custom_field(name, "number")
        for project in ("ABC", "DEF", "GHI"):
            data.add_field_to_screen(field_id, project)
    return jira_sandbox


@pytest.fixture
def cycle(
    writeback_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    engine: Engine,
    tmp_path: Path,
) -> Callable[..., PushSummary]:
    """One service cycle: sync, KPIs and findings as of the sandbox's clock, push."""
    rules = load_rules(tmp_path)
    config = make_config(
        writeback_sandbox, writeback={"enabled": True, "fields": FIELDS, "comments": True}
    )

    def run(*, dry_run: bool = False) -> PushSummary:
        now = writeback_sandbox.dataset.clock.now
        return service_cycle(config, engine, rules, now, dry_run=dry_run)

    return run


def _bot_comments(sandbox: JiraSandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for issue in sandbox.dataset.issues:
        mine = [c for c in sandbox.dataset.comments(issue.key) if c.author_id == sandbox.account_id]
        if mine:
            counts[issue.key] = len(mine)
    return counts


@pytest.mark.slow
def test_ten_cycles_write_once_and_leave_one_comment_per_item(
    writeback_sandbox: JiraSandbox, cycle: Callable[..., PushSummary]
) -> None:
    preview = cycle(dry_run=True)
    assert preview.planned > 0 and len(preview.lines) >= preview.planned
    assert writeback_sandbox.writes == []  # a dry run writes nothing

    first = cycle()
    assert first.ok, first.errors
    assert first.done == first.planned == preview.planned
    writes_after_first = len(writeback_sandbox.writes)
    assert writes_after_first > 0
    comments = _bot_comments(writeback_sandbox)
    assert comments and set(comments.values()) == {1}

    for _ in range(9):
        again = cycle()
        assert (again.planned, again.done, again.api_calls) == (0, 0, 0)
    assert len(writeback_sandbox.writes) == writes_after_first  # the bot's edits caused none
    assert _bot_comments(writeback_sandbox) == comments

    # a value written into the tracker is the value computed
    data = writeback_sandbox.dataset
    cycle_field = next(f.id for f in data.custom_fields if f.name == "Cycle time (days)")
    done_with_value = [
        i.key for i in data.issues if data.field_value(i.key, cycle_field) is not None
    ]
    assert done_with_value


@pytest.mark.slow
def test_a_failed_write_is_retried_next_cycle_and_only_it(
    writeback_sandbox: JiraSandbox, cycle: Callable[..., PushSummary]
) -> None:
    writeback_sandbox.inject(method="PUT", path=r"/rest/api/2/issue/[^/]+$", status=403, times=1)
    first = cycle()
    assert first.failed == 1 and len(first.errors) == 1
    assert "(HTTP 403)" in first.errors[0]
    second = cycle()
    assert (second.planned, second.done, second.failed) == (1, 1, 0)
    assert cycle().planned == 0


@pytest.mark.slow
def test_a_comment_deleted_by_a_person_comes_back_with_its_next_change(
    writeback_sandbox: JiraSandbox, cycle: Callable[..., PushSummary]
) -> None:
    """Unchanged findings cost no call, so a deletion is seen when the comment next changes;
    the update finding it gone adds it again in the same push."""
    cycle()
    data = writeback_sandbox.dataset
    key = next(k for k in _bot_comments(writeback_sandbox) if data.issue(k).status.name == "To Do")
    comment = next(c for c in data.comments(key) if c.author_id == writeback_sandbox.account_id)
    data.delete_comment(comment.id)
    assert cycle().planned == 0
    data.clock.advance(minutes=1)
    data.assign(key, None)
    data.transition(key, "In Progress")  # in progress with no assignee: the comment changes
    changed = cycle()
    # two writes: its WIP age field (now in progress) and its comment (gone: added again)
    assert (changed.planned, changed.done, changed.failed) == (2, 2, 0)
    assert data.field_value(key, data.custom_fields[1].id) == 1.0
    assert _bot_comments(writeback_sandbox)[key] == 1
    assert cycle().planned == 0
