"""Store.load_items: hash-compared upsert of items, their changes and sprint stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select

from pmo_sync.domain import Census, ChangeField, CheckItem
from pmo_sync.evaluation.inputs import iter_item_inputs
from pmo_sync.store.bulk import BATCH_SIZE
from pmo_sync.store.items import decompress_raw
from pmo_sync.store.models import ItemChangeRow, RawRecordRow, SprintItemRow, WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.store.results import LoadCounts

from .records import T0, Records, WriteLog

H = timedelta(hours=1)
NOW = T0 + timedelta(days=30)


def _changes(engine: Engine, item_key: str) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(
                    ItemChangeRow.id,
                    ItemChangeRow.change_id,
                    ItemChangeRow.field,
                    ItemChangeRow.at,
                    ItemChangeRow.from_value,
                    ItemChangeRow.to_value,
                    ItemChangeRow.from_display,
                    ItemChangeRow.to_display,
                    ItemChangeRow.author,
                )
                .join(WorkItemRow, WorkItemRow.id == ItemChangeRow.item_id)
                .where(WorkItemRow.key == item_key)
                .order_by(ItemChangeRow.change_id)
            )
        ]


def _stays(engine: Engine, item_key: str) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(
                    SprintItemRow.id,
                    SprintItemRow.sprint_external_id,
                    SprintItemRow.added_at,
                    SprintItemRow.removed_at,
                )
                .join(WorkItemRow, WorkItemRow.id == SprintItemRow.item_id)
                .where(WorkItemRow.key == item_key)
                .order_by(SprintItemRow.sprint_external_id, SprintItemRow.added_at)
            )
        ]


def _item(engine: Engine, key: str) -> WorkItemRow:
    with engine.connect() as conn:
        return conn.execute(select(WorkItemRow.__table__).where(WorkItemRow.key == key)).one()


def _two_bundles(rec: type[Records]) -> list:
    return [
        rec.bundle(
            "1",
            changes=[
                rec.change(
                    "1",
                    "100:status",
                    T0 + H,
                    "1",
                    "3",
                    from_display="To Do",
                    to_display="In Progress",
                    author="ana",
                ),
                rec.change("1", "101:sprint", T0 + 2 * H, None, "s1", field=ChangeField.SPRINT),
            ],
            memberships=[rec.stay("1", "s1", T0 + 2 * H)],
            raw={"id": "1", "fields": {"summary": "Item 1"}},
        ),
        rec.bundle("2", changes=[rec.change("2", "200:status", T0 + 3 * H)]),
    ]


def test_first_load_inserts_items_changes_and_stays(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    counts = store.load_items(source_id, _two_bundles(rec), NOW)

    assert counts == LoadCounts(inserted=2, updated=0, unchanged=0)
    item = _item(engine, "PMO-1")
    assert (item.source_id, item.external_id, item.title, item.item_type, item.status) == (
        source_id,
        "1",
        "Item 1",
        "story",
        "In Progress",
    )
    assert (item.stage, item.labels, item.flagged, item.estimate) == (
        "in_progress",
        ["backend"],
        False,
        3.0,
    )
    assert (item.created, item.updated, item.resolved) == (T0, T0 + timedelta(days=1), None)
    assert (item.deleted_at, item.synced_at, len(item.content_hash)) == (None, NOW, 64)
    assert [c[1:] for c in _changes(engine, "PMO-1")] == [
        ("100:status", "status", T0 + H, "1", "3", "To Do", "In Progress", "ana"),
        ("101:sprint", "sprint", T0 + 2 * H, None, "s1", None, None, None),
    ]
    assert [s[1:] for s in _stays(engine, "PMO-1")] == [("s1", T0 + 2 * H, None)]
    assert [c[1] for c in _changes(engine, "PMO-2")] == ["200:status"]
    assert store.count_rows(source_id) == {
        "items": 2,
        "changes": 3,
        "sprints": 0,
        "sprint_items": 1,
    }


def test_identical_reload_writes_nothing(
    store: Store, source_id: int, engine: Engine, rec: type[Records], write_log: WriteLog
) -> None:
    store.load_items(source_id, _two_bundles(rec), NOW)
    write_log.clear()

    counts = store.load_items(source_id, _two_bundles(rec), NOW + timedelta(days=1))

    assert counts == LoadCounts(inserted=0, updated=0, unchanged=2)
    assert write_log.writes == []
    assert write_log.count("SELECT work_items.external_id, work_items.id") == 1
    assert _item(engine, "PMO-1").synced_at == NOW  # not even the sync stamp moved


def test_reload_with_reordered_history_is_unchanged(
    store: Store, source_id: int, rec: type[Records], write_log: WriteLog
) -> None:
    bundles = _two_bundles(rec)
    store.load_items(source_id, bundles, NOW)
    bundles[0].changes.reverse()
    write_log.clear()

    assert store.load_items(source_id, bundles, NOW) == LoadCounts(0, 0, 2)
    assert write_log.writes == []


def test_same_instant_in_another_zone_is_unchanged(
    store: Store, source_id: int, rec: type[Records], write_log: WriteLog
) -> None:
    store.load_items(source_id, [rec.bundle("1")], NOW)
    plus2 = timezone(timedelta(hours=2))
    moved = rec.bundle("1", created=T0.astimezone(plus2))
    write_log.clear()

    assert store.load_items(source_id, [moved], NOW) == LoadCounts(0, 0, 1)
    assert write_log.writes == []


def test_changed_history_inserts_updates_and_deletes_changes(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    store.load_items(
        source_id,
        [
            rec.bundle(
                "1",
                changes=[
                    rec.change("1", "c1", T0 + H, "To Do", "In Progress"),
                    rec.change("1", "c2", T0 + 2 * H, "In Progress", "Review"),
                    rec.change("1", "c3", T0 + 3 * H, "Review", "Done"),
                ],
            )
        ],
        NOW,
    )
    before = {c[1]: c[0] for c in _changes(engine, "PMO-1")}

    counts = store.load_items(
        source_id,
        [
            rec.bundle(
                "1",
                changes=[
                    rec.change("1", "c1", T0 + H, "To Do", "In Progress"),
                    rec.change("1", "c2", T0 + 2 * H, "In Progress", "Blocked"),
                    rec.change("1", "c4", T0 + 4 * H, "Blocked", "Done"),
                ],
            )
        ],
        NOW,
    )

    assert counts == LoadCounts(inserted=0, updated=1, unchanged=0)
    after = _changes(engine, "PMO-1")
    assert [c[1:6] for c in after] == [
        ("c1", "status", T0 + H, "To Do", "In Progress"),
        ("c2", "status", T0 + 2 * H, "In Progress", "Blocked"),
        ("c4", "status", T0 + 4 * H, "Blocked", "Done"),
    ]
    ids = {c[1]: c[0] for c in after}
    assert ids["c1"] == before["c1"]  # untouched row kept
    assert ids["c2"] == before["c2"]  # updated in place


def test_changed_memberships_replace_the_stored_ones(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    store.load_items(
        source_id,
        [
            rec.bundle(
                "1",
                memberships=[
                    rec.stay("1", "s1", T0, T0 + 10 * H),
                    rec.stay("1", "s2", T0 + 10 * H),
                ],
            )
        ],
        NOW,
    )
    s2_id = next(s[0] for s in _stays(engine, "PMO-1") if s[1] == "s2")

    counts = store.load_items(
        source_id,
        [
            rec.bundle(
                "1",
                memberships=[
                    rec.stay("1", "s2", T0 + 10 * H, T0 + 20 * H),
                    rec.stay("1", "s3", T0 + 20 * H),
                    rec.stay("1", "s2", T0 + 30 * H),  # came back: a second stay
                ],
            )
        ],
        NOW,
    )

    assert counts == LoadCounts(0, 1, 0)
    stays = _stays(engine, "PMO-1")
    assert [s[1:] for s in stays] == [
        ("s2", T0 + 10 * H, T0 + 20 * H),
        ("s2", T0 + 30 * H, None),
        ("s3", T0 + 20 * H, None),
    ]
    assert stays[0][0] == s2_id


def test_changed_item_fields_update_the_row(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    store.load_items(source_id, [rec.bundle("1")], NOW)
    old_hash = _item(engine, "PMO-1").content_hash

    resolved = T0 + timedelta(days=5)
    counts = store.load_items(
        source_id,
        [rec.bundle("1", title="Renamed", status="Done", resolved=resolved, labels=())],
        NOW + H,
    )

    assert counts == LoadCounts(0, 1, 0)
    item = _item(engine, "PMO-1")
    assert (item.title, item.status, item.resolved, item.labels) == (
        "Renamed",
        "Done",
        resolved,
        [],
    )
    assert item.synced_at == NOW + H
    assert item.content_hash != old_hash


def test_the_governance_facts_round_trip_and_count_as_changes(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    """Description, acceptance criteria, parent type and checklist are columns: stored as the
    record has them, read back as the rules see them, and any change to them rewrites the
    row (they are in the content hash)."""
    facts = {
        "description": "As a shopper I want receipts\nh3. Acceptance criteria\n* a PDF arrives",
        "acceptance_criteria": "* Visa accepted\n* declined shows why",
        "parent_type": "epic",
        "checklist": (CheckItem("Receipt is emailed", True), CheckItem("Refunds ≤ 5 days", False)),
    }
    store.load_items(source_id, [rec.bundle("1", **facts), rec.bundle("2")], NOW)
    item, bare = _item(engine, "PMO-1"), _item(engine, "PMO-2")
    assert (item.description, item.acceptance_criteria, item.parent_type, item.checklist) == (
        facts["description"],
        facts["acceptance_criteria"],
        "epic",
        [["Receipt is emailed", True], ["Refunds ≤ 5 days", False]],
    )
    assert (bare.description, bare.acceptance_criteria, bare.parent_type, bare.checklist) == (
        None,
        None,
        None,
        [],
    )
    details = {h.key: d for h, d in iter_item_inputs(engine)}
    assert details["PMO-1"] is not None and details["PMO-2"] is not None
    assert (details["PMO-1"].description, details["PMO-1"].checklist) == (
        facts["description"],
        facts["checklist"],
    )
    assert all(isinstance(c, CheckItem) for c in details["PMO-1"].checklist)
    assert (details["PMO-2"].parent_type, details["PMO-2"].checklist) == (None, ())

    assert store.load_items(source_id, [rec.bundle("1", **facts)], NOW + H) == LoadCounts(
        unchanged=1
    )
    ticked = {**facts, "checklist": (CheckItem("Receipt is emailed", True),)}
    for changed in (
        ticked,
        {**ticked, "description": "As a shopper I want receipts"},
        {**ticked, "description": "As a shopper I want receipts", "parent_type": "story"},
    ):
        counts = store.load_items(source_id, [rec.bundle("1", **changed)], NOW + 2 * H)
        assert counts == LoadCounts(updated=1), changed
    assert _item(engine, "PMO-1").checklist == [["Receipt is emailed", True]]


def test_deleted_item_that_arrives_again_is_live(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    store.load_items(source_id, [rec.bundle("1"), rec.bundle("2")], NOW)
    assert store.apply_census(source_id, Census(frozenset({"2"})), NOW) == 1
    assert _item(engine, "PMO-1").deleted_at == NOW

    counts = store.load_items(source_id, [rec.bundle("1"), rec.bundle("2")], NOW + H)

    assert counts == LoadCounts(inserted=0, updated=1, unchanged=1)
    assert _item(engine, "PMO-1").deleted_at is None
    assert store.live_item_count(source_id) == 2


def test_raw_payload_is_compressed_and_follows_changed_items(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    def raw_rows() -> list[tuple]:
        with engine.connect() as conn:
            return [
                (r.external_id, decompress_raw(r.payload), r.fetched_at)
                for r in conn.execute(
                    select(RawRecordRow.__table__).order_by(RawRecordRow.external_id)
                )
            ]

    store.load_items(source_id, [rec.bundle("1", raw={"v": 1}), rec.bundle("2")], NOW)
    assert raw_rows() == [("1", {"v": 1}, NOW)]

    # Same item, different raw: the raw payload alone does not count as a change.
    store.load_items(source_id, [rec.bundle("1", raw={"v": 2, "lastViewed": "x"})], NOW + H)
    assert raw_rows() == [("1", {"v": 1}, NOW)]

    # Changed item: raw replaced. Changed item without raw: the old raw is kept.
    store.load_items(
        source_id,
        [rec.bundle("1", title="new", raw={"v": 3}), rec.bundle("2", title="new", raw={"w": 1})],
        NOW + 2 * H,
    )
    assert raw_rows() == [("1", {"v": 3}, NOW + 2 * H), ("2", {"w": 1}, NOW + 2 * H)]
    store.load_items(source_id, [rec.bundle("1", title="newer")], NOW + 3 * H)
    assert raw_rows()[0] == ("1", {"v": 3}, NOW + 2 * H)


def test_last_bundle_of_an_item_wins_within_a_call(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    counts = store.load_items(
        source_id, [rec.bundle("1", title="first"), rec.bundle("1", title="second")], NOW
    )

    assert counts == LoadCounts(1, 0, 0)
    assert _item(engine, "PMO-1").title == "second"


@pytest.mark.parametrize(
    "bad",
    [
        "naive change time",
        "naive created",
        "change of another item",
        "stay of another item",
        "duplicate change id",
        "duplicate stay",
    ],
)
def test_inconsistent_bundle_is_refused_and_nothing_written(
    store: Store, source_id: int, rec: type[Records], bad: str
) -> None:
    naive = datetime(2024, 3, 1, 9, 0)
    bundle = {
        "naive change time": rec.bundle("2", changes=[rec.change("2", "c", naive)]),
        "naive created": rec.bundle("2", created=naive),
        "change of another item": rec.bundle("2", changes=[rec.change("9", "c", T0)]),
        "stay of another item": rec.bundle("2", memberships=[rec.stay("9", "s1", T0)]),
        "duplicate change id": rec.bundle(
            "2", changes=[rec.change("2", "c", T0), rec.change("2", "c", T0 + H)]
        ),
        "duplicate stay": rec.bundle(
            "2", memberships=[rec.stay("2", "s1", T0), rec.stay("2", "s1", T0, T0 + H)]
        ),
    }[bad]

    with pytest.raises(ValueError):
        store.load_items(source_id, [rec.bundle("1"), bundle], NOW)

    assert store.count_rows(source_id) == {
        "items": 0,
        "changes": 0,
        "sprints": 0,
        "sprint_items": 0,
    }


def test_naive_now_is_refused(store: Store, source_id: int, rec: type[Records]) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.load_items(source_id, [rec.bundle("1")], datetime(2024, 1, 1))


def test_large_load_is_batched_one_select_per_batch(
    store: Store, source_id: int, rec: type[Records], write_log: WriteLog
) -> None:
    n = 2 * BATCH_SIZE + 7
    bundles = [rec.bundle(str(i), changes=[rec.change(str(i), "c1", T0 + H)]) for i in range(n)]
    assert store.load_items(source_id, bundles, NOW) == LoadCounts(n, 0, 0)

    bundles[BATCH_SIZE + 1] = rec.bundle(str(BATCH_SIZE + 1), title="changed")
    write_log.clear()
    assert store.load_items(source_id, bundles, NOW) == LoadCounts(0, 1, n - 1)
    assert write_log.count("SELECT work_items.external_id, work_items.id") == 3
    assert store.count_rows(source_id)["changes"] == n - 1


def test_items_of_different_sources_are_separate(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    other = store.ensure_source("ado", "azure_devops", None)
    store.load_items(source_id, [rec.bundle("1")], NOW)

    assert store.load_items(other, [rec.bundle("1", title="ADO 1")], NOW) == LoadCounts(1, 0, 0)
    with engine.connect() as conn:
        rows = conn.execute(
            select(WorkItemRow.source_id, WorkItemRow.title).order_by(WorkItemRow.source_id)
        ).all()
    assert [tuple(r) for r in rows] == [(source_id, "Item 1"), (other, "ADO 1")]


def test_datetimes_come_back_aware_utc(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    minus5 = timezone(timedelta(hours=-5))
    created = datetime(2024, 2, 29, 23, 30, 15, 123456, tzinfo=minus5)
    store.load_items(source_id, [rec.bundle("1", created=created)], NOW)

    stored = _item(engine, "PMO-1").created
    assert stored == created
    assert stored.tzinfo is UTC
    assert stored == datetime(2024, 3, 1, 4, 30, 15, 123456, tzinfo=UTC)


def test_odd_external_ids_survive_inline_in_lists(
    store: Store, source_id: int, rec: type[Records], write_log: WriteLog
) -> None:
    odd = ["it's", "50%", "%(x)s", "back\\slash", "naïve ☃", "--", "a b"]
    bundles = [rec.bundle(ext) for ext in odd]
    assert store.load_items(source_id, bundles, NOW) == LoadCounts(len(odd), 0, 0)
    write_log.clear()
    assert store.load_items(source_id, bundles, NOW) == LoadCounts(0, 0, len(odd))
    assert write_log.writes == []
    assert store.apply_census(source_id, Census(frozenset(odd[1:])), NOW) == 1
    assert [i.external_id for i in store.iter_items()] == odd[1:]


def test_writes_take_the_sqlite_write_lock_up_front(
    store: Store, source_id: int, engine: Engine, rec: type[Records], write_log: WriteLog
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite locking only")
    write_log.clear()
    store.load_items(source_id, [rec.bundle("1")], NOW)
    list(store.iter_items())
    begins = [s for s in write_log.statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]
