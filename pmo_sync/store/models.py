"""SQLAlchemy 2.x typed models of the normalised store.

One schema for SQLite (the embedded default) and PostgreSQL (production). Every
table that mirrors tracker data has a natural key (source + the tracker's id)
and a `content_hash`, so an upsert can tell inserted, updated and unchanged
rows apart with one SELECT per batch on either database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "FindingRow",
    "ItemChangeRow",
    "ItemLinkRow",
    "ItemReleaseRow",
    "KpiValueRow",
    "RawRecordRow",
    "RefreshMarkRow",
    "ReleaseRow",
    "RequestForecastRow",
    "ServiceCycleRow",
    "SourceRow",
    "SprintItemRow",
    "SprintRow",
    "SyncRunRow",
    "SyncStateRow",
    "TeamRow",
    "UTCDateTime",
    "WorkItemRow",
    "WorkflowStatusRow",
    "WriteMarkRow",
    "WritebackLedgerRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware.

    SQLite keeps no zone; without this, values would come back naive and
    compare wrongly with the aware datetimes the connectors produce.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} reached the store; convert to UTC first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """On SQLite, the stored text straight to an aware UTC datetime in one C call.

        SQLite keeps `YYYY-MM-DD HH:MM:SS.ffffff` (UTC by `process_bind_param`); the generic
        path parses it to a naive datetime and then replaces its zone, two steps that were a
        fifth of reading a million item changes for the KPI refresh (issue 18). Text in any
        other form takes the generic path.
        """
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        generic = super().result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if type(value) is str:
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass
            return generic(value) if generic is not None else value

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, date: Date, dict[str, Any]: JSON}


class SourceRow(Base):
    """One configured connector (its `name` is the config's name)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    base_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    census_owed_at: Mapped[datetime | None] = mapped_column(default=None)
    """When a sync first owed a census still unpaid: saved with the bookmark that moved past
    its cause, so no crash can forget it; cleared by the census that pays it."""
    census_owed_reason: Mapped[str | None] = mapped_column(Text, default=None)
    """What made the census owed (the first cause), for `status` and the logs."""
    converted_version: Mapped[int | None] = mapped_column(Integer, default=None)
    """The re-conversion its stored items have been through (`pmo_sync.store.reconvert`
    `CONVERSION_VERSION`); None: not yet (a source stored before migration 0014)."""
    data_version: Mapped[int] = mapped_column(Integer, server_default="0")
    """Bumped by database triggers whenever a row of its items, sprints, statuses, releases or
    teams is written (migration 0018): the refresh's cheap "did anything change?"."""


class WorkItemRow(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_work_items_source_external"),
        Index("ix_work_items_source_key", "source_id", "key"),
        # The dashboard's lookups (migration 0011, bench/pages.py): an epic's children,
        # items found by key alone, the epics.
        Index("ix_work_items_source_parent", "source_id", "parent_key"),
        Index("ix_work_items_key", "key"),
        Index("ix_work_items_type", "item_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(Text)
    item_type: Mapped[str] = mapped_column(String(20))
    raw_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(100))
    status_category: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20))
    project: Mapped[str] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    estimate: Mapped[float | None] = mapped_column(Float)
    parent_key: Mapped[str | None] = mapped_column(String(100))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime]
    updated: Mapped[datetime]
    resolved: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    revision: Mapped[int | None] = mapped_column(Integer)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    description: Mapped[str | None] = mapped_column(Text)
    """Plain text (see `WorkItemRecord`): what the acceptance-criteria and template rules read."""
    acceptance_criteria: Mapped[str | None] = mapped_column(Text)
    parent_type: Mapped[str | None] = mapped_column(String(20))
    checklist: Mapped[list[list[Any]]] = mapped_column(JSON, default=list, server_default="[]")
    """``[[text, checked], ...]`` in the tracker's order."""
    # The portfolio facts (migration 0012; docs/portfolio-facts.md).
    level: Mapped[str | None] = mapped_column(String(40))
    start_date: Mapped[date | None]
    due_date: Mapped[date | None]
    target_start: Mapped[date | None]
    target_end: Mapped[date | None]
    priority: Mapped[str | None] = mapped_column(String(100))
    rank: Mapped[str | None] = mapped_column(String(200))
    """Sorts in backlog order by code point within one team (`pmo_sync.common.rank`)."""
    # What a strategic theme matches beside labels (migration 0013; docs/portfolio-facts.md).
    components: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    """Jira's components by name, sorted."""
    area_path: Mapped[str | None] = mapped_column(Text)
    """The Azure DevOps area path, as the tracker writes it."""
    deleted_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemChangeRow(Base):
    """One field change of one item: the source of truth for every flow metric."""

    __tablename__ = "item_changes"
    __table_args__ = (
        UniqueConstraint("item_id", "change_id", name="uq_item_changes_item_change"),
        Index("ix_item_changes_source_field_at", "source_id", "field", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    change_id: Mapped[str] = mapped_column(String(120))
    field: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    from_value: Mapped[str | None] = mapped_column(Text)
    to_value: Mapped[str | None] = mapped_column(Text)
    from_display: Mapped[str | None] = mapped_column(Text)
    to_display: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))


class ItemLinkRow(Base):
    """One typed link of an item, as the item's bundle gave it (`pmo_sync.domain.ItemLink`).

    The target is kept by key, stored or not (out of scope, another tracker); indexed by it
    so the links pointing at an item are found from its key.
    """

    __tablename__ = "item_links"
    __table_args__ = (
        UniqueConstraint(
            "item_id", "link_type", "direction", "target_key", name="uq_item_links_link"
        ),
        Index("ix_item_links_target_key", "target_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    link_type: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(10))  # outward | inward
    target_key: Mapped[str] = mapped_column(String(100))
    target_external_id: Mapped[str | None] = mapped_column(String(100))


class ReleaseRow(Base):
    """A release of a source (a Jira fix version, a convention's release elsewhere)."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_releases_source_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    project: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[date | None]
    release_date: Mapped[date | None]
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    planned_date: Mapped[date | None]  # ReleaseRecord.planned_date (migration 0016)
    content_hash: Mapped[str] = mapped_column(String(64))


class TeamRow(Base):
    """A team of a source and the delivery method its tracker says (`TeamRecord`).

    Keyed by (source, the tracker's team name), as items name their team; never deleted
    (a team whose board went keeps its last method), and a team no connector described has
    no row. portfolio.yaml's `delivery:` is applied when it is read, not stored.
    """

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("source_id", "name", name="uq_teams_source_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))


class ItemReleaseRow(Base):
    """An item planned for a release, by the release's external id.

    By external id, as `sprint_items` refers to sprints, not by a foreign key to
    `releases.id`: an item's bundle may be loaded before the stream that brings its
    releases (or name a release the tracker no longer lists), and the link must hold
    either way; it costs the loader no lookup, and readers join on (source, external id).
    """

    __tablename__ = "item_releases"
    __table_args__ = (
        UniqueConstraint("item_id", "release_external_id", name="uq_item_releases_item_release"),
        Index("ix_item_releases_source_release", "source_id", "release_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    release_external_id: Mapped[str] = mapped_column(String(100))


class SprintRow(Base):
    __tablename__ = "sprints"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_sprints_source_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20))
    board_external_id: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(200))
    start: Mapped[datetime | None]
    end: Mapped[datetime | None]
    completed: Mapped[datetime | None]
    goal: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))


class SprintItemRow(Base):
    """One stay of an item in a sprint; an item can leave and come back."""

    __tablename__ = "sprint_items"
    __table_args__ = (
        UniqueConstraint("item_id", "sprint_external_id", "added_at", name="uq_sprint_items_stay"),
        Index("ix_sprint_items_source_sprint", "source_id", "sprint_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    sprint_external_id: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class WorkflowStatusRow(Base):
    """A tracker status and its category, so past statuses map to stages too."""

    __tablename__ = "workflow_statuses"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_workflow_statuses_source_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64))


class RawRecordRow(Base):
    """The last raw payload per item, zlib-compressed JSON.

    Lets a changed status mapping or a new metric re-convert from the store
    without fetching a single page again.
    """

    __tablename__ = "raw_records"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_raw_records_source_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncStateRow(Base):
    """A typed bookmark per (source, stream), stored as JSON."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("source_id", "stream", name="uq_sync_state_source_stream"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(100))
    bookmark: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncRunRow(Base):
    """What one sync of one connector did."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))  # running | success | partial | failed
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_inserted: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_deleted: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    rate_limit_waits: Mapped[int] = mapped_column(Integer, default=0)
    rate_limit_wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)


class ServiceCycleRow(Base):
    """One cycle of `pmo-sync serve` for one connector (sync → KPIs → push), by any replica,
    or one connector's `pmo-sync sync` or `push` run by hand (`run_kind`).

    What `pmo-sync status` and `/readyz` read, and what shows two replicas never ran one
    connector's cycles at the same time.
    """

    __tablename__ = "service_cycles"
    __table_args__ = (Index("ix_service_cycles_connector_started", "connector", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str] = mapped_column(String(100), unique=True)
    replica: Mapped[str] = mapped_column(String(200))  # host:pid
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    stage: Mapped[str] = mapped_column(String(20))  # sync | kpis | push | done
    ok: Mapped[bool | None] = mapped_column(Boolean)  # None while running
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    pushed: Mapped[int] = mapped_column(Integer, default=0)
    push_failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    run_kind: Mapped[str] = mapped_column(String(10), default="cycle", server_default="cycle")
    """`cycle` (serve), `sync` or `push` (by hand)."""


class KpiValueRow(Base):
    """One computed metric value; recomputed after each sync, rewritten only when it changed.

    `window` says which span the value covers: `current` (as of the
    computation), a day (`2026-11-16`), an ISO interval of dates
    (`2026-11-16/2026-11-22`), a sprint's state and measuring day
    (`closed@2026-08-24`, `active@2026-11-20`, `future`), or a forecast's start
    and remaining items (`2026-11-20/+18 items`). Metrics ending in `_date`
    hold days since 1970-01-01. docs/metrics.md lists every metric.
    """

    __tablename__ = "kpi_values"
    __table_args__ = (
        UniqueConstraint("metric", "scope", "scope_key", "window", name="uq_kpi_values_key"),
        Index("ix_kpi_values_scope", "scope", "scope_key"),
        Index("ix_kpi_values_team", "team"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(20))  # item | team | sprint | epic | portfolio
    scope_key: Mapped[str] = mapped_column(String(300))
    team: Mapped[str | None] = mapped_column(String(200))
    window: Mapped[str] = mapped_column(String(40))
    value: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime]


class WriteMarkRow(Base):
    """The token the last save of a table (`name`: ``kpi_values``) wrote with it (migration
    0019): a copy of the table kept with this token is the table as it is."""

    __tablename__ = "write_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    written_at: Mapped[datetime]


class RefreshMarkRow(Base):
    """What the last complete refresh of one kind (`name`: ``kpis``) saw (migration 0018).

    The sources' data versions, the reporting day and a digest of the configuration: when all
    three are the same again, nothing the refresh would compute can differ
    (`pmo_sync.evaluation.marks`).
    """

    __tablename__ = "refresh_marks"
    __table_args__ = (UniqueConstraint("name", name="uq_refresh_marks_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    day: Mapped[date]
    data_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Source id (as text: JSON keys) → its `data_version`."""
    config_digest: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime]


class RequestForecastRow(Base):
    """One open request's forecast as a refresh made it on `made_on` (migration 0017).

    `kpi_values` keeps only the latest forecast; this keeps its history so a slip is
    visible (issue 17). A row is added only when the forecast differs from the request's
    latest row, so a day whose forecast did not move adds nothing, and there is at most
    one row per request per day (`pmo_sync.store.forecast_history`).
    """

    __tablename__ = "request_forecasts"
    __table_args__ = (
        UniqueConstraint("source_id", "key", "made_on", name="uq_request_forecasts_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    made_on: Mapped[date]
    p50: Mapped[date | None]
    p85: Mapped[date | None]
    p95: Mapped[date | None]
    due_date: Mapped[date | None]
    due_probability: Mapped[float | None] = mapped_column(Float)
    remaining: Mapped[int] = mapped_column(Integer)


class FindingRow(Base):
    """One governance finding across runs: opened, seen again, resolved when it clears.

    `identity` (rule id, scope and subject) matches a finding from one run to
    the next; message, details, severity and mode are as of the latest run.
    """

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("identity", name="uq_findings_identity"),
        Index("ix_findings_team_open", "team", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(512))
    rule_id: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(20))
    scope_key: Mapped[str] = mapped_column(String(300))
    team: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class WritebackLedgerRow(Base):
    """What pmo-sync last pushed to a tracker and the tracker accepted.

    One row per (source, item key, target), target being `field:<metric>` or
    `comment`: the pushed value's hash (and JSON, to show what a field held),
    the tracker field it went to, or the tracker's comment id. Only successful
    writes are recorded, so a failed one is planned again next run.
    """

    __tablename__ = "writeback_ledger"
    __table_args__ = (
        UniqueConstraint("source", "item_key", "target", name="uq_writeback_ledger_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    item_key: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(100))
    value_hash: Mapped[str] = mapped_column(String(64))
    value_json: Mapped[str | None] = mapped_column(Text)
    tracker_field: Mapped[str | None] = mapped_column(String(200))
    comment_id: Mapped[str | None] = mapped_column(String(100))
    pushed_at: Mapped[datetime]
