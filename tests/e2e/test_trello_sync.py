"""Full and incremental Trello syncs against the sandbox, compared with its ground truth.

The sandbox records what it simulated (`card.list_moves`, `card.sprint_changes`,
`card.estimate_changes`, `card.closed`, `card.deleted`) apart from the actions it
serves, so these tests compare the store with what happened, card by card, not
with a second reading of the same actions.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.trello import TrelloConfig
from connectors.trello.convert import ACTION_FILTERS
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.generator import HEAVY_CARD, Card
from pmo_sync.store.models import SprintItemRow, SprintRow, WorkItemRow
from pmo_sync.sync import RunSummary

from ..schema_helpers import dump_tables, stored_changes, stored_items


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces each process-wide
    with TrelloSandbox(key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


def _list_names(ds: TrelloDataset) -> dict[str, str]:
    return {x.id: x.name for b in ds.boards for x in b.lists}


def _dedupe(values: list[tuple[datetime, Any]]) -> list[tuple[datetime, Any]]:
    """A field's values as changes: a value set again to itself is no change."""
    result: list[tuple[datetime, Any]] = []
    last: Any = None
    for at, value in values:
        if value != last:
            result.append((at, value))
        last = value
    return result


def _requests(sandbox: TrelloSandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.requests]


def test_full_sync_stores_every_card_and_every_list_move_exactly(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    ds = trello.dataset
    summary = sync(trello_config(trello))
    assert summary.status == "success", summary.errors

    cards = list(ds.cards(include_deleted=True))
    live = [c for c in cards if not c.deleted]
    assert len(live) < len(cards)  # the sandbox deleted some
    items = stored_items(engine)
    assert set(items) == {c.id for c in live}  # deleted cards are never stored
    names = _list_names(ds)
    boards = {b.id: b.name for b in ds.boards}
    moves = stored_changes(engine, "status")
    estimates = stored_changes(engine, "estimate")
    sprints = stored_changes(engine, "sprint")
    compared = 0
    for card in live:
        row = items[card.id]
        assert row.key == card.short_link
        assert row.title == card.name
        assert row.status == names[card.list_id]
        assert row.team == boards[card.board_id]
        assert row.archived is card.closed
        assert row.estimate == card.estimate
        assert row.created == card.created
        expected_moves = [
            (m.action_id + ":status", m.at, names[m.from_list], names[m.to_list])
            for m in card.list_moves
            if m.from_list is not None
        ]
        stored_moves = [(r.change_id, r.at, r.from_value, r.to_value) for r in moves[card.id]]
        assert stored_moves == expected_moves, card.short_link
        expected_points = _dedupe(card.estimate_changes)
        stored_points = [
            (r.at, None if r.to_value is None else float(r.to_value)) for r in estimates[card.id]
        ]
        assert stored_points == expected_points, card.short_link
        stored_sprints = [
            (r.at, r.to_display) for r in sprints[card.id] if r.from_display != r.to_display
        ]
        assert stored_sprints == _dedupe(card.sprint_changes), card.short_link
        compared += len(expected_moves)
    assert compared > 1000  # the comparison covers real history, not a handful of moves


def test_a_card_with_more_than_1000_actions_is_complete(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    heavy = trello.dataset.card_at(HEAVY_CARD)
    assert heavy is not None and len(heavy.live_actions) > 1000
    sync(trello_config(trello))
    moves = stored_changes(engine, "status")[heavy.id]
    assert len(moves) == len([m for m in heavy.list_moves if m.from_list]) > 300
    assert moves[0].change_id == heavy.list_moves[1].action_id + ":status"
    pages = [p for p in _requests(trello) if p.endswith("/actions")]
    assert len(pages) > 2  # the board holding it needed several pages of 1000


def test_full_sync_costs_one_call_per_1000_actions_plus_three_per_board(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
) -> None:
    ds = trello.dataset
    wanted = frozenset(ACTION_FILTERS)
    per_board = {
        b.id: sum(1 for c in ds.cards(include_deleted=True) for a in c.actions
                  if a.board_id == b.id and not a.deleted and a.type in wanted)
        for b in ds.boards
    }  # fmt: skip
    summary = sync(trello_config(trello))
    action_pages = sum(n // 1000 + 1 for n in per_board.values())
    # me + boards, then per board: actions pages, lists, custom fields, cards
    assert summary.api_calls == 2 + action_pages + 3 * len(ds.boards)


def test_a_sync_with_nothing_new_costs_one_call_per_board(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = trello_config(trello)
    sync(config)
    before = dump_tables(engine)
    trello.reset_log()
    summary = sync(config)
    assert summary.api_calls == 2
    assert [r.split("?")[0] for r in _requests(trello)] == [
        f"GET /1/boards/{b.id}/actions" for b in trello.dataset.boards
    ]
    assert dump_tables(engine) == before


def _pages(card: Card) -> int:
    wanted = frozenset(ACTION_FILTERS)
    return sum(1 for a in card.live_actions if a.type in wanted) // 1000 + 1


def _store_sprint_names(engine: Engine) -> dict[str, tuple[str, str, Any, Any]]:
    with engine.connect() as conn:
        return {
            r.external_id: (r.name, r.state, r.start, r.end)
            for r in conn.execute(select(SprintRow.__table__))
        }


def test_sprints_are_per_board_and_dated_by_the_cadence(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    sync(trello_config(trello))
    sprints = _store_sprint_names(engine)
    alpha = trello.dataset.board("Team Alpha")
    name, _state, start, end = sprints[f"{alpha.id}:Sprint 18"]
    assert (name, start.isoformat(), end.isoformat()) == (
        "Sprint 18",
        "2026-11-16T00:00:00+00:00",
        "2026-11-29T23:59:59+00:00",
    )
    assert len(sprints) == 2 * len(trello.dataset.sprints)  # every option of both boards
    for sprint in trello.dataset.sprints:  # the sandbox's own calendar, to the second
        _, _, start, end = sprints[f"{alpha.id}:{sprint.name}"]
        assert start == sprint.start
        assert (sprint.end - end).total_seconds() == 1
    with engine.connect() as conn:
        stays = conn.execute(select(SprintItemRow.__table__)).all()
    assert stays and all(":" in s.sprint_external_id for s in stays)


def test_incremental_sync_reads_only_new_actions_and_marks_archived_and_deleted(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    ds = trello.dataset
    config = trello_config(trello)
    sync(config)
    alpha, beta = ds.board("Team Alpha"), ds.board("Team Beta")
    on_alpha = [c for c in ds.cards(alpha) if not c.closed]
    moved, archived, deleted = on_alpha[0], on_alpha[1], on_alpha[2]
    doing = alpha.list_named("Doing")
    done = alpha.list_named("Done")
    assert doing is not None and done is not None
    target = done if moved.list_id != done.id else doing
    person = ds.people[0]  # the sandbox's default writer is pmo-sync's own member
    ds.move_card(moved.id, target.id, by=person)
    ds.archive_card(archived.id, by=person)
    ds.delete_card(deleted.id, by=person)
    new = ds.create_card(beta, "To Do", "Brand new card", by=person)
    trello.reset_log()

    summary = sync(config)
    assert summary.status == "success", summary.errors
    paths = [r.split("?")[0] for r in _requests(trello)]
    assert Counter(paths) == Counter({
        f"GET /1/boards/{alpha.id}/actions": 1,
        f"GET /1/boards/{beta.id}/actions": 1,
        f"GET /1/boards/{alpha.id}/lists": 1,
        f"GET /1/boards/{beta.id}/lists": 1,
        f"GET /1/boards/{alpha.id}/customFields": 1,
        f"GET /1/boards/{beta.id}/customFields": 1,
        f"GET /1/boards/{alpha.id}/cards/all": 1,
        f"GET /1/boards/{beta.id}/cards/all": 1,
        # the moved and archived cards' older history (1000 actions a call; the new card's
        # history is all in the board's new actions)
        f"GET /1/cards/{moved.id}/actions": _pages(ds.card(moved.id)),
        f"GET /1/cards/{archived.id}/actions": _pages(ds.card(archived.id)),
    })  # fmt: skip
    assert moved.n == HEAVY_CARD and _pages(ds.card(moved.id)) == 2
    items = stored_items(engine)
    assert items[moved.id].status == target.name
    assert items[archived.id].archived is True
    assert items[deleted.id].deleted_at is not None
    assert items[new.id].status == "To Do" and items[new.id].team == "Team Beta"
    assert summary.items_deleted == 1
    last_move = stored_changes(engine, "status")[moved.id][-1]
    assert (last_move.change_id, last_move.to_value) == (
        ds.card(moved.id).list_moves[-1].action_id + ":status",
        target.name,
    )


def test_board_move_and_copy_keep_the_history_across_boards(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    ds = trello.dataset
    config = trello_config(trello)
    sync(config)
    alpha, beta = ds.board("Team Alpha"), ds.board("Team Beta")
    card = next(c for c in ds.cards(alpha) if not c.closed and c.sprint and c.estimate)
    person = ds.people[1]
    ds.move_card(card.id, "Review", board=beta, by=person)
    copy = ds.copy_card(card.id, "Backlog", board=alpha, by=person)
    sync(config)
    items = stored_items(engine)
    moved = ds.card(card.id)
    assert (items[card.id].team, items[card.id].status) == ("Team Beta", "Review")
    expected = [
        (m.action_id + ":status", m.to_list) for m in moved.list_moves if m.from_list is not None
    ]
    names = _list_names(ds)
    stored = [(r.change_id, r.to_value) for r in stored_changes(engine, "status")[card.id]]
    assert stored == [(cid, names[to]) for cid, to in expected]
    assert items[copy.id].status == "Backlog" and items[copy.id].team == "Team Alpha"
    with engine.connect() as conn:
        table = SprintItemRow.__table__
        stays = conn.execute(
            select(table.c.sprint_external_id, table.c.removed_at)
            .join(WorkItemRow.__table__, WorkItemRow.__table__.c.id == table.c.item_id)
            .where(WorkItemRow.__table__.c.external_id == card.id)
            .order_by(table.c.added_at)
        ).all()
    # the same sprint name on the other board is the other team's sprint
    assert stays[-1] == (f"{beta.id}:{moved.sprint}", None)
    assert stays[-2].sprint_external_id == f"{alpha.id}:{card.sprint}"
    assert stays[-2].removed_at is not None


def _bot_writes(trello: TrelloSandbox, card: Card) -> None:
    ds = trello.dataset
    bot = ds.bot
    board = ds.board(card.board_id)
    field = ds.create_custom_field(board, "Cycle time (days)", "number")
    ds.set_custom_field(card.id, field.id, 4.0, by=bot)
    ds.add_comment(card.id, "pmo-sync: cycle time 4 days", by=bot)


def test_pmo_syncs_own_write_back_costs_the_next_sync_nothing(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = trello_config(trello)
    sync(config)
    card = next(iter(trello.dataset.cards("Team Alpha")))
    _bot_writes(trello, card)
    before = dump_tables(engine)
    trello.reset_log()
    summary = sync(config)
    assert summary.api_calls == 2  # one actions call per board; nothing re-read
    assert dump_tables(engine)["work_items"] == before["work_items"]
    # ... and the mark moved past them: the next sync asks only for what came after
    newest = trello.dataset.card(card.id).actions[-1].id
    trello.reset_log()
    assert sync(config).api_calls == 2
    alpha = trello.dataset.board("Team Alpha").id
    [asked] = [r for r in trello.requests if r.path == f"/1/boards/{alpha}/actions"]
    assert asked.query["since"] == [newest]
