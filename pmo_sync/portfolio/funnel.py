"""Which items are requests, and where a request stands in the funnel.

A status named under a stage decides before any category: `approved: {statuses:
[Approved]}` takes requests in the Approved status out of intake, though the
status's category is to-do. An item neither names is outside the funnel (None).
"""

from __future__ import annotations

from pmo_sync.portfolio.config import FunnelConfig, FunnelStage, RequestsConfig
from pmo_sync.portfolio.items import PortfolioItem

__all__ = ["FunnelStage", "funnel_stage", "is_request"]


def is_request(item: PortfolioItem, requests: RequestsConfig) -> bool:
    """Whether the item is at one of the request levels or of one of the request types."""
    level = (item.level or "").casefold()
    kind = (item.item_type or "").casefold()
    return bool(level and level in requests.request_levels) or bool(
        kind and kind in {t.casefold() for t in requests.types}
    )


def funnel_stage(item: PortfolioItem, funnel: FunnelConfig) -> FunnelStage | None:
    """The stage the item's status names, else the stage its status category names."""
    stages = funnel.stages()
    if item.status:
        status = item.status.casefold()
        for name, stage in stages:
            if any(s.casefold() == status for s in stage.statuses):
                return name
    if item.status_category:
        for name, stage in stages:
            if any(c.value == item.status_category for c in stage.categories):
                return name
    return None
