"""Whether a KPI refresh would compute anything new: the refresh mark (issue 18).

A refresh's result depends on the store's tracker data, the reporting day (the windows, the
forecasts' start, the open items' clock: `pmo_sync.kpi.items`) and the configuration
(kpis.yaml, the policies, portfolio.yaml, the window's start). A `RefreshMark` is those three:
the sources' data versions (bumped by the store whenever their data is written, migration
0018), the day, and a digest of the configuration. The refresh keeps the mark it computed
from; when the next cycle's mark is the same, recomputing would store exactly what is
stored, so the service skips it (`pmo_sync.service.cycle`).

The versions are read before any data, so a sync that lands during a refresh leaves a
mark that is already behind: the next cycle refreshes again. A refresh that fails midway
keeps no mark.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.days import local_date
from pmo_sync.portfolio.config import PortfolioConfig
from pmo_sync.store.marks import data_versions, read_mark, save_mark

__all__ = ["KPI_MARK", "RefreshMark", "canonical_digest", "current_mark", "is_current", "keep_mark"]

KPI_MARK = "kpis"


@dataclass(frozen=True, slots=True)
class RefreshMark:
    day: date
    data_versions: dict[int, int]
    config_digest: str


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data whose text does not depend on the process (sets sorted)."""
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # dates, zones, patterns: their text


def canonical_digest(*parts: Any) -> str:
    """A SHA-256 of `parts` that is the same in every process for equal configurations."""
    text = json.dumps(_plain(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def current_mark(
    engine: Engine,
    config: KpiConfig,
    *,
    rules: Sequence[RuleConfig] | None,
    portfolio: PortfolioConfig,
    since: date | None,
    now: datetime,
) -> RefreshMark:
    """The mark a refresh as of `now` with this configuration would keep (one small read)."""
    digest = canonical_digest(config, None if rules is None else list(rules), portfolio, since)
    return RefreshMark(local_date(now, config.options().zone), data_versions(engine), digest)


def is_current(engine: Engine, mark: RefreshMark) -> bool:
    """Whether the last complete refresh kept exactly `mark`: nothing it would compute changed."""
    stored = read_mark(engine, KPI_MARK)
    return (
        stored is not None
        and stored.day == mark.day
        and stored.data_versions == mark.data_versions
        and stored.config_digest == mark.config_digest
    )


def keep_mark(engine: Engine, mark: RefreshMark, now: datetime) -> None:
    """Record `mark` as the last complete refresh's (after everything it computed is saved)."""
    save_mark(engine, KPI_MARK, mark.day, mark.data_versions, mark.config_digest, now)
