"""One sync of one connector: collect → convert → load in batches → bookmark.

The connector's streams collect and convert; this module only loads. A
stream's bookmark is written after every record it yielded has been
committed, so a crash mid-run repeats work but never skips any. What a stream
learned from the records it moved past and a later stream must act on (a census
owed) is written in the same transaction as that bookmark, and cleared in the
transaction that applies the census, so a crash between the two cannot forget it
(`connectors.base.CensusDue`). A connector that fails is recorded as failed and
the others still run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from connectors.base import CensusDue, Connector, ConnectorConfig, StreamContext
from connectors.errors import ConnectorError
from connectors.registry import connector_for_kind
from pmo_sync.domain import (
    Census,
    ItemBundle,
    ReleaseRecord,
    SprintRecord,
    StatusRecord,
    TeamRecord,
)
from pmo_sync.store.cycles import manual_run
from pmo_sync.store.errors import StoreUnavailable
from pmo_sync.store.reconvert import ReconvertResult
from pmo_sync.store.repository import Store

__all__ = [
    "RunSummary",
    "SyncCancelled",
    "reconvert_stored",
    "skipped_line",
    "sync_all",
    "sync_connector",
]

log = structlog.get_logger(__name__)

ProgressCallback = Callable[[str, str, int], None]
"""Called as (connector name, stream name, records so far) while a stream runs."""


class SyncCancelled(Exception):
    """Raised by a progress callback to stop a sync between records (service shutdown).

    Every batch already committed stays; the running stream's bookmark is not
    advanced, so the next run reads what this one did not finish.
    """


@dataclass(slots=True)
class RunSummary:
    """What one connector's sync did; also what `sync_runs` records."""

    connector: str
    status: str = "running"  # success | partial | failed
    full: bool = False
    items_seen: int = 0
    items_inserted: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    items_deleted: int = 0
    api_calls: int = 0
    retries: int = 0
    """Requests sent again (a 429, a 5xx, a timeout, a dropped connection), among `api_calls`."""
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    duration_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class _SourceView:
    """The `StoreView` a stream sees: one source's counts, nothing it could write with."""

    def __init__(self, store: Store, source_id: int) -> None:
        self._store, self._source_id = store, source_id

    def live_item_count(self) -> int:
        return self._store.live_item_count(self._source_id)

    def live_ids_among(self, external_ids: Collection[str]) -> set[str]:
        return self._store.live_ids_among(self._source_id, external_ids)

    def status_names(self) -> set[str]:
        return set(self._store.status_stages(self._source_id))


class _Loader:
    """Buffers one stream's records and loads them into the store in batches."""

    def __init__(
        self,
        store: Store,
        source_id: int,
        summary: RunSummary,
        batch_size: int,
        report_error: Callable[[str], None],
        census: CensusDue,
    ) -> None:
        self.store, self.source_id, self.summary = store, source_id, summary
        self.batch_size = batch_size
        self.report_error = report_error
        self.census = census
        self.items: list[ItemBundle] = []
        self.sprints: list[SprintRecord] = []
        self.statuses: list[StatusRecord] = []
        self.releases: list[ReleaseRecord] = []
        self.teams: list[TeamRecord] = []

    def add(self, record: object, now: datetime) -> None:
        if isinstance(record, ItemBundle):
            self.items.append(record)
            self.summary.items_seen += 1
            if len(self.items) >= self.batch_size:
                self.flush_items(now)
        elif isinstance(record, SprintRecord):
            self.sprints.append(record)
        elif isinstance(record, StatusRecord):
            self.statuses.append(record)
        elif isinstance(record, ReleaseRecord):
            self.releases.append(record)
        elif isinstance(record, TeamRecord):
            self.teams.append(record)
        elif isinstance(record, Census):
            self.flush(now)
            stored = self.store.live_item_count(self.source_id)
            if not record.external_ids and stored:
                self.report_error(
                    f"{record.nothing_found} while {stored} are stored; not marking them deleted"
                )
                return  # a census owed stays owed: the next run asks again
            self.summary.items_deleted += self.store.apply_census(self.source_id, record, now)
            self.census.paid()
        else:
            raise TypeError(
                f"a stream yielded {type(record).__name__}, which the store cannot load"
            )

    def flush_items(self, now: datetime) -> None:
        if self.items:
            counts = self.store.load_items(self.source_id, self.items, now)
            self.summary.items_inserted += counts.inserted
            self.summary.items_updated += counts.updated
            self.summary.items_unchanged += counts.unchanged
            self.items = []

    def flush(self, now: datetime) -> None:
        self.flush_items(now)
        if self.sprints:
            self.store.load_sprints(self.source_id, self.sprints)
            self.sprints = []
        if self.statuses:
            self.store.load_statuses(self.source_id, self.statuses)
            self.statuses = []
        if self.releases:
            self.store.load_releases(self.source_id, self.releases)
            self.releases = []
        if self.teams:
            self.store.load_teams(self.source_id, self.teams)
            self.teams = []


def sync_connector(
    connector: Connector,
    store: Store,
    *,
    full: bool = False,
    batch_size: int = 500,
    progress: ProgressCallback | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """Run every stream of one connector; never raises for a tracker's failure.

    `run_id` is the id every log line of the run carries; a service cycle passes its
    own, so the sync's lines and the KPI and push lines after it share one id.
    """
    config = connector.config
    summary = RunSummary(connector=config.name, full=full)
    source_id = store.ensure_source(config.name, config.kind, _base_url(config))
    stored_run = store.start_run(source_id, full)
    started = time.monotonic()
    now = store.now()  # the wall clock, or a test's fixed one (sprint states follow it)
    outer = structlog.contextvars.get_contextvars()
    structlog.contextvars.bind_contextvars(
        run_id=run_id or f"{config.name}-{stored_run}-{uuid.uuid4().hex[:8]}",
        connector=config.name,
    )
    log.info("sync_started", full=full)

    def report_error(message: str) -> None:
        log.warning("sync_record_error", error=message)
        summary.errors.append(message)

    try:
        if store.conversion_due(source_id):
            _reconvert_stored(connector, store, source_id, now, summary)
        census = _census_due(store, source_id)
        for stream in connector.streams():
            context = StreamContext(
                bookmark=store.get_bookmark(source_id, stream.name),
                full=full,
                store=_SourceView(store, source_id),
                started_at=now,
                report_error=report_error,
                census=census,
            )
            loader = _Loader(store, source_id, summary, batch_size, report_error, census)
            for count, record in enumerate(stream.records(context), start=1):
                loader.add(record, now)
                if progress is not None:
                    progress(config.name, stream.name, count)
            loader.flush(now)
            # The bookmark and the census its records made owed: one transaction.
            store.set_bookmark(
                source_id, stream.name, stream.final_bookmark(), census_owed=census.owed_now
            )
        if census.owed:
            log.info("census_owed", reason=census.reason)  # the next run takes it
        summary.status = "partial" if summary.errors else "success"
    except ConnectorError as exc:
        summary.errors.append(str(exc))
        summary.status = "failed"
        log.error("sync_failed", error=str(exc))
    except SyncCancelled:
        summary.errors.append("stopped by shutdown; the next run goes on from the last bookmark")
        summary.status = "failed"
        log.warning("sync_cancelled")
    except StoreUnavailable as exc:  # the store, not a bug: its one line, no traceback
        summary.errors.append(exc.message)
        summary.status = "failed"
        log.error("sync_store_unavailable", error=exc.message)
    except Exception as exc:  # a bug must not take the other connectors down
        summary.errors.append(f"internal error: {type(exc).__name__}: {exc}")
        summary.status = "failed"
        log.exception("sync_crashed")
    finally:
        if summary.status == "running":  # interrupted (Ctrl-C, SIGTERM) mid-run
            summary.status = "failed"
            summary.errors.append("interrupted before the run finished")
        summary.api_calls = connector.stats.api_calls
        summary.retries = connector.stats.retries
        summary.rate_limit_waits = connector.stats.rate_limit_waits
        summary.rate_limit_wait_seconds = round(connector.stats.rate_limit_wait_seconds, 3)
        summary.duration_seconds = round(time.monotonic() - started, 3)
        store.finish_run(
            stored_run,
            status=summary.status,
            items_seen=summary.items_seen,
            items_inserted=summary.items_inserted,
            items_updated=summary.items_updated,
            items_deleted=summary.items_deleted,
            api_calls=summary.api_calls,
            rate_limit_waits=summary.rate_limit_waits,
            rate_limit_wait_seconds=summary.rate_limit_wait_seconds,
            errors=summary.errors,
        )
        log.info(
            "sync_finished",
            status=summary.status,
            items_seen=summary.items_seen,
            inserted=summary.items_inserted,
            updated=summary.items_updated,
            deleted=summary.items_deleted,
            api_calls=summary.api_calls,
            retries=summary.retries,
            duration_s=summary.duration_seconds,
        )
        structlog.contextvars.unbind_contextvars("run_id", "connector")
        structlog.contextvars.bind_contextvars(
            **{k: v for k, v in outer.items() if k in ("run_id", "connector")}
        )
    return summary


def sync_all(
    configs: Iterable[ConnectorConfig],
    store: Store,
    *,
    only: str | None = None,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> Sequence[RunSummary]:
    """Sync each configured connector in turn; one failing never stops the next.

    Each connector's run is a manual `sync` in the run log (`store.cycles`), beside the
    service's cycles, so `pmo-sync status` shows it.
    """
    summaries: list[RunSummary] = []
    for config in configs:
        if only is not None and config.name != only:
            continue
        with manual_run(store.engine, config.name, "sync") as run:
            summary = _sync_one(config, store, full, progress)
            run.ok, run.errors = summary.ok, list(summary.errors)
            run.items_seen, run.api_calls = summary.items_seen, summary.api_calls
        summaries.append(summary)
    return summaries


def _sync_one(
    config: ConnectorConfig, store: Store, full: bool, progress: ProgressCallback | None
) -> RunSummary:
    try:
        connector = connector_for_kind(config.kind)(config)
    except Exception as exc:
        return RunSummary(connector=config.name, status="failed", full=full, errors=[str(exc)])
    with connector:
        return sync_connector(connector, store, full=full, progress=progress)


def _reconvert_stored(
    connector: Connector, store: Store, source_id: int, now: datetime, summary: RunSummary
) -> None:
    """The stored items' portfolio facts from their raw payloads, once, before the streams
    of the first sync of a source not yet re-converted (`pmo_sync.store.reconvert`; `db
    upgrade` does it too where the connector files are at hand). No call, no bookmark, no
    item counted; a payload that cannot be read is skipped and said in one error line."""
    result = _reconvert(type(connector), connector.config, store, source_id, now)
    if result.skipped:
        summary.errors.append(skipped_line(result))


def _reconvert(
    kind: type[Connector], config: ConnectorConfig, store: Store, source_id: int, now: datetime
) -> ReconvertResult:
    reconversion = kind.reconversion(
        config, lambda stream: store.get_bookmark(source_id, stream), now.date()
    )
    return store.reconvert(source_id, config.name, reconversion)


def reconvert_stored(configs: Iterable[ConnectorConfig], store: Store) -> list[ReconvertResult]:
    """What `pmo-sync db upgrade` runs after migrating: each configured connector whose
    stored items wait for their re-conversion (a source stored before it) is re-converted
    from its raw payloads, offline. A connector never synced, or already re-converted, is
    left alone; the others' syncs do it themselves otherwise."""
    sources = {s.name: s for s in store.sources()}
    results: list[ReconvertResult] = []
    for config in configs:
        source = sources.get(config.name)
        if source is None or source.kind != config.kind or not store.conversion_due(source.id):
            continue
        kind = connector_for_kind(config.kind)
        results.append(_reconvert(kind, config, store, source.id, store.now()))
    return results


def skipped_line(result: ReconvertResult) -> str:
    """The one line saying which stored payloads could not be re-converted."""
    keys = ", ".join(key for key, _ in result.skipped[:5])
    more = f" and {len(result.skipped) - 5} more" if len(result.skipped) > 5 else ""
    first = result.skipped[0][1]
    return (
        f"{len(result.skipped)} stored raw payload(s) could not be re-converted, skipped "
        f"(their facts come with their next sync): {keys}{more}; first: {first}"
    )


def _census_due(store: Store, source_id: int) -> CensusDue:
    """The run's census debt: what a run before owed, unless nothing is stored to mark."""
    nothing_stored = store.live_item_count(source_id) == 0
    owed = store.census_owed(source_id)
    if owed is not None and nothing_stored:
        store.forgive_census(source_id)
        owed = None
    return CensusDue(None if owed is None else owed[1], nothing_stored=nothing_stored)


def _base_url(config: ConnectorConfig) -> str | None:
    for attribute in ("url", "organization_url"):
        value = getattr(config, attribute, None)
        if value is not None:
            return str(value)
    return None
