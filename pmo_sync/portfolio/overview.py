"""The portfolio for people: the answers put together for `pmo-sync portfolio` and `pmo-sync
when`. Pure: the forecasts, the store's reads and the clock come in as values.

`portfolio_overview` groups the open requests under their initiative (the nearest ancestor at
the `initiative` level; none: "no initiative") with their progress and forecast, and beside
them the theme allocation (`strategy_shares`), the dependencies (`dependency_risks`, judged on
the p85: `item_forecasts`) and release delivery (`release_delivery`). `--team` and `--theme`
narrow it the way a PMO asks ("what does Team Beta carry", "where is Growth"): see
`portfolio_overview`.

`when_answer` is one request as a stakeholder asks about it: its funnel stage, what is ahead
of it in rank on each of its teams (the requests whose items the team finishes first, as the
forecast queues them), what it still waits on, and when it will be done; `stakeholder_sentence`
says the last two in one sentence ("85% likely done by 2027-01-20; due 2027-01-15: 62% likely
by then; waiting on ABC-12 of Team Beta"). docs/portfolio-cli.md shows both.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pmo_sync.common.naturalsort import natural_key
from pmo_sync.portfolio.config import DEFAULT_REQUEST_LEVELS, ThemeConfig
from pmo_sync.portfolio.dependency_risk import DependencyReport, DependencyRisk, dependency_risks
from pmo_sync.portfolio.forecast import RequestForecast, TeamRef, queue_order
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.model import Dependency, PortfolioRelease, WorkItem, ancestors
from pmo_sync.portfolio.releases import ReleaseReport, release_delivery
from pmo_sync.portfolio.strategy import DEFAULT_PERIOD_DAYS, StrategyAnswer, strategy_shares
from pmo_sync.portfolio.work import is_work

__all__ = [
    "INITIATIVE",
    "STRATEGY_DAYS",
    "Ahead",
    "PortfolioOverview",
    "RequestLine",
    "WhenAnswer",
    "item_forecasts",
    "portfolio_overview",
    "stakeholder_sentence",
    "when_answer",
    "whole_percent",
]

INITIATIVE = "initiative"
STRATEGY_DAYS = 84
"""The allocation's window: the last 12 weeks up to today, the KPIs' default window."""
RISK_PERCENTILE = 85
"""Dependencies are judged on the p85, as docs/portfolio.md "Dependencies at risk" says."""


@dataclass(frozen=True, slots=True)
class RequestLine:
    """One open request as the portfolio lists it."""

    forecast: RequestForecast
    initiative: ItemRef | None
    """Its nearest ancestor at the initiative level (itself, if it is one); None: none."""
    teams: tuple[str, ...]
    """The teams of its work items (done or not), by name; its own team when it has none."""
    theme: str | None

    @property
    def ref(self) -> ItemRef:
        return self.forecast.ref


@dataclass(frozen=True, slots=True)
class PortfolioOverview:
    today: date
    requests: tuple[RequestLine, ...]
    """By initiative (none last), then by source and key naturally."""
    strategy: StrategyAnswer
    dependencies: DependencyReport
    releases: ReleaseReport


def item_forecasts(
    items: Iterable[WorkItem],
    forecasts: Iterable[RequestForecast],
    today: date,
    percentile: int = RISK_PERCENTILE,
) -> dict[ItemRef, date]:
    """Each open item's forecast done day for `dependency_risks`: a request's own p-date, and
    an open item below requests the p-date of its nearest request with one: the item is done
    by the time its request is, so its request's date is the latest it can be (a blocker
    story is judged on its epic's p85). An item with no such request has none."""
    by_ref = {item.ref: item for item in items}
    dated = {f.ref: day for f in forecasts if (day := f.dates.get(percentile)) is not None}
    result = dict(dated)
    for item in by_ref.values():
        done = item.done <= today if item.done is not None else not item.is_open
        if item.ref in result or done:
            continue
        for ancestor in ancestors(item, by_ref):
            if ancestor in dated:
                result[item.ref] = dated[ancestor]
                break
    return result


def portfolio_overview(
    items: Sequence[WorkItem],
    forecasts: Sequence[RequestForecast],
    dependencies: Iterable[Dependency],
    releases: Iterable[PortfolioRelease],
    themes: Sequence[ThemeConfig],
    today: date,
    *,
    levels: Collection[str] = DEFAULT_REQUEST_LEVELS,
    team: str | None = None,
    theme: str | None = None,
    months: int = 6,
) -> PortfolioOverview:
    """The open requests and the answers beside them, as of `today`.

    `team` keeps the requests with work on that team, the allocation of that team's items,
    the dependencies with that team at either end and that team's release delivery (the
    portfolio's row then is the team's too). `theme` (any case) keeps the requests of that
    theme and the dependencies whose either end is of it; the allocation and the releases
    stay whole, since a theme's share means something only beside the others.
    """
    by_ref = {item.ref: item for item in items}
    teams_of = _request_teams(items, by_ref, levels)
    lines = []
    for forecast in forecasts:
        request = by_ref[forecast.ref]
        teams = teams_of.get(forecast.ref) or ((request.team,) if request.team else ())
        lines.append(
            RequestLine(forecast, _initiative(request, by_ref), tuple(sorted(teams)), request.theme)
        )
    report = dependency_risks(
        _of_theme(dependencies, by_ref, theme),
        by_ref,
        item_forecasts(items, forecasts, today),
        today,
        levels,
    )
    if team is not None:
        lines = [line for line in lines if team in line.teams]
    if theme is not None:
        wanted = theme.casefold()
        lines = [line for line in lines if (line.theme or "").casefold() == wanted]
    lines.sort(key=_line_order)
    shown = _of_team(report, team)
    counted = [item for item in items if team is None or item.team == team]
    strategy = strategy_shares(
        counted,
        themes,
        today - timedelta(days=STRATEGY_DAYS - 1),
        today,
        request_levels=levels,
        period_days=DEFAULT_PERIOD_DAYS,
        periods=STRATEGY_DAYS // DEFAULT_PERIOD_DAYS,
    )
    delivery = release_delivery(items, releases, today, months)
    if team is not None:
        mine = tuple(t for t in delivery.teams if t.team == team)
        portfolio = mine[0] if mine else delivery.portfolio
        delivery = ReleaseReport(delivery.window_start, delivery.window_end, mine, portfolio)
    return PortfolioOverview(today, tuple(lines), strategy, shown, delivery)


def _line_order(line: RequestLine) -> tuple[object, ...]:
    group = line.initiative
    return (
        group is None,
        group[0] if group else "",
        natural_key(group[1]) if group else (),
        line.ref[0],
        natural_key(line.ref[1]),
    )


def _of_theme(
    dependencies: Iterable[Dependency], by_ref: Mapping[ItemRef, WorkItem], theme: str | None
) -> list[Dependency]:
    """The dependencies with either end of `theme` (any case); all of them without one."""
    if theme is None:
        return list(dependencies)
    wanted = theme.casefold()

    def of_it(ref: ItemRef) -> bool:
        item = by_ref.get(ref)
        return item is not None and (item.theme or "").casefold() == wanted

    return [d for d in dependencies if of_it(d.blocker) or of_it(d.waiting)]


def _of_team(report: DependencyReport, team: str | None) -> DependencyReport:
    """The dependencies and team pairs with `team` at either end; all of them without one."""
    if team is None:
        return report
    return DependencyReport(
        tuple(d for d in report.dependencies if team in (d.blocker_team, d.waiting_team)),
        tuple(p for p in report.team_pairs if team in (p.blocker_team, p.waiting_team)),
    )


def _initiative(request: WorkItem, by_ref: Mapping[ItemRef, WorkItem]) -> ItemRef | None:
    for ref in (request.ref, *ancestors(request, by_ref)):
        if (by_ref[ref].level or "").casefold() == INITIATIVE:
            return ref
    return None


def _request_teams(
    items: Iterable[WorkItem], by_ref: Mapping[ItemRef, WorkItem], levels: Collection[str]
) -> dict[ItemRef, set[str]]:
    """The teams of the work under each request (every work item, done or not)."""
    wanted = frozenset(levels)
    teams: dict[ItemRef, set[str]] = defaultdict(set)
    for item in items:
        if item.team is None or not is_work(item) or item.level in wanted:
            continue
        for ref in ancestors(item, by_ref):
            if by_ref[ref].level in wanted:
                teams[ref].add(item.team)
    return teams


# --- when KEY -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ahead:
    """On one team, the requests ranked above this one, whose items the team takes first.

    How much of them the team finishes before this request is the forecast's business (its
    `ahead_by_team`: a team that learnt to work on several requests at once does not finish
    the ones above first, `portfolio.habits`); this is what the rank says is ahead."""

    team: TeamRef
    items: int
    """The remaining items of the requests ahead on this team."""
    requests: tuple[tuple[ItemRef, int], ...]
    """Each request ahead with its remaining items on the team, in rank order."""


@dataclass(frozen=True, slots=True)
class WhenAnswer:
    ref: ItemRef
    level: str | None
    funnel_stage: str | None
    """portfolio.yaml's funnel stage (`intake`, `approved`, `in_progress`, `done`); None:
    its status is in no stage."""
    done_on: date | None
    """The day it was done, if it is (then there is no forecast)."""
    forecast: RequestForecast | None
    ahead: tuple[Ahead, ...]
    waiting_on: tuple[DependencyRisk, ...]


def when_answer(
    ref: ItemRef,
    items: Sequence[WorkItem],
    forecasts: Sequence[RequestForecast],
    report: DependencyReport,
    today: date,
    funnel_stage: str | None,
    levels: Collection[str] = DEFAULT_REQUEST_LEVELS,
) -> WhenAnswer:
    """Where request `ref` stands on `today` (it must be among `items`, at a request level)."""
    by_ref = {item.ref: item for item in items}
    item = by_ref[ref]
    forecast = next((f for f in forecasts if f.ref == ref), None)
    done_on = item.done if item.done is not None and item.done <= today else None
    ahead: tuple[Ahead, ...] = ()
    if forecast is not None:
        ahead = _ahead(forecast, items, by_ref, today, frozenset(levels))
    return WhenAnswer(
        ref=ref,
        level=item.level,
        funnel_stage=funnel_stage,
        done_on=done_on,
        forecast=forecast,
        ahead=ahead,
        waiting_on=report.waiting_on(ref),
    )


def _ahead(
    forecast: RequestForecast,
    items: Sequence[WorkItem],
    by_ref: Mapping[ItemRef, WorkItem],
    today: date,
    levels: frozenset[str],
) -> tuple[Ahead, ...]:
    """The owners (an open item's nearest open request) queued before this request's last
    owner on each of its teams, less its own subtree: whose items the team does first."""

    def open_on(item: WorkItem) -> bool:
        return item.created <= today and not (item.done is not None and item.done <= today)

    owned: dict[TeamRef, Counter[ItemRef]] = defaultdict(Counter)
    mine: dict[TeamRef, set[ItemRef]] = defaultdict(set)
    for item in items:
        if not (is_work(item) and item.level not in levels and open_on(item) and item.team):
            continue
        requests = [
            r for r in ancestors(item, by_ref) if by_ref[r].level in levels and open_on(by_ref[r])
        ]
        if not requests:
            continue
        team = (item.ref[0], item.team)
        owned[team][requests[0]] += 1
        if forecast.ref in requests:
            mine[team].add(requests[0])
    result = []
    for team in forecast.remaining_by_team:
        if forecast.share is not None or not mine[team]:
            continue
        last = max(queue_order(by_ref[o]) for o in mine[team])
        before = sorted(
            (o for o in owned[team] if o not in mine[team] and queue_order(by_ref[o]) < last),
            key=lambda o: queue_order(by_ref[o]),
        )
        result.append(
            Ahead(
                team,
                sum(owned[team][o] for o in before),
                tuple((o, owned[team][o]) for o in before),
            )
        )
    return tuple(result)


def whole_percent(probability: float) -> int:
    """A probability as a whole percent, halves up; 100 only when certain, 0 only when
    impossible (0.996 is 99). The sentence and the write-back field say the same number."""
    percent = int(probability * 100 + 0.5)
    if percent == 100 and probability < 1:
        return 99
    if percent == 0 and probability > 0:
        return 1
    return percent


def _percent(probability: float) -> str:
    return f"{whole_percent(probability)}%"


def stakeholder_sentence(
    forecast: RequestForecast,
    waiting_on: Sequence[DependencyRisk] = (),
    percentile: int = RISK_PERCENTILE,
    *,
    today: date | None = None,
) -> str:
    """When it will be done, in one sentence: `85% likely done by 2027-01-20; due 2027-01-15:
    62% likely by then; waiting on ABC-12 of Team Beta`. Without a forecast, why; a date
    beyond the horizon reads "not within the forecast's horizon". With `today`, a date on or
    before it reads "today" (its work is done or nearly, and it is not closed yet): the
    sentence of a request left open then stays the same from day to day (the bot comment
    is not edited daily for it); a due date before it reads "due 2027-01-15, passed"."""
    parts = []
    if forecast.reason is not None:
        parts.append(f"no forecast: {forecast.note}")
    else:
        by = forecast.dates.get(percentile)
        if by is None:
            parts.append(f"not {percentile}% likely done within the forecast's horizon")
        elif today is not None and by <= today:
            parts.append(f"{percentile}% likely done by today")
        else:
            parts.append(f"{percentile}% likely done by {by.isoformat()}")
    if forecast.due_date is not None:
        due = f"due {forecast.due_date.isoformat()}"
        if today is not None and forecast.due_date < today:
            due += ", passed"  # not "0% likely by then": it is no longer a chance
        elif forecast.due_probability is not None:
            due += f": {_percent(forecast.due_probability)} likely by then"
        parts.append(due)
    if waiting_on:
        blockers = ", ".join(
            f"{d.blocker[1]} of {d.blocker_team}" if d.blocker_team else d.blocker[1]
            for d in waiting_on
        )
        parts.append(f"waiting on {blockers}")
    return "; ".join(parts)
