"""The demo's portfolio section: the three sandboxes' requests with their forecasts, the themes
against their targets, the dependencies at risk, release delivery and how well past forecasts
did, summarised for an 80-column terminal.

The answers are `pmo-sync portfolio`'s and `pmo-sync portfolio backtest`'s (the same pure
functions on the same store read); the demo shows the requests most at risk first and leaves
the full lists to those commands. `request_rows` and `portfolio_lines` are pure (answers in,
cells and sentences out); `print_portfolio_answers` only lays them out.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from rich.console import Console
from rich.markup import escape

from pmo_sync.demo.sections import _table, section
from pmo_sync.portfolio.dependency_risk import DependencyStatus
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.overview import PortfolioOverview, RequestLine
from pmo_sync.portfolio.words import percent

__all__ = ["RequestRow", "portfolio_lines", "print_portfolio_answers", "request_rows"]

SHOWN_REQUESTS = 10
"""Rows of the requests table; `pmo-sync portfolio` lists every one."""
TITLE_WIDTH = 24


@dataclass(frozen=True, slots=True)
class RequestRow:
    request: str
    team: str
    done: str
    p85: str
    due: str
    chance: str


def _risk_order(line: RequestLine) -> tuple[int, float, date, str, str]:
    """Requests with a due date first, the least likely to meet it first; then those with a
    forecast by p85 date; then those without a forecast."""
    f = line.forecast
    p85 = f.dates.get(85) if f.reason is None else None
    if f.due_date is not None and f.due_probability is not None:
        return (0, f.due_probability, f.due_date, *f.ref)
    if p85 is not None:
        return (1, 0.0, p85, *f.ref)
    return (2, 0.0, date.max, *f.ref)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def request_rows(
    overview: PortfolioOverview, titles: Mapping[ItemRef, str], limit: int = SHOWN_REQUESTS
) -> list[RequestRow]:
    """The `limit` open requests most at risk of missing their due date (`_risk_order`)."""
    rows = []
    for line in sorted(overview.requests, key=_risk_order)[:limit]:
        f = line.forecast
        title = titles.get(f.ref, "")
        name = f"{f.ref[1]} {_short(title, TITLE_WIDTH)}".strip()
        p85 = f.dates.get(85) if f.reason is None else None
        rows.append(
            RequestRow(
                request=name,
                team=", ".join(line.teams) or "-",
                done=f"{f.scope.items_done}/{f.scope.items}",
                p85=p85.isoformat() if p85 is not None else ("later" if f.reason is None else "-"),
                due=f.due_date.isoformat() if f.due_date is not None else "-",
                chance=percent(f.due_probability) if f.due_probability is not None else "-",
            )
        )
    return rows


def portfolio_lines(overview: PortfolioOverview, calibration: Sequence[str]) -> list[str]:
    """The sentences under the table: themes, dependencies, releases, the backtest."""
    lines = []
    shares = []
    for row in overview.strategy.window.themes:
        share = row.wip_days.percent
        said = f"{row.theme or 'no theme'} {share:.0f}%" if share is not None else ""
        if said and row.target_share is not None:
            said += f" (target {row.target_share:g}%)"
        if said:
            shares.append(said)
    if shares:
        lines.append("work in progress by theme: " + ", ".join(shares))
    report = overview.dependencies
    open_across = [
        d
        for d in report.dependencies
        if d.status is not DependencyStatus.RESOLVED and d.blocker_team != d.waiting_team
    ]
    at_risk = report.at_risk()
    said = f"dependencies across teams: {len(open_across)} open, {len(at_risk)} at risk"
    if at_risk:
        first = at_risk[0]
        said += (
            f"; e.g. {first.waiting[1]} ({first.waiting_team or 'no team'}) waits on "
            f"{first.blocker[1]} ({first.blocker_team or 'no team'})"
        )
    lines.append(said)
    delivery = overview.releases.portfolio
    said = f"releases: {len(delivery.shipped)} shipped in {len(delivery.monthly)} months"
    if delivery.on_time_share is not None:
        said += f", {delivery.on_time_share * 100:.0f}% on or before their planned date"
    if delivery.overdue:
        said += f", {len(delivery.overdue)} overdue"
    lines.append(said)
    lines.append("past forecasts, replayed weekly over 26 weeks:")
    lines.extend(f"  {line}" for line in calibration)
    return lines


def print_portfolio_answers(
    console: Console,
    number: int,
    overview: PortfolioOverview,
    titles: Mapping[ItemRef, str],
    calibration: Sequence[str],
) -> None:
    section(
        console, number, "The portfolio: when each request will be done, what puts it at risk",
        f"{len(overview.requests)} open requests across the three trackers; each team's "
        "throughput shared",
        "by its requests in rank order; the least likely to meet their due date first.",
    )  # fmt: skip
    table = _table("request", "team", "done", "p85", "due", "chance", justify="llrrrr")
    for row in request_rows(overview, titles):
        table.add_row(escape(row.request), escape(row.team), row.done, row.p85, row.due, row.chance)
    console.print(table)
    for line in portfolio_lines(overview, calibration):
        indent = " " * (3 + len(line) - len(line.lstrip()))
        for part in textwrap.wrap(
            line.lstrip(), 80, initial_indent=indent, subsequent_indent=indent + "  "
        ):
            console.print(part, highlight=False, markup=False)
    console.print(
        "   `pmo-sync portfolio` lists them all; `pmo-sync when KEY` answers for one request.",
        highlight=False,
        markup=False,
    )
