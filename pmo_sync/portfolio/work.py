"""What counts as work in the portfolio answers: one rule for the forecasts and the shares.

Work is what the KPI engine counts as throughput (`pmo_sync.kpi.forecast.NOT_COUNTED_TYPES`
left out: epics and sub-tasks), and, since the portfolio knows levels where the KPIs know only
types, nothing above the story level either: an initiative, epic or feature, or a tracker's
own level above epics, is a container of work (a Jira initiative's type is `other`). An item
without a level (a connector that gives none) is judged by its type alone.
"""

from __future__ import annotations

from pmo_sync.kpi.forecast import NOT_COUNTED_TYPES
from pmo_sync.portfolio.model import WorkItem

__all__ = ["WORK_LEVELS", "is_work"]

WORK_LEVELS = frozenset({"story", "task"})
"""The levels of delivered work."""


def is_work(item: WorkItem) -> bool:
    """Whether the item counts in WIP, scope and throughput."""
    if item.item_type in NOT_COUNTED_TYPES:
        return False
    return item.level is None or item.level.casefold() in WORK_LEVELS
