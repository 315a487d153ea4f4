"""Read and keep refresh marks: what a refresh saw, so the next one can tell nothing changed.

`data_versions` reads each source's `data_version` (bumped by the store's triggers whenever
the tracker data of the source is written, migration 0018); `read_mark` and `save_mark` keep
one mark per kind of refresh. What a mark means is `pmo_sync.evaluation.marks`' business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, Table, insert, select, update

from pmo_sync.store.engine import SQLITE_BEGIN_OPTION
from pmo_sync.store.models import RefreshMarkRow, SourceRow

__all__ = ["StoredMark", "data_versions", "read_mark", "save_mark"]

_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_marks: Table = RefreshMarkRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class StoredMark:
    day: date
    data_versions: dict[int, int]
    config_digest: str
    made_at: datetime


def data_versions(engine: Engine) -> dict[int, int]:
    """Each source's data version (source id → version): one small read."""
    with engine.connect() as conn:
        return {
            row.id: row.data_version
            for row in conn.execute(select(_sources.c.id, _sources.c.data_version))
        }


def read_mark(engine: Engine, name: str) -> StoredMark | None:
    with engine.connect() as conn:
        row = conn.execute(select(_marks).where(_marks.c.name == name)).first()
    if row is None:
        return None
    versions = {int(source): int(version) for source, version in row.data_versions.items()}
    return StoredMark(row.day, versions, row.config_digest, row.made_at)


def save_mark(
    engine: Engine,
    name: str,
    day: date,
    versions: dict[int, int],
    config_digest: str,
    now: datetime,
) -> None:
    """Keep `name`'s mark (replacing the one before), in one transaction."""
    values = {
        "day": day,
        "data_versions": {str(source): version for source, version in sorted(versions.items())},
        "config_digest": config_digest,
        "made_at": now,
    }
    with engine.connect() as conn:
        conn = conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            done = conn.execute(update(_marks).where(_marks.c.name == name).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(_marks).values(name=name, **values))
