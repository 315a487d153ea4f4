"""The contract every connector meets.

A connector is one package that declares its configuration model, a `check`
that verifies credentials and permissions, and its streams. Each stream says
who it is in class attributes (name, record type, primary keys, replication
key, whether it arrives sorted) and yields normalised records from
`pmo_sync.domain`; the sync engine does all loading and bookmarking, so a
stream never touches the store except through the narrow `StoreView`.

Write-back (fields and one comment per item) is a second, optional interface
beside this one, the `Writer` of `connectors.writer` that `Connector.writer()`
returns, so a pull-only connector stays small.

**A decision drawn from records is saved with the bookmark that passes them.** A
stream's bookmark moves only when the stream completes, in one transaction with
whatever the stream learned from the records it moved past, so no crash point can
forget it:

- what the stream itself must do again (ids it skipped and must read again, a board
  to re-read) goes into its own bookmark (`retry`, ...), written by `final_bookmark`;
- what a later stream must do (today: the census, after a deletion was seen, an item
  left the scope, or the scope changed) is said with `context.census.owe(reason)`:
  the engine saves the debt with this stream's bookmark and clears it only in the
  transaction that applies a census. A census stream runs when `context.census.owed`,
  which is also true when an earlier run owed one and died before paying it.

A decision that needs no saving is one the next run re-derives from what is stored
(Jira's census compares a count with the store every run).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.http import CallStats
from connectors.writer import Writer
from pmo_sync.domain import (
    Census,
    ItemBundle,
    ItemChange,
    ItemLink,
    ReleaseRecord,
    SprintRecord,
    StatusRecord,
)

__all__ = [
    "PORTFOLIO_COLUMNS",
    "CensusDue",
    "CheckReport",
    "CheckResult",
    "Connector",
    "ConnectorConfig",
    "Reconversion",
    "Reconverted",
    "Record",
    "Schedule",
    "StoreView",
    "StoredItem",
    "Stream",
    "StreamContext",
    "Writer",
    "describe_schedule",
]

Record = ItemBundle | SprintRecord | StatusRecord | Census
"""What a stream may yield; the engine loads each kind into its own tables."""

_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")


class Schedule(BaseModel):
    """When the background service runs this connector: an interval or a cron line."""

    model_config = ConfigDict(extra="forbid")

    interval_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    interval_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    """For test loops and soak runs; a tracker wants minutes."""
    cron: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        given = [self.interval_minutes, self.interval_seconds, self.cron]
        if sum(v is not None for v in given) != 1:
            raise ValueError("give exactly one of interval_minutes, interval_seconds or cron")
        if self.cron is not None:
            parts = self.cron.split()
            if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
                raise ValueError(
                    f"cron {self.cron!r} must have five fields: minute hour day month weekday"
                )
        return self


def describe_schedule(schedule: Schedule) -> str:
    """``every 30 min``, ``every 5 s`` or the cron line, as `connectors list` shows it."""
    if schedule.cron is not None:
        return schedule.cron
    if schedule.interval_minutes is not None:
        return f"every {schedule.interval_minutes} min"
    return f"every {schedule.interval_seconds} s"


class ConnectorConfig(BaseModel):
    """Fields every connector config shares; each connector adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    kind: str
    schedule: Schedule | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_retries: int = Field(default=5, ge=0, le=20)
    max_retry_wait_seconds: float = Field(default=120.0, ge=0, le=3600)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One thing `connectors check` verified, and what to do when it failed."""

    name: str
    ok: bool
    detail: str
    severity: Literal["error", "warning"] = "error"


@dataclass(slots=True)
class CheckReport:
    results: list[CheckResult] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str, severity: str = "error") -> None:
        self.results.append(CheckResult(name, ok, detail, severity))  # type: ignore[arg-type]

    @property
    def ok(self) -> bool:
        return all(r.ok or r.severity == "warning" for r in self.results)


class StoreView(Protocol):
    """What a stream may ask of the store: only what it needs to decide what to fetch."""

    def live_item_count(self) -> int:
        """Items of this source currently stored and not marked deleted."""
        ...

    def live_ids_among(self, external_ids: Collection[str]) -> set[str]:
        """Which of `external_ids` are stored and not marked deleted."""
        ...

    def status_names(self) -> set[str]:
        """The names of this source's workflow statuses stored so far."""
        ...


@dataclass(slots=True)
class CensusDue:
    """Whether this run must take a census (list the tracker's live ids; the store marks
    the others deleted), and why.

    A stream that moves past a record saying an item may be gone calls `owe`; the engine
    saves the debt in the same transaction as that stream's bookmark (so a sync killed or
    failing before the census leaves it owed, and the next run pays it) and clears it in
    the transaction that applies the census. When nothing was stored at the run's start
    no census is owed: nothing stored can be stale, and every item this run stores comes
    from what it read.
    """

    owed_before: str | None
    """Why a run before this one owed a census it did not take (None: it owed none)."""
    nothing_stored: bool
    """No live item of this source was stored when the run started."""
    owed_now: str | None = None
    """Why this run owes one (the first reason a stream gave)."""

    def owe(self, reason: str) -> None:
        """The stream moved past a record that may mean an item is gone: `reason` says which."""
        if not self.nothing_stored and self.owed_now is None:
            self.owed_now = reason

    @property
    def owed(self) -> bool:
        return not self.nothing_stored and (
            self.owed_before is not None or self.owed_now is not None
        )

    @property
    def reason(self) -> str | None:
        return self.owed_before or self.owed_now

    def paid(self) -> None:
        """A census was applied: nothing is owed any more (the engine calls this)."""
        self.owed_before = self.owed_now = None


@dataclass(slots=True)
class StreamContext:
    """Everything a stream gets for one run."""

    bookmark: dict[str, Any] | None
    full: bool
    store: StoreView
    started_at: datetime
    report_error: Callable[[str], None]
    census: CensusDue = field(default_factory=lambda: CensusDue(None, nothing_stored=False))
    """The run's census debt, shared by its streams (see the module docstring)."""


class Stream(ABC):
    """One kind of record pulled from one tracker, with its own paginator and bookmark."""

    name: ClassVar[str]
    record_type: ClassVar[type]
    primary_keys: ClassVar[tuple[str, ...]]
    replication_key: ClassVar[str | None] = None
    is_sorted: ClassVar[bool] = False
    side_records: ClassVar[tuple[type, ...]] = ()
    """Other record types the stream yields: what its records said of other things (the
    sprints and statuses an issue names), stored before its bookmark moves past them."""

    @abstractmethod
    def records(self, context: StreamContext) -> Iterator[Any]:
        """Yield records of `record_type` (and `side_records`), incremental from
        `context.bookmark` unless full."""

    @abstractmethod
    def final_bookmark(self) -> dict[str, Any] | None:
        """The bookmark to store once every record yielded has been committed.

        None keeps the stored bookmark as it is.
        """


PORTFOLIO_COLUMNS = (
    "level",
    "start_date",
    "due_date",
    "target_start",
    "target_end",
    "priority",
    "rank",
    "components",
    "area_path",
)
"""The item columns a re-conversion may fill (migrations 0012 and 0013,
docs/portfolio-facts.md): the portfolio facts and what a theme matches besides labels."""


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One stored item as a re-conversion sees it: its raw payload (`raw_records`) and the
    stored columns a converter read besides (Trello keeps its labels and list there, not in
    the payload)."""

    external_id: str
    key: str
    raw: Mapping[str, Any]
    status: str
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reconverted:
    """What one stored item's raw payload says of its portfolio facts, and only that.

    A column missing from `columns`, links or releases None, are facts the payload does not
    hold: the store keeps what it has. `date_changes` are date-history changes the payload
    holds in full (the store adds those it lacks, by change id, and deletes none);
    `releases` the release records it names (the store adds those it lacks, never
    overwriting one a sync stored with more, such as a Jira version's start date).
    """

    columns: Mapping[str, Any]
    links: tuple[ItemLink, ...] | None = None
    release_ids: tuple[str, ...] | None = None
    releases: tuple[ReleaseRecord, ...] = ()
    date_changes: tuple[ItemChange, ...] = ()


class Reconversion(ABC):
    """A connector's conversion of its stored raw payloads into portfolio facts, offline.

    Pure: no call, no store access; what it needs of the config and the cached site
    metadata it took when made (`Connector.reconversion`). It raises KeyError, ValueError or
    TypeError for a payload it cannot read (the store skips and counts that item).
    """

    kept: tuple[str, ...] = ()
    """The facts it cannot give (not in the payload, or needing metadata not cached), in
    words, for the one line that says what stays for the next sync."""

    @abstractmethod
    def reconvert(self, item: StoredItem) -> Reconverted:
        """The portfolio facts `item`'s raw payload holds."""


class Connector(ABC):
    """A tracker: its config model, a check, and its streams in load order."""

    @classmethod
    def reconversion(
        cls,
        config: ConnectorConfig,
        bookmark: Callable[[str], Mapping[str, Any] | None],
        today: date,
    ) -> Reconversion | None:
        """How this connector re-converts stored raw payloads (`pmo_sync.store.reconvert`),
        given its config, its streams' stored bookmarks, read only (`bookmark(stream)`: a
        cache such as Jira's field ids) and the day (a release dated by the config is
        released once its day has come). None: it cannot (a plug-in's default)."""
        return None

    kind: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.stats = CallStats()

    @abstractmethod
    def check(self) -> CheckReport:
        """Reach the tracker, verify the credentials and the permissions the connector needs."""

    @abstractmethod
    def streams(self) -> Sequence[Stream]:
        """The streams of one run, in the order they must be loaded."""

    def writer(self) -> Writer | None:
        """The write-back transport (fields, one bot comment per item), or None for pull-only.

        A new `Writer` per call, over this connector's client: the caller closes it.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release network resources."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
