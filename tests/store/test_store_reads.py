"""Store read side: iter_items streams items with their status history and sprints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pmo_sync.domain import Census, ChangeField
from pmo_sync.store.repository import Store
from pmo_sync.store.results import SprintRef, StatusChange

from .records import T0, Records, WriteLog

H = timedelta(hours=1)


@pytest.fixture
def loaded(store: Store, source_id: int, rec: type[Records]) -> tuple[int, int]:
    other = store.ensure_source("ado", "azure_devops", None)
    store.load_sprints(source_id, [rec.sprint("s1", name="Sprint One")])
    store.load_items(
        source_id,
        [
            rec.bundle(
                "1",
                changes=[
                    # Listed out of order, with a non-status change in between.
                    rec.change(
                        "1",
                        "c3",
                        T0 + 3 * H,
                        "3",
                        "5",
                        from_display="In Progress",
                        to_display="Done",
                    ),
                    rec.change(
                        "1", "c1", T0 + H, "1", "3", from_display="To Do", to_display="In Progress"
                    ),
                    rec.change("1", "c2", T0 + 2 * H, None, "ana", field=ChangeField.ASSIGNEE),
                ],
                memberships=[
                    rec.stay("1", "s2", T0 + 5 * H),
                    rec.stay("1", "s1", T0, T0 + 2 * H),
                    rec.stay("1", "s1", T0 + 10 * H),  # back in s1: listed once
                ],
            ),
            rec.bundle("2"),
            rec.bundle("3"),
        ],
        T0,
    )
    store.load_items(other, [rec.bundle("1", key="ADO-1")], T0)
    store.apply_census(source_id, Census(frozenset({"1", "3"})), T0 + H)
    return source_id, other


def test_iter_items_returns_history_and_sprints(store: Store, loaded: tuple[int, int]) -> None:
    jira, ado = loaded
    items = list(store.iter_items())

    assert [(i.source, i.key) for i in items] == [
        ("jira-main", "PMO-1"),
        ("jira-main", "PMO-3"),
        ("ado", "ADO-1"),
    ]
    first = items[0]
    assert (first.source_id, first.external_id, first.labels, first.deleted_at) == (
        jira,
        "1",
        ("backend",),
        None,
    )
    assert first.status_changes == (
        StatusChange(T0 + H, "1", "3", "To Do", "In Progress"),
        StatusChange(T0 + 3 * H, "3", "5", "In Progress", "Done"),
    )
    assert first.sprints == (SprintRef("s1", "Sprint One"), SprintRef("s2", None))
    assert first.sprint_ids == ("s1", "s2")
    assert items[1].status_changes == () and items[1].sprints == ()
    assert items[2].source_id == ado


def test_iter_items_filters_and_pages(store: Store, loaded: tuple[int, int]) -> None:
    jira, ado = loaded
    every = [i.key for i in store.iter_items(include_deleted=True)]
    assert every == ["PMO-1", "PMO-2", "PMO-3", "ADO-1"]
    assert [i.key for i in store.iter_items(include_deleted=True, batch=1)] == every
    assert [i.key for i in store.iter_items(include_deleted=True, batch=3)] == every
    assert [i.key for i in store.iter_items(source_ids=[ado])] == ["ADO-1"]
    assert [i.key for i in store.iter_items(source_ids=[jira], batch=1)] == ["PMO-1", "PMO-3"]
    assert list(store.iter_items(source_ids=[])) == []
    deleted = [i for i in store.iter_items(include_deleted=True) if i.deleted_at is not None]
    assert [(i.key, i.deleted_at) for i in deleted] == [("PMO-2", T0 + H)]


def test_iter_items_uses_five_queries_per_page(
    store: Store, loaded: tuple[int, int], write_log: WriteLog
) -> None:
    write_log.clear()
    assert len(list(store.iter_items(include_deleted=True, batch=2))) == 4
    # Two full pages (items, status changes, sprint stays, releases, links), then an empty
    # one that ends the walk.
    assert write_log.count("SELECT") == 5 + 5 + 1


def test_count_rows(store: Store, loaded: tuple[int, int]) -> None:
    jira, ado = loaded
    assert store.count_rows(jira) == {"items": 3, "changes": 3, "sprints": 1, "sprint_items": 3}
    assert store.count_rows(ado) == {"items": 1, "changes": 0, "sprints": 0, "sprint_items": 0}


def test_an_archived_unfinished_item_leaves_the_kpi_inputs_an_archived_done_one_stays(
    store: Store, source_id: int, rec: type[Records]
) -> None:
    """Archived (Trello) is not deleted: the row stays and says so, but work taken off the
    board unfinished is neither in progress nor done, so the KPIs do not read it."""
    from sqlalchemy import select

    from pmo_sync.domain import Stage
    from pmo_sync.evaluation.inputs import iter_item_histories
    from pmo_sync.store.models import WorkItemRow

    store.load_items(
        source_id,
        [
            rec.bundle("1", archived=True),  # in progress, archived
            rec.bundle("2", archived=True, status="Done", stage=Stage.DONE, resolved=T0 + H),
            rec.bundle("3"),
        ],
        T0,
    )
    assert [h.key for h in iter_item_histories(store.engine)] == ["PMO-2", "PMO-3"]
    with store.engine.connect() as conn:
        rows = conn.execute(select(WorkItemRow.key, WorkItemRow.archived, WorkItemRow.deleted_at))
        assert sorted(tuple(r) for r in rows) == [
            ("PMO-1", True, None),
            ("PMO-2", True, None),
            ("PMO-3", False, None),
        ]
