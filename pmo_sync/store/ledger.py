"""The write-back ledger: what each tracker accepted from pmo-sync, so nothing is written twice."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, delete, insert, select, update

from pmo_sync.store.engine import write_transaction
from pmo_sync.store.models import WritebackLedgerRow

__all__ = [
    "LedgerEntry",
    "LedgerKey",
    "LedgerUpdate",
    "forget_item",
    "load_ledger",
    "record_ledger_update",
]

_ledger: Table = WritebackLedgerRow.__table__  # type: ignore[assignment]

LedgerKey = tuple[str, str, str]
"""(source, item key, target)."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One thing pmo-sync pushed and the tracker accepted.

    `target` is ``field:<metric>`` or ``comment``. A field row keeps the
    tracker field it went to (`tracker_field`) and the value as canonical
    JSON (`value_json`, ``null`` after a clear); a comment row keeps the
    tracker's `comment_id`. `value_hash` is `value_hash` of the value or of
    the comment body.
    """

    source: str
    key: str
    target: str
    value_hash: str
    comment_id: str | None = None
    value_json: str | None = None
    tracker_field: str | None = None

    @property
    def ledger_key(self) -> LedgerKey:
        return (self.source, self.key, self.target)

    @property
    def value(self) -> Any:
        """The field value pushed (None for a comment row or a cleared field)."""
        return json.loads(self.value_json) if self.value_json is not None else None


@dataclass(frozen=True, slots=True)
class LedgerUpdate:
    """Rows to write (`put`, by their key) and rows to delete (`remove`) after one action."""

    put: tuple[LedgerEntry, ...] = ()
    remove: tuple[LedgerKey, ...] = ()

    def apply(self, ledger: MutableMapping[LedgerKey, LedgerEntry]) -> None:
        """Apply to an in-memory ledger (tests, or a cache the store mirrors)."""
        for key in self.remove:
            ledger.pop(key, None)
        for entry in self.put:
            ledger[entry.ledger_key] = entry


def load_ledger(engine: Engine, source: str) -> dict[LedgerKey, LedgerEntry]:
    with engine.connect() as conn:
        rows = conn.execute(select(_ledger).where(_ledger.c.source == source))
        return {
            (r.source, r.item_key, r.target): LedgerEntry(
                source=r.source,
                key=r.item_key,
                target=r.target,
                value_hash=r.value_hash,
                comment_id=r.comment_id,
                value_json=r.value_json,
                tracker_field=r.tracker_field,
            )
            for r in rows
        }


def record_ledger_update(engine: Engine, change: LedgerUpdate, now: datetime) -> None:
    """Record one successful action's outcome at once, so a crash loses at most that one."""
    if not change.put and not change.remove:
        return
    with write_transaction(engine) as conn:
        for source, key, target in change.remove:
            conn.execute(
                delete(_ledger).where(
                    _ledger.c.source == source,
                    _ledger.c.item_key == key,
                    _ledger.c.target == target,
                )
            )
        for entry in change.put:
            values = {
                "value_hash": entry.value_hash,
                "value_json": entry.value_json,
                "tracker_field": entry.tracker_field,
                "comment_id": entry.comment_id,
                "pushed_at": now,
            }
            where = (
                (_ledger.c.source == entry.source)
                & (_ledger.c.item_key == entry.key)
                & (_ledger.c.target == entry.target)
            )
            if conn.execute(update(_ledger).where(where).values(values)).rowcount == 0:
                conn.execute(
                    insert(_ledger).values(
                        source=entry.source, item_key=entry.key, target=entry.target, **values
                    )
                )


def forget_item(engine: Engine, source: str, key: str) -> int:
    """Drop every ledger row of one item (its fields and its comment): it is gone from the
    tracker. Returns how many rows went."""
    with write_transaction(engine) as conn:
        result = conn.execute(
            delete(_ledger).where(_ledger.c.source == source, _ledger.c.item_key == key)
        )
        return int(result.rowcount or 0)
