"""The requests page, one page per request, and the strategy page (issue 17, "For people").

Each page is the answer `pmo-sync portfolio` or `pmo-sync when KEY` prints, laid out for a
browser (`reads_requests` computes it the command's way): the same dates, probabilities,
pairs and sentences. Pure: the builders take what `RequestReads` read and return plain data
for the templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pmo_sync.dashboard.charts import Chart, forecast_history_chart
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.reads_requests import AT_RISK_BELOW, Computed, RequestReads
from pmo_sync.portfolio.dependency_risk import DependencyRisk
from pmo_sync.portfolio.forecast import RequestForecast
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.overview import stakeholder_sentence
from pmo_sync.portfolio.words import percent, risk_words
from pmo_sync.store.forecast_history import ForecastPoint, forecast_move

__all__ = [
    "FUNNEL_WORDS",
    "AheadRow",
    "BlockedRow",
    "DependencyRow",
    "RequestGroup",
    "RequestPage",
    "RequestRow",
    "RequestsPage",
    "build_request",
    "build_requests",
    "request_row",
]

Text = Mapping[ItemRef, tuple[str, str]]

FUNNEL_WORDS = {
    "intake": "in intake",
    "approved": "approved",
    "in_progress": "in progress",
    "done": "done",
}
"""A funnel stage as `when` says it."""


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


# -- /requests ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One open request as the requests page lists it."""

    source: str
    key: str
    title: str
    url: str
    level: str | None
    theme: str | None
    teams: tuple[str, ...]
    items_done: int
    items: int
    p50: str | None
    p85: str | None
    p95: str | None
    due: str | None
    probability: float | None
    reason: str | None
    """Why there is no forecast (the forecast's note); None: there is one."""
    overdue: bool
    """Its due date is before today and it is not done."""

    @property
    def chance(self) -> str | None:
        return None if self.probability is None else percent(self.probability)

    @property
    def at_risk(self) -> bool:
        """Less likely than the portfolio rule's threshold to meet its due date, or overdue."""
        return self.overdue or (self.probability is not None and self.probability < AT_RISK_BELOW)

    @property
    def threshold_percent(self) -> str:
        return percent(AT_RISK_BELOW)

    @property
    def done_share(self) -> float:
        return self.items_done / self.items if self.items else 0.0


@dataclass(frozen=True, slots=True)
class RequestGroup:
    """The open requests under one initiative (None: under none)."""

    key: str | None
    source: str | None
    title: str
    url: str
    rows: tuple[RequestRow, ...]


@dataclass(frozen=True, slots=True)
class RequestsPage:
    filters: Filters
    today: date
    trials: int
    theme: str | None
    groups: tuple[RequestGroup, ...]
    themes: tuple[str, ...]
    """Every theme the filter offers: portfolio.yaml's, then any an item names."""
    teams: tuple[str, ...]
    unknown_team: bool
    unknown_theme: bool
    unknown_source: bool
    at_risk_below: float = AT_RISK_BELOW

    @property
    def count(self) -> int:
        return sum(len(g.rows) for g in self.groups)

    @property
    def at_risk(self) -> int:
        return sum(1 for g in self.groups for r in g.rows if r.at_risk)


def request_row(
    f: RequestForecast,
    text: tuple[str, str],
    teams: tuple[str, ...],
    theme: str | None,
    today: date,
) -> RequestRow:
    """One request's row from its forecast, (title, url), teams and theme."""
    dated = f.reason is None
    return RequestRow(
        source=f.ref[0],
        key=f.ref[1],
        title=text[0],
        url=text[1],
        level=f.level,
        theme=theme,
        teams=teams,
        items_done=f.scope.items_done,
        items=f.scope.items,
        p50=_iso(f.dates.get(50)) if dated else None,
        p85=_iso(f.dates.get(85)) if dated else None,
        p95=_iso(f.dates.get(95)) if dated else None,
        due=_iso(f.due_date),
        probability=f.due_probability,
        reason=None if dated else f.note,
        overdue=f.due_date is not None and f.due_date < today,
    )


def theme_names(reads: RequestReads, computed: Computed) -> tuple[str, ...]:
    """The themes the filter offers: portfolio.yaml's in its order, then any an item names."""
    configured = [t.name for t in reads.settings.portfolio.themes]
    named = sorted({i.theme for i in computed.inputs.items if i.theme} - set(configured))
    return (*configured, *named)


def build_requests(
    reads: RequestReads, computed: Computed, filters: Filters, theme: str | None
) -> RequestsPage:
    """Every open request by initiative, narrowed as `portfolio --team --theme` narrows it
    (and to one connector by the source filter). An unknown team, theme or source is said
    and not applied, as the other pages do with an unknown filter."""
    teams = computed.team_names
    themes = theme_names(reads, computed)
    known_team = filters.team if filters.team in teams else None
    folded = {t.casefold(): t for t in themes}
    known_theme = folded.get(theme.casefold()) if theme else None
    sources = {source for source, _ in computed.requests}
    source = filters.source if filters.source in sources else None
    overview = reads.overview(computed, team=known_team, theme=known_theme)
    lines = [line for line in overview.requests if source is None or line.ref[0] == source]
    refs = {line.ref for line in lines} | {line.initiative for line in lines if line.initiative}
    text = reads.text(refs)
    groups: list[RequestGroup] = []
    for line in lines:
        if not groups or (groups[-1].source, groups[-1].key) != (line.initiative or (None, None)):
            ini = line.initiative
            title, url = text.get(ini, ("", "")) if ini else ("No initiative", "")
            groups.append(
                RequestGroup(ini[1] if ini else None, ini[0] if ini else None, title, url, ())
            )
        last = groups[-1]
        groups[-1] = RequestGroup(
            last.key, last.source, last.title, last.url,
            (*last.rows, request_row(
                line.forecast, text.get(line.ref, ("", "")), line.teams, line.theme,
                computed.today,
            )),
        )  # fmt: skip
    return RequestsPage(
        filters=filters,
        today=computed.today,
        trials=reads.settings.kpis.options().forecast_trials,
        theme=known_theme,
        groups=tuple(groups),
        themes=themes,
        teams=tuple(teams),
        unknown_team=bool(filters.team) and known_team is None,
        unknown_theme=bool(theme) and known_theme is None,
        unknown_source=bool(filters.source) and source is None,
    )


# -- /requests/<source>/<key> ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AheadRow:
    """On one team: the higher-ranked requests whose items the team takes first."""

    team: str
    items: int
    requests: tuple[tuple[str, str, str, int], ...]
    """(source, key, title, remaining items on the team), in rank order."""


@dataclass(frozen=True, slots=True)
class DependencyRow:
    """One open dependency the request waits on, in `when`'s words."""

    blocker: str
    blocker_source: str
    blocker_title: str
    blocker_url: str
    blocker_team: str | None
    waiting: str
    status: str
    """`at_risk`, `open`, `unknown` or `resolved` (`DependencyStatus`)."""
    state: str
    risks: tuple[str, ...]
    blocker_finish: str | None


@dataclass(frozen=True, slots=True)
class BlockedRow:
    """An open dependency whose blocker is the request or an item under it: who waits."""

    waiting: str
    waiting_source: str
    waiting_title: str
    waiting_team: str | None
    waiting_request: str | None
    """The waiting item's request's key (it, or its nearest request), linking to its page."""
    blocker: str
    status: str
    state: str
    risks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RequestPage:
    source: str
    key: str
    title: str
    url: str
    level: str | None
    status: str | None
    stage: str
    today: date
    done_on: date | None
    forecast: RequestForecast | None
    sentence: str | None
    """`when`'s "In short" sentence (None: done, or not open)."""
    move: str | None
    """How the kept forecast's p85 moved (None: it did not, or no history)."""
    ahead: tuple[AheadRow, ...]
    waiting_on: tuple[DependencyRow, ...]
    blocks: tuple[BlockedRow, ...]
    """What waits on it: the open dependencies its items block, at risk first."""
    history: tuple[ForecastPoint, ...]
    history_chart: Chart | None
    teams: tuple[str, ...]
    theme: str | None

    @property
    def row(self) -> RequestRow | None:
        """The forecast as the requests page's row (None: done, or not open)."""
        f = self.forecast
        if f is None:
            return None
        return request_row(f, (self.title, self.url), self.teams, self.theme, self.today)

    @property
    def dates(self) -> tuple[tuple[int, str], ...]:
        """The forecast's percentiles as `when` says them (`beyond the horizon` for none)."""
        f = self.forecast
        if f is None or f.reason is not None:
            return ()
        return tuple((p, _iso(day) or "beyond the horizon") for p, day in f.dates.items())


_STATE = {"at_risk": "at risk", "unknown": "outside the synced scope"}


def _dependency_row(d: DependencyRisk, text: Text) -> DependencyRow:
    title, url = text.get(d.blocker, ("", ""))
    return DependencyRow(
        blocker=d.blocker[1],
        blocker_source=d.blocker[0],
        blocker_title=title,
        blocker_url=url,
        blocker_team=d.blocker_team,
        waiting=d.waiting[1],
        status=d.status.value,
        state=_STATE.get(d.status.value, "not at risk"),
        risks=tuple(risk_words(d, r) for r in d.risks),
        blocker_finish=_iso(d.blocker_finish),
    )


def history_chart(chart_id: str, points: Sequence[ForecastPoint], due: date | None) -> Chart:
    """p50 and p85 as each kept forecast said them, over the days they were made (a
    percentile no row has is left out: nothing to draw); the due date as a flat line across
    the same days."""
    return forecast_history_chart(
        chart_id,
        "Forecast over time",
        [p.made_on.isoformat() for p in points],
        {
            percentile: days
            for percentile, days in (
                (50, [_iso(p.p50) for p in points]),
                (85, [_iso(p.p85) for p in points]),
            )
            if any(days)
        },
        _iso(due),
        description="Each point is the forecast a KPI refresh kept that day (a new row only "
        "when it moved); the dashed line is the due date.",
    )


def build_request(reads: RequestReads, computed: Computed, ref: ItemRef) -> RequestPage:
    """One request for its stakeholders: `when KEY`'s answer, and its forecast's history."""
    answer = reads.when(computed, ref)
    item = computed.by_ref[ref]
    stored = computed.requests.get(ref)
    blocking = computed.waiting_for.get(ref, ())
    named = {ref} | {o for a in answer.ahead for o, _ in a.requests}
    named |= {d.blocker for d in answer.waiting_on} | {d.waiting for d in blocking}
    text = reads.text(named)
    title, url = text.get(ref, ("", ""))
    history = tuple(p for p in reads.history(ref) if p.made_on <= computed.today)
    line = next((r for r in reads.overview(computed).requests if r.ref == ref), None)
    f = answer.forecast
    open_now = answer.done_on is None and f is not None
    sentence = stakeholder_sentence(f, answer.waiting_on) if open_now and f else None
    chart = history_chart("forecast-history", history, item.due_date) if history else None
    if chart is not None and not chart.series_count:
        chart = None  # kept rows without a date (no forecast) and no due date: nothing to draw
    return RequestPage(
        source=ref[0],
        key=ref[1],
        title=title,
        url=url,
        level=answer.level,
        status=stored.status if stored else None,
        stage=FUNNEL_WORDS.get(answer.funnel_stage or "", "in no funnel stage"),
        today=computed.today,
        done_on=answer.done_on,
        forecast=f if open_now else None,
        sentence=sentence,
        move=forecast_move(list(history), computed.today),
        ahead=tuple(
            AheadRow(
                a.team[1],
                a.items,
                tuple((o[0], o[1], text.get(o, ("", ""))[0], n) for o, n in a.requests),
            )
            for a in answer.ahead
        ),
        waiting_on=tuple(_dependency_row(d, text) for d in answer.waiting_on),
        blocks=tuple(
            BlockedRow(
                waiting=d.waiting[1],
                waiting_source=d.waiting[0],
                waiting_title=text.get(d.waiting, ("", ""))[0],
                waiting_team=d.waiting_team,
                waiting_request=d.waiting_request[1] if d.waiting_request else None,
                blocker=d.blocker[1],
                status=d.status.value,
                state=_STATE.get(d.status.value, "not at risk"),
                risks=tuple(risk_words(d, r) for r in d.risks),
            )
            for d in blocking
        ),
        history=history,
        history_chart=chart,
        teams=line.teams if line else ((item.team,) if item.team else ()),
        theme=item.theme,
    )
