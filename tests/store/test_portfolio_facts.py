"""The portfolio facts in the store: loading, replacing, hashing, reading back, exporting,
and the 0012 upgrade of a filled store; on SQLite and PostgreSQL, with hand-built bundles."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select
from structlog.testing import capture_logs

from pmo_sync.domain import ChangeField, ItemLink, LinkDirection, ReleaseRecord
from pmo_sync.export import item_record
from pmo_sync.store.canonical import prepare_bundle
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.models import (
    ItemChangeRow,
    ItemLinkRow,
    ItemReleaseRow,
    ReleaseRow,
    WorkItemRow,
)
from pmo_sync.store.portfolio import (
    ChainItem,
    DateChange,
    ItemLinks,
    StoredLink,
    StoredRelease,
    date_history,
    item_links,
    parent_chain,
    source_releases,
)
from pmo_sync.store.repository import Store
from pmo_sync.store.results import LoadCounts

from .records import T0, Records

D = timedelta(days=1)
OUT, IN = LinkDirection.OUTWARD, LinkDirection.INWARD


def _facts() -> dict[str, object]:
    """The portfolio facts of item 1 (PMO-1) in the tests below."""
    return {
        "level": "feature",
        "parent_key": "PMO-10",
        "start_date": date(2024, 3, 4),
        "due_date": date(2024, 3, 29),
        "target_start": date(2024, 3, 1),
        "target_end": date(2024, 4, 5),
        "priority": "High",
        "rank": "0|i0000f:",
        "release_ids": ("v2", "v1"),
    }


def _links(ext: str = "1") -> list[ItemLink]:
    return [
        ItemLink(ext, "blocks", OUT, "PMO-2", "2"),
        ItemLink(ext, "is blocked by", IN, "OPS-7", None),  # outside the synced scope
    ]


def _stored_links(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                WorkItemRow.key,
                ItemLinkRow.link_type,
                ItemLinkRow.direction,
                ItemLinkRow.target_key,
                ItemLinkRow.target_external_id,
            )
            .join(WorkItemRow, WorkItemRow.id == ItemLinkRow.item_id)
            .order_by(WorkItemRow.key, ItemLinkRow.link_type, ItemLinkRow.target_key)
        )
        return [tuple(r) for r in rows]


def _stored_releases(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(WorkItemRow.key, ItemReleaseRow.release_external_id)
            .join(WorkItemRow, WorkItemRow.id == ItemReleaseRow.item_id)
            .order_by(WorkItemRow.key, ItemReleaseRow.release_external_id)
        )
        return [(r[0], r[1]) for r in rows]


def test_load_stores_the_facts_links_and_releases(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    bundle = rec.bundle("1", **_facts())
    bundle.links = _links()
    counts = store.load_items(source_id, [bundle, rec.bundle("2")], T0)
    assert counts == LoadCounts(inserted=2)
    with engine.connect() as conn:
        row = conn.execute(
            select(
                WorkItemRow.level,
                WorkItemRow.start_date,
                WorkItemRow.due_date,
                WorkItemRow.target_start,
                WorkItemRow.target_end,
                WorkItemRow.priority,
                WorkItemRow.rank,
            ).where(WorkItemRow.key == "PMO-1")
        ).one()
        blank = conn.execute(
            select(WorkItemRow.level, WorkItemRow.due_date, WorkItemRow.rank).where(
                WorkItemRow.key == "PMO-2"
            )
        ).one()
    assert tuple(row) == (
        "feature",
        date(2024, 3, 4),
        date(2024, 3, 29),
        date(2024, 3, 1),
        date(2024, 4, 5),
        "High",
        "0|i0000f:",
    )
    assert type(row.due_date) is date  # a day, not a datetime, on both databases
    assert tuple(blank) == (None, None, None)
    assert _stored_links(engine) == [
        ("PMO-1", "blocks", "outward", "PMO-2", "2"),
        ("PMO-1", "is blocked by", "inward", "OPS-7", None),
    ]
    assert _stored_releases(engine) == [("PMO-1", "v1"), ("PMO-1", "v2")]


def test_reload_replaces_links_and_releases_with_the_bundles(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    first = rec.bundle("1", **_facts())
    first.links = _links()
    store.load_items(source_id, [first, rec.bundle("2", release_ids=("v1",))], T0)

    again = rec.bundle("1", **{**_facts(), "release_ids": ("v3",)})
    again.links = [
        ItemLink("1", "blocks", OUT, "PMO-2", "2"),  # kept
        ItemLink("1", "relates to", OUT, "PMO-3", "3"),  # new; the OPS-7 link is gone
    ]
    counts = store.load_items(source_id, [again, rec.bundle("2", release_ids=("v1",))], T0 + D)
    assert counts == LoadCounts(updated=1, unchanged=1)
    assert _stored_links(engine) == [
        ("PMO-1", "blocks", "outward", "PMO-2", "2"),
        ("PMO-1", "relates to", "outward", "PMO-3", "3"),
    ]
    assert _stored_releases(engine) == [("PMO-1", "v3"), ("PMO-2", "v1")]

    cleared = rec.bundle("1", **{**_facts(), "release_ids": ()})
    assert store.load_items(source_id, [cleared], T0 + 2 * D) == LoadCounts(updated=1)
    assert _stored_links(engine) == []
    assert _stored_releases(engine) == [("PMO-2", "v1")]


def test_the_hash_moves_with_a_due_date_and_nothing_else(
    store: Store, source_id: int, rec: type[Records]
) -> None:
    base = rec.bundle("1", **_facts())
    base.links = _links()
    # The same facts listed in another order, a link and a release repeated: one content.
    shuffled = rec.bundle("1", **{**_facts(), "release_ids": ("v1", "v2", "v1")})
    shuffled.links = [*reversed(_links()), _links()[0]]
    slipped = rec.bundle("1", **{**_facts(), "due_date": date(2024, 4, 12)})
    slipped.links = _links()
    relinked = rec.bundle("1", **_facts())
    relinked.links = [_links()[0]]
    assert prepare_bundle(shuffled).content_hash == prepare_bundle(base).content_hash
    assert prepare_bundle(slipped).content_hash != prepare_bundle(base).content_hash
    assert prepare_bundle(relinked).content_hash != prepare_bundle(base).content_hash

    assert store.load_items(source_id, [base], T0) == LoadCounts(inserted=1)
    assert store.load_items(source_id, [shuffled], T0 + D) == LoadCounts(unchanged=1)
    assert store.load_items(source_id, [slipped], T0 + 2 * D) == LoadCounts(updated=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("level", "epic"),
        ("start_date", date(2024, 3, 5)),
        ("target_start", None),
        ("target_end", date(2024, 4, 6)),
        ("priority", "Low"),
        ("rank", "0|i0000g:"),
        ("release_ids", ("v1",)),
    ],
)
def test_every_fact_is_in_the_hash(field: str, value: object, rec: type[Records]) -> None:
    base = prepare_bundle(rec.bundle("1", **_facts()))
    other = prepare_bundle(rec.bundle("1", **{**_facts(), field: value}))
    assert other.content_hash != base.content_hash


def test_a_link_to_itself_is_dropped_with_a_log_line_and_repeats_collapse(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    bundle = rec.bundle("1")
    bundle.links = [
        ItemLink("1", "relates to", OUT, "PMO-1", None),  # itself, by key
        ItemLink("1", "blocks", OUT, "PMO-9", "1"),  # itself, by external id
        ItemLink("1", "blocks", OUT, "PMO-2", None),
        ItemLink("1", "blocks", OUT, "PMO-2", "2"),  # the same link, its target resolved
        ItemLink("1", "blocks", OUT, "PMO-2", None),
    ]
    with capture_logs() as logged:
        assert store.load_items(source_id, [bundle], T0) == LoadCounts(inserted=1)
    assert _stored_links(engine) == [("PMO-1", "blocks", "outward", "PMO-2", "2")]
    dropped = [e for e in logged if e["event"] == "item_link_to_itself_dropped"]
    assert [(e["item"], e["link_type"], e["log_level"]) for e in dropped] == [
        ("PMO-1", "relates to", "warning"),
        ("PMO-1", "blocks", "warning"),
    ]


def test_a_connector_bug_is_refused_before_anything_is_written(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    other_items = rec.bundle("1")
    other_items.links = [ItemLink("2", "blocks", OUT, "PMO-3", None)]
    with pytest.raises(ValueError, match="link of 2 in item 1"):
        store.load_items(source_id, [other_items], T0)
    bad_direction = rec.bundle("1")
    bad_direction.links = [ItemLink("1", "blocks", "sideways", "PMO-3", None)]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sideways"):
        store.load_items(source_id, [bad_direction], T0)
    with pytest.raises(ValueError, match="due_date of item 1 is a datetime"):
        store.load_items(source_id, [rec.bundle("1", due_date=T0)], T0)
    with engine.connect() as conn:
        assert conn.execute(select(sa.func.count()).select_from(WorkItemRow)).scalar() == 0


def test_date_changes_land_in_item_changes_and_read_as_the_date_history(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    changes = [
        rec.change("1", "h3", T0 + 9 * D, "2024-03-29", "2024-04-12", ChangeField.DUE_DATE),
        rec.change("1", "h1", T0, None, "2024-03-22", ChangeField.DUE_DATE, author="ana"),
        rec.change("1", "h2", T0 + 2 * D, "2024-03-22", "2024-03-29", ChangeField.DUE_DATE),
        rec.change("1", "h4", T0 + 3 * D, None, "2024-04-05", ChangeField.TARGET_END),
        rec.change("1", "h5", T0 + 4 * D, None, "31/04/2024", ChangeField.START_DATE),
        rec.change("1", "h6", T0 + D, "To Do", "In Progress"),  # a status: not a date
    ]
    bundle = rec.bundle("1", changes, due_date=date(2024, 4, 12))
    store.load_items(source_id, [bundle], T0 + 10 * D)
    with engine.connect() as conn:
        fields = conn.execute(
            select(ItemChangeRow.change_id, ItemChangeRow.field, ItemChangeRow.to_value).order_by(
                ItemChangeRow.change_id
            )
        ).all()
    assert [tuple(r) for r in fields] == [
        ("h1", "due_date", "2024-03-22"),
        ("h2", "due_date", "2024-03-29"),
        ("h3", "due_date", "2024-04-12"),
        ("h4", "target_end", "2024-04-05"),
        ("h5", "start_date", "31/04/2024"),
        ("h6", "status", "In Progress"),
    ]
    with capture_logs() as logged:
        history = date_history(engine, source_id, "PMO-1")
    assert history == [
        DateChange(ChangeField.DUE_DATE, T0, None, date(2024, 3, 22), "ana"),
        DateChange(ChangeField.DUE_DATE, T0 + 2 * D, date(2024, 3, 22), date(2024, 3, 29), None),
        DateChange(ChangeField.TARGET_END, T0 + 3 * D, None, date(2024, 4, 5), None),
        DateChange(ChangeField.START_DATE, T0 + 4 * D, None, None, None),  # garbage: unknown
        DateChange(ChangeField.DUE_DATE, T0 + 9 * D, date(2024, 3, 29), date(2024, 4, 12), None),
    ]
    assert [(e["event"], e["value"]) for e in logged] == [
        ("date_history_value_not_a_date", "31/04/2024")
    ]
    assert date_history(engine, source_id, "PMO-404") == []


def test_releases_load_per_source_and_read_back_in_date_order(
    store: Store, source_id: int, engine: Engine
) -> None:
    other = store.ensure_source("ado", "azure_devops", None)
    v1 = ReleaseRecord("v1", "1.0", "PMO", date(2024, 1, 2), date(2024, 3, 1), True, False)
    v2 = ReleaseRecord("v2", "2.0", "PMO", None, date(2024, 2, 1), True, True)
    undated = ReleaseRecord("v0", "Someday", None, None, None, False, False)
    assert store.load_releases(source_id, [v1, v2, undated]) == LoadCounts(inserted=3)
    assert store.load_releases(other, [v1]) == LoadCounts(inserted=1)
    assert store.load_releases(source_id, [v1, v2, undated]) == LoadCounts(unchanged=3)
    late = ReleaseRecord("v1", "1.0", "PMO", date(2024, 1, 2), date(2024, 3, 8), True, False)
    assert store.load_releases(source_id, [late]) == LoadCounts(updated=1)

    assert source_releases(engine, source_id) == [
        StoredRelease("v2", "2.0", "PMO", None, date(2024, 2, 1), True, True),
        StoredRelease("v1", "1.0", "PMO", date(2024, 1, 2), date(2024, 3, 8), True, False),
        StoredRelease("v0", "Someday", None, None, None, False, False),
    ]
    assert source_releases(engine, other) == [
        StoredRelease("v1", "1.0", "PMO", date(2024, 1, 2), date(2024, 3, 1), True, False)
    ]
    with engine.connect() as conn:
        assert conn.execute(select(sa.func.count()).select_from(ReleaseRow)).scalar() == 4


def test_parent_chain_to_any_depth_cut_at_a_cycle_or_a_missing_parent(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    def item(ext: str, parent: str | None, level: str) -> object:
        return rec.bundle(ext, parent_key=parent, level=level, item_type=level)

    store.load_items(
        source_id,
        [
            item("1", "PMO-2", "subtask"),
            item("2", "PMO-3", "story"),
            item("3", "PMO-4", "feature"),
            item("4", "PMO-5", "epic"),
            item("5", None, "initiative"),
            # A cycle: 7 → 8 → 9 → 7, entered from 6.
            item("6", "PMO-7", "story"),
            item("7", "PMO-8", "feature"),
            item("8", "PMO-9", "epic"),
            item("9", "PMO-7", "initiative"),
            item("10", "OPS-1", "story"),  # a parent outside the synced scope
        ],  # type: ignore[list-item]
        T0,
    )

    def keys(key: str) -> list[str]:
        return [c.key for c in parent_chain(engine, source_id, key)]

    assert parent_chain(engine, source_id, "PMO-1") == (
        ChainItem("PMO-2", "2", "Item 2", "story", "story"),
        ChainItem("PMO-3", "3", "Item 3", "feature", "feature"),
        ChainItem("PMO-4", "4", "Item 4", "epic", "epic"),
        ChainItem("PMO-5", "5", "Item 5", "initiative", "initiative"),
    )
    with capture_logs() as logged:
        assert keys("PMO-6") == ["PMO-7", "PMO-8", "PMO-9"]
        assert keys("PMO-8") == ["PMO-9", "PMO-7"]
    assert [(e["event"], e["item"], e["repeats"]) for e in logged] == [
        ("parent_chain_cycle", "PMO-6", "PMO-7"),
        ("parent_chain_cycle", "PMO-8", "PMO-8"),
    ]
    assert keys("PMO-10") == []
    assert keys("PMO-5") == []
    assert keys("PMO-404") == []


def test_item_links_both_ways(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    a, b, c = rec.bundle("1"), rec.bundle("2"), rec.bundle("3")
    a.links = [ItemLink("1", "blocks", OUT, "PMO-2", "2")]
    b.links = [
        ItemLink("2", "is blocked by", IN, "PMO-1", "1"),
        ItemLink("2", "depends on", OUT, "OPS-7", None),
    ]
    c.links = [ItemLink("3", "depends on", OUT, "PMO-2", "2")]
    gone = rec.bundle("4")
    gone.links = [ItemLink("4", "blocks", OUT, "PMO-2", "2")]
    other = store.ensure_source("ado", "azure_devops", None)
    elsewhere = rec.bundle("9")
    elsewhere.links = [ItemLink("9", "blocks", OUT, "PMO-2", None)]  # another source's PMO-2
    store.load_items(source_id, [a, b, c, gone], T0)
    store.load_items(other, [elsewhere], T0)
    store.apply_census(source_id, _census("1", "2", "3"), T0 + D)  # PMO-4 deleted

    assert item_links(engine, source_id, "PMO-2") == ItemLinks(
        own=(
            StoredLink("PMO-2", "depends on", "outward", "OPS-7", None),
            StoredLink("PMO-2", "is blocked by", "inward", "PMO-1", "1"),
        ),
        pointing_here=(
            StoredLink("PMO-1", "blocks", "outward", "PMO-2", "2"),
            StoredLink("PMO-3", "depends on", "outward", "PMO-2", "2"),
        ),
    )
    assert item_links(engine, source_id, "OPS-7") == ItemLinks(
        own=(), pointing_here=(StoredLink("PMO-2", "depends on", "outward", "OPS-7", None),)
    )


def _census(*ids: str) -> object:
    from pmo_sync.domain import Census

    return Census(frozenset(ids))


def test_read_back_and_export_carry_the_facts(
    store: Store, source_id: int, rec: type[Records]
) -> None:
    store.load_releases(
        source_id, [ReleaseRecord("v1", "1.0", "PMO", None, date(2024, 4, 5), False, False)]
    )
    bundle = rec.bundle("1", **_facts())
    bundle.links = _links()
    store.load_items(source_id, [bundle], T0)
    (item,) = list(store.iter_items())
    record = item_record(item)
    assert {k: record[k] for k in list(record)[13:]} == {
        "level": "feature",
        "parent": "PMO-10",
        "priority": "High",
        "rank": "0|i0000f:",
        "start_date": "2024-03-04",
        "due_date": "2024-03-29",
        "target_start": "2024-03-01",
        "target_end": "2024-04-05",
        "releases": ["1.0", "v2"],  # v2 is not stored: its external id
        "links": ["blocks:PMO-2", "is blocked by:OPS-7"],
        # what a theme matches, and the chain and theme `export_items` works out (none here)
        "components": [],
        "area_path": None,
        "parent_chain": [],
        "theme": None,
        "delivery": None,  # item_record alone knows no team's method
    }


def test_0012_upgrades_a_store_filled_at_0011_keeping_its_rows(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0011")
        old = Store(engine)
        source = old.ensure_source("jira-main", "jira", None)
        bundle = Records.bundle("1", [Records.change("1", "h1", T0)], parent_key="PMO-10")
        _load_at_0011(engine, source, bundle)
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(
                select(
                    WorkItemRow.key,
                    WorkItemRow.parent_key,
                    WorkItemRow.content_hash,
                    WorkItemRow.level,
                    WorkItemRow.due_date,
                    WorkItemRow.rank,
                )
            ).one()
            changes = conn.execute(select(ItemChangeRow.change_id, ItemChangeRow.field)).all()
        assert tuple(row) == ("PMO-1", "PMO-10", "hash at 0011", None, None, None)
        assert [tuple(c) for c in changes] == [("h1", "status")]
        # The item reloads once under the new hash, then stays unchanged.
        store = Store(engine)
        assert store.load_items(source, [bundle], T0 + D) == LoadCounts(updated=1)
        assert store.load_items(source, [bundle], T0 + 2 * D) == LoadCounts(unchanged=1)
    finally:
        engine.dispose()


def _load_at_0011(engine: Engine, source_id: int, bundle: object) -> None:
    """Write an item and its change as the 0011 schema holds them (no new columns)."""
    items = sa.table(
        "work_items",
        *(sa.column(c) for c in ("id", "source_id", "external_id", "key", "url", "title")),
        *(sa.column(c) for c in ("item_type", "raw_type", "status", "status_category", "stage")),
        *(sa.column(c) for c in ("project", "flagged", "created", "updated", "content_hash")),
        *(sa.column(c) for c in ("parent_key", "synced_at")),
        sa.column("labels", sa.JSON),
    )
    changes = sa.table(
        "item_changes",
        *(sa.column(c) for c in ("source_id", "item_id", "change_id", "field", "at")),
    )
    with engine.begin() as conn:
        conn.execute(
            sa.insert(items),
            {
                "id": 1, "source_id": source_id, "external_id": "1", "key": "PMO-1",
                "url": "u", "title": "Item 1", "item_type": "story", "raw_type": "Story",
                "status": "In Progress", "status_category": "indeterminate",
                "stage": "in_progress", "project": "PMO", "flagged": False, "created": T0,
                "updated": T0, "content_hash": "hash at 0011", "parent_key": "PMO-10",
                "synced_at": T0, "labels": [],
            },
        )  # fmt: skip
        conn.execute(
            sa.insert(changes),
            {"source_id": source_id, "item_id": 1, "change_id": "h1", "field": "status", "at": T0},
        )
