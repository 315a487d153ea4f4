"""`Store`: the one place that writes tracker data, and the read side built on it.

Every write method is one transaction, so a failed call leaves nothing half
written, and all writes of one source are serialised: on SQLite by taking the
database write lock when the transaction starts (``BEGIN IMMEDIATE``, waiting
up to the busy timeout), on PostgreSQL by a transaction-scoped advisory lock
per source. The read-then-write upserts below are only correct under that
serialisation; reads never take these locks.

Mirrored tables are upserted by natural key with a content hash, so loading
what is already stored costs one SELECT per batch and writes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, Table, func, insert, select, text, update

from connectors.base import Reconversion
from pmo_sync.domain import (
    Census,
    ItemBundle,
    ReleaseRecord,
    SprintRecord,
    Stage,
    StatusRecord,
    TeamRecord,
)
from pmo_sync.store.bulk import chunked, in_values, inserted_id, update_by_id
from pmo_sync.store.canonical import release_row, sprint_row, status_row, utc
from pmo_sync.store.engine import SQLITE_BEGIN_OPTION
from pmo_sync.store.items import load_item_bundles
from pmo_sync.store.models import (
    ItemChangeRow,
    ReleaseRow,
    SourceRow,
    SprintItemRow,
    SprintRow,
    SyncRunRow,
    SyncStateRow,
    TeamRow,
    WorkflowStatusRow,
    WorkItemRow,
    utcnow,
)
from pmo_sync.store.reads import iter_stored_items
from pmo_sync.store.reconvert import (
    ReconvertResult,
    conversion_due,
    mark_converted,
    reconvert_batch,
    stored_batch,
)
from pmo_sync.store.results import (
    RUN_STATUSES,
    LoadCounts,
    SourceInfo,
    StoredItem,
    SyncRun,
)

__all__ = ["Store"]

_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_work_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_item_changes: Table = ItemChangeRow.__table__  # type: ignore[assignment]
_sprints: Table = SprintRow.__table__  # type: ignore[assignment]
_sprint_items: Table = SprintItemRow.__table__  # type: ignore[assignment]
_statuses: Table = WorkflowStatusRow.__table__  # type: ignore[assignment]
_releases: Table = ReleaseRow.__table__  # type: ignore[assignment]
_teams: Table = TeamRow.__table__  # type: ignore[assignment]
_sync_state: Table = SyncStateRow.__table__  # type: ignore[assignment]
_sync_runs: Table = SyncRunRow.__table__  # type: ignore[assignment]

log = structlog.get_logger(__name__)

_LOCK_NAMESPACE = 0x706D6F  # "pmo": first key of pg_advisory_xact_lock(int, int)


class Store:
    """Typed access to the store for the sync engine, the CLI and read-side code."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        """`clock` stamps runs and bookmarks; tests pass a fixed one."""
        self.engine = engine
        self._clock = clock

    def now(self) -> datetime:
        """The store's clock: when a run starts, as its streams and bookmarks see it."""
        return self._clock()

    # -- transactions -------------------------------------------------------

    @contextmanager
    def _write(self, source_id: int | None = None) -> Iterator[Connection]:
        """One write transaction, serialised with other writers of the same source."""
        with self.engine.connect() as conn:
            conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            with conn.begin():
                if source_id is not None and conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:ns, :source_id)"),
                        {"ns": _LOCK_NAMESPACE, "source_id": source_id},
                    )
                yield conn

    # -- sources ------------------------------------------------------------

    def ensure_source(self, name: str, kind: str, base_url: str | None) -> int:
        """The id of source `name`, created on first use.

        A changed base URL is recorded (trackers move); a changed kind is
        refused, because mixing two trackers' ids under one source would
        silently corrupt every natural key.
        """
        with self._write() as conn:
            row = conn.execute(
                select(_sources.c.id, _sources.c.kind, _sources.c.base_url).where(
                    _sources.c.name == name
                )
            ).first()
            if row is None:
                result = conn.execute(
                    insert(_sources),
                    {"name": name, "kind": kind, "base_url": base_url, "created_at": self._clock()},
                )
                return inserted_id(result)
            if row.kind != kind:
                raise ValueError(f"source {name!r} is a {row.kind} source, not {kind}")
            if row.base_url != base_url:
                conn.execute(
                    update(_sources).where(_sources.c.id == row.id).values(base_url=base_url)
                )
            return row.id

    def sources(self) -> list[SourceInfo]:
        """Every source, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_sources).order_by(_sources.c.name))
            return [SourceInfo(r.id, r.name, r.kind, r.base_url, r.created_at) for r in rows]

    # -- mirrored tracker data ----------------------------------------------

    def load_items(
        self, source_id: int, bundles: Sequence[ItemBundle], now: datetime
    ) -> LoadCounts:
        """Upsert items with their complete change history and sprint stays.

        An item whose bundle hashes as stored is not touched at all (not even
        `synced_at`), so re-running a sync is nearly free. For any other item
        the stored changes and stays become exactly the bundle's, and an item
        marked deleted is live again (counted as updated). An inconsistent
        bundle raises ValueError and, the call being one transaction, nothing
        of the call is kept.
        """
        now = utc(now, "now")
        with self._write(source_id) as conn:
            return load_item_bundles(conn, source_id, bundles, now)

    def load_sprints(self, source_id: int, sprints: Sequence[SprintRecord]) -> LoadCounts:
        """Upsert sprints by external id; sprints are never deleted (history refers to them)."""
        rows = {}
        for record in sprints:
            rows[record.external_id] = sprint_row(record)
        with self._write(source_id) as conn:
            return _upsert_hashed(conn, _sprints, source_id, rows)

    def load_statuses(self, source_id: int, statuses: Sequence[StatusRecord]) -> LoadCounts:
        """Upsert workflow statuses by external id; old statuses stay to map old history."""
        rows = {}
        for record in statuses:
            rows[record.external_id] = status_row(record)
        with self._write(source_id) as conn:
            return _upsert_hashed(conn, _statuses, source_id, rows)

    def load_releases(self, source_id: int, releases: Sequence[ReleaseRecord]) -> LoadCounts:
        """Upsert releases by external id; like sprints, never deleted (items refer to them):
        a release the tracker drops keeps its last state (an archived one says so itself)."""
        rows = {}
        for record in releases:
            rows[record.external_id] = release_row(record)
        with self._write(source_id) as conn:
            return _upsert_hashed(conn, _releases, source_id, rows)

    def load_teams(self, source_id: int, teams: Sequence[TeamRecord]) -> LoadCounts:
        """Upsert the teams' delivery methods by name; a team no longer described keeps its
        row (never deleted, like releases). A name given twice keeps the last record."""
        wanted = {record.name: record.method for record in teams}
        with self._write(source_id) as conn:
            stored = {
                row.name: row
                for row in conn.execute(
                    select(_teams.c.id, _teams.c.name, _teams.c.method).where(
                        _teams.c.source_id == source_id
                    )
                )
            }
            fresh = [
                {"source_id": source_id, "name": name, "method": method}
                for name, method in wanted.items()
                if name not in stored
            ]
            changed = [
                {"_id": stored[name].id, "method": method}
                for name, method in wanted.items()
                if name in stored and stored[name].method != method
            ]
            if fresh:
                conn.execute(insert(_teams), fresh)
            update_by_id(conn, _teams, changed)
        return LoadCounts(len(fresh), len(changed), len(wanted) - len(fresh) - len(changed))

    def apply_census(self, source_id: int, census: Census, now: datetime) -> int:
        """Mark live items missing from `census` deleted at `now`; return how many.

        Rows are kept, so history and KPIs of removed items survive; items
        already marked keep their original `deleted_at`. An item that comes
        back is revived by `load_items`. An empty census marks every item: a
        caller that cannot trust an empty answer must not pass one.
        """
        now = utc(now, "now")
        present = census.external_ids
        with self._write(source_id) as conn:
            conn.execute(  # the census owed, if any, is paid in the same transaction
                update(_sources)
                .where(_sources.c.id == source_id)
                .values(census_owed_at=None, census_owed_reason=None)
            )
            live = conn.execute(
                select(_work_items.c.id, _work_items.c.external_id).where(
                    _work_items.c.source_id == source_id, _work_items.c.deleted_at.is_(None)
                )
            )
            gone = [row.id for row in live if row.external_id not in present]
            for chunk in chunked(gone):
                conn.execute(
                    update(_work_items)
                    .where(in_values(_work_items.c.id, chunk))
                    .values(deleted_at=now)
                )
            return len(gone)

    def census_owed(self, source_id: int) -> tuple[datetime, str] | None:
        """(since when, why) a census is owed for the source; None when none is."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_sources.c.census_owed_at, _sources.c.census_owed_reason).where(
                    _sources.c.id == source_id
                )
            ).first()
        if row is None or row.census_owed_at is None:
            return None
        return row.census_owed_at, row.census_owed_reason or "unknown"

    def forgive_census(self, source_id: int) -> None:
        """Drop an owed census that cannot matter: no live item is stored to mark."""
        with self._write(source_id) as conn:
            conn.execute(
                update(_sources)
                .where(_sources.c.id == source_id, _sources.c.census_owed_at.is_not(None))
                .values(census_owed_at=None, census_owed_reason=None)
            )

    # -- re-conversion (pmo_sync.store.reconvert) -------------------------------

    def conversion_due(self, source_id: int) -> bool:
        """Whether the source's stored items still wait for their re-conversion."""
        with self.engine.connect() as conn:
            return conversion_due(conn, source_id)

    def reconvert(
        self, source_id: int, name: str, reconversion: Reconversion | None, batch_size: int = 500
    ) -> ReconvertResult:
        """Re-convert the source's stored raw payloads into their portfolio facts, batch by
        batch (one write transaction each), then mark the source re-converted. A connector
        that cannot re-convert (None) is marked at once. Makes no call and touches no
        bookmark; a payload that cannot be read is skipped and counted."""
        started = time.monotonic()
        result = ReconvertResult(source=name, kept=reconversion.kept if reconversion else ())
        after = 0
        while True:
            with self._write(source_id) as conn:
                if reconversion is None:
                    mark_converted(conn, source_id)
                    break
                batch = stored_batch(conn, source_id, after, batch_size)
                if not batch:
                    mark_converted(conn, source_id)
                    break
                reconvert_batch(conn, source_id, batch, reconversion, result)
                after = batch[-1].item_id
        result.seconds = round(time.monotonic() - started, 3)
        if not (result.items or result.skipped):
            return result  # a source with nothing stored yet: nothing to say
        log.info(
            "stored_items_reconverted",
            source=name,
            items=result.items,
            skipped=len(result.skipped),
            changes_added=result.changes_added,
            releases_added=result.releases_added,
            seconds=result.seconds,
        )
        if result.kept:
            log.info("reconvert_facts_kept", source=name, kept="; ".join(result.kept))
        return result

    def live_ids_among(self, source_id: int, external_ids: Collection[str]) -> set[str]:
        """Which of `external_ids` the source has stored and not marked deleted."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunked(sorted(external_ids)):
                found.update(
                    conn.execute(
                        select(_work_items.c.external_id).where(
                            _work_items.c.source_id == source_id,
                            _work_items.c.deleted_at.is_(None),
                            in_values(_work_items.c.external_id, chunk),
                        )
                    ).scalars()
                )
        return found

    def live_item_count(self, source_id: int) -> int:
        """Items of the source stored and not marked deleted."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).where(
                    _work_items.c.source_id == source_id, _work_items.c.deleted_at.is_(None)
                )
            ).scalar_one()

    # -- bookmarks ----------------------------------------------------------

    def get_bookmark(self, source_id: int, stream: str) -> dict[str, Any] | None:
        """The stream's stored bookmark, or None before its first complete run."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(_sync_state.c.bookmark).where(
                    _sync_state.c.source_id == source_id, _sync_state.c.stream == stream
                )
            ).scalar_one_or_none()

    def set_bookmark(
        self,
        source_id: int,
        stream: str,
        bookmark: dict[str, Any] | None,
        *,
        census_owed: str | None = None,
    ) -> None:
        """Store the stream's bookmark (None: keep the stored one) and, in the same
        transaction, the census its records made owed (`census_owed`: why), so no crash
        can keep the one without the other. An unchanged bookmark is not rewritten, and
        a census already owed keeps its first reason.

        The bookmark is compared after a JSON round trip (tuples become
        lists), which also rejects a non-JSON value before it reaches the
        database.
        """
        if bookmark is None and census_owed is None:
            return
        normalised = None if bookmark is None else json.loads(json.dumps(bookmark))
        with self._write(source_id) as conn:
            if census_owed is not None:
                conn.execute(
                    update(_sources)
                    .where(_sources.c.id == source_id, _sources.c.census_owed_at.is_(None))
                    .values(census_owed_at=self._clock(), census_owed_reason=census_owed)
                )
            if normalised is None:
                return
            row = conn.execute(
                select(_sync_state.c.id, _sync_state.c.bookmark).where(
                    _sync_state.c.source_id == source_id, _sync_state.c.stream == stream
                )
            ).first()
            if row is None:
                conn.execute(
                    insert(_sync_state),
                    {
                        "source_id": source_id,
                        "stream": stream,
                        "bookmark": normalised,
                        "updated_at": self._clock(),
                    },
                )
            elif row.bookmark != normalised:
                conn.execute(
                    update(_sync_state)
                    .where(_sync_state.c.id == row.id)
                    .values(bookmark=normalised, updated_at=self._clock())
                )

    # -- runs ---------------------------------------------------------------

    def start_run(self, source_id: int, full: bool) -> int:
        """Record a run as running, so a crash leaves a visible unfinished run."""
        with self._write() as conn:
            result = conn.execute(
                insert(_sync_runs),
                {
                    "source_id": source_id,
                    "started_at": self._clock(),
                    "status": "running",
                    "full": full,
                    "items_seen": 0,
                    "items_inserted": 0,
                    "items_updated": 0,
                    "items_deleted": 0,
                    "api_calls": 0,
                    "rate_limit_waits": 0,
                    "rate_limit_wait_seconds": 0.0,
                    "errors": [],
                },
            )
            return inserted_id(result)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        items_seen: int,
        items_inserted: int,
        items_updated: int,
        items_deleted: int,
        api_calls: int,
        rate_limit_waits: int,
        rate_limit_wait_seconds: float,
        errors: list[str],
    ) -> None:
        """Record how a run ended; the duration is measured from its start."""
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_STATUSES)}, not {status!r}")
        with self._write() as conn:
            started = conn.execute(
                select(_sync_runs.c.started_at).where(_sync_runs.c.id == run_id)
            ).scalar_one_or_none()
            if started is None:
                raise LookupError(f"no sync run {run_id}")
            finished = self._clock()
            conn.execute(
                update(_sync_runs)
                .where(_sync_runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=finished,
                    duration_seconds=(finished - started).total_seconds(),
                    items_seen=items_seen,
                    items_inserted=items_inserted,
                    items_updated=items_updated,
                    items_deleted=items_deleted,
                    api_calls=api_calls,
                    rate_limit_waits=rate_limit_waits,
                    rate_limit_wait_seconds=rate_limit_wait_seconds,
                    errors=list(errors),
                )
            )

    def last_run(self, source_id: int) -> SyncRun | None:
        """The source's most recently started run, finished or not."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_sync_runs)
                .where(_sync_runs.c.source_id == source_id)
                .order_by(_sync_runs.c.started_at.desc(), _sync_runs.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return SyncRun(
            id=row.id,
            source_id=row.source_id,
            started_at=row.started_at,
            finished_at=row.finished_at,
            status=row.status,
            full=bool(row.full),
            items_seen=row.items_seen,
            items_inserted=row.items_inserted,
            items_updated=row.items_updated,
            items_deleted=row.items_deleted,
            api_calls=row.api_calls,
            rate_limit_waits=row.rate_limit_waits,
            rate_limit_wait_seconds=row.rate_limit_wait_seconds,
            duration_seconds=row.duration_seconds,
            errors=tuple(row.errors or ()),
        )

    # -- read side ----------------------------------------------------------

    def iter_items(
        self,
        source_ids: Collection[int] | None = None,
        include_deleted: bool = False,
        batch: int = 1000,
    ) -> Iterator[StoredItem]:
        """Stream items by id with their ordered status changes and sprints.

        Memory stays at one page of `batch` items; five queries per page.
        """
        return iter_stored_items(self.engine, source_ids, include_deleted, batch)

    def status_stages(self, source_id: int) -> dict[str, Stage]:
        """Status name → stage for the source, to stage past statuses in the history.

        Keyed by name because change history carries status names; should two
        statuses share a name, the one stored last wins.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_statuses.c.name, _statuses.c.stage)
                .where(_statuses.c.source_id == source_id)
                .order_by(_statuses.c.id)
            )
            return {row.name: Stage(row.stage) for row in rows}

    def sprint_counts_by_team(self) -> dict[str, int]:
        """How many sprints each team has, over all sources; sprints without a team are left out."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_sprints.c.team, func.count())
                .where(_sprints.c.team.is_not(None))
                .group_by(_sprints.c.team)
            )
            return {team: int(count) for team, count in rows}

    def count_rows(self, source_id: int) -> dict[str, int]:
        """Row counts of the source's items (deleted included), changes, sprints, stays."""
        tables = {
            "items": _work_items,
            "changes": _item_changes,
            "sprints": _sprints,
            "sprint_items": _sprint_items,
        }
        query = select(
            *(
                select(func.count())
                .select_from(table)
                .where(table.c.source_id == source_id)
                .scalar_subquery()
                .label(name)
                for name, table in tables.items()
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        return {name: int(row._mapping[name]) for name in tables}


def _upsert_hashed(
    conn: Connection,
    table: Table,
    source_id: int,
    rows: dict[str, tuple[dict[str, Any], str]],
) -> LoadCounts:
    """Hash-compared upsert by (source_id, external_id) for tables without children."""
    counts = LoadCounts()
    for chunk in chunked(list(rows)):
        stored = {
            r.external_id: r
            for r in conn.execute(
                select(table.c.external_id, table.c.id, table.c.content_hash).where(
                    table.c.source_id == source_id, in_values(table.c.external_id, chunk)
                )
            )
        }
        fresh: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for ext in chunk:
            values, content_hash = rows[ext]
            old = stored.get(ext)
            if old is None:
                fresh.append(
                    {
                        "source_id": source_id,
                        "external_id": ext,
                        **values,
                        "content_hash": content_hash,
                    }
                )
            elif old.content_hash != content_hash:
                changed.append({"_id": old.id, **values, "content_hash": content_hash})
        if fresh:
            conn.execute(insert(table), fresh)
        update_by_id(conn, table, changed)
        counts += LoadCounts(len(fresh), len(changed), len(chunk) - len(fresh) - len(changed))
    return counts
