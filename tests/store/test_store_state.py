"""Store: sources, sprints, statuses, census, bookmarks and runs."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from pmo_sync.domain import Census, Stage
from pmo_sync.store.models import SprintRow, SyncStateRow, WorkflowStatusRow, WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.store.results import LoadCounts, SourceInfo

from .records import T0, FakeClock, Records, WriteLog

NOW = T0 + timedelta(days=30)


# -- sources -------------------------------------------------------------------


def test_ensure_source_is_idempotent_and_tracks_the_url(store: Store) -> None:
    first = store.ensure_source("jira-main", "jira", "https://old.example.com")
    assert store.ensure_source("jira-main", "jira", "https://old.example.com") == first
    assert store.ensure_source("jira-main", "jira", "https://new.example.com") == first
    second = store.ensure_source("ado", "azure_devops", None)

    assert store.sources() == [
        SourceInfo(second, "ado", "azure_devops", None, T0),
        SourceInfo(first, "jira-main", "jira", "https://new.example.com", T0),
    ]


def test_ensure_source_refuses_another_kind(store: Store) -> None:
    store.ensure_source("main", "jira", None)
    with pytest.raises(ValueError, match="jira source"):
        store.ensure_source("main", "trello", None)


# -- sprints and statuses ------------------------------------------------------


def test_load_sprints_upserts_by_hash(
    store: Store, source_id: int, engine: Engine, rec: type[Records], write_log: WriteLog
) -> None:
    sprints = [rec.sprint("1"), rec.sprint("2", state="active", completed=None)]
    assert store.load_sprints(source_id, sprints) == LoadCounts(2, 0, 0)

    write_log.clear()
    assert store.load_sprints(source_id, sprints) == LoadCounts(0, 0, 2)
    assert write_log.writes == []

    changed = [rec.sprint("1"), rec.sprint("2", state="closed", completed=NOW), rec.sprint("3")]
    assert store.load_sprints(source_id, changed) == LoadCounts(1, 1, 1)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                SprintRow.external_id,
                SprintRow.name,
                SprintRow.state,
                SprintRow.board_external_id,
                SprintRow.team,
                SprintRow.start,
                SprintRow.end,
                SprintRow.completed,
                SprintRow.goal,
            ).order_by(SprintRow.external_id)
        ).all()
    end = T0 + timedelta(days=14)
    done = end + timedelta(hours=2)
    assert [tuple(r) for r in rows] == [
        ("1", "Sprint 1", "closed", "7", "Core", T0, end, done, "Ship it"),
        ("2", "Sprint 2", "closed", "7", "Core", T0, end, NOW, "Ship it"),
        ("3", "Sprint 3", "closed", "7", "Core", T0, end, done, "Ship it"),
    ]
    assert store.count_rows(source_id)["sprints"] == 3

    other = store.ensure_source("other", "jira", None)
    store.load_sprints(other, [rec.sprint("1", team="Edge"), rec.sprint("2", team=None)])
    assert store.sprint_counts_by_team() == {"Core": 3, "Edge": 1}


def test_load_statuses_upserts_by_hash(
    store: Store, source_id: int, engine: Engine, rec: type[Records], write_log: WriteLog
) -> None:
    statuses = [
        rec.status("1", "To Do", "new", Stage.TODO),
        rec.status("3", "In Progress", "indeterminate", Stage.IN_PROGRESS),
    ]
    assert store.load_statuses(source_id, statuses) == LoadCounts(2, 0, 0)
    write_log.clear()
    assert store.load_statuses(source_id, statuses) == LoadCounts(0, 0, 2)
    assert write_log.writes == []

    assert store.status_stages(source_id) == {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS}
    renamed = [statuses[0], rec.status("3", "Doing", "indeterminate", Stage.IN_PROGRESS)]
    assert store.load_statuses(source_id, renamed) == LoadCounts(0, 1, 1)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                WorkflowStatusRow.external_id,
                WorkflowStatusRow.name,
                WorkflowStatusRow.category,
                WorkflowStatusRow.stage,
            ).order_by(WorkflowStatusRow.external_id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("1", "To Do", "new", "todo"),
        ("3", "Doing", "indeterminate", "in_progress"),
    ]


# -- census --------------------------------------------------------------------


def test_census_marks_missing_items_deleted_and_keeps_rows(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    other = store.ensure_source("other", "jira", None)
    store.load_items(source_id, [rec.bundle(str(i)) for i in range(1, 5)], T0)
    store.load_items(other, [rec.bundle("1")], T0)

    assert store.apply_census(source_id, Census(frozenset({"1", "3", "99"})), NOW) == 2
    assert store.live_item_count(source_id) == 2
    assert store.live_item_count(other) == 1  # other sources untouched

    # Already deleted items keep their first deletion time.
    later = NOW + timedelta(days=1)
    assert store.apply_census(source_id, Census(frozenset({"1"})), later) == 1
    with engine.connect() as conn:
        rows = conn.execute(
            select(WorkItemRow.external_id, WorkItemRow.deleted_at)
            .where(WorkItemRow.source_id == source_id)
            .order_by(WorkItemRow.external_id)
        ).all()
    assert [tuple(r) for r in rows] == [("1", None), ("2", NOW), ("3", later), ("4", NOW)]
    assert store.count_rows(source_id)["items"] == 4


def test_empty_census_marks_everything(store: Store, source_id: int, rec: type[Records]) -> None:
    store.load_items(source_id, [rec.bundle("1"), rec.bundle("2")], T0)
    assert store.apply_census(source_id, Census(frozenset()), NOW) == 2
    assert store.live_item_count(source_id) == 0


# -- bookmarks -----------------------------------------------------------------


def test_bookmarks_round_trip_and_unchanged_ones_are_not_written(
    store: Store, source_id: int, engine: Engine, clock: FakeClock, write_log: WriteLog
) -> None:
    assert store.get_bookmark(source_id, "issues") is None

    store.set_bookmark(source_id, "issues", {"updated": "2024-03-01T09:00:00Z", "ids": (1, 2)})
    assert store.get_bookmark(source_id, "issues") == {
        "updated": "2024-03-01T09:00:00Z",
        "ids": [1, 2],
    }
    assert store.get_bookmark(source_id, "sprints") is None

    clock.advance(hours=1)
    write_log.clear()
    store.set_bookmark(source_id, "issues", {"ids": [1, 2], "updated": "2024-03-01T09:00:00Z"})
    assert write_log.writes == []

    store.set_bookmark(source_id, "issues", {"updated": "2024-03-02T00:00:00Z"})
    assert store.get_bookmark(source_id, "issues") == {"updated": "2024-03-02T00:00:00Z"}
    with engine.connect() as conn:
        rows = conn.execute(select(SyncStateRow.stream, SyncStateRow.updated_at)).all()
    assert [tuple(r) for r in rows] == [("issues", T0 + timedelta(hours=1))]


def test_census_owed_is_saved_with_the_bookmark_and_paid_by_the_census(
    store: Store, source_id: int, engine: Engine, clock: FakeClock, rec: type[Records]
) -> None:
    """The debt and the bookmark that passed its cause land together; the first reason
    stays; the census that pays it clears it in its own transaction."""
    store.load_items(source_id, [rec.bundle("1"), rec.bundle("2")], T0)
    assert store.census_owed(source_id) is None

    store.set_bookmark(source_id, "work_items", {"token": "b"}, census_owed="work item 2 deleted")
    assert store.get_bookmark(source_id, "work_items") == {"token": "b"}
    assert store.census_owed(source_id) == (T0, "work item 2 deleted")

    clock.advance(minutes=5)  # a later stream of the run, a bookmark kept: the first reason
    store.set_bookmark(source_id, "iterations", None, census_owed="work item 7 out of scope")
    assert store.census_owed(source_id) == (T0, "work item 2 deleted")
    assert store.get_bookmark(source_id, "iterations") is None

    assert store.apply_census(source_id, Census(frozenset({"1"})), NOW) == 1
    assert store.census_owed(source_id) is None
    other = store.ensure_source("other", "jira", None)
    store.set_bookmark(other, "issues", None, census_owed="x")
    store.forgive_census(other)
    assert store.census_owed(other) is None


def test_census_owed_is_rolled_back_with_its_bookmark(
    store: Store, source_id: int, engine: Engine
) -> None:
    """A bookmark that cannot be stored saves no debt either: the two land together or not."""
    with pytest.raises(TypeError):
        store.set_bookmark(source_id, "cards", {"at": datetime(2024, 1, 1)}, census_owed="card x")
    assert store.census_owed(source_id) is None


def test_live_ids_among_names_the_stored_live_items_only(
    store: Store, source_id: int, rec: type[Records]
) -> None:
    other = store.ensure_source("other", "jira", None)
    store.load_items(source_id, [rec.bundle(str(i)) for i in range(1, 5)], T0)
    store.load_items(other, [rec.bundle("9")], T0)
    store.apply_census(source_id, Census(frozenset({"1", "2", "3"})), NOW)  # 4 deleted
    assert store.live_ids_among(source_id, {"2", "4", "9", "77"}) == {"2"}
    assert store.live_ids_among(source_id, set()) == set()


def test_bookmark_must_be_json(store: Store, source_id: int) -> None:
    with pytest.raises(TypeError):
        store.set_bookmark(source_id, "issues", {"at": datetime(2024, 1, 1)})
    assert store.get_bookmark(source_id, "issues") is None


# -- runs ----------------------------------------------------------------------


def test_runs_record_start_finish_and_duration(
    store: Store, source_id: int, clock: FakeClock
) -> None:
    assert store.last_run(source_id) is None
    run_id = store.start_run(source_id, full=True)
    running = store.last_run(source_id)
    assert running is not None
    assert (running.id, running.status, running.full, running.started_at) == (
        run_id,
        "running",
        True,
        T0,
    )
    assert (running.finished_at, running.duration_seconds, running.errors) == (None, None, ())

    clock.advance(seconds=90.5)
    store.finish_run(
        run_id,
        status="partial",
        items_seen=10,
        items_inserted=4,
        items_updated=3,
        items_deleted=1,
        api_calls=12,
        rate_limit_waits=2,
        rate_limit_wait_seconds=7.5,
        errors=["PMO-7: history truncated"],
    )
    done = store.last_run(source_id)
    assert done is not None
    assert (done.status, done.finished_at, done.duration_seconds) == (
        "partial",
        T0 + timedelta(seconds=90.5),
        90.5,
    )
    assert (done.items_seen, done.items_inserted, done.items_updated, done.items_deleted) == (
        10,
        4,
        3,
        1,
    )
    assert (done.api_calls, done.rate_limit_waits, done.rate_limit_wait_seconds) == (12, 2, 7.5)
    assert done.errors == ("PMO-7: history truncated",)

    clock.advance(minutes=5)
    newer = store.start_run(source_id, full=False)
    last = store.last_run(source_id)
    assert last is not None
    assert (last.id, last.status, last.full) == (newer, "running", False)


def test_finish_run_validates(store: Store, source_id: int) -> None:
    run_id = store.start_run(source_id, full=False)
    counts = {
        "items_seen": 0,
        "items_inserted": 0,
        "items_updated": 0,
        "items_deleted": 0,
        "api_calls": 0,
        "rate_limit_waits": 0,
        "rate_limit_wait_seconds": 0.0,
        "errors": [],
    }
    with pytest.raises(ValueError, match="status"):
        store.finish_run(run_id, status="ok", **counts)
    with pytest.raises(LookupError):
        store.finish_run(run_id + 1000, status="success", **counts)


# -- time zones ----------------------------------------------------------------


def test_naive_datetime_is_rejected_by_the_column_type(engine: Engine, source_id: int) -> None:
    with Session(engine) as session:
        session.add(
            SyncStateRow(
                source_id=source_id, stream="s", bookmark={}, updated_at=datetime(2024, 1, 1)
            )
        )
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()


# -- concurrency ---------------------------------------------------------------


def test_concurrent_writers_wait_for_each_other(engine: Engine, rec: type[Records]) -> None:
    stores = [Store(engine) for _ in range(3)]
    ids = [s.ensure_source(f"src{i}", "jira", None) for i, s in enumerate(stores)]
    errors: list[BaseException] = []

    def sync(store: Store, source_id: int) -> None:
        try:
            for round_ in range(3):
                bundles = [rec.bundle(str(i), title=f"r{round_}") for i in range(200)]
                store.load_items(source_id, bundles, T0)
                store.set_bookmark(source_id, "issues", {"round": round_})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=pair) for pair in zip(stores, ids, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert [stores[0].live_item_count(i) for i in ids] == [200, 200, 200]
