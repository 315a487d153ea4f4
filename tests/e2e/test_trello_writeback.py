"""Trello write-back end to end: sync, KPIs, findings, push, ten times over the sandbox.

The boards get their KPI custom fields from `pmo-sync connectors provision`'s code
path (`provision`), as an admin would run it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.trello import TrelloConfig
from connectors.trello.provision import provision
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.store.models import WorkItemRow
from pmo_sync.writeback.service import PushSummary

from .cycles import load_rules, service_cycle

FIELDS = {
    "cycle_time_days": "Cycle time (days)",
    "wip_age_days": "WIP age (days)",
    "team_cycle_time_p85_days": "Team p85 cycle time (days)",
}


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    # Credentials of its own: the client paces each key and token process-wide under Trello's
    # limits, so calls of earlier tests would otherwise make these wait.
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(cards_per_board=20, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


@pytest.fixture
def config(trello: TrelloSandbox, monkeypatch: pytest.MonkeyPatch) -> TrelloConfig:
    monkeypatch.setenv("PMO_SYNC_TEST_TRELLO_KEY", trello.key)
    monkeypatch.setenv("PMO_SYNC_TEST_TRELLO_TOKEN", trello.token)
    config = TrelloConfig.model_validate(
        {
            "name": "sandbox-trello",
            "kind": "trello",
            "url": trello.root_url,
            "api_key": "${PMO_SYNC_TEST_TRELLO_KEY}",
            "token": "${PMO_SYNC_TEST_TRELLO_TOKEN}",
            "boards": ["Team Alpha", "Team Beta"],
            "sprints": {"cadence": {"sprint": "Sprint 18", "starts": "2026-11-16"}},
            "max_retry_wait_seconds": 2,
            "writeback": {"enabled": True, "fields": FIELDS, "comments": True},
        }
    )
    steps = list(provision(config))
    assert [s.status for s in steps] == ["made"] * 6  # 3 fields on 2 boards
    return config


@pytest.fixture
def cycle(
    trello: TrelloSandbox, config: TrelloConfig, engine: Engine, tmp_path: Path
) -> Callable[..., PushSummary]:
    """One service cycle: sync, KPIs and findings as of the sandbox's clock, push."""
    rules = load_rules(tmp_path)

    def run(*, dry_run: bool = False) -> PushSummary:
        return service_cycle(config, engine, rules, trello.dataset.clock.now, dry_run=dry_run)

    return run


def _bot_comments(trello: TrelloSandbox) -> dict[str, int]:
    bot = trello.member.id
    counts: dict[str, int] = {}
    for card in trello.dataset.cards():
        mine = [c for c in card.comments if c.creator.id == bot]
        if mine:
            counts[card.short_link] = len(mine)
    return counts


def _last_activity(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(WorkItemRow.external_id, WorkItemRow.last_activity))
        return {external_id: at for external_id, at in rows}


def _card_writes(trello: TrelloSandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in trello.writes if r.status == 200]


@pytest.mark.slow
def test_ten_cycles_write_once_and_leave_one_comment_per_card(
    trello: TrelloSandbox, cycle: Callable[..., PushSummary], engine: Engine
) -> None:
    trello.reset_log()
    preview = cycle(dry_run=True)
    assert preview.planned > 0
    assert trello.writes == []  # a dry run writes nothing

    activity = _last_activity(engine)
    first = cycle()
    assert first.ok, first.errors
    assert first.done == first.planned == preview.planned
    writes_after_first = len(_card_writes(trello))
    comments = _bot_comments(trello)
    assert comments and set(comments.values()) == {1}

    trello.reset_log()
    for _ in range(9):
        again = cycle()
        assert again.ok, again.errors
        assert (again.planned, again.done, again.api_calls) == (0, 0, 0)
        assert set(_bot_comments(trello).values()) <= {1}
    assert trello.writes == []  # the bot's own writes caused no new one
    # each later sync read only the boards' new actions: one call per board, nothing else
    paths = [r.path for r in trello.requests]
    assert len(paths) == 9 * 2 and all(p.endswith("/actions") for p in paths)
    assert _bot_comments(trello) == comments
    # the bot's field writes and comments are not activity: last_activity did not move
    assert _last_activity(engine) == activity
    assert writes_after_first > 0

    # a value written into the tracker is the value computed, on the card's own board's field
    data = trello.dataset
    written = 0
    for card in data.cards():
        board = data.board(card.board_id)
        field = board.field_named(FIELDS["cycle_time_days"])
        assert field is not None
        item = card.items.get(field.id)
        if item is not None:
            written += 1
            assert float(item.value["number"]) > 0  # type: ignore[index]
    assert written > 10


def test_a_comment_deleted_by_a_person_comes_back_with_its_next_change(
    trello: TrelloSandbox, cycle: Callable[..., PushSummary]
) -> None:
    """Unchanged findings cost no call, so a deletion is seen when the comment next changes;
    the update finding it gone adds it again in the same push."""
    cycle()
    data = trello.dataset
    bot = trello.member.id
    person = data.people[0]
    card = next(
        c
        for c in data.cards()
        if c.short_link in _bot_comments(trello) and c.estimate is not None and not c.closed
    )
    comment = next(a for a in card.comments if a.creator.id == bot)
    data.delete_comment(comment.id, by=bot)  # deleted in the UI (by its author's rights)
    assert cycle().planned == 0
    data.clock.advance(minutes=1)
    # the estimate cleared: a second finding, so the comment must change
    data.set_custom_field(card.id, "Story Points", None, by=person)
    changed = cycle()
    assert (changed.planned, changed.done, changed.failed) == (1, 1, 0)  # gone: added again
    assert _bot_comments(trello)[card.short_link] == 1
    assert cycle().planned == 0


@pytest.mark.slow
def test_a_failed_write_is_retried_next_cycle_and_only_it(
    trello: TrelloSandbox, cycle: Callable[..., PushSummary]
) -> None:
    # A refusal of the card alone (a 400 or 403 is the board's: the push stops the fields
    # there, tests/writeback/test_field_refusals.py).
    trello.inject(method="PUT", path=r"/cards/[^/]+/customFields?", status=409, times=1)
    first = cycle()
    assert (first.failed, len(first.errors)) == (1, 1)
    refused = first.errors[0].split(":", 1)[0]
    trello.reset_log()
    second = cycle()
    assert (second.planned, second.done, second.failed) == (1, 1, 0)
    puts = [r.path for r in trello.writes if r.method == "PUT"]
    assert len(puts) == 1 and f"/cards/{refused}/" in puts[0]
    assert cycle().planned == 0
