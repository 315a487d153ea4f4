"""The epics, epic and governance pages in a real browser, against the sandboxes' store.

The forecast dates a reader sees are those of `pmo-sync kpis --format json
--no-refresh`; every open finding `pmo-sync findings --format json` lists is
on the governance page with its key and link; the filters and the search
change the URL and what the page lists; no page logs a console error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..dashboard_support import SandboxStore, cli_on, kpis_json
from .browsing import Browser

_EPICS = """
return Array.from(document.querySelectorAll("table[data-table=epics] tbody tr[data-epic]"))
  .filter((row) => !row.hidden)
  .map((row) => ({
    key: row.dataset.epic,
    href: row.querySelector("th a").getAttribute("href"),
    dates: Object.fromEntries(Array.from(row.querySelectorAll("td[data-metric^=p]"))
      .map((td) => [td.dataset.metric, td.textContent.trim()])),
  }));
"""
_FINDINGS = """
return Array.from(document.querySelectorAll("table[data-table=findings] tbody tr[data-finding]"))
  .map((row) => {
    const key = row.querySelector("th[data-key]");
    const link = key.querySelector("a");
    return {key: key.dataset.key, href: link ? link.getAttribute("href") : null,
            team: row.children[3].textContent.trim(), severity: row.dataset.severity};
  });
"""


@pytest.fixture(scope="module")
def forecasts(sandbox_store: SandboxStore) -> dict[str, dict[str, str]]:
    """Epic → {p50, p85, p95} as `kpis --format json` renders the stored dates."""
    result: dict[str, dict[str, str]] = {}
    for row in kpis_json(sandbox_store):
        if row["scope"] == "epic" and row["metric"].startswith("forecast_done_p"):
            p = row["metric"][len("forecast_done_") : -len("_date")]
            result.setdefault(row["scope_key"], {})[p] = row["value"]
    return result


@pytest.fixture(scope="module")
def findings(sandbox_store: SandboxStore) -> list[dict[str, Any]]:
    result = cli_on(sandbox_store, "findings", "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_the_epics_forecasts_are_the_kpis_json_dates(
    browser: Browser, dashboard_url: str, forecasts: dict[str, dict[str, str]]
) -> None:
    assert browser.open(dashboard_url + "/epics") == []  # tables and bars, no chart
    rows = browser.script(_EPICS)
    assert forecasts and {r["key"] for r in rows} >= set(forecasts)
    for row in rows:
        if row["key"] in forecasts:
            assert row["dates"] == forecasts[row["key"]], row["key"]
        else:
            assert row["dates"] == {}  # the reason spans the three cells
    key = next(iter(forecasts))
    row = next(r for r in rows if r["key"] == key)
    browser.open(dashboard_url + row["href"])
    sentences = browser.script(
        "return Array.from(document.querySelectorAll('[data-forecast] li'))"
        ".map((li) => li.textContent.trim());"
    )
    assert sentences == [
        f"{p[1:]}% likely done by {forecasts[key][p]}" for p in ("p50", "p85", "p95")
    ]


def test_typing_hides_rows_and_the_search_goes_in_the_url(
    browser: Browser, dashboard_url: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.open(dashboard_url + "/epics")
    every = browser.script(_EPICS)
    box = browser.driver.find_element(By.NAME, "q")
    box.send_keys("GHI")
    shown = [r["key"] for r in browser.script(_EPICS)]
    assert shown and all(k.startswith("GHI-") for k in shown) and len(shown) < len(every)
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser.driver, 30).until(lambda d: "q=GHI" in d.current_url)
    browser.charts()
    assert browser.driver.current_url == f"{dashboard_url}/epics?q=GHI"
    assert [r["key"] for r in browser.script(_EPICS)] == shown


def test_every_open_finding_is_listed_with_its_link_and_the_filters_narrow_it(
    browser: Browser, dashboard_url: str, findings: list[dict[str, Any]]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.open(dashboard_url + "/governance")
    rows = browser.script(_FINDINGS)
    assert [(r["key"], r["href"]) for r in rows] == [(f["scope_key"], f["url"]) for f in findings]
    team = next(f["team"] for f in findings if f["severity"] == "info" and f["team"])
    Select(browser.driver.find_element(By.NAME, "team")).select_by_visible_text(team)
    WebDriverWait(browser.driver, 30).until(lambda d: "team=" in d.current_url)
    browser.charts()
    assert browser.driver.current_url == f"{dashboard_url}/governance?team={team.replace(' ', '+')}"
    rows = browser.script(_FINDINGS)
    assert [r["key"] for r in rows] == [f["scope_key"] for f in findings if f["team"] == team]
    Select(browser.driver.find_element(By.NAME, "severity")).select_by_value("info")
    browser.driver.find_element(By.CSS_SELECTOR, "form.search button").click()
    WebDriverWait(browser.driver, 30).until(lambda d: "severity=info" in d.current_url)
    browser.charts()
    assert [r["key"] for r in browser.script(_FINDINGS)] == [
        f["scope_key"] for f in findings if f["team"] == team and f["severity"] == "info"
    ]
    assert browser.script(_FINDINGS)  # that team has an info finding: the list is not empty
