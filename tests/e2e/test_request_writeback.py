"""A request's forecast fields and stakeholder sentence, written into a sandbox Jira after a real
refresh: the scripted portfolio (tests/e2e/test_portfolio_refresh.py says what it holds on day
52) synced, refreshed with requests at the initiative and epic levels, pushed, pushed again.

What the script fixes, so the test can say it exactly: E2 (Team Beta) was due on day 50,
2030-02-26, two days before today, so no trial finishes it by then: its due date likelihood is
0 and its sentence says "due 2030-02-26, passed" (no longer a chance); it waits on B1 (Team
Beta, through A3) and G2 (Team Gamma, through B4), so its sentence names both, DEF before
GHI; it has three findings (two dependencies at risk, its due date passed), listed under the
sentence. I2 (Team Beta's
initiative) has no due date and waits on nothing (B1 and G2 block stories of E2, their nearest
request): no likelihood, and a sentence with its date alone. The dates are the forecast's (a
seeded Monte Carlo of the sandbox's generated throughput): the test reads them from the
refresh's answers and checks that the tracker holds exactly those, as ISO days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from pmo_sync.evaluation.refresh import refresh_kpis
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.config import PortfolioConfig, RequestsConfig
from pmo_sync.portfolio.forecast import RequestForecast
from pmo_sync.sandbox import portfolio as script
from pmo_sync.store.repository import Store
from pmo_sync.writeback.service import push_connector

from .portfolio_world_jira import JiraWorld

NOW = datetime(2030, 2, 28, 12, tzinfo=UTC)
"""Day 52 of the script."""
PORTFOLIO = PortfolioConfig(requests=RequestsConfig(levels=["initiative", "epic"]))
RULES = [
    RuleConfig(
        id="dependency-at-risk",
        rule="dependency_at_risk",
        params={"risks": ["late_for_due", "started_before_blocker"]},
    ),
    RuleConfig(id="due-date-passed", rule="due_date_passed"),
]
FIELDS = {
    "forecast_done_p50_date": ("Forecast (p50)", "date"),
    "forecast_done_p85_date": ("Forecast (p85)", "date"),
    "due_date_probability": ("Due date likelihood (%)", "number"),
}
FOOTER = (
    "Managed by pmo-sync: edited in place when its forecast or findings change, deleted when"
    " it is done and no finding remains. Changes made here by hand are overwritten."
)


@pytest.fixture
def world(engine: Engine) -> Iterator[JiraWorld]:
    """The script played into a sandbox Jira and synced twice; the three fields created and
    on every project's edit screen, as an admin does before enabling write-back."""
    store = Store(engine)
    with JiraWorld() as world:
        world.play(script.ACT_ONE)
        assert world.sync(store, full=True).status == "success"
        world.play(script.ACT_TWO)
        assert world.sync(store, full=False).status == "success"
        data = world.sandbox.dataset
        for name, kind in FIELDS.values():
            field_id = data.create_custom_field(name, kind)
            for project in ("ABC", "DEF", "GHI"):
                data.add_field_to_screen(field_id, project)
        yield world


def _iso(forecast: RequestForecast, percentile: int) -> str:
    day = forecast.dates[percentile]
    assert day is not None  # both requests finish within the horizon
    return day.isoformat()


@pytest.mark.slow
def test_a_refresh_and_push_writes_the_forecast_and_the_sentence_then_nothing(
    world: JiraWorld, engine: Engine
) -> None:
    keys: dict[str, Any] = world.keys
    beta, gamma = script.TEAMS["beta"], script.TEAMS["gamma"]
    refresh = refresh_kpis(engine, KpiConfig(), rules=RULES, now=NOW, portfolio=PORTFOLIO)
    assert refresh.portfolio is not None
    config = world.config(
        writeback={
            "enabled": True,
            "fields": {metric: name for metric, (name, _) in FIELDS.items()},
            "comments": True,
        }
    )

    first = push_connector(
        config,
        engine,
        refresh.run,
        refresh.findings,
        portfolio=refresh.portfolio.facts,
        now=NOW,
    )
    assert first.ok, first.errors
    assert first.done == first.planned > 0

    data = world.sandbox.dataset
    field_of = {f.name: f.id for f in data.custom_fields}
    forecasts = {f.ref[1]: f for f in refresh.portfolio.forecasts}
    e2, i2 = keys["E2"], keys["I2"]

    def fields(key: str) -> dict[str, Any]:
        return {
            metric: data.field_value(key, field_of[name]) for metric, (name, _) in FIELDS.items()
        }

    def bot_comments(key: str) -> list[str]:
        return [c.body for c in data.comments(key) if c.author_id == world.sandbox.account_id]

    e2_p85 = _iso(forecasts[e2], 85)
    assert fields(e2) == {
        "forecast_done_p50_date": _iso(forecasts[e2], 50),
        "forecast_done_p85_date": e2_p85,
        "due_date_probability": 0,
    }
    assert bot_comments(e2) == [
        "\n".join(
            [
                f"[pmo-sync] {e2}",
                f"When: 85% likely done by {e2_p85}; due 2030-02-26, passed;"
                f" waiting on {keys['B1']} of {beta}, {keys['G2']} of {gamma}",
                "3 governance findings:",
                f"- warning: {e2} waits on {keys['B1']} (through {keys['A3']}): it is forecast"
                f" to finish after {e2}'s due date 2030-02-26; {keys['A3']} is in progress and"
                " it has not started (rule dependency-at-risk)",
                f"- warning: {e2} waits on {keys['G2']} of {gamma} (through {keys['B4']}): it"
                f" is forecast to finish after {e2}'s due date 2030-02-26"
                " (rule dependency-at-risk)",
                f"- warning: {e2} was due on 2030-02-26 and is not done (rule due-date-passed)",
                "",
                FOOTER,
            ]
        )
    ]
    i2_p85 = _iso(forecasts[i2], 85)
    assert fields(i2) == {
        "forecast_done_p50_date": _iso(forecasts[i2], 50),
        "forecast_done_p85_date": i2_p85,
        "due_date_probability": None,
    }
    assert bot_comments(i2) == [f"[pmo-sync] {i2}\nWhen: 85% likely done by {i2_p85}\n\n{FOOTER}"]
    # A story (not a request) carries no forecast field.
    assert set(fields(keys["A3"]).values()) == {None}

    writes = len(world.sandbox.writes)
    again = push_connector(
        config,
        engine,
        refresh.run,
        refresh.findings,
        portfolio=refresh.portfolio.facts,
        now=NOW,
    )
    assert (again.planned, again.done, again.api_calls) == (0, 0, 0)
    assert len(world.sandbox.writes) == writes
