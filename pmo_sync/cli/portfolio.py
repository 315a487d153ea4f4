"""`pmo-sync portfolio`, `pmo-sync portfolio backtest` and `pmo-sync when KEY`: the portfolio
answers for people (issue 17, "For people"; docs/portfolio-cli.md).

They read the store read-only, as `findings` and `kpis --no-refresh` do (never migrated, never
written), with kpis.yaml (the reporting zone, workflows, teams, the forecast's trials, seed and
history) and portfolio.yaml (themes, request levels, the funnel). Today is the current day in
the reporting zone; `--today YYYY-MM-DD` asks about another day, as `demo --today` replays one.
The answers themselves are pure (`pmo_sync.portfolio.overview` and the modules it puts
together); this module reads, checks the options and prints.

Errors are one line on stderr with exit 2, like the listing commands' (`cli.listing`): an
unknown `--team`, `--theme` or `--connector`, an unknown KEY, a KEY two connectors share
without `--connector`, a KEY that is not a request.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    app,
    err,
    exit_if_nothing_synced,
    kpi_config,
    load_settings,
    open_store_to_read,
    out,
    portfolio_config,
)
from pmo_sync.cli.listing import check_connector, check_format, check_team, one_of
from pmo_sync.portfolio.words import delivery_words, risk_words

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pmo_sync.evaluation.item_titles import ItemText
    from pmo_sync.evaluation.portfolio_inputs import PortfolioInputs
    from pmo_sync.kpi.config import KpiOptions
    from pmo_sync.portfolio.config import PortfolioConfig
    from pmo_sync.portfolio.dependency_risk import DependencyRisk
    from pmo_sync.portfolio.forecast import RequestForecast
    from pmo_sync.portfolio.items import ItemRef
    from pmo_sync.portfolio.overview import PortfolioOverview, RequestLine, WhenAnswer
    from pmo_sync.portfolio.strategy import Share

portfolio_app = typer.Typer(
    help="The portfolio: requests and their forecasts, themes, dependencies, releases."
)
app.add_typer(portfolio_app, name="portfolio")

TODAY_HELP = "the day to answer for, YYYY-MM-DD (default: today in kpis.yaml's zone)"
REQUEST_KEYS = (
    "initiative",
    "initiative_title",
    "source",
    "key",
    "title",
    "level",
    "theme",
    "teams",
    "items_done",
    "items",
    "points_done",
    "points",
    "p50",
    "p85",
    "p95",
    "due_date",
    "due_probability",
    "no_forecast",
)
"""The columns of `portfolio --format csv`, and each request's keys in the JSON."""
_STAGES = {
    "intake": "in intake",
    "approved": "approved",
    "in_progress": "in progress",
    "done": "done",
}
"""A funnel stage as `when` says it: `Stage: in intake`, `Stage: done`."""


@dataclass(frozen=True, slots=True)
class _Loaded:
    engine: Engine
    inputs: PortfolioInputs
    portfolio: PortfolioConfig
    options: KpiOptions
    today: date

    @property
    def levels(self) -> tuple[str, ...]:
        return self.portfolio.requests.request_levels

    def forecasts(self) -> list[RequestForecast]:
        from pmo_sync.portfolio.forecast import request_forecasts

        return request_forecasts(
            self.inputs.items,
            self.today,
            levels=self.levels,
            trials=self.options.forecast_trials,
            seed=self.options.forecast_seed,
            history_days=self.options.forecast_history_days,
        )


def _load(today: datetime | None) -> _Loaded:
    """The configs (an error in either is exit 2), the store read-only, and its inputs."""
    from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
    from pmo_sync.kpi.days import local_date

    settings = load_settings()
    kpis = kpi_config(settings)
    portfolio = portfolio_config(settings)
    store = open_store_to_read(settings)
    exit_if_nothing_synced(store)
    options = kpis.options()
    day = today.date() if today is not None else local_date(datetime.now(UTC), options.zone)
    inputs = read_portfolio_inputs(
        store.engine, kpis, portfolio.themes, request_types=portfolio.requests.request_types
    )
    return _Loaded(store.engine, inputs, portfolio, options, day)


def _fail(message: str) -> typer.Exit:
    err.print(message, highlight=False, markup=False)
    return typer.Exit(EXIT_INVALID_CONFIG)


# --- pmo-sync portfolio -------------------------------------------------------------------------


@portfolio_app.callback(invoke_without_command=True)
def portfolio(
    ctx: typer.Context,
    theme: Annotated[str | None, typer.Option(help="only this strategic theme")] = None,
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    format: Annotated[
        str, typer.Option("--format", help="table, json or csv (csv: the requests)")
    ] = "table",
    today: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help=TODAY_HELP)] = None,
) -> None:
    """Initiatives and their requests (progress, forecast, due date and how likely), the
    themes against their targets, the dependencies at risk, release delivery."""
    if ctx.invoked_subcommand is not None:
        return
    from pmo_sync.portfolio.overview import portfolio_overview

    check_format(format, ("table", "json", "csv"))
    loaded = _load(today)
    items = loaded.inputs.items
    check_team(team, {item.team for item in items if item.team})
    _check_theme(theme, loaded.portfolio, items)
    forecasts = loaded.forecasts()
    overview = portfolio_overview(
        items,
        forecasts,
        loaded.inputs.dependencies,
        loaded.inputs.releases,
        loaded.portfolio.themes,
        loaded.today,
        levels=loaded.levels,
        team=team,
        theme=theme,
    )
    from pmo_sync.evaluation.item_titles import read_item_text

    refs = {line.ref for line in overview.requests}
    refs |= {line.initiative for line in overview.requests if line.initiative}
    text = read_item_text(loaded.engine, refs)
    records = [_request_record(line, text) for line in overview.requests]
    if format == "csv":
        from pmo_sync.cli.formats import write_csv

        write_csv(records, REQUEST_KEYS)
    elif format == "json":
        _write_overview_json(overview, records)
    else:
        of = " of ".join(["Portfolio", *(f"{name!r}" for name in (team, theme) if name)])
        _print_overview(overview, text, loaded.options.forecast_trials, of)


def _check_theme(theme: str | None, config: PortfolioConfig, items: Iterable[Any]) -> None:
    """`--theme` names a theme of portfolio.yaml (or one an item carries), in any case."""
    if theme is None:
        return
    names = {t.name for t in config.themes} | {i.theme for i in items if i.theme}
    if theme.casefold() not in {n.casefold() for n in names}:
        known = ", ".join(sorted(names)) or "none in portfolio.yaml"
        raise _fail(f"no theme {theme!r} (themes: {known})")


def _ref(ref: ItemRef | None) -> str | None:
    return None if ref is None else f"{ref[0]}:{ref[1]}"


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _request_record(line: RequestLine, text: Mapping[ItemRef, ItemText]) -> dict[str, Any]:
    f = line.forecast
    group = line.initiative
    return {
        "initiative": group[1] if group else None,
        "initiative_title": text.get(group, ("", ""))[0] if group else None,
        "source": f.ref[0],
        "key": f.ref[1],
        "title": text.get(f.ref, ("", ""))[0],
        "level": f.level,
        "theme": line.theme,
        "teams": list(line.teams),
        "items_done": f.scope.items_done,
        "items": f.scope.items,
        "points_done": f.scope.points_done,
        "points": f.scope.points,
        "p50": _iso(f.dates.get(50)),
        "p85": _iso(f.dates.get(85)),
        "p95": _iso(f.dates.get(95)),
        "due_date": _iso(f.due_date),
        "due_probability": f.due_probability,
        "no_forecast": f.note,
    }


def _plain(value: Any) -> Any:
    """A dataclass, enum, date, tuple or mapping as JSON's values (dates ISO, enums by value)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _dependency_record(d: DependencyRisk) -> dict[str, Any]:
    return {
        "blocker": _ref(d.blocker),
        "waiting": _ref(d.waiting),
        "blocker_team": d.blocker_team,
        "waiting_team": d.waiting_team,
        "status": d.status.value,
        "risks": [
            {
                "risk": r.risk.value,
                "days": r.days,
                "against": _iso(r.against),
                "of": _ref(r.of),
                "at_least": r.at_least,
            }
            for r in d.risks
        ],
        "resolution": d.resolution.value if d.resolution else None,
        "blocker_finish": _iso(d.blocker_finish),
        "waiting_request": _ref(d.waiting_request),
    }


def _write_overview_json(overview: PortfolioOverview, records: list[dict[str, Any]]) -> None:
    import json

    document = {
        "today": overview.today.isoformat(),
        "requests": records,
        "strategy": _plain(overview.strategy),
        "dependencies": [_dependency_record(d) for d in overview.dependencies.dependencies],
        "team_pairs": _plain(overview.dependencies.team_pairs),
        "releases": _plain(overview.releases),
    }
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


# --- the table: short lines, wrapped at the terminal's width ------------------------------------


def _say(text: str, indent: int = 0) -> None:
    """One fact, wrapped at the console's width with its continuation indented two more."""
    lines = textwrap.wrap(
        text,
        width=max(out.width, 40),
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + 2),
        break_long_words=False,
        break_on_hyphens=False,
    )
    for line in lines or [""]:
        out.print(line, highlight=False, markup=False)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _percent(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f}%"


def _print_overview(
    overview: PortfolioOverview, text: Mapping[ItemRef, ItemText], trials: int, title: str
) -> None:
    from pmo_sync.portfolio.overview import stakeholder_sentence

    lines = overview.requests
    _say(
        f"{title} as of {overview.today.isoformat()}: {_count(len(lines), 'open request')}; "
        f"forecasts from {trials:,} trials of each team's throughput"
    )
    _say("")
    _say("Requests")
    if not lines:
        _say("no open request", 2)
    group: object = ()
    for line in lines:
        if line.initiative != group:
            group = line.initiative
            if line.initiative is None:
                _say("No initiative", 2)
            else:
                title = text.get(line.initiative, ("", ""))[0]
                _say(f"{line.initiative[1]} · {title}", 2)
        f = line.forecast
        about = [f.ref[1], text.get(f.ref, ("", ""))[0]]
        if line.teams:
            about.append(", ".join(line.teams))
        _say(" · ".join(part for part in about if part), 4)
        progress = f"{f.scope.items_done} of {_count(f.scope.items, 'item')} done"
        if f.reason is None:
            p50, p85 = f.dates.get(50), f.dates.get(85)
            progress += f"; p50 {_iso(p50) or 'beyond the horizon'}"
            progress += f", p85 {_iso(p85) or 'beyond the horizon'}"
            if f.due_date is not None:
                probability = stakeholder_sentence(f).split("; ")[-1]
                progress += f"; {probability}"
        else:
            progress += "; " + stakeholder_sentence(f)
        _say(progress, 6)
    _print_strategy(overview)
    _print_dependencies(overview)
    _print_releases(overview)


def _share(name: str, share: Share, target: float | None) -> str:
    said = f"{name} {_percent(share.percent)}"
    if target is not None and share.off_target is not None:
        said += f" ({share.off_target:+.0f} points)"
    return said


def _print_strategy(overview: PortfolioOverview) -> None:
    window = overview.strategy.window
    _say("")
    _say(
        f"Themes, {window.first.isoformat()} to {window.last.isoformat()}: each theme's share "
        "of the work in progress (item-days), of the items done and of the open requests"
    )
    for row in window.themes:
        name = row.theme if row.theme is not None else "No theme"
        target = f"target {row.target_share:g}%" if row.target_share is not None else "no target"
        _say(
            f"{name} ({target}): "
            + "; ".join(
                (
                    _share("in progress", row.wip_days, row.target_share),
                    _share("done", row.done_items, row.target_share),
                    _share("requests", row.requests_open, row.target_share),
                )
            ),
            2,
        )


def _team(name: str | None) -> str:
    return name if name is not None else "no team"


def _print_dependencies(overview: PortfolioOverview) -> None:
    report = overview.dependencies
    at_risk = report.at_risk()
    _say("")
    _say("Dependencies at risk (blockers judged on their p85 date)")
    if not at_risk:
        _say("none", 2)
    for d in at_risk:
        _say(
            f"{d.blocker[1]} ({_team(d.blocker_team)}) blocks {d.waiting[1]} "
            f"({_team(d.waiting_team)})"
            + (f", done by {_iso(d.blocker_finish)} at p85" if d.blocker_finish else ""),
            2,
        )
        for risk in d.risks:
            _say(risk_words(d, risk), 4)
    pairs = [p for p in report.team_pairs if p.open]
    if pairs:
        _say("Open dependencies per team pair (blocker's team → waiting team)", 2)
        for p in pairs:
            _say(
                f"{_team(p.blocker_team)} → {_team(p.waiting_team)}: {p.open} open, "
                f"{p.at_risk} at risk" + (f", {p.unknown} unknown" if p.unknown else ""),
                4,
            )


def _print_releases(overview: PortfolioOverview) -> None:
    report = overview.releases
    _say("")
    _say(
        f"Releases, {report.window_start.isoformat()} to {report.window_end.isoformat()} "
        "(shipped per month, oldest first)"
    )
    for row in report.teams:
        _say(f"{_team(row.team)}: {delivery_words(row)}", 2)
    if len(report.teams) != 1:
        _say(f"All teams: {delivery_words(report.portfolio)}", 2)


# --- pmo-sync portfolio backtest ----------------------------------------------------------------


@portfolio_app.command("backtest")
def backtest(
    weeks: Annotated[
        int, typer.Option(min=1, help="how far back to replay, in weeks (default 26)")
    ] = 26,
    step_days: Annotated[
        int, typer.Option("--step-days", min=1, help="days between two replayed days")
    ] = 7,
    today: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help=TODAY_HELP)] = None,
) -> None:
    """How often past forecasts were met: one line per percentile, then the p50's error.

    The request forecasts are replayed on past days and judged against when each request
    was actually done (docs/portfolio-cli.md)."""
    from pmo_sync.portfolio.backtest import Every, calibration_lines, error_line
    from pmo_sync.portfolio.backtest import backtest as replay

    loaded = _load(today)
    report = replay(
        loaded.inputs.items,
        loaded.today,
        Every(step_days=step_days, count=max(1, weeks * 7 // step_days)),
        levels=loaded.levels,
        seed=loaded.options.forecast_seed,
        history_days=loaded.options.forecast_history_days,
    )
    for line in (*calibration_lines(report), error_line(report)):
        out.print(line, highlight=False, markup=False)


# --- pmo-sync when KEY --------------------------------------------------------------------------


@app.command("when")
def when(
    key: Annotated[str, typer.Argument(help="the request's key, e.g. ABC-12")],
    connector: Annotated[
        str | None, typer.Option(help="the connector whose KEY it is (when two share a key)")
    ] = None,
    today: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help=TODAY_HELP)] = None,
) -> None:
    """Where one request is and when it will be done, in sentences.

    Its funnel stage, its progress, what is ahead of it in rank on each of its teams, what it
    waits on, its forecast and the sentence for stakeholders (docs/portfolio-cli.md)."""
    from pmo_sync.portfolio.funnel import funnel_stage
    from pmo_sync.portfolio.overview import item_forecasts, when_answer
    from pmo_sync.portfolio.stored import portfolio_items
    from pmo_sync.store.teams import teams_by_source

    loaded = _load(today)
    check_connector(connector, teams_by_source(loaded.engine))
    items = loaded.inputs.items
    ref = _find(key, connector, items, loaded.levels)
    stored = next((p for p in portfolio_items(loaded.engine) if p.ref == ref), None)
    forecasts = loaded.forecasts()
    from pmo_sync.portfolio.dependency_risk import dependency_risks

    by_ref = {item.ref: item for item in items}
    report = dependency_risks(
        loaded.inputs.dependencies,
        by_ref,
        item_forecasts(items, forecasts, loaded.today),
        loaded.today,
        loaded.levels,
    )
    answer = when_answer(
        ref,
        items,
        forecasts,
        report,
        loaded.today,
        funnel_stage(stored, loaded.portfolio.requests.funnel) if stored else None,
        loaded.levels,
    )
    from pmo_sync.evaluation.item_titles import read_item_text

    named = {ref} | {o for a in answer.ahead for o, _ in a.requests}
    text = read_item_text(loaded.engine, named)
    from pmo_sync.store.forecast_history import forecast_histories, forecast_move

    move = forecast_move(forecast_histories(loaded.engine, ref).get(ref, []), loaded.today)
    _print_when(answer, text, stored.status if stored else None, loaded.today, move)


def _find(key: str, connector: str | None, items: Sequence[Any], levels: Collection[str]) -> Any:
    """The request KEY names (exact key, else the same key in any case)."""
    found = [i for i in items if i.ref[1] == key and connector in (None, i.ref[0])]
    if not found:
        found = [
            i
            for i in items
            if i.ref[1].casefold() == key.casefold() and connector in (None, i.ref[0])
        ]
    if not found:
        where = f" of {connector}" if connector else ""
        raise _fail(f"no item {key!r}{where} in the store (`pmo-sync export` lists them)")
    if len(found) > 1:
        sources = sorted(i.ref[0] for i in found)
        raise _fail(
            f"{len(found)} connectors have an item {key!r} ({', '.join(sources)}): give --connector"
        )
    item = found[0]
    if item.level not in levels:
        kind = f"{item.level or item.item_type}"
        article = "an" if kind[:1].casefold() in "aeiou" else "a"
        raise _fail(
            f"{item.ref[1]} is {article} {kind}, not a request (requests are the "
            f"{one_of(sorted(levels)) if levels else 'configured'} level items): "
            + _request_hint(item, {i.ref: i for i in items}, levels)
        )
    return item.ref


def _request_hint(item: Any, by_ref: Mapping[ItemRef, Any], levels: Collection[str]) -> str:
    parent, seen = item.parent, {item.ref}
    while parent is not None and parent in by_ref and parent not in seen:
        seen.add(parent)
        if by_ref[parent].level in levels:
            return f"ask about its request, `pmo-sync when {parent[1]}`"
        parent = by_ref[parent].parent
    return "it is under no request"


def _print_when(
    answer: WhenAnswer,
    text: Mapping[ItemRef, ItemText],
    status: str | None,
    today: date,
    move: str | None = None,
) -> None:
    """The answer in sentences; `move` is how its stored forecast history moved (None: it
    did not, or there is no history yet)."""
    from pmo_sync.portfolio.overview import stakeholder_sentence

    ref = answer.ref
    title, url = text.get(ref, ("", ""))
    _say(f"{ref[1]} · {title} ({ref[0]}, {answer.level})")
    if url:
        out.print(url, highlight=False, markup=False)  # never wrapped: it stays clickable
    where = _STAGES.get(answer.funnel_stage or "", "in no funnel stage")
    _say(f"Stage: {where} (status {status}).")
    if answer.done_on is not None:
        _say(f"Done on {answer.done_on.isoformat()}.")
        return
    f = answer.forecast
    if f is None:
        _say(f"Not open on {today.isoformat()}: nothing to forecast.")
        return
    _say(f"Progress: {f.scope.items_done} of {_count(f.scope.items, 'item')} done.")
    for ahead in answer.ahead:
        team = ahead.team[1]
        if not ahead.requests:
            _say(f"Ahead of it on {team}: nothing; it is first in rank.")
            continue
        names = ", ".join(f"{o[1]} ({_count(n, 'item')})" for o, n in ahead.requests)
        _say(
            f"Ahead of it in rank on {team}: {_count(ahead.items, 'item')} of "
            f"higher-ranked requests: {names}."
        )
    for d in answer.waiting_on:
        risks = "; ".join(risk_words(d, r) for r in d.risks)
        status_words = {"at_risk": "at risk", "unknown": "outside the synced scope"}
        state = status_words.get(d.status.value, "not at risk")
        _say(
            f"Waiting on {d.blocker[1]} of {_team(d.blocker_team)} ({state}"
            + (f": {risks}" if risks else "")
            + ")."
        )
    if f.reason is None:
        dates = ", ".join(f"p{p} {_iso(day) or 'beyond the horizon'}" for p, day in f.dates.items())
        _say(f"Forecast: {dates}.")
    if move is not None:
        _say(f"History: {move}.")
    _say(f"In short: {stakeholder_sentence(f, answer.waiting_on)}.")
