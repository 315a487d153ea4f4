"""`evaluation.portfolio_inputs` on hand-built store rows, on SQLite and PostgreSQL.

Each expected value is worked out in a comment from the rows the test loads: which items are
live, the KPI's started and done days in the reporting zone (Europe/Berlin, UTC+1 in March
2024 before the switch on the 31st), the links read both ways, the date moves, the releases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy import Engine, event

from pmo_sync.domain import (
    ChangeField,
    ItemChange,
    ItemLink,
    LinkDirection,
    ReleaseRecord,
    Stage,
)
from pmo_sync.evaluation.inputs import iter_item_inputs
from pmo_sync.evaluation.portfolio_facts import has_requests
from pmo_sync.evaluation.portfolio_inputs import (
    read_date_moves,
    read_dependencies,
    read_portfolio_inputs,
    read_portfolio_releases,
    read_work_items,
    themes_by_ref,
)
from pmo_sync.kpi.config import KpiConfig, TeamSourceConfig
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.items import PortfolioItem, index_items
from pmo_sync.portfolio.model import DateMove, Dependency, PortfolioRelease, WorkItem
from pmo_sync.portfolio.themes import theme_of
from pmo_sync.store.models import WorkItemRow
from pmo_sync.store.repository import Store

from ..store.records import T0, make_bundle, make_change, make_sprint, make_status, make_stay

SOURCE = "jira-main"
BERLIN = KpiConfig(zone="Europe/Berlin")
OUT, IN = LinkDirection.OUTWARD, LinkDirection.INWARD
STATUSES = [
    make_status("1", "To Do", "new", Stage.TODO),
    make_status("3", "In Progress", "indeterminate", Stage.IN_PROGRESS),
    make_status("5", "Done", "done", Stage.DONE),
]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2024, UTC."""
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def move(ext: str, n: int, when: datetime, from_status: str, to_status: str) -> ItemChange:
    return make_change(ext, f"s{n}", when, from_status, to_status)


def _delete(engine: Engine, *keys: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(WorkItemRow.__table__)
            .where(WorkItemRow.__table__.c.key.in_(keys))
            .values(deleted_at=at(20, 12))
        )


def _jira(engine: Engine) -> tuple[Store, int]:
    store = Store(engine)
    source_id = store.ensure_source(SOURCE, "jira", "https://jira.example.com")
    store.load_statuses(source_id, STATUSES)
    return store, source_id


def test_items_carry_the_kpis_started_and_done_days_and_the_stored_facts(engine: Engine) -> None:
    store, source_id = _jira(engine)
    store.load_releases(
        source_id, [ReleaseRecord("v1", "1.0", "PMO", None, date(2024, 3, 20), False, False)]
    )
    done = "Done", Stage.DONE
    bundles = [
        # PMO-1: in progress 4 Mar, back to To Do 5 Mar, in progress again 6 Mar, done
        # 8 Mar 23:30 UTC = 9 Mar 00:30 in Berlin. Started: the first crossing, 4 Mar (kept
        # through the move back); done: 9 Mar, the Berlin day.
        make_bundle(
            "1",
            [
                move("1", 1, at(4, 10), "To Do", "In Progress"),
                move("1", 2, at(5, 10), "In Progress", "To Do"),
                move("1", 3, at(6, 10), "To Do", "In Progress"),
                move("1", 4, at(8, 23, 30), "In Progress", "Done"),
            ],
            status=done[0],
            stage=done[1],
            level="story",
            parent_key="PMO-10",
            rank="0|i0000f:",
            priority="High",
            start_date=date(2024, 3, 4),
            due_date=date(2024, 3, 15),
            target_start=date(2024, 3, 1),
            target_end=date(2024, 3, 22),
            release_ids=("v1", "v9"),  # v9 is not a stored release: left out
        ),
        # PMO-2: in progress 4 Mar, back to To Do 5 Mar and left there: not started now.
        make_bundle(
            "2",
            [
                move("2", 1, at(4, 10), "To Do", "In Progress"),
                move("2", 2, at(5, 10), "In Progress", "To Do"),
            ],
            status="To Do",
            stage=Stage.TODO,
            estimate=None,
        ),
        # PMO-3: done 3 Mar, reopened 4 Mar: started 2 Mar, open again.
        make_bundle(
            "3",
            [
                move("3", 1, at(2, 10), "To Do", "In Progress"),
                move("3", 2, at(3, 10), "In Progress", "Done"),
                move("3", 3, at(4, 10), "Done", "In Progress"),
            ],
        ),
        # PMO-4: archived unfinished, off the board: not an item. PMO-5: archived done, kept
        # (created 1 Mar 09:00 UTC, done the moment it was created, as the KPIs read a change-
        # less item in a done status). PMO-6: deleted, not an item.
        make_bundle("4", archived=True),
        make_bundle("5", status=done[0], stage=done[1], archived=True),
        make_bundle("6"),
        # PMO-10: the epic, labelled with the theme; its stories inherit it.
        make_bundle(
            "10",
            status="To Do",
            stage=Stage.TODO,
            item_type="epic",
            level="epic",
            labels=("growth",),
            estimate=None,
        ),
    ]
    store.load_items(source_id, bundles, T0)
    _delete(engine, "PMO-6")
    themes = [ThemeConfig(name="Growth", match=ThemeMatch(labels=["growth"]))]

    items = {item.ref[1]: item for item in read_work_items(engine, BERLIN, themes)}

    ref = (SOURCE, "PMO-1")
    assert items["PMO-1"] == WorkItem(
        ref=ref,
        team="Core",
        level="story",
        item_type="story",
        parent=(SOURCE, "PMO-10"),
        stage=Stage.DONE,
        created=date(2024, 3, 1),
        started=date(2024, 3, 4),
        done=date(2024, 3, 9),
        points=3.0,
        rank="0|i0000f:",
        priority="High",
        start_date=date(2024, 3, 4),
        due_date=date(2024, 3, 15),
        target_start=date(2024, 3, 1),
        target_end=date(2024, 3, 22),
        theme="Growth",
        releases=("1.0",),
    )
    assert list(items) == ["PMO-1", "PMO-2", "PMO-3", "PMO-5", "PMO-10"]
    summary = {
        key: (item.stage, item.started, item.done, item.points, item.theme)
        for key, item in items.items()
    }
    assert summary == {
        "PMO-1": (Stage.DONE, date(2024, 3, 4), date(2024, 3, 9), 3.0, "Growth"),
        "PMO-2": (Stage.TODO, None, None, None, None),
        "PMO-3": (Stage.IN_PROGRESS, date(2024, 3, 2), None, 3.0, None),
        "PMO-5": (Stage.DONE, date(2024, 3, 1), date(2024, 3, 1), 3.0, None),
        "PMO-10": (Stage.TODO, None, None, None, "Growth"),
    }


def test_an_item_of_a_request_type_is_a_request_at_its_types_level(engine: Engine) -> None:
    """portfolio.yaml's `requests.types: [Business Request]`: PMO-7, a Business Request Jira
    keeps at the story level, reads at the level "business request" (which `request_levels`
    lists), so the answers take it as a request; the story PMO-8 under it stays a story. Without
    the types it is the story its tracker says."""
    store, source_id = _jira(engine)
    request = make_bundle("7", raw_type="Business Request", level="story")
    story = make_bundle("8", level="story", parent_key="PMO-7")
    store.load_items(source_id, [request, story], T0)
    assert has_requests(engine, ("epic", "feature")) is False
    assert has_requests(engine, (), ("business request",)) is True
    assert has_requests(engine, (), ("change request",)) is False

    read = read_work_items(engine, KpiConfig(), request_types=("business request",))
    assert {item.ref[1]: item.level for item in read} == {
        "PMO-7": "business request",
        "PMO-8": "story",
    }
    plain = read_work_items(engine, KpiConfig())
    assert {item.ref[1]: item.level for item in plain} == {"PMO-7": "story", "PMO-8": "story"}


def test_dependencies_are_read_both_ways_once_with_what_is_known_of_the_blocker(
    engine: Engine,
) -> None:
    store, source_id = _jira(engine)
    one, two, three, nine = (make_bundle(ext) for ext in ("1", "2", "3", "9"))
    # PMO-1 blocks PMO-2, stored at both ends (Jira): one dependency.
    one.links = [ItemLink("1", "blocks", OUT, "PMO-2", "2")]
    two.links = [ItemLink("2", "is blocked by", IN, "PMO-1", "1")]
    # PMO-1 waits on OPS-7, never synced: its blocker is unknown.
    one.links.append(ItemLink("1", "is blocked by", IN, "OPS-7", None))
    # PMO-3 waits on PMO-9, synced and deleted since: known, absent from the items. Its
    # relation to PMO-1 is no dependency.
    three.links = [
        ItemLink("3", "is blocked by", IN, "PMO-9", "9"),
        ItemLink("3", "related", OUT, "PMO-1", "1"),
    ]
    # The deleted PMO-9's own link is not read: only live items' links count.
    nine.links = [ItemLink("9", "blocks", OUT, "PMO-2", "2")]
    store.load_items(source_id, [one, two, three, nine], T0)
    _delete(engine, "PMO-9")

    assert read_dependencies(engine) == [
        Dependency((SOURCE, "OPS-7"), (SOURCE, "PMO-1"), blocker_known=False),
        Dependency((SOURCE, "PMO-1"), (SOURCE, "PMO-2")),
        Dependency((SOURCE, "PMO-9"), (SOURCE, "PMO-3")),
    ]


def test_date_moves_releases_and_the_sources_asked_for(engine: Engine) -> None:
    store, source_id = _jira(engine)
    due = ChangeField.DUE_DATE
    one = make_bundle(
        "1",
        [
            move("1", 1, at(4, 10), "To Do", "In Progress"),  # a status change: not a move
            make_change("1", "d1", at(2, 9), None, "2024-03-29", due),
            # 10 Mar 23:30 UTC is 11 Mar in Berlin
            make_change("1", "d2", at(10, 23, 30), "2024-03-29", "2024-04-05", due),
            make_change("1", "d3", at(12, 9), "2024-04-05", "next sprint", due),  # not a date
        ],
    )
    gone = make_bundle("6", [make_change("6", "d1", at(2, 9), None, "2024-03-29", due)])
    store.load_items(source_id, [one, gone], T0)
    _delete(engine, "PMO-6")
    store.load_releases(
        source_id,
        [
            ReleaseRecord("v1", "1.0", "PMO", None, date(2024, 3, 20), True, False),
            ReleaseRecord("v2", "2.0", "PMO", None, date(2024, 4, 10), False, False),
            ReleaseRecord("v3", "0.9", "PMO", None, date(2024, 2, 1), False, True),  # abandoned
            ReleaseRecord("v4", "0.8", "PMO", None, date(2024, 1, 15), True, True),
        ],
    )
    other = store.ensure_source("ado-main", "azure_devops", "https://dev.azure.com/acme")
    store.load_items(other, [make_bundle("1", key="7")], T0)

    ref = (SOURCE, "PMO-1")
    assert read_date_moves(engine, BERLIN.options().zone) == [
        DateMove(ref, "due_date", date(2024, 3, 2), None, date(2024, 3, 29)),
        DateMove(ref, "due_date", date(2024, 3, 11), date(2024, 3, 29), date(2024, 4, 5)),
        DateMove(ref, "due_date", date(2024, 3, 12), date(2024, 4, 5), None),
    ]
    # One date per release: shipped day once released, planned day before; by name.
    assert read_portfolio_releases(engine) == [
        PortfolioRelease(SOURCE, "0.8", "PMO", None, date(2024, 1, 15)),
        PortfolioRelease(SOURCE, "1.0", "PMO", None, date(2024, 3, 20)),
        PortfolioRelease(SOURCE, "2.0", "PMO", date(2024, 4, 10), None),
    ]
    everything = read_portfolio_inputs(engine, BERLIN)
    assert [item.ref for item in everything.items] == [ref, ("ado-main", "7")]
    jira_only = read_portfolio_inputs(engine, BERLIN, source_ids=[source_id])
    assert [item.ref for item in jira_only.items] == [ref]
    assert (len(jira_only.date_moves), len(jira_only.releases)) == (3, 3)
    nothing = read_portfolio_inputs(engine, BERLIN, source_ids=[])
    assert nothing.items == nothing.dependencies == nothing.date_moves == []
    assert nothing.releases == []


def test_themes_by_ref_is_theme_of_for_every_item() -> None:
    def item(key: str, parent: str | None = None, *labels: str) -> PortfolioItem:
        return PortfolioItem("s", key, "jira", labels=labels, parent_key=parent)

    index = index_items(
        [
            item("I", None, "growth"),
            item("E", "I"),
            item("S", "E"),  # growth, from I two levels up
            item("T", "E", "reliability"),  # its own label is nearer than I's
            item("L1", "L2"),  # a cycle where nothing matches: none
            item("L2", "L1"),
            item("X", "L1"),  # leads into that cycle: none
            item("M1", "M2"),  # a cycle with a match: both reliability
            item("M2", "M1", "reliability"),
            item("U", "GONE"),  # a parent not stored ends the walk: none
        ]
    )
    themes = [
        ThemeConfig(name="Growth", match=ThemeMatch(labels=["growth"])),
        ThemeConfig(name="Reliability", match=ThemeMatch(labels=["reliability"])),
    ]
    expected = {"I": "Growth", "E": "Growth", "S": "Growth", "T": "Reliability",
                "M1": "Reliability", "M2": "Reliability"}  # fmt: skip
    one_by_one = {}
    for ref, one in index.items():
        theme = theme_of(one, index, themes)
        if theme is not None:
            one_by_one[ref[1]] = theme.name
    assert one_by_one == expected
    assert {ref[1]: name for ref, name in themes_by_ref(index, themes).items()} == expected


def test_the_kpi_read_without_sprint_stays_leaves_their_query_out(engine: Engine) -> None:
    store, source_id = _jira(engine)
    store.load_items(source_id, [make_bundle("1", memberships=[make_stay("1", "42", T0)])], T0)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with_stays = [h.sprint_stays for h, _ in iter_item_inputs(engine, details=False)]
        read_with = sum("sprint_items" in s for s in statements)
        statements.clear()
        without = [h.sprint_stays for h, _ in iter_item_inputs(engine, details=False, stays=False)]
        read_without = sum("sprint_items" in s for s in statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [len(stays) for stays in with_stays] == [1]
    assert without == [()]
    assert (read_with, read_without) == (1, 0)


def test_a_teams_workflow_knows_the_statuses_of_its_items_sources_only(engine: Engine) -> None:
    # kpis.yaml makes one team "Core" of Jira's Core (the items) and a Trello board's Core
    # (sprints only, no items). Jira's "Review" is in progress; the board's is done. The KPI
    # run's workflow for Core knows the statuses of its items' sources (Jira) only, so PMO-1,
    # in Review since 4 March, is started, not done; reading Trello's statuses too would
    # have made it done on 4 March.
    store, source_id = _jira(engine)
    store.load_statuses(source_id, [*STATUSES, make_status("4", "Review", "x", Stage.IN_PROGRESS)])
    board = store.ensure_source("trello-main", "trello", "https://trello.com")
    store.load_statuses(board, [make_status("r", "Review", "x", Stage.DONE)])
    store.load_sprints(board, [make_sprint("9", team="Core")])
    review = [move("1", 1, at(4, 10), "To Do", "Review")]
    store.load_items(source_id, [make_bundle("1", review, status="Review")], T0)
    core = [
        TeamSourceConfig(source=SOURCE, team="Core"),
        TeamSourceConfig(source="trello-main", team="Core"),
    ]
    merged = KpiConfig(teams={"Core": core})

    (item,) = read_work_items(engine, merged)
    assert (item.team, item.stage, item.started, item.done) == (
        "Core", Stage.IN_PROGRESS, date(2024, 3, 4), None
    )  # fmt: skip
