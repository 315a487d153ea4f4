"""The scripted portfolio (`pmo_sync.sandbox.portfolio`) played into the sandbox Jira, synced by
the real connector, and read back item by item against the script's truth, on both databases.

Act one (days 0-30) is followed by a full sync on day 35, act two (days 36-40) by an
incremental sync on day 42, then a sync with nothing new. Besides the one `==` with the
truth, the facts a reader looks for are spelled out: the keys the issues got, E1's slips as
dates, the dependency across teams, the late release, the backlogs' order and Gamma's
milestones.
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
from pmo_sync.store.models import WorkItemRow
from pmo_sync.store.portfolio import (
    DateChange,
    StoredLink,
    StoredRelease,
    date_history,
    item_links,
    parent_chain,
    source_releases,
)
from pmo_sync.store.repository import Store

from ..portfolio_world import expected
from .portfolio_world_jira import START, JiraWorld

SEARCH = ("GET", "/rest/api/2/search/jql")
COUNT = ("POST", "/rest/api/2/search/approximate-count")

KEYS = {
    "I1": "ABC-11", "I2": "DEF-11", "E1": "ABC-12", "E2": "DEF-12", "E3": "DEF-13",
    "E4": "GHI-11", "A1": "ABC-13", "A2": "ABC-14", "A3": "ABC-15", "A4": "ABC-16",
    "B1": "DEF-14", "B2": "DEF-15", "B3": "DEF-16", "B4": "DEF-17",
    "G1": "GHI-12", "G2": "GHI-13", "G3": "GHI-14",
}  # fmt: skip
"""Each project has ten generated issues, so the portfolio's start at number 11, in the
order the script creates them."""


@pytest.fixture
def world() -> Iterator[JiraWorld]:
    with JiraWorld() as world:
        yield world


def _rows(engine: Engine, *labels: str) -> dict[str, Any]:
    """The stored rows of the script's items, by label: the columns a reader checks."""
    keys = {KEYS.get(label, label): label for label in labels}
    with engine.connect() as conn:
        found = conn.execute(
            select(
                WorkItemRow.key,
                WorkItemRow.team,
                WorkItemRow.level,
                WorkItemRow.start_date,
                WorkItemRow.due_date,
                WorkItemRow.rank,
                WorkItemRow.priority,
                WorkItemRow.labels,
            ).where(WorkItemRow.key.in_(list(keys)))
        ).all()
    return {keys[row.key]: row for row in found}


def test_the_portfolio_in_jira_after_each_act_is_the_scripts_truth(
    world: JiraWorld, engine: Engine
) -> None:
    store = Store(engine)
    world.play(ACT_ONE)
    assert world.keys == KEYS

    first = world.sync(store, full=True)
    assert (first.status, first.errors, first.items_inserted) == ("success", [], 47)  # 30 + 17
    assert world.facts(engine, store, truth(ACT_ONE)) == expected(truth(ACT_ONE))

    # Spelled out: the levels and the chain up to the initiative, the theme as a label.
    source_id = world.source_id(store)
    rows = _rows(engine, "I1", "E2", "A3")
    assert [(rows[x].level, rows[x].labels) for x in ("I1", "E2", "A3")] == [
        ("initiative", ["growth"]), ("epic", []), ("story", []),
    ]  # fmt: skip
    assert [c.key for c in parent_chain(engine, source_id, "ABC-15")] == ["DEF-12", "ABC-11"]

    # E1 slipped twice: due 16 Feb (day 40), then 23 Feb (47), then 2 Mar (54), each change
    # by Alpha's project lead at 09:00 of its day, not by the API user.
    lead = world.sandbox.dataset.teams["ABC"][0].account_id
    assert lead != world.sandbox.account_id
    assert [
        (c.field, c.at, c.from_date, c.to_date, c.author)
        for c in date_history(engine, source_id, "ABC-12")
    ] == [
        (ChangeField.DUE_DATE, START.replace(day=8, hour=9), None, date(2030, 2, 16), lead),
        (ChangeField.DUE_DATE, START.replace(day=22, hour=9), date(2030, 2, 16),
         date(2030, 2, 23), lead),
        (ChangeField.DUE_DATE, START.replace(month=2, day=6, hour=9), date(2030, 2, 23),
         date(2030, 3, 2), lead),
    ]  # fmt: skip

    # B1 (Beta) blocks A3 (Alpha), across projects: stored on both ends.
    b1, a3 = (world.sandbox.dataset.issue(KEYS[x]) for x in ("B1", "A3"))
    assert item_links(engine, source_id, "DEF-14").own == (
        StoredLink("DEF-14", "blocks", "outward", "ABC-15", a3.id),
    )
    assert item_links(engine, source_id, "ABC-15").own == (
        StoredLink("ABC-15", "is blocked by", "inward", "DEF-14", b1.id),
    )

    # The releases: 2030.1 shipped a day early (26 Jan, planned 27 Jan), 2030.2 six days
    # late (7 Feb, planned 1 Feb), 2030.3 still planned for 8 Mar. Jira keeps one date, moved
    # to the ship day on release: the first sync (day 35) reads 2030.1 and 2030.2 already
    # released, so their plans are unknown (None); 2030.3's date is its plan.
    assert source_releases(engine, source_id) == [
        StoredRelease("10100", "2030.1", "ABC", None, date(2030, 1, 26), True, False, None),
        StoredRelease("10101", "2030.2", "DEF", None, date(2030, 2, 7), True, False, None),
        StoredRelease("10102", "2030.3", "ABC", None, date(2030, 3, 8), False, False,
                      date(2030, 3, 8)),
    ]  # fmt: skip

    # The backlogs (the items still to do) in rank order; Jira's LexoRank strings as stored.
    facts = world.facts(engine, store, truth(ACT_ONE))
    assert facts.backlog == {"alpha": ("A2", "A4"), "beta": ("B4", "B1"), "gamma": ("G3", "G2")}
    ranks = _rows(engine, "A2", "A4")
    assert (ranks["A2"].rank, ranks["A4"].rank) == ("0|i0000o:", "0|i0000w:")

    # Gamma's milestones, dated like any team's items: G1 slipped from 6 to 14 Feb.
    gamma = _rows(engine, "G1", "G2", "G3")
    assert [(gamma[g].team, gamma[g].start_date, gamma[g].due_date) for g in sorted(gamma)] == [
        ("Team Gamma", date(2030, 1, 9), date(2030, 2, 14)),
        ("Team Gamma", date(2030, 2, 6), date(2030, 3, 4)),
        ("Team Gamma", date(2030, 3, 4), date(2030, 3, 18)),
    ]  # fmt: skip

    # Act two, then an incremental sync a week later: one search (with its changelogs) and the
    # count; the site cache (a day old at most) is read again: the API user, the fields, each
    # project's boards, the versions of the projects planning releases (ABC, DEF) and each
    # scrum board's open sprints.
    world.play(ACT_TWO)
    world.sandbox.reset_log()
    second = world.sync(store, full=False)
    assert (second.status, second.errors) == ("success", [])
    assert Counter((r.method, r.path) for r in world.sandbox.requests) == {
        SEARCH: 1, COUNT: 1,
        ("GET", "/rest/api/2/myself"): 1, ("GET", "/rest/api/2/field"): 1,
        ("GET", "/rest/agile/1.0/board"): 3,
        ("GET", "/rest/api/2/project/ABC/versions"): 1,
        ("GET", "/rest/api/2/project/DEF/versions"): 1,
        ("GET", "/rest/agile/1.0/board/1/sprint"): 1,
        ("GET", "/rest/agile/1.0/board/2/sprint"): 1,
        ("GET", "/rest/agile/1.0/board/3/sprint"): 1,
    }  # fmt: skip
    # From the last edit of act one (E1's slip, 09:00 UTC on 6 Feb: 04:00 in the API user's
    # New York time), less the overlap.
    (search,) = [r for r in world.sandbox.requests if (r.method, r.path) == SEARCH]
    assert search.query["jql"] == [
        '(project in (ABC, DEF, GHI)) AND updated >= "2030/02/06 03:49" '
        "ORDER BY created ASC, key ASC"
    ]
    # E1, E3 (slips), A4 (ranked, planned), A2, B1, B4 (ranked; B4 linked), G1, G2 (moved,
    # G2 linked); A5 is new.
    assert (second.items_seen, second.items_updated, second.items_inserted) == (9, 8, 1)
    assert world.keys["A5"] == "ABC-17"
    assert world.facts(engine, store, truth(ALL_STEPS)) == expected(truth(ALL_STEPS))
    assert date_history(engine, source_id, "ABC-12")[-1] == DateChange(
        ChangeField.DUE_DATE, START.replace(month=2, day=12, hour=9), date(2030, 3, 2),
        date(2030, 3, 9), lead,
    )  # fmt: skip

    # Nothing new, the same day: the calls of any unchanged sync, the search and the count.
    world.sandbox.reset_log()
    third = world.sync(store, full=False)
    assert (third.items_seen, third.items_updated, third.items_inserted) == (0, 0, 0)
    assert [(r.method, r.path) for r in world.sandbox.requests] == [SEARCH, COUNT]


def test_the_traditional_team_is_stored_with_its_dated_milestones(
    world: JiraWorld, engine: Engine
) -> None:
    """Gamma runs a project, not sprints: its project GHI has a kanban board ("Gamma Flow")
    beside the scrum board the site gives every project; the team is named after the scrum
    board, as for Alpha and Beta, and its milestones carry start and due dates and their
    history like any item."""
    boards = [(b.name, b.type) for b in world.sandbox.dataset.boards if b.project_key == "GHI"]
    assert boards == [("Team Gamma", "scrum"), ("Gamma Flow", "kanban")]
    store = Store(engine)
    world.play(ALL_STEPS)
    assert world.sync(store, full=True).status == "success"
    facts = world.facts(engine, store, truth(ALL_STEPS))
    assert facts == expected(truth(ALL_STEPS))
    assert {label: facts.items[label].team for label in ("E4", "G1", "G2", "G3")} == dict.fromkeys(
        ("E4", "G1", "G2", "G3"), "Team Gamma"
    )
    g1 = facts.items["G1"]
    assert (g1.start, g1.due, g1.start_history, g1.due_history) == (
        2, 38, ((None, 2),), ((None, 30), (30, 38)),
    )  # fmt: skip
    source_id = world.source_id(store)
    assert item_links(engine, source_id, "GHI-13").own == (
        StoredLink("GHI-13", "blocks", "outward", "DEF-17",
                   world.sandbox.dataset.issue("DEF-17").id),
    )  # fmt: skip
    gamma = _rows(engine, "E4", "G1", "G2", "G3")
    milestones = ("E4", "G1", "G2", "G3")
    assert [(gamma[x].level, gamma[x].start_date, gamma[x].due_date) for x in milestones] == [
        ("epic", date(2030, 1, 9), date(2030, 3, 18)),
        ("story", date(2030, 1, 9), date(2030, 2, 14)),
        ("story", date(2030, 2, 6), date(2030, 3, 4)),
        ("story", date(2030, 3, 4), date(2030, 3, 18)),
    ]
