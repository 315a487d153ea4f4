"""The scripted portfolio played into the sandbox Trello, synced by the real connector, and
compared with the script's truth item by item (`tests/portfolio_world.py`), on SQLite and
PostgreSQL.

Act one (initiatives and epics across boards, slipping due dates, releases early and late,
dependencies across teams, ranked backlogs, Gamma's dated milestones) is read by a full sync
on day 35; act two (another slip or two, a new story, re-ranked backlogs, a new dependency, a
milestone met late) by an incremental sync on day 42, which reads only the cards touched;
a sync after it with nothing new costs one call per board, as before the portfolio.

Days: the portfolio starts on Monday 7 January 2030, so day 40 is 16 February, day 47 is
23 February, day 54 is 2 March (2030 is no leap year), day 31 is 7 February.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pmo_sync.domain import ChangeField
from pmo_sync.sandbox.portfolio import ACT_ONE, ACT_TWO, ALL_STEPS, truth
from pmo_sync.store.models import SprintItemRow, WorkItemRow
from pmo_sync.store.portfolio import (
    StoredLink,
    StoredRelease,
    date_history,
    item_links,
    parent_chain,
    source_releases,
)
from pmo_sync.store.repository import Store

from ..portfolio_world import expected
from ..schema_helpers import dump_tables
from .portfolio_world_trello import BOARDS, TrelloWorld


@pytest.fixture
def world() -> Iterator[TrelloWorld]:
    with TrelloWorld() as running:
        yield running


def _rows(engine: Engine, world: TrelloWorld, *labels: str) -> dict[str, Any]:
    """The stored rows of the script's items `labels`, by label."""
    keys = {world.keys[label]: label for label in labels}
    with engine.connect() as conn:
        found = conn.execute(select(WorkItemRow.__table__).where(WorkItemRow.key.in_(keys)))
        return {keys[row.key]: row for row in found}


def _calls(world: TrelloWorld) -> Counter[str]:
    """Each request as METHOD and path, a card's id as the script's label."""
    label_of = {card_id: label for label, card_id in world.player.ids.items()}
    calls: Counter[str] = Counter()
    for request in world.sandbox.requests:
        parts = request.path.split("/")
        calls[f"{request.method} " + "/".join(label_of.get(p, p) for p in parts)] += 1
    return calls


def test_act_one_full_sync_stores_the_portfolio_the_script_wrote(
    world: TrelloWorld, engine: Engine
) -> None:
    store = Store(engine)
    world.play(ACT_ONE)
    summary = world.sync(store, full=True)
    assert summary.status == "success", summary.errors
    assert summary.items_inserted == 17 + 3 * 3  # the script's cards and the generated ones

    facts = world.facts(engine, store, truth(ACT_ONE))
    assert facts == expected(truth(ACT_ONE))

    # spelled out: E1 slipped twice, each slip a change of the stored due date
    source = world.source_id(store)
    e1_changes = date_history(engine, source, world.keys["E1"])
    e1 = [(c.from_date, c.to_date) for c in e1_changes if c.field == ChangeField.DUE_DATE]
    # made by a member of Alpha's team, not by the token's member (pmo-sync's own edits)
    assert {c.author for c in e1_changes} == {world.player.member("alpha").id}
    assert world.player.member("alpha").id != world.sandbox.member.id
    assert e1 == [
        (None, date(2030, 2, 16)),
        (date(2030, 2, 16), date(2030, 2, 23)),
        (date(2030, 2, 23), date(2030, 3, 2)),
    ]
    # B1 (Beta) blocks A3 (Alpha): kept on the waiting card, inward, and found from B1 too
    a3, b1 = world.keys["A3"], world.keys["B1"]
    assert item_links(engine, source, b1).pointing_here == (
        StoredLink(a3, "depends on", "inward", b1, None),
    )
    rows = _rows(engine, world, "A3", "B1", "G1", "G2", "G3")
    assert (rows["A3"].team, rows["B1"].team) == ("Team Alpha", "Team Beta")
    assert facts.links == {("B1", "A3"), ("G1", "B2"), ("A1", "A2")}
    # 2030.2 was planned for day 25 (1 February) and shipped on day 31: late, and out
    releases = {r.name: r for r in source_releases(engine, source)}
    # (the plan kept beside the ship day: the connector file's `planned`, 6 days before it)
    assert releases["2030.2"] == StoredRelease(
        "2030.2", "2030.2", None, None, date(2030, 2, 7), True, False, date(2030, 2, 1)
    )
    assert (releases["2030.1"].planned_date, releases["2030.3"].planned_date) == (
        date(2030, 1, 27),  # day 20
        date(2030, 3, 8),  # day 60
    )
    assert (releases["2030.1"].release_date, releases["2030.1"].released) == (
        date(2030, 1, 26),  # day 19, a day before its plan
        True,
    )
    assert (releases["2030.3"].release_date, releases["2030.3"].released) == (
        date(2030, 3, 8),
        False,
    )
    # each team's backlog (its cards still in To Do) in the order the team ranked it
    assert facts.backlog == {
        "alpha": ("A2", "A4"),
        "beta": ("B4", "B1"),
        "gamma": ("G3", "G2"),
    }
    # Gamma's milestones: start and due dates, G1's due slipped from day 30 to day 38
    assert {label: (r.start_date, r.due_date) for label, r in rows.items() if label[0] == "G"} == {
        "G1": (date(2030, 1, 9), date(2030, 2, 14)),
        "G2": (date(2030, 2, 6), date(2030, 3, 4)),
        "G3": (date(2030, 3, 4), date(2030, 3, 18)),
    }
    assert facts.items["G1"].due_history == ((None, 30), (30, 38))


def test_act_two_incremental_sync_reads_only_the_cards_touched(
    world: TrelloWorld, engine: Engine
) -> None:
    store = Store(engine)
    world.play(ACT_ONE)
    assert world.sync(store, full=True).status == "success"
    world.play(ACT_TWO)
    world.sandbox.reset_log()

    summary = world.sync(store, full=False)
    assert summary.status == "success", summary.errors
    assert world.facts(engine, store, truth(ALL_STEPS)) == expected(truth(ALL_STEPS))
    boards = [world.sandbox.dataset.board(name).id for name in BOARDS]
    assert _calls(world) == Counter(
        {
            # the boards and the token's member, read again every 6 hours (a week has passed)
            "GET /1/members/me": 1,
            "GET /1/members/me/boards": 1,
            # every board has new actions: its lists, custom fields and cards again
            **{
                f"GET /1/boards/{b}/{what}": 1
                for b in boards
                for what in ("actions", "lists", "customFields", "cards/all")
            },
            # each card touched but not created since: its whole history (A5 is new: its
            # actions are all in the board's; A2 stayed at the top of To Do: not touched)
            **{
                f"GET /1/cards/{label}/actions": 1
                for label in ("E1", "E3", "A4", "B1", "B4", "G1", "G2")
            },
        }
    )
    assert (summary.items_inserted, summary.items_updated, summary.items_unchanged) == (1, 7, 0)
    assert summary.api_calls == 2 + 4 * 3 + 7

    # the new dependency across teams, and E1's third slip (to day 61, 9 March)
    source = world.source_id(store)
    b4 = world.keys["B4"]
    assert item_links(engine, source, b4).own == (
        StoredLink(b4, "depends on", "inward", world.keys["G2"], None),
    )
    e1 = [c.to_date for c in date_history(engine, source, world.keys["E1"])]
    assert e1 == [date(2030, 2, 16), date(2030, 2, 23), date(2030, 3, 2), date(2030, 3, 9)]

    # nothing new: a call per board and not a row changed, as before the portfolio
    before = dump_tables(engine)
    world.sandbox.reset_log()
    quiet = world.sync(store, full=False)
    assert quiet.status == "success", quiet.errors
    assert quiet.api_calls == 3
    assert [f"{r.method} {r.path}" for r in world.sandbox.requests] == [
        f"GET /1/boards/{b}/actions" for b in boards
    ]
    assert dump_tables(engine) == before


def test_the_traditional_team_is_stored_with_its_dated_milestones(
    world: TrelloWorld, engine: Engine
) -> None:
    """Team Gamma works as a project: its board holds an epic and three dated milestones, no
    sprints; it is stored like any other team, under the other teams' initiative."""
    store = Store(engine)
    world.play(ACT_ONE)
    assert world.sync(store, full=True).status == "success"
    world.play(ACT_TWO)
    assert world.sync(store, full=False).status == "success"

    rows = _rows(engine, world, "E4", "G1", "G2", "G3")
    stored = {
        label: (r.team, r.level, r.status, r.stage, r.start_date, r.due_date)
        for label, r in rows.items()
    }
    assert stored == {
        "E4": ("Team Gamma", "epic", "To Do", "todo", date(2030, 1, 9), date(2030, 3, 18)),
        "G1": ("Team Gamma", "story", "Done", "done", date(2030, 1, 9), date(2030, 2, 14)),
        "G2": ("Team Gamma", "story", "Doing", "in_progress", date(2030, 2, 6), date(2030, 3, 4)),
        "G3": ("Team Gamma", "story", "To Do", "todo", date(2030, 3, 4), date(2030, 3, 18)),
    }
    ids = [r.id for r in rows.values()]
    with engine.connect() as conn:  # no sprints: none of its cards was ever in one
        assert (
            conn.execute(select(SprintItemRow.id).where(SprintItemRow.item_id.in_(ids))).all() == []
        )
    source = world.source_id(store)
    chain = [c.key for c in parent_chain(engine, source, world.keys["G2"])]
    assert chain == [world.keys["E4"], world.keys["I2"]]  # I2 is on Beta's board
    # its milestones hold Beta's stories: G1 blocks B2, G2 blocks B4
    assert {
        (link.target_key, link.item_key)
        for link in item_links(engine, source, world.keys["G1"]).pointing_here
    } | {
        (link.target_key, link.item_key)
        for link in item_links(engine, source, world.keys["G2"]).pointing_here
    } == {(world.keys["G1"], world.keys["B2"]), (world.keys["G2"], world.keys["B4"])}
