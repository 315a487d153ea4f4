"""`PortfolioItem`: what the portfolio's pure logic needs to know of one item.

A small frozen value, so the theme and funnel rules can be worked out by hand
in tests and applied to whatever the store reads, without the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["ItemRef", "PortfolioItem", "index_items"]

ItemRef = tuple[str, str]
"""(source, key): an item's identity across connectors."""


@dataclass(frozen=True, slots=True)
class PortfolioItem:
    """One item as the portfolio sees it; a parent lives in the same source."""

    source: str
    """The connector's name."""
    key: str
    kind: str = ""
    """The connector's kind (`jira`, `azure_devops`, `trello`): Trello's boards and labels
    are matched only on Trello cards."""
    labels: tuple[str, ...] = ()
    """Jira labels, Azure DevOps tags, Trello labels."""
    components: tuple[str, ...] = ()
    area_path: str | None = None
    board: str | None = None
    """The Trello board's name."""
    board_id: str | None = None
    """The Trello board's id."""
    level: str | None = None
    item_type: str | None = None
    """The tracker's own type name (`Epic`, `Business Request`)."""
    status: str | None = None
    status_category: str | None = None
    """The item's stage, `todo`, `in_progress` or `done` (`WorkItemRecord.stage`), not the
    tracker's own category names."""
    parent_key: str | None = None

    @property
    def ref(self) -> ItemRef:
        return (self.source, self.key)


def index_items(items: Iterable[PortfolioItem]) -> Mapping[ItemRef, PortfolioItem]:
    """Items by (source, key), the way `theme_of` looks up each parent."""
    return {item.ref: item for item in items}
