"""Stored items → the plain inputs the KPI functions take."""

from __future__ import annotations

from collections.abc import Mapping

from pmo_sync.domain import Stage
from pmo_sync.kpi.flow import FlowItem
from pmo_sync.store.results import StoredItem

__all__ = ["flow_item"]


def flow_item(item: StoredItem, stage_of: Mapping[str, Stage]) -> FlowItem:
    """An item's stage history; a status no longer known maps by the item's own category."""

    def stage(name: str | None) -> Stage:
        if name is not None and name in stage_of:
            return stage_of[name]
        return Stage(item.stage) if name == item.status else Stage.IN_PROGRESS

    changes = item.status_changes
    initial = changes[0].from_name if changes else item.status
    return FlowItem(
        key=item.key,
        team=item.team or item.project,
        created=item.created,
        initial_stage=stage(initial),
        moves=tuple((c.at, stage(c.to_name)) for c in changes),
    )
