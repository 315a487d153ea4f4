"""Items' titles and links by (source, key): what the portfolio's commands print beside a key.

The portfolio answers' plain data (`pmo_sync.portfolio.model.WorkItem`) carries no text, so a
hundred thousand items cost their facts alone; the few items a person reads about (the
requests, their initiatives, the blockers) get their title and link here, in one query.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, Table, select, tuple_

from pmo_sync.portfolio.items import ItemRef
from pmo_sync.store.models import SourceRow, WorkItemRow

__all__ = ["ItemText", "read_item_text"]

_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]

ItemText = tuple[str, str]
"""(title, url)."""


def read_item_text(engine: Engine, refs: Collection[ItemRef]) -> dict[ItemRef, ItemText]:
    """The title and url of each live item of `refs` (an unknown ref is absent)."""
    wanted = sorted(set(refs))
    result: dict[ItemRef, ItemText] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):  # a bounded IN list on either database
            chunk = wanted[start : start + 500]
            query = (
                select(_sources.c.name, _items.c.key, _items.c.title, _items.c.url)
                .join(_sources, _sources.c.id == _items.c.source_id)
                .where(
                    _items.c.deleted_at.is_(None),
                    tuple_(_sources.c.name, _items.c.key).in_(chunk),
                )
            )
            for row in conn.execute(query):
                result[row.name, row.key] = (row.title, row.url)
    return result
