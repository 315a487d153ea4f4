"""export_items: exact JSONL and CSV output from a small hand-built store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pmo_sync import export
from pmo_sync.domain import (
    Census,
    ChangeField,
    ItemBundle,
    ItemChange,
    ItemLink,
    LinkDirection,
    ReleaseRecord,
    SprintMembership,
    SprintRecord,
    Stage,
    TeamRecord,
    WorkItemRecord,
)
from pmo_sync.export import ancestry_index, export_items
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.items import PortfolioItem
from pmo_sync.store.repository import Store
from pmo_sync.store.results import StoredItem

from .schema_helpers import migrated_engine

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _item(ext: str, key: str, **overrides: object) -> WorkItemRecord:
    values: dict[str, object] = {
        "external_id": ext,
        "key": key,
        "url": f"https://tracker.example.com/{key}",
        "title": f"Title of {key}",
        "item_type": "story",
        "raw_type": "Story",
        "status": "In Progress",
        "status_category": "indeterminate",
        "stage": Stage.IN_PROGRESS,
        "project": "PMO",
        "team": "Core",
        "assignee": None,
        "estimate": None,
        "parent_key": None,
        "labels": (),
        "flagged": False,
        "created": T0,
        "updated": T0,
        "resolved": None,
    }
    values.update(overrides)
    return WorkItemRecord(**values)  # type: ignore[arg-type]


def _status(ext: str, cid: str, at: datetime, frm: str, to: str, **names: str) -> ItemChange:
    return ItemChange(ext, cid, ChangeField.STATUS, at, frm, to, **names)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'export.db'}")
    store = Store(engine)
    jira = store.ensure_source("jira-main", "jira", "https://jira.example.com")
    ado = store.ensure_source("ado", "azure_devops", None)
    store.load_sprints(
        jira,
        [SprintRecord("s1", "Sprint 1", "closed", "7", "Core", T0, T0 + 14 * 24 * H, None, None)],
    )
    # v1 is stored with its date; v9 is not (the item names it all the same).
    store.load_releases(
        jira, [ReleaseRecord("v1", "1.0", "PMO", None, date(2024, 3, 29), False, False)]
    )
    store.load_items(
        jira,
        [
            ItemBundle(
                _item(
                    "1",
                    "PMO-1",
                    status="Done",
                    status_category="done",
                    stage=Stage.DONE,
                    estimate=5.0,
                    resolved=T0 + 50 * H,
                    level="story",
                    parent_key="PMO-9",
                    priority="High",
                    rank="0|i0000f:",
                    due_date=date(2024, 3, 15),
                    target_end=date(2024, 3, 20),
                    release_ids=("v9", "v1"),
                    components=("API", "Billing"),
                ),
                changes=[
                    _status(
                        "1",
                        "h2",
                        T0 + 50 * H,
                        "3",
                        "5",
                        from_display="In Progress",
                        to_display="Done",
                    ),
                    _status(
                        "1", "h1", T0 + H, "1", "3", from_display="To Do", to_display="In Progress"
                    ),
                    ItemChange("1", "h3", ChangeField.ASSIGNEE, T0 + 2 * H, None, "ana"),
                ],
                memberships=[
                    SprintMembership("1", "s1", T0, T0 + 40 * H),
                    SprintMembership("1", "s9", T0 + 40 * H, None),
                ],
                links=[
                    ItemLink("1", "is blocked by", LinkDirection.INWARD, "ADO-7", None),
                    ItemLink("1", "blocks", LinkDirection.OUTWARD, "PMO-2", "2"),
                ],
            ),
            ItemBundle(
                _item(
                    "2",
                    "PMO-2",
                    title='Ünïcode, "quoted"',
                    item_type="bug",
                    created=T0 + timedelta(microseconds=250_000),
                    parent_key="PMO-1",  # its chain: PMO-1, whose parent PMO-9 is not stored
                ),
                # No display names: the raw values are exported.
                changes=[_status("2", "h9", T0 + 3 * H, "10001", "10002")],
            ),
            ItemBundle(_item("3", "PMO-3")),
        ],
        T0,
    )
    store.apply_census(jira, Census(frozenset({"1", "2"})), T0 + 60 * H)  # PMO-3 deleted
    ado_7 = _item("7", "ADO-7", stage=Stage.TODO, status="New", area_path="Fabrikam\\Phoenix")
    store.load_items(ado, [ItemBundle(ado_7)], T0)
    # jira's board says Core runs sprints; ado describes no team (kanban by default)
    store.load_teams(jira, [TeamRecord("Core", "scrum")])
    yield store
    engine.dispose()


JSONL = (
    '{"source":"ado","key":"ADO-7","title":"Title of ADO-7","team":"Core","type":"story",'
    '"status":"New","stage":"todo","created":"2024-03-01T09:00:00Z","resolved":null,'
    '"estimate":null,"sprints":[],"transitions":[],"url":"https://tracker.example.com/ADO-7",'
    '"level":null,"parent":null,"priority":null,"rank":null,"start_date":null,"due_date":null,'
    '"target_start":null,"target_end":null,"releases":[],"links":[],"components":[],'
    '"area_path":"Fabrikam\\\\Phoenix","parent_chain":[],"theme":null,"delivery":"kanban"}\n'
    '{"source":"jira-main","key":"PMO-1","title":"Title of PMO-1","team":"Core","type":"story",'
    '"status":"Done","stage":"done","created":"2024-03-01T09:00:00Z",'
    '"resolved":"2024-03-03T11:00:00Z","estimate":5.0,"sprints":["Sprint 1","s9"],'
    '"transitions":[{"at":"2024-03-01T10:00:00Z","from":"To Do","to":"In Progress"},'
    '{"at":"2024-03-03T11:00:00Z","from":"In Progress","to":"Done"}],'
    '"url":"https://tracker.example.com/PMO-1","level":"story","parent":"PMO-9",'
    '"priority":"High","rank":"0|i0000f:","start_date":null,"due_date":"2024-03-15",'
    '"target_start":null,"target_end":"2024-03-20","releases":["1.0","v9"],'
    '"links":["blocks:PMO-2","is blocked by:ADO-7"],"components":["API","Billing"],'
    '"area_path":null,"parent_chain":[],"theme":null,"delivery":"scrum"}\n'
    '{"source":"jira-main","key":"PMO-2","title":"Ünïcode, \\"quoted\\"","team":"Core",'
    '"type":"bug","status":"In Progress","stage":"in_progress",'
    '"created":"2024-03-01T09:00:00.250000Z","resolved":null,"estimate":null,"sprints":[],'
    '"transitions":[{"at":"2024-03-01T12:00:00Z","from":"10001","to":"10002"}],'
    '"url":"https://tracker.example.com/PMO-2",'
    '"level":null,"parent":"PMO-1","priority":null,"rank":null,"start_date":null,'
    '"due_date":null,"target_start":null,"target_end":null,"releases":[],"links":[],'
    '"components":[],"area_path":null,"parent_chain":["PMO-1"],"theme":null,'
    '"delivery":"scrum"}\n'
)

CSV = (
    "source,key,title,team,type,status,stage,created,resolved,estimate,sprints,transitions,url,"
    "level,parent,priority,rank,start_date,due_date,target_start,target_end,releases,links,"
    "components,area_path,parent_chain,theme,delivery\n"
    "ado,ADO-7,Title of ADO-7,Core,story,New,todo,2024-03-01T09:00:00Z,,,,[],"
    "https://tracker.example.com/ADO-7,,,,,,,,,,,,Fabrikam\\Phoenix,,,kanban\n"
    "jira-main,PMO-1,Title of PMO-1,Core,story,Done,done,2024-03-01T09:00:00Z,"
    "2024-03-03T11:00:00Z,5.0,"
    'Sprint 1;s9,"[{""at"":""2024-03-01T10:00:00Z"",""from"":""To Do"",""to"":""In Progress""},'
    '{""at"":""2024-03-03T11:00:00Z"",""from"":""In Progress"",""to"":""Done""}]",'
    "https://tracker.example.com/PMO-1,story,PMO-9,High,0|i0000f:,,2024-03-15,,2024-03-20,"
    "1.0;v9,blocks:PMO-2;is blocked by:ADO-7,API;Billing,,,,scrum\n"
    'jira-main,PMO-2,"Ünïcode, ""quoted""",Core,bug,In Progress,in_progress,'
    "2024-03-01T09:00:00.250000Z,,,,"
    '"[{""at"":""2024-03-01T12:00:00Z"",""from"":""10001"",""to"":""10002""}]",'
    "https://tracker.example.com/PMO-2,,PMO-1,,,,,,,,,,,PMO-1,,scrum\n"
)


def test_jsonl_export_is_exact(store: Store) -> None:
    out = io.StringIO()
    assert export_items(store, out, "jsonl") == 3
    assert out.getvalue() == JSONL


def test_csv_export_is_exact(store: Store) -> None:
    out = io.StringIO()
    assert export_items(store, out, "csv") == 3
    assert out.getvalue() == CSV


def test_portfolio_delivery_names_a_team_in_every_source_any_case(store: Store) -> None:
    """`delivery: {core: traditional}` is over jira's board and ado's default alike."""
    out = io.StringIO()
    assert export_items(store, out, "jsonl", delivery={"core": "traditional"}) == 3
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["key"], r["delivery"]) for r in records] == [
        ("ADO-7", "traditional"),
        ("PMO-1", "traditional"),
        ("PMO-2", "traditional"),
    ]


def test_export_of_chosen_sources(store: Store) -> None:
    out = io.StringIO()
    assert export_items(store, out, "jsonl", source_names=["ado"]) == 1
    assert out.getvalue() == JSONL.splitlines(keepends=True)[0]

    out = io.StringIO()
    assert export_items(store, out, "csv", source_names=[]) == 0
    assert out.getvalue() == CSV.splitlines(keepends=True)[0]


def test_export_refuses_unknown_sources_and_formats(store: Store) -> None:
    out = io.StringIO()
    with pytest.raises(ValueError, match=r"unknown source.*nope"):
        export_items(store, out, "jsonl", source_names=["ado", "nope"])
    with pytest.raises(ValueError, match="format"):
        export_items(store, out, "xml")  # type: ignore[arg-type]
    assert out.getvalue() == ""


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_streams_item_by_item(
    store: Store, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each record is written before the next item is read: memory does not grow."""
    out = io.StringIO()
    real = export.iter_stored_items_by_id
    written_before: list[int] = []

    def watched(*args: Any) -> Iterator[StoredItem]:
        for item in real(*args):
            written_before.append(out.getvalue().count("\n"))
            yield item

    monkeypatch.setattr(export, "iter_stored_items_by_id", watched)
    export_items(store, out, fmt)  # type: ignore[arg-type]
    header = 1 if fmt == "csv" else 0
    assert written_before == [header, header + 1, header + 2]


def test_export_goes_by_source_then_project_then_number_and_keeps_one_team(
    tmp_path: Path,
) -> None:
    """People count ACME-9, ACME-41, ACME-101 (string order would put ACME-101 first), and
    `team` keeps that team's items."""
    engine = migrated_engine(f"sqlite:///{tmp_path / 'order.db'}")
    store = Store(engine)
    jira = store.ensure_source("acme-jira", "jira", "https://acme.example.com")
    keys = [("1", "ACME-101", "Core"), ("2", "ACME-9", "Core"), ("3", "ACME-41", "Web"),
            ("4", "BETA-2", "Core"), ("5", "acme-10", "Core")]  # fmt: skip
    store.load_items(jira, [ItemBundle(_item(ext, key, team=team)) for ext, key, team in keys], T0)
    out = io.StringIO()
    assert export_items(store, out, "csv") == 5
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert [row[1] for row in rows[1:]] == ["ACME-9", "acme-10", "ACME-41", "ACME-101", "BETA-2"]
    out = io.StringIO()
    assert export_items(store, out, "csv", team="Core") == 4
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert [(row[1], row[3]) for row in rows[1:]] == [
        ("ACME-9", "Core"), ("acme-10", "Core"), ("ACME-101", "Core"), ("BETA-2", "Core"),
    ]  # fmt: skip
    engine.dispose()


def test_export_gives_each_item_its_parent_chain_and_theme(tmp_path: Path) -> None:
    """The chain is the stored ancestors, nearest first (cut at a parent not stored, a
    deleted one, or a cycle); the theme is the nearest matching one's, by portfolio.yaml's
    order, across teams: a team's export still sees the other teams' ancestors."""
    engine = migrated_engine(f"sqlite:///{tmp_path / 'themes.db'}")
    store = Store(engine)
    jira = store.ensure_source("acme-jira", "jira", "https://acme.example.com")
    ado = store.ensure_source("contoso-ado", "azure_devops", None)
    trello = store.ensure_source("boards", "trello", "https://trello.com")
    store.load_sprints(
        trello,
        [SprintRecord("b-alpha:S1", "S1", "closed", "b-alpha", "Team Alpha", T0, T0 + H, T0, None)],
    )

    def jira_item(ext: str, parent: str | None, team: str, **facts: Any) -> ItemBundle:
        return ItemBundle(_item(ext, f"ABC-{ext}", parent_key=parent, team=team, **facts))

    store.load_items(
        jira,
        [
            jira_item("1", None, "Portfolio", labels=("growth",)),  # initiative: Growth
            jira_item("2", "ABC-1", "Platform", components=("Payments",)),  # epic: Payments
            jira_item("3", "ABC-2", "Web"),  # story under the epic: the nearer theme
            jira_item("4", "ABC-1", "Web"),  # story under the initiative alone
            jira_item("5", "OPS-1", "Web"),  # its parent out of scope
            jira_item("6", "ABC-7", "Web"),  # a cycle: 6 -> 7 -> 8 -> 7
            jira_item("7", "ABC-8", "Web"),
            jira_item("8", "ABC-7", "Web"),
            jira_item("9", None, "Web", labels=("growth",)),  # deleted below
            jira_item("10", "ABC-9", "Web"),  # its parent deleted: unaligned
        ],
        T0,
    )
    live = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "10"})
    store.apply_census(jira, Census(live), T0 + H)
    store.load_items(
        ado,
        [
            ItemBundle(_item("70", "70", area_path="Fabrikam\\Phoenix", team="Phoenix")),
            ItemBundle(_item("71", "71", parent_key="70", area_path="Fabrikam\\PhoenixLegacy")),
        ],
        T0,
    )
    card = {"raw_type": "card", "team": "Team Alpha", "project": "Team Alpha"}
    store.load_items(
        trello,
        [
            ItemBundle(_item("c1", "aaa", **card)),  # Team Alpha by its board's id
            ItemBundle(_item("c2", "bbb", project="Team Beta", team="Team Beta", labels=("Q3",))),
        ],
        T0,
    )
    themes = [
        ThemeConfig(name="Growth", match=ThemeMatch(labels=["Growth"])),
        ThemeConfig(name="Payments", match=ThemeMatch(components=["payments"])),
        ThemeConfig(name="Phoenix", match=ThemeMatch(area_paths=["fabrikam\\phoenix"])),
        ThemeConfig(name="Alpha board", match=ThemeMatch(boards=["b-alpha"])),
        ThemeConfig(name="Q3", match=ThemeMatch(trello_labels=["q3"])),
    ]

    def exported(**options: Any) -> list[tuple[str, str | None, list[str], str | None]]:
        out = io.StringIO()
        export_items(store, out, "jsonl", themes=themes, **options)
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        return [(r["key"], r["parent"], r["parent_chain"], r["theme"]) for r in records]

    assert exported() == [
        ("ABC-1", None, [], "Growth"),
        ("ABC-2", "ABC-1", ["ABC-1"], "Payments"),
        ("ABC-3", "ABC-2", ["ABC-2", "ABC-1"], "Payments"),
        ("ABC-4", "ABC-1", ["ABC-1"], "Growth"),
        ("ABC-5", "OPS-1", [], None),
        ("ABC-6", "ABC-7", ["ABC-7", "ABC-8"], None),
        ("ABC-7", "ABC-8", ["ABC-8"], None),
        ("ABC-8", "ABC-7", ["ABC-7"], None),
        ("ABC-10", "ABC-9", [], None),
        ("aaa", None, [], "Alpha board"),
        ("bbb", None, [], "Q3"),
        ("70", None, [], "Phoenix"),
        ("71", "70", ["70"], "Phoenix"),  # its PhoenixLegacy is not under Phoenix; its parent is
    ]
    assert exported(team="Web", source_names=["acme-jira"])[:2] == [
        ("ABC-3", "ABC-2", ["ABC-2", "ABC-1"], "Payments"),
        ("ABC-4", "ABC-1", ["ABC-1"], "Growth"),
    ]
    # Without portfolio.yaml's themes every item is unaligned; the chains stay.
    out = io.StringIO()
    export_items(store, out, "csv", source_names=["acme-jira"])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][-3:] == ["parent_chain", "theme", "delivery"]
    assert [(row[1], row[-3], row[-2]) for row in rows[1:4]] == [
        ("ABC-1", "", ""), ("ABC-2", "ABC-1", ""), ("ABC-3", "ABC-2;ABC-1", ""),
    ]  # fmt: skip
    engine.dispose()


def test_the_ancestry_index_keeps_the_first_item_of_a_key_repeated_in_a_source() -> None:
    """As `parent_chain` reads the first stored: a repeated key never swaps the ancestor."""
    first = PortfolioItem("acme-jira", "ABC-1", "jira", labels=("first",))
    again = PortfolioItem("acme-jira", "ABC-1", "jira", labels=("again",))
    elsewhere = PortfolioItem("other-jira", "ABC-1", "jira")
    assert ancestry_index([first, again, elsewhere]) == {
        ("acme-jira", "ABC-1"): first,
        ("other-jira", "ABC-1"): elsewhere,
    }
