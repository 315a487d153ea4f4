"""The demo's portfolio section (`pmo_sync.demo.portfolio_section`) on a hand-built portfolio.

Today is Monday 2030-03-04. Team Alpha has three epics: E1 (Growth, due 03-15, p85 03-20,
40% likely by its due date), E2 (Reliability, due 04-30, p85 04-10, 97% likely) and E3 (no
theme, no due date, p85 05-02); Team Beta's epic B (due 03-08, 20% likely) has no items
under it. The forecasts are given (their arithmetic is tests/portfolio/test_forecast.py's):
the section orders them, words them and counts what the other answers hold. B-1 (Beta) blocks
A-1 (under E1), open; Beta's release R1 shipped two days after its plan.
"""

from __future__ import annotations

from datetime import date, timedelta

from rich.console import Console

from pmo_sync.demo.portfolio_section import (
    RequestRow,
    portfolio_lines,
    print_portfolio_answers,
    request_rows,
)
from pmo_sync.domain import Stage
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.forecast import RequestForecast, Scope
from pmo_sync.portfolio.model import Dependency, PortfolioRelease, WorkItem
from pmo_sync.portfolio.overview import PortfolioOverview, portfolio_overview

TODAY = date(2030, 3, 4)
LONG_AGO = TODAY - timedelta(days=200)
THEMES = [
    ThemeConfig(name="Growth", target_share=60, match=ThemeMatch(labels=["growth"])),
    ThemeConfig(name="Reliability", target_share=30, match=ThemeMatch(labels=["reliability"])),
]


def _epic(key: str, team: str, theme: str | None, due: date | None) -> WorkItem:
    return WorkItem(
        ("s", key), team, "epic", "epic", None, Stage.IN_PROGRESS, created=LONG_AGO,
        started=LONG_AGO, theme=theme, due_date=due,
    )  # fmt: skip


def _story(key: str, team: str, parent: str | None, theme: str | None) -> WorkItem:
    return WorkItem(
        ("s", key), team, "story", "story", ("s", parent) if parent else None,
        Stage.IN_PROGRESS, created=LONG_AGO, started=LONG_AGO, theme=theme,
        releases=("R1",) if team == "Team Beta" else (),
    )  # fmt: skip


ITEMS = [
    _epic("E1", "Team Alpha", "Growth", date(2030, 3, 15)),
    _epic("E2", "Team Alpha", "Reliability", date(2030, 4, 30)),
    _epic("E3", "Team Alpha", None, None),
    _epic("B", "Team Beta", None, date(2030, 3, 8)),
    _story("A-1", "Team Alpha", "E1", "Growth"),
    _story("A-2", "Team Alpha", "E3", None),
    _story("B-1", "Team Beta", None, None),
]


def _forecast(
    key: str, done: int, left: int, p85: date | None, due: date | None, chance: float | None
) -> RequestForecast:
    dates = {} if p85 is None else {50: p85 - timedelta(days=7), 85: p85, 95: p85 + timedelta(7)}
    return RequestForecast(
        ("s", key), "epic", Scope(done, left, 0.0, 0.0, left), (), {}, {}, None, due, dates,
        chance,
    )  # fmt: skip


FORECASTS = [
    _forecast("E1", 3, 5, date(2030, 3, 20), date(2030, 3, 15), 0.4),
    _forecast("E2", 8, 1, date(2030, 4, 10), date(2030, 4, 30), 0.9996),
    _forecast("E3", 0, 2, date(2030, 5, 2), None, None),
    _forecast("B", 0, 0, TODAY, date(2030, 3, 8), 0.2),
]


def _overview() -> PortfolioOverview:
    return portfolio_overview(
        ITEMS,
        FORECASTS,
        [Dependency(("s", "B-1"), ("s", "A-1"))],
        [PortfolioRelease("s", "R1", None, date(2030, 2, 10), date(2030, 2, 12))],
        THEMES,
        TODAY,
    )


TITLES = {("s", "E1"): "Self-service billing for enterprise customers", ("s", "E2"): "Uptime"}


def test_the_requests_least_likely_to_meet_their_due_date_come_first() -> None:
    """B (20%) before E1 (40%) before E2 (99.96%, shown 99%: never 100% unless certain), then
    E3, which has no due date; a long title is cut with an ellipsis at 24 characters."""
    assert request_rows(_overview(), TITLES) == [
        RequestRow("B", "Team Beta", "0/0", "2030-03-04", "2030-03-08", "20%"),
        RequestRow(
            "E1 Self-service billing fo…", "Team Alpha", "3/8", "2030-03-20", "2030-03-15", "40%"
        ),
        RequestRow("E2 Uptime", "Team Alpha", "8/9", "2030-04-10", "2030-04-30", "99%"),
        RequestRow("E3", "Team Alpha", "0/2", "2030-05-02", "-", "-"),
    ]
    assert [row.request for row in request_rows(_overview(), TITLES, limit=2)] == [
        "B",
        "E1 Self-service billing fo…",
    ]


def test_the_lines_say_the_themes_the_dependencies_the_releases_and_the_backtest() -> None:
    """Three items in progress the whole window, one each Growth (A-1), none (A-2, B-1): the
    work in progress is a third Growth, two thirds no theme; B-1 blocks A-1 across teams, and
    its p85 (B's, today) is before E1's due date, so it is open, not at risk; R1 shipped two
    days late, in February, one of the six whole months before March."""
    lines = portfolio_lines(_overview(), ["p85: 80% of 10 forecasts finished by their p85 date"])
    assert lines == [
        "work in progress by theme: Growth 33% (target 60%), Reliability 0% (target 30%), "
        "no theme 67%",
        "dependencies across teams: 1 open, 0 at risk",
        "releases: 1 shipped in 6 months, 0% on or before their planned date",
        "past forecasts, replayed weekly over 26 weeks:",
        "  p85: 80% of 10 forecasts finished by their p85 date",
    ]


def test_the_section_fits_80_columns() -> None:
    console = Console(width=80, record=True, color_system=None)
    print_portfolio_answers(console, 5, _overview(), TITLES, ["p85: 80% of 10 forecasts"])
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "5. The portfolio: when each request will be done, what puts it at risk" in text
    assert "   work in progress by theme: Growth 33% (target 60%), Reliability 0% (target" in text
