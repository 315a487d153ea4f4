"""An upgraded store gains the portfolio facts its raw payloads hold, without a re-sync.

Each test syncs a sandbox portfolio into a store of today's schema (what a fresh full sync
stores: the expected rows), then builds the store an older pmo-sync would have left: a
store migrated to revision 0011 (before the portfolio facts) holding that sync's rows as
0011 has them (no portfolio columns or tables, no date changes) and the raw payloads the
sync wrote. It is upgraded, re-converted (by `db upgrade`'s step for Jira, by the first
sync for Trello), and compared with the fresh sync row by row; the next incremental sync
makes the calls an unchanged sync makes and counts nothing updated.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import Engine, MetaData, select, text

from connectors.azure_devops import AzureDevOpsConfig
from connectors.jira import JiraConfig
from connectors.registry import connector_for_kind
from connectors.trello import TrelloConfig
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.store.engine import current_revision, head_revision, make_engine, upgrade
from pmo_sync.store.models import (
    Base,
    ItemChangeRow,
    ItemLinkRow,
    ItemReleaseRow,
    RawRecordRow,
    ReleaseRow,
    SourceRow,
    SyncStateRow,
    WorkItemRow,
)
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, reconvert_stored, sync_connector

from ..schema_helpers import postgres_schema

JQL = "project in (ABC, DEF)"
DATE_FIELDS = ("start_date", "due_date", "target_start", "target_end")
COPIED = (
    "sources",
    "work_items",
    "item_changes",
    "sprints",
    "sprint_items",
    "workflow_statuses",
    "raw_records",
    "sync_state",
    "sync_runs",
)
"""The tables of a store at revision 0011 a sync writes, in an order their keys allow."""
OLD_HASH = "a content hash of HASH_VERSION 5"


@pytest.fixture
def old_engine(store_url: str) -> Iterator[Engine]:
    """A second store of the same kind as `engine`, migrated to revision 0011 only."""
    with ExitStack() as stack:
        if store_url.startswith("sqlite"):
            url = store_url.replace("/pmo.db", "/pmo-0011.db")
            assert url != store_url
        else:
            base, _, options = store_url.partition("?options=")
            schema = unquote(options).removeprefix("-csearch_path=") + "_old"
            assert re.fullmatch(r"t_[0-9a-f]{16}_old", schema), store_url
            libpq = base.replace("postgresql+psycopg://", "postgresql://", 1)
            stack.enter_context(postgres_schema(libpq, schema))
            url = f"{base}?options={quote(f'-csearch_path={schema}')}"
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine, "0011")
        yield engine


def _as_at_0011(synced: Engine, old: Engine) -> None:
    """Copy what `synced` holds into `old` (at 0011) as 0011 holds it: the columns 0011 has,
    the changes but the date changes (no converter made them then), ids kept."""
    metadata = MetaData()
    metadata.reflect(old)
    with synced.connect() as source, old.begin() as target:
        for name in COPIED:
            table = metadata.tables[name]
            model = Base.metadata.tables[name]
            query = select(*(model.c[c.name] for c in table.columns))
            if name == "item_changes":
                query = query.where(ItemChangeRow.field.not_in(DATE_FIELDS))
            rows = [dict(row._mapping) for row in source.execute(query)]
            if name == "work_items":  # hashed by an older serialisation (HASH_VERSION 5)
                rows = [{**row, "content_hash": OLD_HASH} for row in rows]
            if rows:
                target.execute(table.insert(), rows)
            if old.dialect.name == "postgresql":
                target.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                    )
                )
    assert current_revision(old) == "0011"


def _portfolio(engine: Engine) -> dict[str, Any]:
    """The portfolio facts a store holds, row by row, keyed by the items' external ids."""
    items = WorkItemRow.__table__
    with engine.connect() as conn:
        rows = list(conn.execute(select(items).where(items.c.deleted_at.is_(None))))
        columns = {
            r.external_id: (
                r.level,
                r.start_date,
                r.due_date,
                r.target_start,
                r.target_end,
                r.priority,
                r.rank,
            )
            for r in rows
        }
        hashes = {r.external_id: r.content_hash for r in rows}
        links = sorted(
            (r.external_id, r.link_type, r.direction, r.target_key, r.target_external_id)
            for r in conn.execute(
                select(WorkItemRow.external_id, ItemLinkRow).join(
                    WorkItemRow, WorkItemRow.id == ItemLinkRow.item_id
                )
            )
        )
        item_releases = sorted(
            (r.external_id, r.release_external_id)
            for r in conn.execute(
                select(WorkItemRow.external_id, ItemReleaseRow.release_external_id).join(
                    WorkItemRow, WorkItemRow.id == ItemReleaseRow.item_id
                )
            )
        )
        releases = sorted(
            tuple(r)[2:-1]  # all but the id, the source and the content hash
            for r in conn.execute(select(ReleaseRow.__table__))
        )
        changes = sorted(
            (r.external_id, r.change_id, r.field, r.at, r.from_value, r.to_value, r.author)
            for r in conn.execute(
                select(WorkItemRow.external_id, ItemChangeRow).join(
                    WorkItemRow, WorkItemRow.id == ItemChangeRow.item_id
                )
            )
        )
    return {
        "columns": columns,
        "hashes": hashes,
        "links": links,
        "item_releases": item_releases,
        "releases": releases,
        "changes": changes,
    }


def _bookmarks(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(SyncStateRow.__table__).order_by("id"))]


def _converted(engine: Engine) -> list[int | None]:
    with engine.connect() as conn:
        return list(conn.execute(select(SourceRow.converted_version)).scalars())


def _sync(engine: Engine, config: Any, *, full: bool = False) -> RunSummary:
    with connector_for_kind(config.kind)(config) as connector:
        return sync_connector(connector, Store(engine), full=full)


def _reconvert_again(engine: Engine, config: Any) -> None:
    """Re-convert a store a sync of today's pmo-sync filled (as a source stored before
    migration 0014 is, once)."""
    with engine.begin() as conn:
        conn.execute(SourceRow.__table__.update().values(converted_version=None))
    (result,) = reconvert_stored([config], Store(engine))
    assert (result.items > 0, result.skipped) == (True, [])


# -- Jira ------------------------------------------------------------------------------------------


@pytest.fixture
def jira_sandbox() -> Iterator[JiraSandbox]:
    """The default site without its generated releases: the versions are the test's own, all
    named by an issue, so the offline reconvert (which knows a version only from the issues
    naming it) can give every release row a fresh sync reads from the projects' versions."""
    with JiraSandbox(JiraDataset.generate(releases=False)) as sandbox:
        yield sandbox


def test_a_jira_store_of_0011_upgraded_gains_every_fact_a_fresh_sync_stores(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    engine: Engine,
    old_engine: Engine,
) -> None:
    data = jira_sandbox.dataset
    shipped = data.add_version(
        "ABC", "2026.1", start_date=date(2026, 1, 5), release_date=date(2026, 2, 27),
        released=True,
    )  # fmt: skip
    undated = data.add_version("ABC", "2026.2")
    story = next(i for i in data.issues if i.project_key == "ABC" and i.parent_key)
    other = next(i for i in data.issues if i.project_key == "ABC" and i.key != story.key)
    blocked = next(i for i in data.issues if i.project_key == "DEF")
    outside = next(i for i in data.issues if i.project_key == "GHI")
    data.clock.advance(minutes=5)
    data.set_due_date(story.key, date(2026, 4, 15))
    data.clock.advance(minutes=5)
    data.set_due_date(story.key, date(2026, 4, 30))
    data.set_priority(story.key, "High")
    data.set_rank(story.key, "0|i0000f:")
    data.set_rank(other.key, "0|i0000a:")
    data.set_fix_versions(story.key, [shipped.id, undated.id])
    data.link(story.key, blocked.key)
    data.link(outside.key, other.key)
    config = make_config(jira_sandbox, jql=JQL)

    assert _sync(engine, config, full=True).status == "success"
    fresh = _portfolio(engine)
    assert len(fresh["columns"]) > 50
    assert {c[0] for c in fresh["columns"].values()} >= {"epic", "story", "subtask"}
    assert fresh["columns"][story.id][2:] == (date(2026, 4, 30), None, None, "High", "0|i0000f:")
    assert [c[2] for c in fresh["changes"] if c[0] == story.id and c[2] == "due_date"] == [
        "due_date",
        "due_date",
    ]
    _reconvert_again(engine, config)  # a store that holds the facts: nothing changes
    assert _portfolio(engine) == fresh
    jira_sandbox.reset_log()
    control = _sync(engine, config)  # what an unchanged sync costs, on the fresh store
    unchanged_calls = [r.path for r in jira_sandbox.requests]
    assert (control.items_updated, unchanged_calls[0]) == (0, "/rest/api/2/search/jql")

    _as_at_0011(engine, old_engine)
    upgrade(old_engine)  # an older pmo-sync's store, upgraded: no fact yet, no release
    assert current_revision(old_engine) == head_revision()
    upgraded = _portfolio(old_engine)
    assert set(upgraded["columns"].values()) == {(None,) * 7}
    assert set(upgraded["hashes"].values()) == {OLD_HASH}
    assert (upgraded["links"], upgraded["item_releases"], upgraded["releases"]) == ([], [], [])
    assert _converted(old_engine) == [None]
    bookmarks = _bookmarks(old_engine)

    jira_sandbox.reset_log()
    (result,) = reconvert_stored([config], Store(old_engine))  # `db upgrade`'s step
    assert jira_sandbox.requests == []  # offline
    assert (result.source, result.items, result.skipped, result.kept) == (
        config.name,
        len(fresh["columns"]),
        [],
        (),
    )
    assert result.changes_added == 2 + 3  # the story's two due-date changes, and the moves
    # of the generated epics' due dates in ABC and DEF (ABC-22, ABC-46, DEF-91)
    assert _portfolio(old_engine) == fresh  # every row, the content hashes too
    assert _bookmarks(old_engine) == bookmarks  # no bookmark touched
    assert _converted(old_engine) == [1]
    assert reconvert_stored([config], Store(old_engine)) == []  # once

    jira_sandbox.reset_log()
    after = _sync(old_engine, config)
    assert [r.path for r in jira_sandbox.requests] == unchanged_calls
    assert (after.status, after.items_updated, after.items_inserted) == ("success", 0, 0)
    full = _sync(old_engine, config, full=True)  # every issue read again: none changed
    assert (full.items_seen, full.items_updated) == (len(fresh["columns"]), 0)
    assert _portfolio(old_engine) == fresh


def test_without_the_site_cache_jira_keeps_the_custom_field_facts_for_the_next_sync(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    engine: Engine,
    old_engine: Engine,
) -> None:
    """The Rank field's id is in the site cache; without it the rank stays unknown (the one
    log line says so), the facts the system fields hold are re-converted all the same."""
    data = jira_sandbox.dataset
    story = next(i for i in data.issues if i.project_key == "ABC")
    data.clock.advance(minutes=5)
    data.set_rank(story.key, "0|i0000f:")
    data.set_priority(story.key, "Low")
    config = make_config(jira_sandbox, jql=JQL)
    assert _sync(engine, config, full=True).status == "success"
    fresh = _portfolio(engine)
    _as_at_0011(engine, old_engine)
    with old_engine.begin() as conn:
        conn.execute(SyncStateRow.__table__.delete().where(SyncStateRow.stream == "site"))
    upgrade(old_engine)

    (result,) = reconvert_stored([config], Store(old_engine))
    assert result.kept == ("rank, start date and target dates (no cached Jira field ids)",)
    columns = _portfolio(old_engine)["columns"]
    assert columns == {
        ext: (*facts[:6], None) for ext, facts in fresh["columns"].items()
    }  # all but the rank
    assert columns[story.id][5] == "Low"
    assert fresh["columns"][story.id][6] == "0|i0000f:"


# -- Trello ----------------------------------------------------------------------------------------


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]
    dataset = TrelloDataset.generate(  # without its own portfolio: the test makes one
        seed=16, cards_per_board=12, boards=("Team Alpha", "Team Beta"), portfolio=False
    )
    with TrelloSandbox(dataset, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


def _utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=17, tzinfo=UTC)


def test_a_trello_store_of_0011_gains_levels_priorities_and_releases_at_its_first_sync(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    engine: Engine,
    old_engine: Engine,
) -> None:
    """Trello's stored payload is a slice of the card; the row keeps its labels and list,
    which give the level, a label priority and the releases. Dates, rank and links are in
    the card listing only: they stay for the next sync that reads the card."""
    ds = trello.dataset
    person = ds.people[0]
    heavy = ds.heavy_card.id
    cards = [c for c in ds.cards(ds.board("Team Alpha")) if not c.closed and c.id != heavy]
    story, epic, broken = cards[:3]
    for board in ("Team Alpha", "Team Beta"):
        ds.create_label(board, "Epic")
        ds.create_label(board, "Release 2027.1")
        ds.create_label(board, "Priority: High")
    ds.add_label(epic.id, "Epic", by=person)
    ds.add_label(story.id, "Release 2027.1", by=person)
    ds.add_label(story.id, "Priority: High", by=person)
    ds.set_dates(story.id, due=_utc("2026-12-04"), by=person)
    config = trello_config(
        trello,
        portfolio={
            "priority": {"from": "label", "prefix": "Priority: "},
            "releases": {"label": "Release {name}", "dates": {"2027.1": {"planned": "2027-01-15"}}},
        },
    )
    assert _sync(engine, config).status == "success"
    fresh = _portfolio(engine)
    assert fresh["columns"][epic.id][0] == "epic"
    assert fresh["columns"][story.id][0::2][:2] == ("story", date(2026, 12, 4))
    assert fresh["columns"][story.id][5] == "High"
    assert fresh["item_releases"] == [(story.id, "2027.1")]
    trello.reset_log()
    control = _sync(engine, config)
    unchanged_calls = [r.path for r in trello.requests]
    assert control.items_updated == 0

    _as_at_0011(engine, old_engine)
    upgrade(old_engine)
    with old_engine.begin() as conn:  # one payload the store cannot read
        raw = RawRecordRow.__table__
        conn.execute(raw.update().where(raw.c.external_id == broken.id).values(payload=b"garbage"))
    bookmarks = _bookmarks(old_engine)
    trello.reset_log()
    after = _sync(old_engine, config)  # re-converts first, offline, then syncs as usual
    assert [r.path for r in trello.requests] == unchanged_calls
    assert (after.status, after.items_updated, after.items_inserted) == ("partial", 0, 0)
    assert after.errors == [
        "1 stored raw payload(s) could not be re-converted, skipped (their facts come with "
        f"their next sync): {broken.short_link}; first: the payload cannot be decompressed or "
        "parsed (error: Error -3 while decompressing data: incorrect header check)"
    ]
    assert _bookmarks(old_engine) == bookmarks  # an unchanged sync moves none either
    assert _converted(old_engine) == [1]
    got = _portfolio(old_engine)
    assert got["columns"] == {
        ext: (level, None, None, None, None, priority, None)
        for ext, (level, _, _, _, _, priority, _) in fresh["columns"].items()
        if ext != broken.id
    } | {broken.id: (None,) * 7}  # dates and rank: the next sync that reads the card
    assert got["columns"][story.id][5] == "High"
    assert got["item_releases"] == fresh["item_releases"]
    assert got["releases"] == fresh["releases"]
    assert got["links"] == []


# -- Azure DevOps ----------------------------------------------------------------------------------

START = "Microsoft.VSTS.Scheduling.StartDate"
FINISH = "Microsoft.VSTS.Scheduling.FinishDate"
TARGET = "Microsoft.VSTS.Scheduling.TargetDate"
STACK = "Microsoft.VSTS.Common.StackRank"


@pytest.fixture
def ado(cold_ado_sdk_cache: None) -> Iterator[AdoSandbox]:
    with AdoSandbox(size=40) as sandbox:
        yield sandbox


def test_an_azure_devops_store_of_0011_gains_the_facts_of_the_latest_revision(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    engine: Engine,
    old_engine: Engine,
) -> None:
    """The stored payload is the latest revision's fields: level, dates, priority, rank and
    the releases a tag names are re-converted exactly; the date history (earlier revisions)
    and the links (a call of their own) stay for the next sync that reads the item."""
    ds = ado.dataset
    planned, ranked, linked = sorted(i.id for i in ds.items())[:3]
    person = ds.people[0]
    ds.clock.advance(hours=1)
    ds.update(planned, {START: "2026-11-30T23:00:00Z", FINISH: "2026-12-11T00:00:00Z",
                        TARGET: "2026-12-18T00:00:00Z", "System.Tags": "release-2027.1"},
              by=person)  # fmt: skip
    ds.update(ranked, {STACK: 1999.25, FINISH: "next sprint"}, by=person)
    ds.link(linked, "System.LinkTypes.Dependency-Forward", ranked, by=person)
    config = ado_config(
        ado,
        link_types=["Dependency"],
        releases={"tag": "release-{name}", "dates": {"2027.1": {"planned": "2027-03-31"}}},
    )
    assert _sync(engine, config, full=True).status == "success"
    fresh = _portfolio(engine)
    assert fresh["columns"][str(planned)][1:5] == (
        date(2026, 12, 1),
        date(2026, 12, 18),
        None,
        date(2026, 12, 18),
    )  # fmt: skip (the due date is the Target Date, over the Finish Date)
    assert fresh["links"] != [] and fresh["item_releases"] == [(str(planned), "2027.1")]
    ado.reset_log()
    assert _sync(engine, config).items_updated == 0
    unchanged_calls = [(r.method, r.path) for r in ado.requests]
    _reconvert_again(engine, config)  # a store that holds the facts: nothing changes
    assert _portfolio(engine) == fresh  # the links it cannot read kept, every hash the same

    _as_at_0011(engine, old_engine)
    upgrade(old_engine)
    ado.reset_log()
    (result,) = reconvert_stored([config], Store(old_engine))
    assert (ado.requests, result.items, result.skipped) == ([], len(fresh["columns"]), [])
    assert result.kept == ("dependency links and date history (not in the stored payload)",)
    got = _portfolio(old_engine)
    assert got["columns"] == fresh["columns"]
    assert (got["item_releases"], got["releases"]) == (fresh["item_releases"], fresh["releases"])
    assert got["links"] == []
    assert got["changes"] == [c for c in fresh["changes"] if c[2] not in DATE_FIELDS]
    unlinked = {str(planned), str(linked), str(ranked)}
    assert {e: h for e, h in got["hashes"].items() if e not in unlinked} == {
        e: h for e, h in fresh["hashes"].items() if e not in unlinked
    }  # an item whose facts are all in its payload is hashed as a fresh sync hashes it

    ado.reset_log()
    after = _sync(old_engine, config)
    assert [(r.method, r.path) for r in ado.requests] == unchanged_calls
    assert (after.status, after.items_updated) == ("success", 0)
