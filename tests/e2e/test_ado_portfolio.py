"""The portfolio facts of Azure DevOps items through a sandbox sync: level, the scheduling
dates and their history, priority, rank — stored row by row.

The sandbox's generated dataset stays as it is; the test gives a few items dates and ranks
with the dataset's own mutation API (new revisions, as a person editing them would make)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select

from connectors.azure_devops import AzureDevOpsConfig
from pmo_sync.common.rank import sortable_rank
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.store.models import ItemLinkRow, ItemReleaseRow, ReleaseRow, WorkItemRow
from pmo_sync.store.repository import Store

from ..schema_helpers import stored_changes, stored_items

REPORTING = "/contoso/Fabrikam/_apis/wit/reporting/workItemRevisions"
BATCH = "/contoso/Fabrikam/_apis/wit/workItemsBatch"
START = "Microsoft.VSTS.Scheduling.StartDate"
FINISH = "Microsoft.VSTS.Scheduling.FinishDate"
TARGET = "Microsoft.VSTS.Scheduling.TargetDate"
PRIORITY = "Microsoft.VSTS.Common.Priority"
STACK = "Microsoft.VSTS.Common.StackRank"
LEVELS = {"User Story": "story", "Bug": "story", "Task": "task", "Feature": "feature"}


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(size=40) as sandbox:
        yield sandbox


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_dates_that_slip_priority_rank_and_level_are_stored_with_their_history(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    ds = ado.dataset
    live = sorted(ds.items(), key=lambda i: i.id)
    planned, ranked = live[0].id, live[1].id
    person = ds.people[0]
    ds.clock.advance(hours=1)
    ds.update(planned, {START: "2026-11-30T23:00:00Z", FINISH: "2026-12-04T00:00:00Z",
                        TARGET: "2026-12-11T00:00:00Z"}, by=person)  # fmt: skip
    ds.update(ranked, {STACK: 1999.25, PRIORITY: 1, FINISH: "next sprint"}, by=person)
    config = ado_config(ado)
    first = sync(config, full=True)
    assert first.status == "success", first.errors

    items = stored_items(engine)
    row = items[str(planned)]
    # The Target Date is the date promised (due and target end), whatever Finish Date says.
    assert (row.start_date, row.due_date, row.target_start, row.target_end) == (
        date(2026, 12, 1), date(2026, 12, 11), None, date(2026, 12, 11),
    )  # fmt: skip
    other = items[str(ranked)]
    assert (other.rank, other.priority, other.due_date) == (sortable_rank(1999.25), "1", None)
    for item in ds.items():  # every item: its type's level and its priority
        stored = items[str(item.id)]
        assert stored.level == LEVELS[item.type], item.id
        assert stored.priority == str(item.fields[PRIORITY]), item.id
        if item.id not in (planned, ranked):
            assert (stored.rank, stored.due_date, stored.start_date) == (None, None, None)
    set_at = ds.item(planned).revisions[-1].changed_ms
    due = stored_changes(engine, "due_date")
    assert [(c.from_value, c.to_value) for c in due[str(planned)]] == [(None, "2026-12-11")]
    assert _utc(due[str(planned)][0].at) == datetime.fromtimestamp(set_at / 1000, UTC)
    assert str(ranked) not in due  # a garbage date is no date, so no change either

    # The Target Date slips twice, a week each time; the incremental sync reads the two
    # revisions from the stream (plus the item's own revisions, one call: it existed).
    for week in (18, 25):
        ds.clock.advance(hours=2)
        ds.update(planned, {TARGET: f"2026-12-{week}T00:00:00Z"}, by=person)
    ado.reset_log()
    second = sync(config)
    assert second.status == "success", second.errors
    assert (second.items_seen, second.items_updated) == (1, 1)
    assert stored_items(engine)[str(planned)].due_date == date(2026, 12, 25)
    slips = [
        (int(c.change_id.split(":")[0]), c.from_value, c.to_value)
        for c in stored_changes(engine, "due_date")[str(planned)]
    ]
    rev = ds.item(planned).rev
    assert slips == [
        (rev - 2, None, "2026-12-11"),
        (rev - 1, "2026-12-11", "2026-12-18"),
        (rev, "2026-12-18", "2026-12-25"),
    ]
    calls = Counter((r.method, r.path) for r in ado.requests if r.method != "OPTIONS")
    assert calls[("POST", REPORTING)] == 1

    # Nothing changed since: one reporting call, as before the portfolio facts.
    ado.reset_log()
    third = sync(config)
    assert (third.status, third.items_seen) == ("success", 0)
    calls = Counter((r.method, r.path) for r in ado.requests if r.method != "OPTIONS")
    assert calls == Counter({("POST", REPORTING): 1})


def _releases(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(ReleaseRow).order_by(ReleaseRow.external_id))
        return [
            (r.external_id, r.name, r.project, r.start_date, r.release_date, r.released)
            for r in rows
        ]


def _item_releases(engine: Engine) -> dict[str, list[str]]:
    query = select(WorkItemRow.external_id, ItemReleaseRow.release_external_id).join(
        WorkItemRow, WorkItemRow.id == ItemReleaseRow.item_id
    )
    result: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for key, release in conn.execute(query):
            result.setdefault(key, []).append(release)
    return {key: sorted(value) for key, value in result.items()}


def test_releases_a_tag_convention_names_are_stored_with_the_configured_dates(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    ds = ado.dataset
    first, second = sorted(i.id for i in ds.items())[:2]
    person = ds.people[0]
    ds.clock.advance(hours=1)
    ds.update(first, {"System.Tags": "release-2026.4; Release-2027.1"}, by=person)
    ds.update(second, {"System.Tags": "RELEASE-2027.1"}, by=person)
    releases = {
        "tag": "release-{name}",
        "dates": {"2026.4": {"planned": "2026-11-30", "released": "2026-12-02"},
                  "2027.1": {"planned": "2027-03-31"}, "2027.2": {"planned": "2027-06-30"}},
    }  # fmt: skip
    config = ado_config(ado, releases=releases)
    summary = sync(config, full=True)
    assert summary.status == "success", summary.errors
    assert _releases(engine) == [  # the sandbox's clock says 2026-12-07
        ("2026.4", "2026.4", "Fabrikam", None, date(2026, 12, 2), True),
        ("2027.1", "2027.1", "Fabrikam", None, date(2027, 3, 31), False),
        ("2027.2", "2027.2", "Fabrikam", None, date(2027, 6, 30), False),  # dated, no item yet
    ]
    assert _item_releases(engine) == {str(first): ["2026.4", "2027.1"], str(second): ["2027.1"]}

    # The first item leaves release 2026.4: its stored releases become what it names now.
    ds.clock.advance(hours=1)
    ds.update(first, {"System.Tags": "Release-2027.1"}, by=person)
    assert sync(config).status == "success"
    assert _item_releases(engine) == {str(first): ["2027.1"], str(second): ["2027.1"]}
    assert [r[0] for r in _releases(engine)] == ["2026.4", "2027.1", "2027.2"]  # never deleted


def _links(engine: Engine) -> dict[str, list[tuple]]:
    query = select(WorkItemRow.external_id, ItemLinkRow).join(
        WorkItemRow, WorkItemRow.id == ItemLinkRow.item_id
    )
    result: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            result.setdefault(row.external_id, []).append(
                (row.link_type, row.direction, row.target_key, row.target_external_id)
            )
    return {key: sorted(value) for key, value in result.items()}


def _calls(ado: AdoSandbox) -> Counter[tuple[str, str]]:
    return Counter((r.method, r.path) for r in ado.requests if r.method != "OPTIONS")


def _batched(ado: AdoSandbox) -> list[list[int]]:
    """The ids each `workitemsbatch` call asked relations of, sorted."""
    return [sorted(r.body["ids"]) for r in ado.requests if r.path == BATCH]


def test_dependency_links_are_read_by_default_one_batch_call_per_200_items_read(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    ds = ado.dataset
    a, b, c, d = sorted(i.id for i in ds.items())[:4]
    outside = ds.max_id() + 500  # an item of another project: never in this sync's scope
    person = ds.people[0]
    ds.clock.advance(hours=1)
    ds.link(a, "System.LinkTypes.Dependency-Forward", b, by=person)
    ds.link(b, "System.LinkTypes.Dependency-Reverse", a, by=person)
    ds.link(a, "System.LinkTypes.Dependency-Reverse", outside, by=person)
    ds.link(c, "System.LinkTypes.Related", a, by=person)
    config = ado_config(ado)  # no link_types: Dependency, the default
    assert config.link_types == ["System.LinkTypes.Dependency"]
    ado.reset_log()
    summary = sync(config, full=True)
    assert summary.status == "success", summary.errors
    assert _links(engine) == {
        str(a): [
            ("predecessor", "inward", str(outside), None),
            ("successor", "outward", str(b), str(b)),
        ],
        str(b): [("predecessor", "inward", str(a), str(a))],
    }  # c's Related link is not a type read by default
    assert _batched(ado) == [sorted(i.id for i in ds.items())]  # 40 items: one batch

    # Nothing changed: one reporting call, no batch.
    ado.reset_log()
    assert sync(config).status == "success"
    assert _calls(ado) == Counter({("POST", REPORTING): 1})

    # d becomes c's successor (a revision of d: a person adds the link on d's Links tab), and
    # c is retitled: the incremental sync reads those two, and asks relations of them alone.
    ds.clock.advance(hours=1)
    ds.link(d, "System.LinkTypes.Dependency-Reverse", c, by=person)
    ds.update(c, {"System.Title": "touched"}, by=person)
    ado.reset_log()
    second = sync(config)
    assert (second.status, second.items_seen) == ("success", 2)
    assert _links(engine)[str(d)] == [("predecessor", "inward", str(c), str(c))]
    calls = _calls(ado)
    assert calls[("POST", REPORTING)] == 1 and calls[("POST", BATCH)] == 1
    assert _batched(ado) == [sorted([c, d])]

    # Related read too: another scope, so every item is read again (a full read, and its
    # census) and c's Related link is stored though nobody touched c since.
    related = ado_config(ado, link_types=["Dependency", "Related"])
    ado.reset_log()
    third = sync(related)
    assert (third.status, third.items_seen) == ("success", 40)
    assert _links(engine)[str(c)] == [("related", "outward", str(a), str(a))]
    assert _batched(ado) == [sorted(i.id for i in ds.items())]

    # b is deleted; a, read again, keeps its link to b by key alone (b is no longer in scope).
    ds.clock.advance(hours=1)
    ds.delete(b, by=person)
    ds.update(a, {"System.Title": "touched too"}, by=person)
    assert sync(related).status == "success"
    assert _links(engine)[str(a)] == [
        ("predecessor", "inward", str(outside), None),
        ("successor", "outward", str(b), None),
    ]

    # `link_types: []` reads no links: a full read again (the scope changed back), no batch
    # call, and every live item's stored links are what it has now: none read (b, deleted,
    # is not read again and keeps its row as it was).
    ado.reset_log()
    off = sync(ado_config(ado, link_types=[]))
    assert (off.status, off.items_seen) == ("success", 39)
    assert _batched(ado) == []
    assert _links(engine) == {str(b): [("predecessor", "inward", str(a), str(a))]}


def test_the_first_sync_after_the_new_defaults_reads_everything_and_brings_epics_in(
    ado: AdoSandbox, ado_config: Callable[..., AzureDevOpsConfig], sync, engine: Engine
) -> None:
    """A store synced with the defaults before issue 16 (no Epic, no links): the first sync
    with today's defaults, though not asked to be full, reads every item again (the scope
    changed), refreshes the metadata (Epic's states were never asked), and stores the Epic
    with its level and state category, its children's parent and the Dependency links."""
    ds = ado.dataset
    person = ds.people[0]
    ds.clock.advance(hours=1)
    epic = ds.create("Epic", "Checkout revamp", by=person).id
    ds.set_state(epic, "Closed", by=person)
    feature = ds.create("Feature", "Faster checkout", by=person).id  # 40 items hold none
    story = next(i.id for i in ds.items() if i.type == "User Story")
    ds.update(feature, {"System.Parent": epic}, by=person)
    ds.link(story, "System.LinkTypes.Dependency-Reverse", epic, by=person)
    before = ado_config(
        ado,
        work_item_types=["User Story", "Product Backlog Item", "Bug", "Task", "Feature"],
        link_types=[],
    )
    assert sync(before, full=True).status == "success"
    assert str(epic) not in stored_items(engine) and _links(engine) == {}
    source = Store(engine).ensure_source("sandbox-ado", "azure_devops", None)
    scope = Store(engine).get_bookmark(source, "work_items")["scope"]
    assert scope == json.dumps(  # the key the release before stored: no item is read again
        {"areas": [], "types": ["bug", "feature", "product backlog item", "task", "user story"]},
        sort_keys=True,
    )

    ado.reset_log()
    after = sync(ado_config(ado))
    assert (after.status, after.items_seen) == ("success", 42), after.errors
    row = stored_items(engine)[str(epic)]
    assert (row.item_type, row.level, row.status, row.status_category) == (
        "epic", "epic", "Closed", "Completed"
    )  # fmt: skip
    assert stored_items(engine)[str(feature)].parent_key == str(epic)
    assert _links(engine) == {str(story): [("predecessor", "inward", str(epic), str(epic))]}
    calls = _calls(ado)
    epic_states = ("GET", "/contoso/Fabrikam/_apis/wit/workItemTypes/Epic/states")
    assert calls[epic_states] == 1  # the metadata refreshed: Epic's states asked once
    assert calls[("POST", BATCH)] == 1  # the 42 items' relations
    assert calls[("POST", "/contoso/Fabrikam/_apis/wit/wiql")] == 1  # the full read's census

    # Then as before: nothing changed, one call.
    ado.reset_log()
    assert sync(ado_config(ado)).status == "success"
    assert _calls(ado) == Counter({("POST", REPORTING): 1})
