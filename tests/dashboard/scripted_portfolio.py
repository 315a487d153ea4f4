"""The scripted portfolio (`pmo_sync.sandbox.portfolio`) in a store, for the portfolio pages.

Built the way tests/e2e/test_portfolio_cli.py builds it: the script played into the sandbox
Jira and synced by the real connector (act one, a full sync on day 35; act two, an
incremental one on day 42), so the pages answer on day 42 (2030-02-18) what `pmo-sync
portfolio` and `pmo-sync when` print there. Jira's keys for the script's labels: I1 ABC-11,
I2 DEF-11, E1 ABC-12, E2 DEF-12, E3 DEF-13, E4 GHI-11, A3 ABC-15, B1 DEF-14, G1 GHI-12,
G2 GHI-13, B4 DEF-17; ABC-17 an epic made and done beside the script (the generated issues
hold no request: `JiraWorld`).

Two forecasts of DEF-12 are kept in its history, as two KPI refreshes would have kept them
(p85 2 March on 10 Feb, 9 March on 17 Feb: the rows `when` test writes), so its page has a
history to draw. The settings are the CLI test's portfolio.yaml (themes Growth 60%,
Reliability 30%) with Team Gamma run as a traditional project, as the script says it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.config import PortfolioConfig, ThemeConfig, ThemeMatch
from pmo_sync.portfolio.forecast import RequestForecast, request_forecasts
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.forecast_history import ForecastPoint, save_forecasts

from ..dashboard_support import built_once
from ..e2e.portfolio_world_jira import play_into

DAY_42 = date(2030, 2, 18)
THEMES = [
    ThemeConfig(name="Growth", target_share=60, match=ThemeMatch(labels=["growth"])),
    ThemeConfig(name="Reliability", target_share=30, match=ThemeMatch(labels=["reliability"])),
]
PORTFOLIO = PortfolioConfig(themes=THEMES, delivery={"Team Gamma": "traditional"})
HISTORY = (
    ForecastPoint(date(2030, 2, 10), None, date(2030, 3, 2), None, None, None, 3),
    ForecastPoint(date(2030, 2, 17), None, date(2030, 3, 9), None, None, None, 3),
)


@dataclass(frozen=True)
class ScriptedStore:
    url: str
    keys: dict[str, str]
    """The script's labels → Jira's keys."""
    tracker: str
    """The sandbox Jira's base URL the items' links start with (it is stopped by now)."""


def fill(engine: Engine) -> tuple[dict[str, str], str]:
    """The script played and synced twice into `engine`'s (migrated) store, DEF-12's two
    kept forecasts beside; the labels' keys and the tracker's URL."""
    keys, tracker = play_into(engine)
    assert save_forecasts(engine, [("acme-jira", "DEF-12", p) for p in HISTORY]) == 2
    return keys, tracker


def build(directory: Path) -> ScriptedStore:
    """The script in a SQLite store in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{directory / 'scripted.sqlite3'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        keys, tracker = fill(engine)
    finally:
        engine.dispose()
    (directory / "scripted.json").write_text(json.dumps({"keys": keys, "tracker": tracker}))
    return ScriptedStore(url, keys, tracker)


_built: list[ScriptedStore] = []


@pytest.fixture(scope="session")
def scripted_store(tmp_path_factory: pytest.TempPathFactory) -> ScriptedStore:
    """The scripted store, built once a run (`dashboard_support.built_once`: each conftest
    importing this fixture gets the first one's store; the sandbox it was synced from, and so
    the items' links, are the building worker's)."""
    if not _built:
        directory = built_once(tmp_path_factory, "scripted-portfolio", build)
        kept = json.loads((directory / "scripted.json").read_text())
        url = f"sqlite:///{directory / 'scripted.sqlite3'}"
        _built.append(ScriptedStore(url, kept["keys"], kept["tracker"]))
    return _built[0]


def forecasts(url: str) -> dict[str, RequestForecast]:
    """Each open request's forecast by key, as the CLI test takes them: `request_forecasts`
    on the store's items as kpis.yaml's defaults call it (10,000 trials, seed 0, 90 days)."""
    engine = make_engine(url, read_only=True)
    try:
        items = read_portfolio_inputs(engine, KpiConfig(), THEMES).items
    finally:
        engine.dispose()
    return {f.ref[1]: f for f in request_forecasts(items, DAY_42)}


def pct(f: RequestForecast) -> str:
    """The due probability as `when` prints it: a whole percent, halves up, 0 < p < 1 never
    0% or 100%."""
    p = f.due_probability
    assert p is not None
    whole = int(p * 100 + 0.5)
    return f"{99 if whole == 100 and p < 1 else 1 if whole == 0 and p > 0 else whole}%"


def iso(f: RequestForecast, p: int) -> str:
    day = f.dates[p]
    assert day is not None
    return day.isoformat()
