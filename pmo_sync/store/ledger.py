"""The write-back ledger: what each tracker accepted from pmo-sync, so nothing is written twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Table, delete, insert, select, update

from pmo_sync.store.engine import write_transaction
from pmo_sync.store.models import WritebackLedgerRow
from pmo_sync.writeback.plan import LedgerEntry, LedgerKey, LedgerUpdate

__all__ = ["forget_item", "load_ledger", "record_ledger_update"]

_ledger: Table = WritebackLedgerRow.__table__  # type: ignore[assignment]


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
