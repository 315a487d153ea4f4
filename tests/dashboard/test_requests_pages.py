"""The requests, request and strategy pages on the scripted portfolio (tests/dashboard/
scripted_portfolio.py): what `pmo-sync portfolio` and `pmo-sync when` print on day 42
(tests/e2e/test_portfolio_cli.py), shown on the pages, value for value.

What the script fixes is asserted as literal text: the requests under their initiatives,
their teams, themes, done and total items, due dates, the funnel stage, what is ahead in
rank, the dependencies, the releases, Gamma's milestones. The Monte Carlo dates and
probabilities are taken from `request_forecasts` on the same store, as the CLI test takes
them, and the pages must show exactly those.
"""

from __future__ import annotations

import csv
import html as htmllib
import importlib.util
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.reads_requests import AT_RISK_BELOW, PortfolioSettings, QueueIndex
from pmo_sync.dashboard.report import build_report, request_pages
from pmo_sync.domain import Stage
from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.config import DEFAULT_REQUEST_LEVELS, load_portfolio_config
from pmo_sync.portfolio.dependency_risk import dependency_risks
from pmo_sync.portfolio.forecast import RequestForecast, request_forecasts
from pmo_sync.portfolio.model import WorkItem
from pmo_sync.portfolio.overview import item_forecasts, when_answer
from pmo_sync.store.engine import make_engine

from ..cli_support import cli_state_restored, run_cli
from .scripted_portfolio import DAY_42, PORTFOLIO, ScriptedStore, fill, forecasts, iso, pct

SETTINGS = PortfolioSettings(portfolio=PORTFOLIO)
BENCH = Path(__file__).resolve().parents[2] / "bench" / "portfolio_forecast.py"
DASH = "\u2013"
"""What a page shows for no value."""


@pytest.fixture(scope="module")
def expected(scripted_store: ScriptedStore) -> dict[str, RequestForecast]:
    return forecasts(scripted_store.url)


@pytest.fixture(scope="module")
def client(scripted_store: ScriptedStore) -> Iterator[FlaskClient]:
    """The dashboard on the scripted store, read-only, on day 42 (the store has no KPI
    refresh, so the pages' day is the app's today)."""
    engine = make_engine(scripted_store.url, read_only=True)
    app = create_app(engine, today=lambda: DAY_42, settings=SETTINGS)
    yield app.test_client()
    engine.dispose()


def _get(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.get_data(as_text=True)


def _text(fragment: str) -> str:
    """A fragment's text as a reader sees it: tags gone, whitespace collapsed."""
    fragment = re.sub(r"<script.*?</script>", " ", fragment, flags=re.S)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _main(page: str) -> str:
    return page[page.index("<main>") : page.index("</main>")]


def _between(page: str, start: str, end: str) -> str:
    """The page from `start` to the first `end` after it."""
    at = page.index(start)
    return page[at : page.index(end, at)]


def _table(page: str, name: str) -> str:
    return _between(page, f'data-table="{name}"', "</table>")


def _request_rows(page: str) -> list[dict[str, str]]:
    """Each request row of the requests table: its key and every cell by `data-metric`."""
    rows = []
    for attrs, body in re.findall(r"<tr (data-request=[^>]*)>(.*?)</tr>", page, flags=re.S):
        cells = dict(re.findall(r'<td data-metric="([^"]+)"[^>]*>(.*?)</td>', body, flags=re.S))
        row = {name: _text(value) for name, value in cells.items()}
        row["key"] = re.search(r'data-request="([^"]+)"', attrs)[1]  # type: ignore[index]
        row["title"] = _text(re.search(r"<th[^>]*>(.*?)</th>", body, flags=re.S)[1])  # type: ignore[index]
        row["at_risk"] = "yes" if "data-at-risk" in body else "no"
        rows.append(row)
    return rows


def _groups(page: str) -> list[tuple[str, list[str]]]:
    """The initiatives' headings, each with its requests' keys, in page order."""
    groups = []
    for body in re.findall(r"<tbody data-initiative[^>]*>(.*?)</tbody>", page, flags=re.S):
        heading = _text(re.search(r'<tr class="group">(.*?)</tr>', body, flags=re.S)[1])  # type: ignore[index]
        groups.append((heading, re.findall(r'<tr data-request="([^"]+)"', body)))
    return groups


def _keys(page: str) -> list[str]:
    return [row["key"] for row in _request_rows(page)]


# -- /requests ------------------------------------------------------------------------------------


def test_the_requests_are_the_portfolio_commands_by_initiative(
    client: FlaskClient, expected: dict[str, RequestForecast]
) -> None:
    """The four open requests under their initiatives, with the CLI's dates and chances."""
    page = _get(client, "/requests")
    assert _groups(page) == [
        ("ABC-11 · Grow checkout conversion", ["ABC-12", "DEF-12"]),
        ("DEF-11 · Keep the platform reliable", ["DEF-13", "GHI-11"]),
    ]
    rows = {row["key"]: row for row in _request_rows(page)}
    facts = {  # key: title, teams, theme, done/total, due
        "ABC-12": ("One-page checkout", "Team Alpha", "Growth", "1/4", "2030-03-09"),
        "DEF-12": ("Saved payment methods", "Team Alpha, Team Beta", "Growth", "0/3",
                   "2030-02-26"),
        "DEF-13": ("Zero-downtime deploys", "Team Beta", "Reliability", "1/2", "2030-03-08"),
        "GHI-11": ("Move to the new data centre", "Team Gamma", "Reliability", "1/3",
                   "2030-03-18"),
    }  # fmt: skip
    for key, (title, teams, theme, progress, due) in facts.items():
        row, f = rows[key], expected[key]
        assert (row["title"], row["teams"], row["theme"], row["progress"], row["due_date"]) == (
            f"{key} {title}",
            teams,
            theme,
            progress,
            due,
        ), key
        assert (row["p50"], row["p85"], row["p95"]) == (iso(f, 50), iso(f, 85), iso(f, 95)), key
        if f.due_probability is None:
            assert (row["due_probability"], row["at_risk"]) == (DASH, "no"), key
            continue
        risky = f.due_probability < AT_RISK_BELOW  # none is overdue on day 42
        assert row["due_probability"] == (f"at risk · {pct(f)}" if risky else pct(f)), key
        assert row["at_risk"] == ("yes" if risky else "no"), key
    at_risk = sum(
        1
        for f in expected.values()
        if f.due_probability is not None and f.due_probability < AT_RISK_BELOW
    )
    assert _text(re.search(r"<p data-summary>(.*?)</p>", page, flags=re.S)[1]).startswith(  # type: ignore[index]
        f"4 open requests as of 2030-02-18; {at_risk} at risk (less than 50% likely by the due "
        "date, or overdue). Forecasts from 10,000 trials"
    )
    # Every request links to its own page.
    assert 'href="/requests/acme-jira/DEF-12"' in page
    assert re.search(r'<a href="/requests"\s+aria-current="page">Requests</a>', page)


def test_team_theme_and_source_narrow_it_as_the_command_does(client: FlaskClient) -> None:
    assert _keys(_get(client, "/requests?team=Team+Beta")) == ["DEF-12", "DEF-13"]
    assert _keys(_get(client, "/requests?theme=growth")) == ["ABC-12", "DEF-12"]  # any case
    assert _keys(_get(client, "/requests?theme=Growth&team=Team+Beta")) == ["DEF-12"]
    assert _keys(_get(client, "/requests?source=acme-jira&theme=Reliability")) == [
        "DEF-13", "GHI-11"
    ]  # fmt: skip
    # The theme filter offers portfolio.yaml's themes, the team filter the items' teams.
    page = _get(client, "/requests?theme=Growth")
    theme_form = page[
        page.index("data-theme-filter") : page.index("</form>", page.index("data-theme-filter"))
    ]
    assert re.findall(r"<option(?: selected)?>([^<]+)</option>", theme_form) == [
        "Growth",
        "Reliability",
    ]
    assert "<option selected>Growth</option>" in theme_form
    team_select = page[
        page.index('<select name="team">') : page.index(
            "</select>", page.index('<select name="team">')
        )
    ]
    assert re.findall(r"<option>([^<]+)</option>", team_select) == [
        "Team Alpha",
        "Team Beta",
        "Team Gamma",
    ]
    # Unknown names are said and not applied.
    for url, notice in (
        ("/requests?team=Team+Omega", "No team is called “Team Omega”: showing every team."),
        ("/requests?theme=Speed", "No theme is called “Speed”: showing every theme."),
        ("/requests?source=nope", "No source is called “nope”: showing every source."),
    ):
        page = _get(client, url)
        assert notice in _text(page), url
        assert len(_keys(page)) == 4, url  # fmt: skip


def test_the_pages_answer_alike_on_both_databases(
    engine: Engine, expected: dict[str, RequestForecast]
) -> None:
    """The script synced into SQLite and PostgreSQL alike: the same requests, the same
    sentence for DEF-12 (the forecasts are the module's store's, the same script's)."""
    fill(engine)
    client = create_app(engine, today=lambda: DAY_42, settings=SETTINGS).test_client()
    assert _keys(_get(client, "/requests")) == ["ABC-12", "DEF-12", "DEF-13", "GHI-11"]
    e2 = expected["DEF-12"]
    page = _get(client, "/requests/acme-jira/DEF-12")
    assert f"85% likely done by {iso(e2, 85)}; due 2030-02-26: {pct(e2)} likely by then" in page
    assert "History: p85 moved from 2030-03-02 to 2030-03-09 since 2030-02-10." in _text(page)
    assert 'data-open="1" data-at-risk="1"' in _get(client, "/portfolio/strategy")


# -- /requests/<source>/<key> ---------------------------------------------------------------------


def test_a_request_page_says_what_when_says(
    client: FlaskClient, expected: dict[str, RequestForecast], scripted_store: ScriptedStore
) -> None:
    """DEF-12 (E2): the sentence, stage, progress, queue, blockers and history of `when`."""
    e2, e4 = expected["DEF-12"], expected["GHI-11"]
    p85, g2_p85 = e2.dates[85], e4.dates[85]
    assert p85 is not None and g2_p85 is not None
    page = _main(_get(client, "/requests/acme-jira/DEF-12"))
    text = _text(page)
    assert _text(re.search(r"<h1[^>]*>(.*?)</h1>", page)[1]) == "DEF-12 · Saved payment methods"  # type: ignore[index]
    assert _text(re.search(r"<p [^>]*data-sentence>(.*?)</p>", page, flags=re.S)[1]) == (  # type: ignore[index]
        f"85% likely done by {p85}; due 2030-02-26: {pct(e2)} likely by then; "
        "waiting on DEF-14 of Team Beta, GHI-13 of Team Gamma"
    )
    assert f'href="{scripted_store.tracker}/browse/DEF-12"' in page
    assert "Stage in intake (status To Do)" in text
    assert "Teams Team Alpha, Team Beta Theme Growth" in text
    when = _text(re.search(r"<ul [^>]*data-when>(.*?)</ul>", page, flags=re.S)[1])  # type: ignore[index]
    assert when == (
        f"Progress: 0 of 3 items done. Forecast: p50 {iso(e2, 50)}, p85 {p85}, "
        f"p95 {iso(e2, 95)}. History: p85 moved from 2030-03-02 to 2030-03-09 since 2030-02-10."
    )
    ahead = _text(re.search(r"<ul data-ahead>(.*?)</ul>", page, flags=re.S)[1])  # type: ignore[index]
    assert ahead == (
        "On Team Alpha: 3 items of higher-ranked requests: ABC-12 (3 items). "
        "On Team Beta: nothing; it is first in rank."
    )
    assert 'href="/requests/acme-jira/ABC-12"' in page
    late, g2_late = (p85 - date(2030, 2, 26)).days, (g2_p85 - date(2030, 2, 26)).days
    after_b4 = (
        f"; {(g2_p85 - p85).days} days after DEF-17's forecast (p85) {p85}" if g2_p85 > p85 else ""
    )
    waiting = [
        [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
        for row in re.findall(r"<tr data-blocker=.*?</tr>", _table(page, "waiting-on"), flags=re.S)
    ]
    assert waiting == [
        ["DEF-14 Vault API for saved cards", "Team Beta", "ABC-15", "at risk", p85.isoformat(),
         f"{late} days after DEF-12's due date 2030-02-26; ABC-15 is in progress while DEF-14 "
         "has not started"],
        ["GHI-13 Milestone: databases moved", "Team Gamma", "DEF-17", "at risk",
         g2_p85.isoformat(), f"{g2_late} days after DEF-12's due date 2030-02-26{after_b4}"],
    ]  # fmt: skip
    history = [
        _text(row)
        for row in re.findall(r"<tr data-made-on.*?</tr>", _table(page, "history"), flags=re.S)
    ]
    assert history == [
        f"2030-02-10 {DASH} 2030-03-02 {DASH} {DASH} {DASH} 3",
        f"2030-02-17 {DASH} 2030-03-09 {DASH} {DASH} {DASH} 3",
    ]
    # The epic page of the same key is linked, with its connector.
    assert 'href="/epics/DEF-12?source=acme-jira"' in page
    epic = _get(client, "/epics/DEF-12?source=acme-jira")
    assert '<a href="/requests/acme-jira/DEF-12" data-request-link>' in epic


def _blocks(page: str) -> list[list[str]]:
    return [
        [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
        for row in re.findall(r"<tr data-waiting=.*?</tr>", _table(page, "blocks"), flags=re.S)
    ]


def test_a_request_page_says_what_waits_on_it(
    client: FlaskClient, expected: dict[str, RequestForecast]
) -> None:
    """G2 (GHI-13, E4's milestone) blocks B4 (DEF-17, E2's): E4's page names it, at risk in
    `when DEF-12`'s words; E2's own B1 blocks its own A3; E1's A1 → A2 is resolved."""
    e2_p85, e4_p85 = expected["DEF-12"].dates[85], expected["GHI-11"].dates[85]
    assert e2_p85 is not None and e4_p85 is not None
    late = (e4_p85 - date(2030, 2, 26)).days
    after = f"; {(e4_p85 - e2_p85).days} days after DEF-17's forecast (p85) {e2_p85}"
    e4 = _get(client, "/requests/acme-jira/GHI-11")
    assert _blocks(e4) == [
        ["DEF-17 Card expiry reminders", "Team Beta", "DEF-12", "GHI-13", "at risk",
         f"{late} days after DEF-12's due date 2030-02-26" + (after if e4_p85 > e2_p85 else "")],
    ]  # fmt: skip
    assert 'href="/requests/acme-jira/DEF-12"' in _table(e4, "blocks")
    assert [row[:4] for row in _blocks(_get(client, "/requests/acme-jira/DEF-12"))] == [
        ["ABC-15 Offer saved cards at checkout", "Team Alpha", "DEF-12", "DEF-14"]
    ]
    e1 = _get(client, "/requests/acme-jira/ABC-12")
    assert _blocks(e1) == [] and "Nothing waits on it." in _table(e1, "blocks")


def test_the_history_chart_draws_the_kept_forecasts_and_the_due_date(client: FlaskClient) -> None:
    """The kept rows have p85 only (no p50: nothing to draw for it) and the due date."""
    page = _get(client, "/requests/acme-jira/DEF-12")
    figure = json.loads(
        htmllib.unescape(
            re.search(r'data-figure-for="forecast-history">(.*?)</script>', page, flags=re.S)[1]
        )  # type: ignore[index]
    )
    assert [(t["name"], t["x"], t["y"]) for t in figure["data"]] == [
        ("p85", ["2030-02-10", "2030-02-17"], ["2030-03-02", "2030-03-09"]),
        ("due date", ["2030-02-10", "2030-02-17"], ["2030-02-26", "2030-02-26"]),
    ]
    assert 'data-chart-kind="forecast-history" data-series="2" data-points="4"' in page


def test_a_done_request_an_unknown_key_and_a_story(client: FlaskClient) -> None:
    """ABC-17 (made beside the script, done on day 30) says its day; a key in any case finds
    its request; an unknown key or a story (not a request) is a 404 that says so, its text
    escaped."""
    done = _text(_main(_get(client, "/requests/acme-jira/ABC-17")))
    assert "Done on 2030-02-06." in done and "Stage done (status Done)" in done
    assert "data-sentence" not in _get(client, "/requests/acme-jira/ABC-17")
    lower = _main(_get(client, "/requests/acme-jira/def-12"))
    assert '<h1 data-request="DEF-12">' in lower
    for url, key in (
        ("/requests/acme-jira/NOPE-1", "NOPE-1"),
        ("/requests/acme-jira/ABC-15", "ABC-15"),
        ("/requests/other/DEF-12", "DEF-12"),
    ):
        assert f"has no request with the key “{key}”" in _text(_get(client, url, 404)), url
    hostile = _get(client, "/requests/acme-jira/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404)
    assert "<script>alert(1)" not in hostile
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile


# -- /portfolio/strategy --------------------------------------------------------------------------


def _cells(table: str, row_attr: str) -> dict[str, list[str]]:
    rows = {}
    for name, body in re.findall(rf'<tr {row_attr}="([^"]+)"[^>]*>(.*?)</tr>', table, flags=re.S):
        rows[name] = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, flags=re.S)]
    return rows


def test_the_strategy_page_shows_themes_pairs_releases_and_schedule(
    client: FlaskClient, expected: dict[str, RequestForecast]
) -> None:
    page = _main(_get(client, "/portfolio/strategy"))
    themes = _cells(_table(page, "themes"), "data-theme")
    # Open requests on day 42: Growth E1, E2 (2 of 4: 50%, 10 points under its 60%),
    # Reliability E3, E4 (50%, 20 over its 30%), none without a theme (the generated issues
    # beside the script hold no request: `JiraWorld`).
    assert [cells[0] for cells in themes.values()] == ["60%", "30%", "no target"]
    assert [cells[3] for cells in themes.values()] == [
        "50% (-10 points)", "50% (+20 points)", "0%"
    ]  # fmt: skip
    assert list(themes) == ["Growth", "Reliability", "No theme"]
    assert "The targets leave 10% to no theme." in _text(page)
    # Team to team: B1 (Beta) blocks A3 (Alpha), G2 (Gamma) blocks B4 (Beta), both at risk;
    # A1 → A2 and G1 → B2 are resolved, so no other pair has an open one.
    matrix = re.findall(
        r'<tr data-blocker-team="([^"]+)">.*?</tr>', _table(page, "dependency-matrix"), flags=re.S
    )
    assert matrix == ["Team Alpha", "Team Beta", "Team Gamma"]
    cells = re.findall(
        r'data-waiting-team="([^"]+)" data-open="(\d+)" data-at-risk="(\d+)"',
        _table(page, "dependency-matrix"),
    )
    opened = {(i // 3, w): (int(o), int(r)) for i, (w, o, r) in enumerate(cells) if o != "0"}
    assert opened == {(1, "Team Alpha"): (1, 1), (2, "Team Beta"): (1, 1)}
    e2_p85, e4_p85 = expected["DEF-12"].dates[85], expected["GHI-11"].dates[85]
    assert e2_p85 is not None and e4_p85 is not None
    at_risk = re.findall(
        r'<tr data-blocker="([^"]+)" data-waiting="([^"]+)">.*?<td class="date">([^<]+)</td>',
        _table(page, "dependencies-at-risk"),
        flags=re.S,
    )
    assert at_risk == [("DEF-14", "ABC-15", str(e2_p85)), ("GHI-13", "DEF-17", str(e4_p85))]
    # Releases August to January, as the command prints them.
    assert _cells(_table(page, "releases"), "data-release-team") == {
        "Team Alpha": ["1 release shipped (0.2 a month: 0, 0, 0, 0, 0, 1)"],
        "Team Beta": ["0 releases shipped (0.0 a month: 0, 0, 0, 0, 0, 0)"],
        "All teams": ["1 release shipped (0.2 a month: 0, 0, 0, 0, 0, 1)"],
    }
    # Gamma, the traditional project, first: G1 (due day 38 after its slip from 30, done day
    # 39) missed; G2 (day 56) and G3 (day 70) pending. Its dated items G1 (+1, done), G2, G3
    # and E4 (by E4's p85): the median is E4's p85 minus day 70 (2030-03-18). The target
    # moves: E1 40 → 47 → 54 → 61 (Alpha), E3 45 → 60 (Beta), G1 30 → 38 (Gamma).
    schedule = _cells(_table(page, "schedule"), "data-schedule-team")
    assert list(schedule) == ["Team Gamma", "Team Alpha", "Team Beta"]
    gamma = schedule["Team Gamma"]
    assert gamma[0] == "traditional"
    median = (e4_p85 - date(2030, 3, 18)).days
    assert gamma[-3:] == [
        f"median +{median} d; 4 of 4 late",
        "0 met, 1 missed, 2 pending (0% on time)",
        "1 move later, 8 days in all (1 item)",
    ]
    assert schedule["Team Alpha"][0] == "scrum" and schedule["Team Alpha"][-2] == DASH
    assert schedule["Team Alpha"][-1] == "3 moves later, 21 days in all (1 item)"
    assert schedule["Team Beta"][-1] == "1 move later, 15 days in all (1 item)"
    # The theme chart's bars are the table's shares, the marks the targets.
    assert 'data-chart-kind="themes" data-series="4" data-points="12"' in page
    assert 'data-chart-kind="releases" data-series="2" data-points="12"' in page
    # The trend: six periods of 14 days ending on day 42. Before the script's first day
    # (2030-01-07) every item in progress was the generated data's, aligned to no theme.
    block = _between(page, 'data-figure-for="theme-trend">', "</script>")
    trend = json.loads(htmllib.unescape(block.split(">", 1)[1]))["data"]
    assert [t["name"] for t in trend] == ["Growth", "Reliability", "No theme"]
    assert trend[0]["x"] == [
        "2029-12-10", "2029-12-24", "2030-01-07", "2030-01-21", "2030-02-04", "2030-02-18"
    ]  # fmt: skip
    assert [t["y"][:3] for t in trend] == [[0.0] * 3, [0.0] * 3, [100.0] * 3]
    assert all(abs(sum(t["y"][i] for t in trend) - 100) < 1e-9 for i in range(6))
    assert trend[0]["y"][3] > 0 and trend[1]["y"][3] > 0  # the script's epics started


def test_the_team_filter_narrows_the_strategy_page(client: FlaskClient) -> None:
    page = _main(_get(client, "/portfolio/strategy?team=Team+Beta"))
    assert list(_cells(_table(page, "releases"), "data-release-team")) == ["Team Beta"]
    assert list(_cells(_table(page, "schedule"), "data-schedule-team")) == ["Team Beta"]
    blockers = re.findall(r'<tr data-blocker="([^"]+)"', _table(page, "dependencies-at-risk"))
    assert blockers == ["DEF-14", "GHI-13"]  # Beta blocks one, waits on the other
    assert "No team is called “Nobody”" in _text(_get(client, "/portfolio/strategy?team=Nobody"))
    gamma = _main(_get(client, "/portfolio/strategy?team=Team+Gamma"))
    assert _cells(_table(gamma, "releases"), "data-release-team") == {}  # no "All teams"
    assert "No release planned for Team Gamma's items." in _text(gamma)


def test_the_kept_answers_say_what_when_answer_says_of_every_request(
    scripted_store: ScriptedStore,
) -> None:
    """`RequestReads.when` (from the day's indexes) equals `when_answer` for every request,
    open or done: what waits, what is ahead, the stage."""
    engine = make_engine(scripted_store.url, read_only=True)
    try:
        reads = create_app(engine, settings=SETTINGS).extensions["pmo_sync.requests"]
        computed = reads.computed(DAY_42)
        items = computed.inputs.items
        for ref, stored in computed.requests.items():
            assert reads.when(computed, ref) == when_answer(
                ref, items, computed.forecasts, computed.dependencies, DAY_42,
                stored.funnel_stage, SETTINGS.levels,
            ), ref  # fmt: skip
        waiting = {ref: len(reads.when(computed, ref).waiting_on) for ref in computed.requests}
        assert waiting[("acme-jira", "DEF-12")] == 2 and len(computed.requests) == 5
    finally:
        engine.dispose()


def test_the_answers_are_computed_once_per_day_and_store_state(
    scripted_store: ScriptedStore,
) -> None:
    """Pages of one day share one computation; another day computes again."""
    engine = make_engine(scripted_store.url, read_only=True)
    days = iter([DAY_42, DAY_42, DAY_42, date(2030, 2, 19)])
    try:
        app = create_app(engine, today=lambda: next(days), settings=SETTINGS)
        reads = app.extensions["pmo_sync.requests"]
        client = app.test_client()
        _get(client, "/requests")
        first = reads.computed(DAY_42)
        _get(client, "/portfolio/strategy")
        assert reads.computed(DAY_42) is first
        assert reads.computed(date(2030, 2, 19)) is not first
    finally:
        engine.dispose()


# -- the report -----------------------------------------------------------------------------------


def test_the_report_holds_the_requests_strategy_and_one_page_per_open_request(
    scripted_store: ScriptedStore, expected: dict[str, RequestForecast]
) -> None:
    engine = make_engine(scripted_store.url, read_only=True)
    try:
        written = build_report(
            engine,
            pages=[request_pages],
            now=datetime(2030, 2, 18, 12, tzinfo=UTC),
            settings=SETTINGS,
        )
    finally:
        engine.dispose()
    ids = re.findall(r'<article class="report-page" id="([^"]+)"', written.html)
    assert ids == [
        "requests",
        "strategy",
        *(f"request_page-acme-jira-{k}" for k in ("ABC-12", "DEF-12", "DEF-13", "GHI-11")),
    ]
    assert written.pages == 6
    # Links between the pages are the file's anchors; the sentence is the served page's.
    assert 'href="#request_page-acme-jira-DEF-12"' in written.html
    assert 'href="/requests' not in written.html
    e2 = expected["DEF-12"]
    start = written.html.index('id="request_page-acme-jira-DEF-12"')
    article = written.html[start : written.html.index("</article>", start)]
    assert f"85% likely done by {iso(e2, 85)}; due 2030-02-26: {pct(e2)} likely by then" in article
    assert "/epics/" not in article  # the file holds no page per epic


# -- the queue index: when_answer's walk, once for every request ---------------------------------


def _when_both(items: list[WorkItem], today: date, trials: int) -> list[tuple[object, object]]:
    """(`RequestReads`'s ahead, `when_answer`'s ahead) for every request of `items`."""
    forecasts = request_forecasts(items, today, trials=trials)
    by_ref = {item.ref: item for item in items}
    report = dependency_risks([], by_ref, item_forecasts(items, forecasts, today), today)
    index = QueueIndex(items, by_ref, today, DEFAULT_REQUEST_LEVELS)
    return [
        (index.ahead(f), when_answer(f.ref, items, forecasts, report, today, None).ahead)
        for f in forecasts
    ]


def test_the_queue_index_says_what_when_answer_says_for_every_request(
    scripted_store: ScriptedStore,
) -> None:
    """On the scripted store (E2 behind E1 on Alpha, first on Beta) and on the forecast
    bench's synthetic portfolio (60 requests over 20 teams, a fifth on two teams), the
    index and `when_answer` name the same requests ahead, with the same items."""
    engine = make_engine(scripted_store.url, read_only=True)
    try:
        items = read_portfolio_inputs(engine, KpiConfig(), PORTFOLIO.themes).items
    finally:
        engine.dispose()
    scripted = _when_both(items, DAY_42, 1000)
    assert len(scripted) == 4 and all(mine == theirs for mine, theirs in scripted)
    assert sum(len(theirs) for _, theirs in scripted) >= 5  # not vacuous: every team's queue
    spec = importlib.util.spec_from_file_location("forecast_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    synthetic = _when_both(bench.portfolio(3000, 60), bench.TODAY, 100)
    assert len(synthetic) > 50
    assert [mine for mine, _ in synthetic] == [theirs for _, theirs in synthetic]
    assert sum(1 for _, theirs in synthetic for a in theirs if a.requests) > 20


def test_a_request_nesting_another_queues_behind_its_last_own_owner() -> None:
    """Team T's backlog by rank: E1 (a), E2 (b), E3 (c), F1 (d), a feature under E2. E2's
    open stories belong to E2 (S3) and to F1 (S2), so E2 is done when F1's part is: ahead
    of it are E1's and E3's stories (2), not E1's alone, as `when_answer` says."""
    day = date(2030, 6, 3)

    def item(key: str, level: str, parent: str | None, rank: str | None, **dates: Any) -> WorkItem:
        done = dates.get("done")
        return WorkItem(
            ("s", key), "T", level, level if level != "feature" else "other",
            ("s", parent) if parent else None, Stage.DONE if done else Stage.TODO,
            created=date(2030, 1, 1), done=done, rank=rank,
        )  # fmt: skip

    items = [
        item("E1", "epic", None, "a"),
        item("E2", "epic", None, "b"),
        item("E3", "epic", None, "c"),
        item("F1", "feature", "E2", "d"),
        item("S1", "story", "E1", "a1"),
        item("S2", "story", "F1", "d1"),
        item("S3", "story", "E2", "b1"),
        item("S4", "story", "E3", "c1"),
        *(
            item(f"D{n}", "story", "E1", None, done=day - timedelta(days=n))
            for n in range(1, 30, 3)
        ),
    ]
    both = dict(zip(("E1", "E2", "E3", "F1"), _when_both(items, day, 100), strict=True))
    assert all(mine == theirs for mine, theirs in both.values())
    [ahead] = both["E2"][1]
    assert (ahead.team, ahead.items, ahead.requests) == (
        ("s", "T"), 2, ((("s", "E1"), 1), (("s", "E3"), 1))
    )  # fmt: skip


def test_request_types_make_the_requests_the_command_lists(
    scripted_store: ScriptedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """portfolio.yaml's `requests: {types: [Bug]}` makes the bugs the requests (their level
    is a story's: only their tracker type says so): the page lists the ones `pmo-sync
    portfolio --format csv` lists (the generated data's open bugs), with its dates."""
    config = tmp_path / "config"
    (config / "connectors").mkdir(parents=True)
    (config / "portfolio.yaml").write_text("requests:\n  types: [Bug]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", scripted_store.url)
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    with cli_state_restored():
        result = run_cli(["portfolio", "--today", "2030-02-18", "--format", "csv"])
    assert (result.exit_code, result.stderr) == (0, "")
    listed = [(r["key"], r["p85"]) for r in csv.DictReader(io.StringIO(result.stdout))]
    assert [key for key, _ in listed] == ["DEF-1", "DEF-7", "DEF-8"]
    portfolio, errors = load_portfolio_config(config)
    assert errors == []
    engine = make_engine(scripted_store.url, read_only=True)
    try:
        settings = PortfolioSettings(portfolio=portfolio)
        client = create_app(engine, today=lambda: DAY_42, settings=settings).test_client()
        rows = _request_rows(_get(client, "/requests"))
    finally:
        engine.dispose()
    assert [(r["key"], r.get("p85", "")) for r in rows] == [(key, p85 or "") for key, p85 in listed]
    assert "DEF-12" not in {key for key, _ in listed}  # the epics are not requests now
