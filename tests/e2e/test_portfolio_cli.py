"""`pmo-sync portfolio`, `portfolio backtest` and `when KEY` on the scripted portfolio.

The script (`pmo_sync.sandbox.portfolio`) is played into the sandbox Jira and synced by the
real connector (act one, a full sync on day 35; act two, an incremental one on day 42), and
the commands run in-process against that store, read-only, on day 42 (`--today 2030-02-18`).
Jira's keys for the script's labels: I1 ABC-11, I2 DEF-11, E1 ABC-12, E2 DEF-12, E3 DEF-13,
E4 GHI-11, A3 ABC-15, B1 DEF-14, G2 GHI-13; ABC-17 an epic made and done beside the script
(the generated issues hold no portfolio of their own: `JiraWorld`).

What the script fixes is asserted as literal text: which requests, under which initiative,
their teams, done and total items, due dates (E1 moved to day 61, 2030-03-09; E2 day 50,
02-26; E3 day 60, 03-08; E4 day 70, 03-18), the funnel stage, what is ahead in rank, the
dependencies. The Monte Carlo dates and probabilities come from the generated teams' history:
the tests take them from `request_forecasts` on the same store (its public signature, as
kpis.yaml's defaults call it: 10,000 trials, seed 0, 90 days) and check the commands print
exactly those, in the documented places.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.jira import JiraConnector
from pmo_sync import cli
from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.backtest import Every, backtest, calibration_lines, error_line
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.forecast import RequestForecast, request_forecasts
from pmo_sync.sandbox import portfolio as script
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.forecast_history import ForecastPoint, save_forecasts
from pmo_sync.store.models import RequestForecastRow
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_connector

from ..cli_support import cli_state_restored, run_cli
from .portfolio_world_jira import JiraWorld, play_into

DAY_42 = date(2030, 2, 18)
TODAY = ("--today", "2030-02-18")
PORTFOLIO_YAML = (
    "themes:\n"
    "  Growth:\n    target_share: 60\n    match: {labels: [growth]}\n"
    "  Reliability:\n    target_share: 30\n    match: {labels: [reliability]}\n"
)
THEMES = [
    ThemeConfig(name="Growth", target_share=60, match=ThemeMatch(labels=["growth"])),
    ThemeConfig(name="Reliability", target_share=30, match=ThemeMatch(labels=["reliability"])),
]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """A SQLite store of the script and a config dir with its themes, made once."""
    root = tmp_path_factory.mktemp("portfolio-cli")
    url = f"sqlite:///{root / 'store.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    keys, _ = play_into(engine)
    engine.dispose()
    config = root / "config"
    (config / "connectors").mkdir(parents=True)
    (config / "portfolio.yaml").write_text(PORTFOLIO_YAML, encoding="utf-8")
    yield config, url, keys


@pytest.fixture
def env(
    played: tuple[Path, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The played store and config for the commands, at a terminal's 80 columns."""
    config, url, keys = played
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", url)
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    monkeypatch.setattr(cli.out, "width", 80)
    monkeypatch.setattr(cli.err, "width", 80)
    with cli_state_restored():
        yield keys


def _forecasts(url: str) -> dict[str, RequestForecast]:
    engine = make_engine(url)
    try:
        items = read_portfolio_inputs(engine, KpiConfig(), THEMES).items
    finally:
        engine.dispose()
    return {f.ref[1]: f for f in request_forecasts(items, DAY_42)}


def _pct(f: RequestForecast) -> str:
    """The due probability as printed: a whole percent, halves up, 0 < p < 1 never 0 or 100."""
    p = f.due_probability
    assert p is not None
    whole = int(p * 100 + 0.5)
    return f"{99 if whole == 100 and p < 1 else 1 if whole == 0 and p > 0 else whole}%"


def _iso(f: RequestForecast, p: int) -> str:
    day = f.dates[p]
    assert day is not None
    return day.isoformat()


def test_portfolio_at_80_columns(env: dict[str, str], played: Any) -> None:
    f = _forecasts(played[1])
    assert sorted(f) == ["ABC-12", "DEF-12", "DEF-13", "GHI-11"]  # E1, E2, E3, E4
    result = run_cli(["portfolio", *TODAY])
    assert (result.exit_code, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)

    def request(key: str, title: str, done: str, due: str) -> list[str]:
        text = (
            f"      {done} done; p50 {_iso(f[key], 50)}, p85 {_iso(f[key], 85)}; "
            f"due {due}: {_pct(f[key])} likely by then"
        )
        return [f"    {key} · {title}", *_wrapped(text, 8)]

    # The script's requests under its initiatives (the generated issues hold no request).
    requests = [
        "Portfolio as of 2030-02-18: 4 open requests; forecasts from 10,000 trials of",
        "  each team's throughput",
        "",
        "Requests",
        "  ABC-11 · Grow checkout conversion",
        *request("ABC-12", "One-page checkout · Team Alpha", "1 of 4 items", "2030-03-09"),
        *request(
            "DEF-12",
            "Saved payment methods · Team Alpha, Team Beta",
            "0 of 3 items",
            "2030-02-26",
        ),
        "  DEF-11 · Keep the platform reliable",
        *request("DEF-13", "Zero-downtime deploys · Team Beta", "1 of 2 items", "2030-03-08"),
        *request(
            "GHI-11", "Move to the new data centre · Team Gamma", "1 of 3 items", "2030-03-18"
        ),
    ]
    assert lines[: len(requests)] == requests
    rest = "\n".join(lines[lines.index("") + 1 :])
    # Open requests on day 42: Growth E1, E2 (2 of 4: 50%, 10 points under its 60%),
    # Reliability E3, E4 (50%, 20 over its 30%), none without a theme.
    assert "requests 50% (-10 points)" in rest and "requests 50% (+20 points)" in rest
    assert "  No theme (no target): in progress 58%; done 57%; requests 0%" in lines
    # B1 (DEF-14) waits for nothing but blocks A3 (ABC-15, in progress since day 10): B1 is
    # E2's, so done by E2's p85, that many days after E2's due date 02-26.
    e2_p85 = f["DEF-12"].dates[85]
    assert e2_p85 is not None
    late = (e2_p85 - date(2030, 2, 26)).days
    dependencies = lines[lines.index("Dependencies at risk (blockers judged on their p85 date)") :]
    assert dependencies[:3] == [
        "Dependencies at risk (blockers judged on their p85 date)",
        f"  DEF-14 (Team Beta) blocks ABC-15 (Team Alpha), done by {e2_p85} at p85",
        f"    {late} days after DEF-12's due date 2030-02-26",
    ]
    assert "    Team Beta → Team Alpha: 1 open, 1 at risk" in dependencies
    assert "    Team Gamma → Team Beta: 1 open, 1 at risk" in dependencies
    # Releases August to January: 2030.1 shipped on day 19 (01-26) by Alpha; 2030.2 on day
    # 31 (02-07), after the window; Jira's first sync saw both released: no plan, no slip.
    assert lines[-4:] == [
        "Releases, 2029-08-01 to 2030-01-31 (shipped per month, oldest first)",
        "  Team Alpha: 1 release shipped (0.2 a month: 0, 0, 0, 0, 0, 1)",
        "  Team Beta: 0 releases shipped (0.0 a month: 0, 0, 0, 0, 0, 0)",
        "  All teams: 1 release shipped (0.2 a month: 0, 0, 0, 0, 0, 1)",
    ]


def _wrapped(text: str, indent: int) -> list[str]:
    import textwrap

    return textwrap.wrap(
        text.strip(),
        80,
        initial_indent=" " * (indent - 2),
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def test_portfolio_csv_is_the_requests_and_json_the_whole(env: dict[str, str], played: Any) -> None:
    f = _forecasts(played[1])
    result = run_cli(["portfolio", *TODAY, "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(cli.portfolio.REQUEST_KEYS)
    assert [(r["initiative"], r["key"], r["theme"], r["teams"], r["items_done"], r["items"],
             r["due_date"]) for r in rows] == [
        ("ABC-11", "ABC-12", "Growth", "Team Alpha", "1", "4", "2030-03-09"),
        ("ABC-11", "DEF-12", "Growth", "Team Alpha; Team Beta", "0", "3", "2030-02-26"),
        ("DEF-11", "DEF-13", "Reliability", "Team Beta", "1", "2", "2030-03-08"),
        ("DEF-11", "GHI-11", "Reliability", "Team Gamma", "1", "3", "2030-03-18"),
    ]  # fmt: skip
    for row in rows:
        forecast = f[row["key"]]
        assert (row["p50"], row["p85"], row["p95"]) == tuple(
            _iso(forecast, p) for p in (50, 85, 95)
        )
        assert row["due_probability"] == (
            "" if forecast.due_probability is None else str(forecast.due_probability)
        )
    document = json.loads(run_cli(["portfolio", *TODAY, "--format", "json"]).stdout)
    assert list(document) == ["today", "requests", "strategy", "dependencies", "team_pairs",
                              "releases"]  # fmt: skip
    assert [r["key"] for r in document["requests"]] == [r["key"] for r in rows]
    assert document["requests"][1]["teams"] == ["Team Alpha", "Team Beta"]
    at_risk = [(d["blocker"], d["waiting"]) for d in document["dependencies"]
               if d["status"] == "at_risk"]  # fmt: skip
    assert at_risk == [
        ("acme-jira:DEF-14", "acme-jira:ABC-15"),
        ("acme-jira:GHI-13", "acme-jira:DEF-17"),
    ]
    growth = document["strategy"]["window"]["themes"][0]
    assert (growth["theme"], growth["requests_open"]["amount"]) == ("Growth", 2)


def test_team_and_theme_narrow_it_and_wrong_names_are_one_line(env: dict[str, str]) -> None:
    beta = run_cli(["portfolio", *TODAY, "--team", "Team Beta", "--format", "csv"])
    assert [r["key"] for r in csv.DictReader(io.StringIO(beta.stdout))] == [
        "DEF-12", "DEF-13"
    ]  # fmt: skip
    growth = run_cli(["portfolio", *TODAY, "--theme", "growth", "--format", "csv"])
    assert [r["key"] for r in csv.DictReader(io.StringIO(growth.stdout))] == ["ABC-12", "DEF-12"]
    table = run_cli(["portfolio", *TODAY, "--team", "Team Beta"]).stdout.splitlines()
    assert table[:2] == [
        "Portfolio of 'Team Beta' as of 2030-02-18: 2 open requests; forecasts from",
        "  10,000 trials of each team's throughput",
    ]
    assert table[-2:] == [
        "Releases, 2029-08-01 to 2030-01-31 (shipped per month, oldest first)",
        "  Team Beta: 0 releases shipped (0.0 a month: 0, 0, 0, 0, 0, 0)",
    ]
    omega = run_cli(["portfolio", "--team", "Team Omega"])
    assert (omega.exit_code, omega.stdout) == (2, "")
    assert omega.stderr == "no team 'Team Omega' (teams: Team Alpha, Team Beta, Team Gamma)\n"
    speed = run_cli(["portfolio", "--theme", "Speed"])
    assert (speed.exit_code, speed.stdout) == (2, "")
    assert speed.stderr == "no theme 'Speed' (themes: Growth, Reliability)\n"
    xml = run_cli(["portfolio", "--format", "xml"])
    assert (xml.exit_code, xml.stderr) == (2, "--format must be table, json or csv, not 'xml'\n")


def _when_e2(f: dict[str, RequestForecast], url: str) -> list[str]:
    """What `when DEF-12` (E2) says on day 42, every fact from the script but the dates."""
    e2 = f["DEF-12"]
    p85 = e2.dates[85]
    assert p85 is not None
    late = (p85 - date(2030, 2, 26)).days
    g2_p85 = f["GHI-11"].dates[85]
    assert g2_p85 is not None
    g2_late = (g2_p85 - date(2030, 2, 26)).days
    # B4 (DEF-17) is judged by its request E2's p85: G2 finishing after it is a second risk.
    after_b4 = (
        f"; {(g2_p85 - p85).days} days after DEF-17's forecast (p85) {p85}" if g2_p85 > p85 else ""
    )
    return [
        "DEF-12 · Saved payment methods (acme-jira, epic)",
        f"{url}/browse/DEF-12",
        "Stage: in intake (status To Do).",
        "Progress: 0 of 3 items done.",
        # Alpha's backlog: E1's three open stories (A2, A4, A5) rank before E2's A3.
        *_wrapped(
            "  Ahead of it in rank on Team Alpha: 3 items of higher-ranked requests: "
            "ABC-12 (3 items).",
            2,
        ),
        "Ahead of it on Team Beta: nothing; it is first in rank.",
        # B1 → A3 and G2 → B4 (G2 is E4's: done by E4's p85).
        *_wrapped(
            f"  Waiting on DEF-14 of Team Beta (at risk: {late} days after DEF-12's due date "
            "2030-02-26; ABC-15 is in progress while DEF-14 has not started).",
            2,
        ),
        *_wrapped(
            f"  Waiting on GHI-13 of Team Gamma (at risk: {g2_late} days after DEF-12's due "
            f"date 2030-02-26{after_b4}).",
            2,
        ),
        f"Forecast: p50 {_iso(e2, 50)}, p85 {p85}, p95 {_iso(e2, 95)}.",
        *_wrapped(
            f"  In short: 85% likely done by {p85}; due 2030-02-26: {_pct(e2)} likely by then; "
            "waiting on DEF-14 of Team Beta, GHI-13 of Team Gamma.",
            2,
        ),
    ]


def test_when_says_where_a_request_is_and_when_it_will_be_done(
    env: dict[str, str], played: Any
) -> None:
    result = run_cli(["when", "DEF-12", *TODAY])
    assert (result.exit_code, result.stderr) == (0, "")
    url = result.stdout.splitlines()[1].removesuffix("/browse/DEF-12")
    assert result.stdout.splitlines() == _when_e2(_forecasts(played[1]), url)


def test_when_says_how_the_stored_forecast_moved(env: dict[str, str], played: Any) -> None:
    # Two refreshes kept DEF-12's forecast: p85 2 March on 10 Feb, 9 March on 17 Feb (the
    # rows are written here; the played store was never refreshed). `when` prints the move of
    # p85 from the oldest row to the latest, since the oldest's day, before "In short"; the
    # rest is as without a history. The rows are removed after: the store is the module's.
    def row(made_on: date, p85: date) -> tuple[str, str, ForecastPoint]:
        return ("acme-jira", "DEF-12", ForecastPoint(made_on, None, p85, None, None, None, 3))

    engine = make_engine(played[1])
    try:
        kept = [row(date(2030, 2, 10), date(2030, 3, 2)), row(date(2030, 2, 17), date(2030, 3, 9))]
        assert save_forecasts(engine, kept) == 2
        result = run_cli(["when", "DEF-12", *TODAY])
    finally:
        with engine.begin() as conn:
            conn.execute(RequestForecastRow.__table__.delete())
        engine.dispose()
    assert (result.exit_code, result.stderr) == (0, "")
    url = result.stdout.splitlines()[1].removesuffix("/browse/DEF-12")
    expected = _when_e2(_forecasts(played[1]), url)
    short = next(i for i, line in enumerate(expected) if line.startswith("In short"))
    history = "History: p85 moved from 2030-03-02 to 2030-03-09 since 2030-02-10."
    assert result.stdout.splitlines() == [*expected[:short], history, *expected[short:]]


def test_when_a_done_request_says_the_day(env: dict[str, str]) -> None:
    # ABC-17, an epic made beside the script and done on day 30: no forecast, no queue.
    result = run_cli(["when", "ABC-17", *TODAY])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[2:] == ["Stage: done (status Done).", "Done on 2030-02-06."]


def test_when_an_unknown_key_a_story_or_an_initiative_is_one_line_exit_2(
    env: dict[str, str],
) -> None:
    unknown = run_cli(["when", "NOPE-1", *TODAY])
    assert (unknown.exit_code, unknown.stdout) == (2, "")
    assert unknown.stderr == "no item 'NOPE-1' in the store (`pmo-sync export` lists them)\n"
    story = run_cli(["when", "ABC-15", *TODAY])  # A3, a story of E2
    assert (story.exit_code, story.stdout) == (2, "")
    assert story.stderr.replace("\n", " ").strip() == (
        "ABC-15 is a story, not a request (requests are the epic or feature level items): "
        "ask about its request, `pmo-sync when DEF-12`"
    )
    initiative = run_cli(["when", "ABC-11", *TODAY])  # I1
    assert initiative.exit_code == 2
    assert initiative.stderr.replace("\n", " ").strip() == (
        "ABC-11 is an initiative, not a request (requests are the epic or feature level "
        "items): it is under no request"
    )
    wrong = run_cli(["when", "DEF-12", "--connector", "nope", *TODAY])
    assert (wrong.exit_code, wrong.stderr) == (
        2,
        "no synced connector named 'nope': run `pmo-sync sync` first\n",
    )


def test_backtest_prints_one_line_per_percentile_then_the_error(
    env: dict[str, str], played: Any
) -> None:
    engine = make_engine(played[1])
    try:
        items = read_portfolio_inputs(engine, KpiConfig(), THEMES).items
    finally:
        engine.dispose()
    result = run_cli(["portfolio", "backtest", *TODAY])
    assert (result.exit_code, result.stderr) == (0, "")
    # The default: every 7 days over 26 weeks, 1,000 trials a day (backtest's own default).
    report = backtest(items, DAY_42, Every(7, 26))
    expected = [*calibration_lines(report), error_line(report)]
    assert result.stdout.splitlines() == expected
    assert [line.split(":")[0] for line in expected] == ["p50", "p85", "p95", "p50 error"]
    # --weeks 4 --step-days 14: 28 days back, every 14 days: day 14 and day 28 (02-04, 01-21).
    short = run_cli(["portfolio", "backtest", *TODAY, "--weeks", "4", "--step-days", "14"])
    two = backtest(items, DAY_42, Every(14, 2))
    assert two.days == (date(2030, 1, 21), date(2030, 2, 4))
    assert short.stdout.splitlines() == [*calibration_lines(two), error_line(two)]


def test_two_connectors_sharing_a_key_need_connector_on_both_databases(
    engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script synced under two connector names: DEF-12 is in both. On SQLite and
    PostgreSQL alike, `when` asks which, and with `--connector` answers for that one."""
    with JiraWorld() as world:
        world.play(script.ACT_ONE)
        world.sync(Store(engine), full=True)
        world.play(script.ACT_TWO)
        world.sync(Store(engine), full=False)
        moment = world.sync_moment()
        with JiraConnector(world.config(name="acme-jira-2")) as connector:
            assert sync_connector(connector, Store(engine, clock=lambda: moment)).status == (
                "success"
            )
        url = world.sandbox.url
    config = tmp_path / "config"
    (config / "connectors").mkdir(parents=True)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", store_url)
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    monkeypatch.setattr(cli.out, "width", 80)
    with cli_state_restored():
        both = run_cli(["when", "DEF-12", *TODAY])
        assert (both.exit_code, both.stdout) == (2, "")
        assert both.stderr == (
            "2 connectors have an item 'DEF-12' (acme-jira, acme-jira-2): give --connector\n"
        )
        one = run_cli(["when", "DEF-12", "--connector", "acme-jira-2", *TODAY])
    assert one.exit_code == 0
    lines = one.stdout.splitlines()
    assert lines[:4] == [
        "DEF-12 · Saved payment methods (acme-jira-2, epic)",
        f"{url}/browse/DEF-12",
        "Stage: in intake (status To Do).",
        "Progress: 0 of 3 items done.",
    ]
    # Each connector's teams are their own ("Team Alpha (acme-jira-2)"), so E2 queues behind
    # E1 of its own connector only.
    assert "ABC-12 (3 items)" in one.stdout


def test_a_store_nothing_was_synced_into_says_so_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-only, like `findings`: no store file is created, and the line says what to do."""
    (tmp_path / "config" / "connectors").mkdir(parents=True)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'none.sqlite3'}")
    with cli_state_restored():
        for args in (["portfolio"], ["portfolio", "backtest"], ["when", "ABC-1"]):
            result = run_cli(args)
            assert (result.exit_code, result.stdout) == (0, ""), args
            assert result.stderr == (
                f"store {tmp_path / 'none.sqlite3'} does not exist: nothing has been synced "
                "there yet; run `pmo-sync sync`, or check PMO_SYNC_DATABASE_URL\n"
            ), args
    assert not (tmp_path / "none.sqlite3").exists()
