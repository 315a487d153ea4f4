"""The epics pages: every epic with its children's progress and forecast, and one page per epic.

One builder per page (`build_epics`, `build_epic`): the portfolio issues
that follow (dates, themes, dependencies, releases) add their fields here.
Progress comes from the items' stages (one GROUP BY for every epic); the
forecast is what the KPI refresh stored for the epic (`forecast_done_p*_date`,
scope `epic`), never recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from pmo_sync.common.naturalsort import natural_key
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_portfolio import ItemRow, PortfolioReads, StageCounts
from pmo_sync.kpi.compute import value_date
from pmo_sync.store.kpis import KpiValue

__all__ = [
    "NO_THROUGHPUT",
    "PAGE_SIZE",
    "ChildRow",
    "EpicPage",
    "EpicSummary",
    "EpicsPage",
    "Forecast",
    "Progress",
    "build_epic",
    "build_epics",
    "epic_summaries",
    "order_key",
    "with_progress",
]

PERCENTILES = (50, 85, 95)
NO_THROUGHPUT = "no throughput history"
"""Why an epic with open children has no forecast: its team finished nothing lately."""
FAR_AWAY = "more than 5 years away"
NO_CHILDREN = "no child items"
DONE = "done"
CHILD_METRICS = ("cycle_time_days", "wip_age_days")
NARROW_READS = 500
"""Up to this many epics, their children are counted by key rather than all at once."""
PAGE_SIZE = 200
"""Epics per page of the list."""


@dataclass(frozen=True, slots=True)
class Progress:
    """An epic's children per stage."""

    todo: int = 0
    in_progress: int = 0
    done: int = 0

    @classmethod
    def of(cls, counts: StageCounts | None) -> Progress:
        counts = counts or {}
        return cls(counts.get("todo", 0), counts.get("in_progress", 0), counts.get("done", 0))

    @property
    def total(self) -> int:
        return self.todo + self.in_progress + self.done

    @property
    def open(self) -> int:
        return self.todo + self.in_progress

    @property
    def done_share(self) -> float | None:
        """Done children ÷ all children; None when the epic has none."""
        return self.done / self.total if self.total else None

    def percent(self, stage: str) -> float:
        """One stage's width in the progress bar, in percent of the children."""
        count = {"todo": self.todo, "in_progress": self.in_progress, "done": self.done}[stage]
        return round(100 * count / self.total, 2) if self.total else 0.0


@dataclass(frozen=True, slots=True)
class Forecast:
    """The stored forecast of one epic: when its remaining children are done (p50/p85/p95)."""

    window: str
    dates: Mapping[int, date | None]

    @property
    def p50(self) -> date | None:
        return self.dates.get(50)

    @property
    def p85(self) -> date | None:
        return self.dates.get(85)

    @property
    def p95(self) -> date | None:
        return self.dates.get(95)

    @property
    def sentences(self) -> list[str]:
        """`85% likely done by 2027-01-20`, one per percentile (the way a stakeholder reads it)."""
        return [
            f"{p}% likely done by {day.isoformat()}" if day else f"{p}%: {FAR_AWAY}"
            for p, day in sorted(self.dates.items())
        ]


@dataclass(frozen=True, slots=True)
class EpicSummary:
    """One epic's row: where it lives, its progress, remaining items and forecast."""

    source: str
    key: str
    title: str
    url: str
    status: str
    stage: str
    team: str | None
    progress: Progress
    remaining: int
    forecast: Forecast | None
    reason: str | None
    """Why there is no forecast (None when there is one)."""
    key_shared: bool = False
    """Another connector has an epic of this key too: links to its page name the connector."""

    @property
    def is_open(self) -> bool:
        return self.stage != "done"


@dataclass(frozen=True, slots=True)
class EpicsPage:
    filters: Filters
    search: str
    epics: list[EpicSummary]
    """This page's slice of the ordered epics (`PAGE_SIZE` at most)."""
    unknown_team: bool = False
    unknown_source: bool = False
    total: int = 0
    """Every epic the filters and the search keep."""
    page: int = 1
    pages: int = 1

    def query(self, page: int) -> str:
        """The link to another page of this list (filters and search kept)."""
        extra = [(k, v) for k, v in (("q", self.search), ("page", str(page))) if v and v != "1"]
        base = self.filters.query()
        if not extra:
            return base
        return f"{base}&{urlencode(extra)}" if base else f"?{urlencode(extra)}"


@dataclass(frozen=True, slots=True)
class ChildRow:
    """One child of an epic, with its stored cycle time (done) or WIP age (open)."""

    key: str
    title: str
    url: str
    item_type: str
    status: str
    stage: str
    cycle_time_days: float | None
    wip_age_days: float | None


@dataclass(frozen=True, slots=True)
class EpicPage:
    filters: Filters
    epic: EpicSummary
    children: list[ChildRow]
    other_sources: list[str] = field(default_factory=list)
    """Other connectors with an epic of the same key (`?source=` picks one)."""


def _forecasts(values: Iterable[KpiValue]) -> tuple[dict[str, Forecast], dict[str, KpiValue]]:
    """Epic key → its stored forecast, and → its stored `remaining_items`."""
    dates: dict[str, dict[int, date | None]] = {}
    windows: dict[str, str] = {}
    remaining: dict[str, KpiValue] = {}
    for v in values:
        if v.metric == "remaining_items":
            remaining[v.scope_key] = v
            continue
        for p in PERCENTILES:
            if v.metric == f"forecast_done_p{p}_date":
                dates.setdefault(v.scope_key, {})[p] = (
                    value_date(v.value) if v.value is not None else None
                )
                windows[v.scope_key] = v.window
    return {k: Forecast(windows[k], d) for k, d in dates.items()}, remaining


def _reason(stage: str, progress: Progress, forecast: Forecast | None) -> str | None:
    if forecast is not None:
        return FAR_AWAY if forecast.p85 is None else None
    if stage == "done":
        return DONE
    if progress.total == 0:
        return NO_CHILDREN
    if progress.open:
        return NO_THROUGHPUT
    return "nothing left to forecast"


def order_key(epic: EpicSummary) -> tuple[int, int, tuple[object, ...], str]:
    """Open work with no date first, then the latest p85 first, then the rest by key."""
    if epic.is_open and epic.remaining and (epic.forecast is None or not epic.forecast.p85):
        group, late = 0, 0
    elif epic.forecast is not None and epic.forecast.p85 is not None:
        group, late = 1, -epic.forecast.p85.toordinal()
    else:
        group, late = 2, 0
    return group, late, natural_key(epic.key), epic.source


def _narrow(keys: Iterable[str]) -> set[str] | None:
    """A few epics' keys to read by (one epic's page, a search, a page of the list); else None."""
    chosen = set(keys)
    return chosen if len(chosen) <= NARROW_READS else None


def epic_summaries(
    reads: DashboardReads,
    portfolio: PortfolioReads,
    filters: Filters,
    *,
    search: str | None = None,
    epics: Sequence[ItemRow] | None = None,
    progress: bool = True,
) -> list[EpicSummary]:
    """Every epic the filters keep, in the page's order (`order_key`).

    The order needs the stored values only (an open epic's `remaining_items`
    is stored whether or not it has a forecast), so `progress=False` leaves
    the children uncounted but for an open epic with no stored values; a
    page then counts those it shows (`with_progress`), and a done epic's
    remaining children with them.
    """
    rows = (
        epics
        if epics is not None
        else portfolio.epics(source=filters.source, search=search or None)
    )
    keys = _narrow(row.key for row in rows)
    forecasts, remaining = _forecasts(reads.values("epic", scope_keys=keys))
    shown = portfolio.shown_teams(reads.team_names(), {(row.source, row.team) for row in rows})
    shared = portfolio.shared_epic_keys()
    kept: list[tuple[ItemRow, str | None, KpiValue | None]] = []
    for row in rows:
        team = shown.get((row.source, row.team), row.team) if row.team is not None else None
        stored = remaining.get(row.key) if row.stage != "done" else None
        if stored is not None and row.key in shared and stored.team not in (None, team):
            stored = None  # the stored values (keyed by key alone) are another connector's epic's
        team = stored.team if stored is not None and stored.team else team
        if not filters.team or team == filters.team:
            kept.append((row, team, stored))
    # The order needs the children of an open epic with no stored values only (a done one sorts
    # by key); the others are counted for the epics a page shows (`with_progress`).
    to_count = [
        row.key for row, _, stored in kept if progress or (stored is None and row.stage != "done")
    ]
    counts = portfolio.child_stage_counts(filters.source, _narrow(to_count)) if to_count else {}
    result: list[EpicSummary] = []
    for row, team, stored in kept:
        done_children = Progress.of(counts.get((row.source, row.key)))
        forecast = forecasts.get(row.key) if stored is not None else None
        left = int(stored.value) if stored and stored.value is not None else done_children.open
        result.append(
            EpicSummary(
                source=row.source,
                key=row.key,
                title=row.title,
                url=row.url,
                status=row.status,
                stage=row.stage,
                team=team,
                progress=done_children,
                remaining=left,
                forecast=forecast,
                reason=_reason(row.stage, done_children, forecast),
                key_shared=row.key in shared,
            )
        )
    return sorted(result, key=order_key)


def with_progress(portfolio: PortfolioReads, epics: Sequence[EpicSummary]) -> list[EpicSummary]:
    """The epics with their children counted (by their keys: a page shows a few)."""
    if not epics:
        return []
    counts = portfolio.child_stage_counts(epic_keys=_narrow(e.key for e in epics))
    result = []
    for epic in epics:
        counted = Progress.of(counts.get((epic.source, epic.key)))
        reason = _reason(epic.stage, counted, epic.forecast)
        left = counted.open if epic.stage == "done" else epic.remaining  # done: nothing stored
        result.append(replace(epic, progress=counted, reason=reason, remaining=left))
    return result


def build_epics(
    reads: DashboardReads,
    portfolio: PortfolioReads,
    filters: Filters,
    search: str = "",
    page: int = 1,
    *,
    everything: bool = False,
) -> EpicsPage:
    """The epics page: every epic the filters and the search keep, latest p85 first.

    The list is cut in pages of `PAGE_SIZE` (the most urgent first): 2,000
    rows would make a page of megabytes that no one reads to the end; the
    search and the filters reach any epic. `everything` puts every epic on
    one page (the report: a file has no next page).
    """
    search = search.strip()
    epics = epic_summaries(reads, portfolio, filters, search=search, progress=False)
    size = max(len(epics), 1) if everything else PAGE_SIZE
    pages = max(1, -(-len(epics) // size))
    page = min(max(page, 1), pages)
    return EpicsPage(
        filters=filters,
        search=search,
        epics=with_progress(portfolio, epics[(page - 1) * size : page * size]),
        unknown_team=bool(filters.team) and filters.team not in reads.team_names(),
        unknown_source=bool(filters.source) and filters.source not in portfolio.source_names(),
        total=len(epics),
        page=page,
        pages=pages,
    )


def _child_values(reads: DashboardReads, source: str, children: Sequence[ItemRow]) -> dict[
    str, dict[str, float | None]
]:  # fmt: skip
    """Child key → its stored item values; a key two connectors share is stored qualified."""
    keys = [c.key for c in children] + [f"{source}:{c.key}" for c in children]
    values: dict[str, dict[str, float | None]] = {}
    for v in reads.values("item", metrics=CHILD_METRICS, scope_keys=keys):
        values.setdefault(v.scope_key, {})[v.metric] = v.value
    return {c.key: values.get(f"{source}:{c.key}") or values.get(c.key) or {} for c in children}


def build_epic(
    reads: DashboardReads, portfolio: PortfolioReads, filters: Filters, key: str
) -> EpicPage | None:
    """One epic's page, or None when no live epic has that key (in the filtered connector)."""
    found = portfolio.epic(key)
    chosen = [e for e in found if filters.source in (None, e.source)]
    if not chosen:
        return None
    epic = chosen[0]
    summary = epic_summaries(reads, portfolio, Filters(source=epic.source), epics=[epic])[0]
    children = sorted(portfolio.children(epic.source, epic.key), key=lambda c: natural_key(c.key))
    values = _child_values(reads, epic.source, children)
    return EpicPage(
        filters=filters,
        epic=summary,
        children=[
            ChildRow(
                key=c.key,
                title=c.title,
                url=c.url,
                item_type=c.item_type,
                status=c.status,
                stage=c.stage,
                cycle_time_days=values[c.key].get("cycle_time_days"),
                wip_age_days=values[c.key].get("wip_age_days"),
            )
            for c in children
        ],
        other_sources=[e.source for e in found if e.source != epic.source],
    )
