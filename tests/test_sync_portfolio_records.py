"""A sync loads what a stream yields of the portfolio facts: releases (a stream's records,
like sprints) and an item's links and releases (with its bundle); on both databases."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Engine

from connectors.base import CheckReport, Connector, ConnectorConfig, Stream, StreamContext
from pmo_sync.domain import (
    ItemBundle,
    ItemLink,
    LinkDirection,
    ReleaseRecord,
    Stage,
    WorkItemRecord,
)
from pmo_sync.store.portfolio import StoredLink, StoredRelease, item_links, source_releases
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_connector

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


class PortfolioConfig(ConnectorConfig):
    kind: Literal["portfolio-memory"] = "portfolio-memory"


class Releases(Stream):
    name = "releases"
    record_type = ReleaseRecord
    primary_keys = ("external_id",)

    def records(self, context: StreamContext) -> Iterator[ReleaseRecord]:
        yield ReleaseRecord("v1", "1.0", "MEM", None, date(2026, 4, 1), False, False)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class Items(Stream):
    name = "items"
    record_type = ItemBundle
    primary_keys = ("external_id",)

    def records(self, context: StreamContext) -> Iterator[ItemBundle]:
        for n in (1, 2):
            key = f"MEM-{n}"
            item = WorkItemRecord(
                external_id=str(n), key=key, url=f"memory://{key}", title=key,
                item_type="story", raw_type="Story", status="To Do", status_category="new",
                stage=Stage.TODO, project="MEM", team=None, assignee=None, estimate=None,
                parent_key=None, labels=(), flagged=False, created=T0, updated=T0,
                resolved=None, release_ids=("v1",), due_date=date(2026, 3, 27),
            )  # fmt: skip
            links = [ItemLink("1", "blocks", LinkDirection.OUTWARD, "MEM-2", "2")] if n == 1 else []
            yield ItemBundle(item, links=links)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class PortfolioConnector(Connector):
    kind = "portfolio-memory"
    config_model = PortfolioConfig

    def check(self) -> CheckReport:
        return CheckReport()

    def streams(self) -> Sequence[Stream]:
        return (Releases(), Items())


def test_a_sync_loads_releases_and_links(engine: Engine) -> None:
    store = Store(engine, clock=lambda: T0)
    connector = PortfolioConnector(PortfolioConfig(name="mem"))
    summary = sync_connector(connector, store)
    assert (summary.errors, summary.items_inserted) == ([], 2)
    (source,) = store.sources()
    assert source_releases(engine, source.id) == [
        StoredRelease("v1", "1.0", "MEM", None, date(2026, 4, 1), False, False)
    ]
    assert item_links(engine, source.id, "MEM-2").pointing_here == (
        StoredLink("MEM-1", "blocks", "outward", "MEM-2", "2"),
    )
    assert [(i.key, [r.name for r in i.releases], i.due_date) for i in store.iter_items()] == [
        ("MEM-1", ["1.0"], date(2026, 3, 27)),
        ("MEM-2", ["1.0"], date(2026, 3, 27)),
    ]
    again = sync_connector(connector, store)
    assert (again.items_updated, again.items_unchanged) == (0, 2)
