"""A release's planned date in the store (`releases.planned_date`, migration 0016): loaded,
hashed and read back beside the release date, on SQLite and PostgreSQL, and the 0016 upgrade
of a store holding releases."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy import Engine, inspect, select

from pmo_sync.domain import ReleaseRecord
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.models import ReleaseRow
from pmo_sync.store.portfolio import StoredRelease, source_releases
from pmo_sync.store.repository import Store
from pmo_sync.store.results import LoadCounts

PLANNED = ReleaseRecord("v1", "1.0", "PMO", None, date(2024, 3, 1), False, False, date(2024, 3, 1))
"""Version 1.0 as read before it shipped: planned (and dated) 1 Mar."""


def test_the_planned_date_is_stored_beside_the_release_date_and_changes_the_row(
    store: Store, source_id: int, engine: Engine
) -> None:
    unknown = ReleaseRecord("v0", "0.9", "PMO", None, date(2024, 2, 1), True, False)
    assert store.load_releases(source_id, [PLANNED, unknown]) == LoadCounts(inserted=2)
    assert store.load_releases(source_id, [PLANNED, unknown]) == LoadCounts(unchanged=2)

    # Shipped 8 Mar, the date moved to that day: the plan stays 1 Mar (one row updated).
    shipped = ReleaseRecord(
        "v1", "1.0", "PMO", None, date(2024, 3, 8), True, False, planned_date=date(2024, 3, 1)
    )
    assert store.load_releases(source_id, [shipped, unknown]) == LoadCounts(updated=1, unchanged=1)
    assert source_releases(engine, source_id) == [
        StoredRelease("v0", "0.9", "PMO", None, date(2024, 2, 1), True, False, None),
        StoredRelease("v1", "1.0", "PMO", None, date(2024, 3, 8), True, False, date(2024, 3, 1)),
    ]

    # Only the plan differs (re-planned to 4 Mar): a change of content, so an update.
    replanned = ReleaseRecord(
        "v1", "1.0", "PMO", None, date(2024, 3, 8), True, False, planned_date=date(2024, 3, 4)
    )
    assert store.load_releases(source_id, [replanned]) == LoadCounts(updated=1)
    assert source_releases(engine, source_id)[1].planned_date == date(2024, 3, 4)


def test_0016_adds_the_planned_date_to_a_store_holding_releases_at_0015(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0015")
        assert "planned_date" not in {c["name"] for c in inspect(engine).get_columns("releases")}
        source = Store(engine).ensure_source("jira-main", "jira", None)
        with engine.begin() as conn:  # the row as the store at 0015 wrote it
            conn.execute(
                sa.table(
                    "releases",
                    sa.column("source_id"),
                    sa.column("external_id"),
                    sa.column("name"),
                    sa.column("project"),
                    sa.column("release_date"),
                    sa.column("released"),
                    sa.column("archived"),
                    sa.column("content_hash"),
                ).insert(),
                [
                    {
                        "source_id": source,
                        "external_id": "v1",
                        "name": "1.0",
                        "project": "PMO",
                        "release_date": date(2024, 3, 1),
                        "released": False,
                        "archived": False,
                        "content_hash": "hash at 0015",
                    }
                ],
            )
        upgrade(engine)
        with engine.connect() as conn:
            kept = conn.execute(
                select(ReleaseRow.external_id, ReleaseRow.content_hash, ReleaseRow.planned_date)
            ).all()
        assert [tuple(r) for r in kept] == [("v1", "hash at 0015", None)]  # nothing filled
        assert source_releases(engine, source) == [
            StoredRelease("v1", "1.0", "PMO", None, date(2024, 3, 1), False, False, None)
        ]
        # The next sync gives the plan: the release is rewritten once, then unchanged.
        store = Store(engine)
        assert store.load_releases(source, [PLANNED]) == LoadCounts(updated=1)
        assert store.load_releases(source, [PLANNED]) == LoadCounts(unchanged=1)
        assert source_releases(engine, source)[0].planned_date == date(2024, 3, 1)
    finally:
        engine.dispose()
