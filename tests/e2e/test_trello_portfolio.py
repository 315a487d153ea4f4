"""The portfolio facts of Trello cards, synced from the sandbox and checked row by row.

The sandbox is generated without its portfolio (`portfolio=False`: no epics, dates,
dependencies or releases of its own, so every fact below is this test's). The test gives a
few cards of its workspace (three boards, two in scope) start and due dates that slip, a
parent, "Depends on" card links (one to a board out of scope), a priority and a release
label, through the sandbox's own writes (each one the action Trello would log), then syncs
and reads the store.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select

from connectors.trello import TrelloConfig
from pmo_sync.common.rank import sortable_rank
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.generator import Card
from pmo_sync.store.models import ItemLinkRow, ItemReleaseRow, ReleaseRow, WorkItemRow
from pmo_sync.store.portfolio import parent_chain
from pmo_sync.sync import RunSummary

from ..schema_helpers import stored_changes, stored_items

BOARDS = ("Team Alpha", "Team Beta", "Team Gamma")  # Gamma is out of the config's scope


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]
    dataset = TrelloDataset.generate(seed=16, cards_per_board=12, boards=BOARDS, portfolio=False)
    with TrelloSandbox(dataset, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


def _open_cards(ds: TrelloDataset, board: str) -> list[Card]:
    """Open cards of a board, but the one with over 1,000 actions (its history takes two
    calls: the call counts below stay those of an ordinary card)."""
    heavy = ds.heavy_card.id
    return [c for c in ds.cards(ds.board(board)) if not c.closed and c.id != heavy]


def _utc(day: str, hour: int = 17) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _links(engine: Engine) -> dict[str, list[tuple[str, str, str, str | None]]]:
    query = select(WorkItemRow.external_id, ItemLinkRow).join(
        WorkItemRow, WorkItemRow.id == ItemLinkRow.item_id
    )
    found: dict[str, list[tuple[str, str, str, str | None]]] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            found.setdefault(r.external_id, []).append(
                (r.link_type, r.direction, r.target_key, r.target_external_id)
            )
    return {k: sorted(v) for k, v in found.items()}


def test_dates_links_releases_rank_and_priority_are_stored_card_by_card(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    ds = trello.dataset
    person = ds.people[0]  # not pmo-sync's own member: its writes are changes to read
    story, epic, other = _open_cards(ds, "Team Alpha")[:3]
    beta_card = _open_cards(ds, "Team Beta")[0]
    gamma_card = _open_cards(ds, "Team Gamma")[0]
    for board in ("Team Alpha", "Team Beta"):
        ds.create_label(board, "Epic")
        ds.create_label(board, "Release 2027.1")
        ds.create_label(board, "Priority: High")
    ds.add_label(epic.id, "Epic", by=person)
    ds.add_label(story.id, "Release 2027.1", by=person)
    ds.add_label(story.id, "Priority: High", by=person)
    ds.add_label(beta_card.id, "Release 2027.1", by=person)
    ds.attach_card(story.id, epic.id, by=person)  # its parent
    ds.attach_card(story.id, beta_card.id, by=person, name="Depends on: the Beta API")
    ds.attach_card(story.id, gamma_card.id, by=person, name="Depends on: Gamma's import")
    ds.set_dates(story.id, start=_utc("2026-11-23", 9), due=_utc("2026-12-04"), by=person)
    ds.clock.advance(hours=2)
    slip = ds.set_dates(story.id, due=_utc("2026-12-11"), by=person)
    assert slip is not None
    ds.set_dates(epic.id, due=_utc("2027-01-29"), by=person)
    config = trello_config(
        trello,
        portfolio={
            "priority": {"from": "label", "prefix": "Priority: "},
            "releases": {
                "label": "Release {name}",
                "dates": {
                    "2027.1": {"planned": "2027-01-15"},
                    "2026.2": {"planned": "2026-06-30", "released": "2026-07-02"},
                },
            },
        },
    )

    summary = sync(config)
    assert summary.status == "success", summary.errors
    items = stored_items(engine)
    row = items[story.id]
    assert (row.level, row.parent_key, row.priority) == ("story", epic.short_link, "High")
    assert (row.start_date, row.due_date) == (date(2026, 11, 23), date(2026, 12, 11))
    assert (row.target_start, row.target_end) == (None, None)  # Trello has no plan dates
    epic_row = items[epic.id]
    assert (epic_row.level, epic_row.parent_key, epic_row.due_date) == (
        "epic",
        None,
        date(2027, 1, 29),
    )
    assert (items[other.id].level, items[other.id].due_date, items[other.id].priority) == (
        "story",
        None,
        None,
    )
    dues = [(c.from_value, c.to_value) for c in stored_changes(engine, "due_date")[story.id]]
    assert dues == [(None, "2026-12-04"), ("2026-12-04", "2026-12-11")]
    assert stored_changes(engine, "due_date")[story.id][1].change_id == f"{slip.id}:due_date"
    starts = [(c.from_value, c.to_value) for c in stored_changes(engine, "start_date")[story.id]]
    assert starts == [(None, "2026-11-23")]
    assert _links(engine) == {
        story.id: sorted(
            [
                ("depends on", "inward", beta_card.short_link, None),
                ("depends on", "inward", gamma_card.short_link, None),  # out of scope: kept
            ]
        )
    }
    assert gamma_card.id not in items
    with engine.connect() as conn:
        releases = {
            r.external_id: (r.name, r.release_date, r.released)
            for r in conn.execute(select(ReleaseRow.__table__))
        }
        planned = Counter(r.release_external_id for r in conn.execute(select(ItemReleaseRow)))
    assert releases == {
        "2027.1": ("2027.1", date(2027, 1, 15), False),
        "2026.2": ("2026.2", date(2026, 7, 2), True),
    }
    assert planned == Counter({"2027.1": 2})  # the story and the Beta card, across boards
    assert items[story.id].rank == (
        f"{sortable_rank(ds.trello_list(story.list_id).pos)}.{sortable_rank(story.pos)}"  # type: ignore[union-attr]
    )
    alpha = ds.board("Team Alpha")
    in_board_order = sorted(
        ds.cards(alpha),
        key=lambda c: (ds.trello_list(c.list_id).pos, c.pos),  # type: ignore[union-attr]
    )
    by_rank = sorted((r for r in items.values() if r.team == "Team Alpha"), key=lambda r: r.rank)
    assert [r.external_id for r in by_rank] == [c.id for c in in_board_order]

    # the due date slips again: an incremental sync reads it with the calls it makes today
    ds.clock.advance(hours=2)
    later = ds.set_dates(story.id, due=_utc("2026-12-18"), by=person)
    assert later is not None
    trello.reset_log()
    summary = sync(config)
    assert summary.status == "success", summary.errors
    paths = Counter(f"{r.method} {r.path}" for r in trello.requests)
    beta = ds.board("Team Beta")
    assert paths == Counter(
        {
            f"GET /1/boards/{alpha.id}/actions": 1,
            f"GET /1/boards/{beta.id}/actions": 1,
            f"GET /1/boards/{alpha.id}/lists": 1,
            f"GET /1/boards/{alpha.id}/customFields": 1,
            f"GET /1/boards/{alpha.id}/cards/all": 1,
            f"GET /1/cards/{story.id}/actions": 1,  # its older history, as for any change
        }
    )
    assert stored_items(engine)[story.id].due_date == date(2026, 12, 18)
    dues = [(c.change_id, c.to_value) for c in stored_changes(engine, "due_date")[story.id]]
    assert dues[1:] == [
        (f"{slip.id}:due_date", "2026-12-11"),
        (f"{later.id}:due_date", "2026-12-18"),
    ]


def test_a_parent_cycle_a_deleted_dependency_and_an_undated_release_never_fail_the_sync(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    ds = trello.dataset
    person = ds.people[0]
    first, second, gone = _open_cards(ds, "Team Alpha")[:3]
    ds.attach_card(first.id, second.id, by=person)  # each the other's parent
    ds.attach_card(second.id, first.id, by=person)
    ds.attach_card(first.id, gone.id, by=person, name="Depends on: the old card")
    ds.delete_card(gone.id, by=person)
    ds.create_label("Team Alpha", "Release Someday")
    ds.add_label(second.id, "Release Someday", by=person)
    config = trello_config(trello, portfolio={"releases": {"label": "Release {name}"}})

    summary = sync(config)
    assert summary.status == "success", summary.errors
    items = stored_items(engine)
    assert gone.id not in items
    assert (items[first.id].parent_key, items[second.id].parent_key) == (
        second.short_link,
        first.short_link,
    )
    source_id = items[first.id].source_id
    chain = parent_chain(engine, source_id, first.short_link)
    assert [c.key for c in chain] == [second.short_link]  # cut before it comes back
    assert _links(engine) == {first.id: [("depends on", "inward", gone.short_link, None)]}
    with engine.connect() as conn:
        releases = [
            (r.external_id, r.name, r.release_date, r.released)
            for r in conn.execute(select(ReleaseRow.__table__))
        ]
    assert releases == [("someday", "Someday", None, False)]


def test_a_card_link_attached_after_a_sync_is_read_by_the_next_incremental_one(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """Attaching a card link (a parent, a dependency) is an `addAttachmentToCard`, the card's
    only new action: the incremental run must ask for it to read the card again."""
    ds = trello.dataset
    person = ds.people[0]
    story, epic = _open_cards(ds, "Team Alpha")[:2]
    beta_card = _open_cards(ds, "Team Beta")[0]
    config = trello_config(trello)
    assert sync(config).status == "success"
    assert stored_items(engine)[story.id].parent_key is None
    ds.clock.advance(hours=1)
    ds.attach_card(story.id, epic.id, by=person)
    ds.attach_card(story.id, beta_card.id, by=person, name="Depends on: the Beta API")
    trello.reset_log()

    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert (summary.items_updated, summary.items_inserted) == (1, 0)
    alpha, beta = ds.board("Team Alpha"), ds.board("Team Beta")
    assert Counter(f"{r.method} {r.path}" for r in trello.requests) == Counter(
        {
            f"GET /1/boards/{alpha.id}/actions": 1,
            f"GET /1/boards/{beta.id}/actions": 1,
            f"GET /1/boards/{alpha.id}/lists": 1,
            f"GET /1/boards/{alpha.id}/customFields": 1,
            f"GET /1/boards/{alpha.id}/cards/all": 1,
            f"GET /1/cards/{story.id}/actions": 1,
        }
    )
    assert stored_items(engine)[story.id].parent_key == epic.short_link
    assert _links(engine) == {story.id: [("depends on", "inward", beta_card.short_link, None)]}
