"""Storing governance findings across runs: opened, seen again, resolved.

Each evaluation hands over the complete set of current findings. A finding
seen for the first time is opened (`first_seen`); one seen again has its
`last_seen` moved and its message, details, severity and mode refreshed; an
open finding that is no longer reported is resolved (`resolved_at`), never
deleted, so a PMO can see how long problems lasted. A resolved finding that
comes back is reopened as a new episode (`first_seen` = now).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, Table, and_, insert, select

from pmo_sync.common.naturalsort import natural_key
from pmo_sync.store.bulk import chunked, update_by_id
from pmo_sync.store.engine import write_transaction
from pmo_sync.store.models import FindingRow, SourceRow, WorkItemRow

__all__ = ["FindingChanges", "FindingToStore", "StoredFinding", "read_findings", "save_findings"]

_findings: Table = FindingRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]
_items: Table = WorkItemRow.__table__  # type: ignore[assignment]


class FindingToStore(Protocol):
    """What the store keeps of a finding (`pmo_sync.governance.model.Finding` is one): the
    store knows the shape, not the governance layer above it."""

    @property
    def identity(self) -> str: ...
    @property
    def rule_id(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def scope_key(self) -> str: ...
    @property
    def team(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class FindingChanges:
    opened: int
    still_open: int
    resolved: int


@dataclass(frozen=True, slots=True)
class StoredFinding:
    identity: str
    rule_id: str
    rule: str
    severity: str
    mode: str
    scope: str
    scope_key: str
    team: str | None
    source: str | None
    message: str
    details: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    title: str | None = None
    """The item's title as last synced (item findings whose item is stored; else None)."""
    url: str | None = None
    """Where a person opens the item in its tracker (as `title`)."""


def _row(finding: FindingToStore) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "rule": finding.rule,
        "severity": finding.severity,
        "mode": finding.mode,
        "scope": finding.scope,
        "scope_key": finding.scope_key,
        "team": finding.team,
        "source": finding.source,
        "message": finding.message,
        "details": dict(finding.details),
    }


def save_findings(
    engine: Engine, findings: Iterable[FindingToStore], now: datetime
) -> FindingChanges:
    """Make the open findings exactly `findings`; everything else open gets resolved."""
    current = {f.identity: f for f in findings}
    opened: list[dict[str, Any]] = []
    refreshed: list[dict[str, Any]] = []
    resolved: list[dict[str, Any]] = []
    reopened = 0
    with write_transaction(engine) as conn:
        stored = {
            row.identity: row
            for row in conn.execute(
                select(_findings.c.id, _findings.c.identity, _findings.c.resolved_at)
            )
        }
        for identity, finding in current.items():
            row = stored.get(identity)
            if row is None:
                opened.append(
                    {"identity": identity, **_row(finding), "first_seen": now,
                     "last_seen": now, "resolved_at": None}
                )  # fmt: skip
                continue
            values = {"_id": row.id, **_row(finding), "last_seen": now, "resolved_at": None}
            if row.resolved_at is not None:
                reopened += 1
                refreshed.append({**values, "first_seen": now})
            else:
                refreshed.append({**values, "first_seen": None})
        for identity, row in stored.items():
            if identity not in current and row.resolved_at is None:
                resolved.append({"_id": row.id, "resolved_at": now})
        if opened:  # few rows, and JSON details: a plain insert, not COPY
            conn.execute(insert(_findings), opened)
        _update_keeping_first_seen(conn, refreshed)
        if resolved:
            update_by_id(conn, _findings, resolved)
    return FindingChanges(
        opened=len(opened) + reopened,
        still_open=len(refreshed) - reopened,
        resolved=len(resolved),
    )


def _update_keeping_first_seen(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Refresh rows; `first_seen` only changes for reopened findings."""
    reopened = [r for r in rows if r["first_seen"] is not None]
    seen_again = [
        {k: v for k, v in r.items() if k != "first_seen"} for r in rows if r["first_seen"] is None
    ]
    for group in (reopened, seen_again):
        for chunk in chunked(group):
            update_by_id(conn, _findings, list(chunk))


def read_findings(
    engine: Engine,
    *,
    team: str | None = None,
    include_resolved: bool = False,
    source: str | None = None,
    details: bool = True,
) -> Iterator[StoredFinding]:
    """Findings by team, severity (critical first), scope, then key in natural order.

    Natural order (`ABC-41` before `ABC-101`) is what a person scanning a list
    expects, so it is done here rather than by the database's string order. An
    item finding carries its item's title and URL, joined from the synced items
    (a finding is stored by key; the item may since have been deleted: None).
    `source` keeps one connector's findings: team and sprint findings have no
    single source, so they are left out then. `details=False` leaves each finding's
    details out (empty): a page listing thousands shows none of them, and reading and
    decoding the JSON was a third of the governance page's time at 7k findings.
    """
    # One table at a time (finding -> its source by name -> the item by source and key), so
    # the item is found through ix_work_items_source_key: a LEFT JOIN to the pair (items
    # JOIN sources) makes SQLite materialise every item first, half a second at 100k items.
    joined = _findings.outerjoin(
        _sources, and_(_findings.c.scope == "item", _sources.c.name == _findings.c.source)
    ).outerjoin(
        _items,
        and_(
            _items.c.source_id == _sources.c.id,
            _items.c.key == _findings.c.scope_key,
            _items.c.deleted_at.is_(None),
        ),
    )
    columns = [c for c in _findings.c if details or c.name != "details"]
    query = select(*columns, _items.c.title, _items.c.url).select_from(joined)
    if team is not None:
        query = query.where(_findings.c.team == team)
    if source is not None:
        query = query.where(_findings.c.source == source)
    if not include_resolved:
        query = query.where(_findings.c.resolved_at.is_(None))
    rank = {"critical": 0, "warning": 1, "info": 2}
    natural: dict[str, tuple[tuple[int, int | str], ...]] = {}  # an item has several findings

    def scope_order(key: str) -> tuple[tuple[int, int | str], ...]:
        found = natural.get(key)
        return found if found is not None else natural.setdefault(key, natural_key(key))

    with engine.connect() as conn:
        rows = sorted(
            conn.execute(query).all(),
            key=lambda r: (
                r.team or "",
                rank.get(r.severity, 3),
                r.scope,
                natural.get(r.scope_key)
                or natural.setdefault(r.scope_key, natural_key(r.scope_key)),
                r.rule_id,
            ),
        )
    for r in rows:
        yield StoredFinding(
            identity=r.identity,
            rule_id=r.rule_id,
            rule=r.rule,
            severity=r.severity,
            mode=r.mode,
            scope=r.scope,
            scope_key=r.scope_key,
            team=r.team,
            source=r.source,
            message=r.message,
            details=dict(r.details or {}) if details else {},
            first_seen=r.first_seen,
            last_seen=r.last_seen,
            resolved_at=r.resolved_at,
            title=r.title,
            url=r.url,
        )
