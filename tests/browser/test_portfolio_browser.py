"""The portfolio page in a real browser, against the sandboxes' store.

What a reader sees is checked against `pmo-sync kpis --format json --no-refresh`
on the same store: every figure in the teams table, and every sparkline drawn
with one series of as many points as the stored series has in the window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pmo_sync.dashboard.filters import DEFAULT_WINDOW_DAYS

from ..dashboard_support import SANDBOX_DAY, SandboxStore, kpis_json, team_values
from .browsing import Browser

_ROWS = """
return Array.from(document.querySelectorAll("table[data-table=teams] tbody tr[data-team]"))
  .map((row) => ({
    team: row.dataset.team,
    cells: Object.fromEntries(Array.from(row.querySelectorAll("td[data-metric]"))
      .map((td) => [td.dataset.metric, td.textContent.trim()])),
    sparks: Array.from(row.querySelectorAll("figure.spark .plot")).map((plot) => plot.id),
  }));
"""


@pytest.fixture(scope="module")
def stored(sandbox_store: SandboxStore) -> dict[str, dict[str, list[tuple[str, Any]]]]:
    return team_values(kpis_json(sandbox_store))


def _days(value: float, shown: str | None = None) -> str:
    """The page's figure for a stored value the JSON gives rounded to two decimals: the value at
    one decimal, or, when the JSON's value is a tie (16.05: the store's may be 16.0499...), the
    page's own figure if it is either neighbour."""
    near = {f"{value - 0.005:.1f} d", f"{value + 0.005:.1f} d"}
    return shown if shown in near and len(near) == 2 else f"{value:.1f} d"


def test_every_sparkline_is_drawn_with_the_stored_series(
    browser: Browser, dashboard_url: str, stored: dict[str, dict[str, list[tuple[str, Any]]]]
) -> None:
    charts = {chart.id: chart for chart in browser.open(dashboard_url + "/")}
    rows = browser.script(_ROWS)
    assert [row["team"] for row in rows] == sorted(stored)
    first = (SANDBOX_DAY - timedelta(days=DEFAULT_WINDOW_DAYS - 1)).isoformat()
    for row in rows:
        metrics = stored[row["team"]]
        weekly = [v for w, v in metrics["throughput_week"] if w[:10] >= first]
        daily = [v for w, v in metrics["wip_day"] if w[:10] >= first]
        assert len(daily) == 89  # a day each of the refresh's window, 2026-08-24 to 11-20
        throughput, wip = (charts[id] for id in row["sparks"])
        for chart, expected in ((throughput, weekly), (wip, daily)):
            assert chart.kind == "sparkline"
            assert (chart.series, chart.expected_series) == (1, 1)
            assert chart.points == chart.expected_points == len(expected), row["team"]
            assert chart.width == 140  # drawn at its cell's size
        assert (
            browser.script("return document.getElementById(arguments[0]).data[0].y", wip.id)
            == daily
        )
    assert len(charts) == 2 * len(rows)


def test_the_figures_shown_are_the_kpis_json_values(
    browser: Browser, dashboard_url: str, stored: dict[str, dict[str, list[tuple[str, Any]]]]
) -> None:
    browser.open(dashboard_url + "/")
    rows = {row["team"]: row["cells"] for row in browser.script(_ROWS)}
    assert sorted(rows) == sorted(stored)
    dash = "\u2013"  # what a page shows for a value the store does not hold (no WIP, say)
    for team, cells in rows.items():
        metrics = stored[team]
        [(window, _)] = metrics["done_in_window"]
        assert window.endswith(SANDBOX_DAY.isoformat())
        shown = {}
        for metric in ("items", "wip", "done_in_window"):
            [(_, value)] = metrics.get(metric, [(None, None)])
            shown[metric] = dash if value is None else str(value)
        for metric in ("cycle_time_p85_days", "wip_age_max_days"):
            [(_, value)] = metrics.get(metric, [(None, None)])
            shown[metric] = dash if value is None else _days(value, cells.get(metric))
        assert {metric: cells[metric] for metric in shown} == shown, team
    # Every sandbox team has WIP now that the Azure DevOps teams work a portfolio, so no cell
    # shows the dash here (the loop above would expect it for a value the store lacks).
    assert all(cells["items"] != dash for cells in rows.values())


def test_the_team_filter_changes_the_url_and_the_rows(
    browser: Browser, dashboard_url: str, stored: dict[str, dict[str, list[tuple[str, Any]]]]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.open(dashboard_url + "/")
    team = sorted(stored)[1]
    Select(browser.driver.find_element(By.NAME, "team")).select_by_visible_text(team)
    WebDriverWait(browser.driver, 30).until(lambda d: "team=" in d.current_url)
    charts = browser.charts()
    assert browser.driver.current_url == f"{dashboard_url}/?team={team.replace(' ', '+')}"
    assert [row["team"] for row in browser.script(_ROWS)] == [team]
    assert len(charts) == 2
    selected = Select(browser.driver.find_element(By.NAME, "team")).first_selected_option
    assert selected.text == team
