"""The team and sprints pages in a real browser, against the sandboxes' store.

Every team's page and every Scrum team's sprints page is opened as a reader
opens it: every chart drawn with the series and points its figure holds, no
console error, and the figures in words and tables equal `pmo-sync kpis
--format json --no-refresh` on the same store. The window links change the
URL and what is drawn.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from ..dashboard_support import SandboxStore, kpis_json, team_values
from .browsing import Browser, DrawnChart

Values = dict[str, dict[str, list[tuple[str, Any]]]]

_CELLS = """
return Object.fromEntries(Array.from(document.querySelectorAll(arguments[0] + " [data-metric]"))
  .map((cell) => [cell.dataset.metric, cell.textContent.trim()]));
"""
_TEXT = "return document.querySelector(arguments[0]).textContent.replace(/\\s+/g, ' ').trim();"


@pytest.fixture(scope="module")
def rows(sandbox_store: SandboxStore) -> list[dict[str, Any]]:
    return kpis_json(sandbox_store)


@pytest.fixture(scope="module")
def stored(rows: list[dict[str, Any]]) -> Values:
    return team_values(rows)


def _assert_drawn(charts: list[DrawnChart], page: str) -> dict[str, list[DrawnChart]]:
    assert charts, page
    by_kind: dict[str, list[DrawnChart]] = defaultdict(list)
    for chart in charts:
        assert chart.series == chart.expected_series > 0, (page, chart)
        assert chart.points == chart.expected_points > 0, (page, chart)
        assert chart.width > 300, (page, chart)  # drawn at its grid cell's size
        by_kind[chart.kind or ""].append(chart)
    return by_kind


def _days(value: float, shown: str | None = None) -> str:
    """The page's figure for a stored value the JSON gives rounded to two decimals: the value at
    one decimal, or, when the JSON's value is a tie (16.05: the store's may be 16.0499...), the
    page's own figure if it is either neighbour."""
    near = {f"{value - 0.005:.1f} d", f"{value + 0.005:.1f} d"}
    return shown if shown in near and len(near) == 2 else f"{value:.1f} d"


def test_every_team_page_draws_its_charts_and_shows_the_stored_figures(
    browser: Browser, dashboard_url: str, stored: Values
) -> None:
    for team, metrics in sorted(stored.items()):
        charts = browser.open(f"{dashboard_url}/teams/{quote(team, safe='')}")
        kinds = _assert_drawn(charts, team)
        assert {"cfd", "scatter", "run", "histogram", "distribution"} <= set(kinds), team
        # the CFD stacks one series per stage the store counted
        stages = {m.split(":", 1)[1] for m in metrics if m.startswith("cfd_in_stage:")}
        [cfd] = kinds["cfd"]
        assert cfd.series == len(stages) and sorted(cfd.names) == sorted(stages), team
        # the percentile table is the stored percentiles of the refresh's window
        cells = browser.script(_CELLS, "table[data-table=percentiles]")
        expected = {}
        for p in (50, 70, 85, 95):
            [(_, value)] = metrics[f"cycle_time_p{p}_days"]
            expected[f"cycle_time_p{p}_days"] = _days(value, cells.get(f"cycle_time_p{p}_days"))
        assert cells == expected, team
        # the forecast in words: the stored p50/p85/p95 dates of the open items
        words = browser.script(_TEXT, "[data-forecast=when]")
        [(_, open_items)] = metrics["open_items"]
        dates = {p: metrics[f"forecast_done_p{p}_date"][0][1] for p in (50, 85, 95)}
        assert words == (
            f"{open_items} open items done by p50 {dates[50]}, p85 {dates[85]}, p95 {dates[95]}."
        ), team


def test_the_window_links_change_the_url_and_what_is_drawn(
    browser: Browser, dashboard_url: str, stored: Values
) -> None:
    url = f"{dashboard_url}/teams/{quote('Team Alpha', safe='')}"
    before = {c.names[0]: c for c in browser.open(url) if c.kind == "run"}
    browser.driver.find_element("link text", "30 days").click()
    after = {c.names[0]: c for c in browser.charts() if c.kind == "run"}
    assert urlsplit(browser.driver.current_url).query == "window=30"
    assert sorted(before) == sorted(after) and before
    for name, chart in after.items():
        assert chart.points < before[name].points, name
        assert chart.points in (30, 31), (name, chart.points)  # the 30 days, or their weeks' ends
    daily = [v for _, v in stored["Team Alpha"]["wip_day"]][-30:]
    wip = next(c for c in after.values() if c.points == 30 and "WIP" in c.names[0].upper())
    assert browser.script("return document.getElementById(arguments[0]).data[0].y", wip.id) == (
        daily
    )


_SPRINT_ROWS = """
return Array.from(document.querySelectorAll("table[data-table=sprints] tr[data-sprint]"))
  .map((row) => [row.dataset.sprint, Object.fromEntries(
    Array.from(row.querySelectorAll("[data-metric]"))
      .map((cell) => [cell.dataset.metric, cell.textContent.trim()]))]);
"""


def test_every_sprints_page_draws_its_charts_and_its_table_is_the_stored_sprints(
    browser: Browser, dashboard_url: str, rows: list[dict[str, Any]], stored: Values
) -> None:
    """The JSON names no team for a sprint: each team's table must show its own sprints,
    and all the tables together every stored sprint once, each with its stored numbers."""
    sprints: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        if row["scope"] == "sprint" and not row["metric"].startswith("burn"):
            sprints[row["scope_key"]][row["metric"]] = row["value"]
    seen: list[str] = []
    for team in sorted(stored):  # every sandbox team runs sprints
        # a year: the sandboxes' six months of sprints, none cut by the window
        charts = browser.open(f"{dashboard_url}/teams/{quote(team, safe='')}/sprints?window=365")
        kinds = _assert_drawn(charts, team)
        assert "velocity" in kinds, team
        shown = browser.script(_SPRINT_ROWS)
        assert shown, team
        for key, cells in shown:
            numbers = sprints[key]
            assert cells["committed_points"] == f"{numbers['committed_points']:g}", (team, key)
            assert cells["completed_points"] == f"{numbers['completed_points']:g}", (team, key)
            say_do = numbers.get("say_do")
            assert cells["say_do"] == ("\u2013" if say_do is None else f"{say_do * 100:.0f}%")
            seen.append(key)
    assert sorted(seen) == sorted(sprints)
