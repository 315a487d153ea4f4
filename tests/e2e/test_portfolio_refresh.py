"""The KPI refresh computes the portfolio answers: request forecasts kept as values, and the
portfolio rules' findings, on a store each tracker filled with the scripted portfolio.

The script (`pmo_sync.sandbox.portfolio`) is played into each sandbox and synced twice (day 35,
day 42), as tests/e2e/test_portfolio_inputs.py does; then the store is refreshed on day 52
(2030-02-28, 12:00 UTC) with requests at the initiative and epic levels and a policy enabling
`dependency_at_risk` and `due_date_passed`. What it must say comes from the script:

- Open requests on day 52 (nothing is moved after day 42): I1, I2, E1..E4, so each has
  `remaining_items`, the p50 and p85 dates and `due_probability` stored under scope
  ``request``. Remaining items (tests/e2e/test_portfolio_inputs.py's scopes): E1 3 (A2, A4,
  A5), E2 3 (A3, B1, B4), E3 1 (B2), E4 2 (G2, G3); an initiative counts the work under its
  epics: I1 = E1 + E2 = 6, I2 = E3 + E4 = 3. The initiatives have no due date: their
  `due_probability` is None.
- Due dates on day 52: E1 61, E2 50, E3 60, E4 70 (their last SetDates): only E2 is past,
  2030-02-26 (day 50), two days late, so `due_date_passed` finds E2 alone.
- E2 waits (through its stories) on B1 and G2, both open. B1 → A3: A3 in progress since day 10
  while B1 has not started (started before blocker), and B1's forecast, E2's own p85, is after
  day 52 so after E2's due day 50 (late for due). G2 → B4: G2's forecast is E4's p85, after
  day 52 as well, so after E2's due day (late for due). A1 → A2 and G1 → B2 are resolved
  (their blockers done on days 12 and 39). The policy asks for these two risks only: whether
  G2 is also late for B4's forecast (E4's p85 after E2's) depends on each sandbox's generated
  throughput, not on the script (it is on Trello's, not on Jira's or Azure DevOps').
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from pmo_sync.evaluation.refresh import refresh_kpis
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.compute import value_date
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.config import PortfolioConfig, RequestsConfig
from pmo_sync.sandbox import portfolio as script
from pmo_sync.store.kpis import read_kpi_values
from pmo_sync.store.repository import Store

from .portfolio_world_ado import AdoWorld
from .portfolio_world_jira import JiraWorld
from .portfolio_world_trello import TrelloWorld

START = date(2030, 1, 7)
WORLDS: dict[str, Any] = {"jira": JiraWorld, "azure_devops": AdoWorld, "trello": TrelloWorld}
NOW = datetime(2030, 2, 28, 12, tzinfo=UTC)
"""Day 52."""
PORTFOLIO = PortfolioConfig(requests=RequestsConfig(levels=["initiative", "epic"]))
RULES = [
    RuleConfig(
        id="dependency-at-risk",
        rule="dependency_at_risk",
        params={"risks": ["late_for_due", "started_before_blocker"]},
    ),
    RuleConfig(id="due-date-passed", rule="due_date_passed"),
]


def day(n: int) -> date:
    return START + timedelta(days=n)


@pytest.fixture(params=sorted(WORLDS))
def played(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Any]:
    """The whole script played into one tracker and synced twice."""
    store = Store(engine)
    with WORLDS[request.param]() as world:
        world.play(script.ACT_ONE)
        assert world.sync(store, full=True).status == "success"
        world.play(script.ACT_TWO)
        assert world.sync(store, full=False).status == "success"
        yield world


def test_the_refresh_keeps_request_forecasts_and_judges_the_portfolio(
    played: Any, engine: Engine
) -> None:
    keys: dict[str, str] = played.keys
    label_of = {key: label for label, key in keys.items()}
    alpha, beta, gamma = script.TEAMS.values()

    refreshed = refresh_kpis(engine, KpiConfig(), rules=RULES, now=NOW, portfolio=PORTFOLIO)

    stored = [v for v in read_kpi_values(engine, scopes=["request"])]
    # What the refresh says it kept (what `kpis` prints) is what the store holds.
    assert sorted(v.key for v in refreshed.values() if v.scope == "request") == sorted(
        v.key for v in stored
    )
    by_label: dict[str, dict[str, Any]] = {}
    windows: set[str] = set()
    teams: dict[str, str | None] = {}
    for v in stored:
        if v.scope_key not in label_of:
            continue  # the world's own epics beside the script's
        by_label.setdefault(label_of[v.scope_key], {})[v.metric] = v.value
        teams[label_of[v.scope_key]] = v.team
        if v.metric != "remaining_items":
            windows.add(v.window.split("/")[0])
    assert windows == {day(52).isoformat()}
    assert sorted(by_label) == ["E1", "E2", "E3", "E4", "I1", "I2"]
    assert {label: m["remaining_items"] for label, m in by_label.items()} == {
        "E1": 3.0,
        "E2": 3.0,
        "E3": 1.0,
        "E4": 2.0,
        "I1": 6.0,
        "I2": 3.0,
    }
    for label, metrics in by_label.items():
        assert set(metrics) == {
            "remaining_items",
            "forecast_done_p50_date",
            "forecast_done_p85_date",
            "due_probability",
        }
        p50 = value_date(metrics["forecast_done_p50_date"])
        p85 = value_date(metrics["forecast_done_p85_date"])
        assert day(52) < p50 <= p85, label
        if label.startswith("I"):
            assert metrics["due_probability"] is None
        else:
            assert 0.0 <= metrics["due_probability"] <= 1.0
    # E2 is due day 50, before today: no trial finishes it by then.
    assert by_label["E2"]["due_probability"] == 0.0

    assert teams == {"I1": alpha, "I2": beta, "E1": alpha, "E2": beta, "E3": beta, "E4": gamma}

    e2 = keys["E2"]
    said = [
        (f.rule_id, label_of[f.scope_key], f.team, f.message, f.identity)
        for f in refreshed.findings
    ]
    source = played.config().name
    assert said == [
        (
            "dependency-at-risk",
            "E2",
            beta,
            f"{e2} waits on {keys['B1']} (through {keys['A3']}): it is forecast to finish"
            f" after {e2}'s due date 2030-02-26; {keys['A3']} is in progress and it has not"
            " started",
            f'["dependency-at-risk","item","{source}","{e2}","{source}","{keys["A3"]}",'
            f'"{source}","{keys["B1"]}"]',
        ),
        (
            "dependency-at-risk",
            "E2",
            beta,
            f"{e2} waits on {keys['G2']} of {gamma} (through {keys['B4']}): it is forecast to"
            f" finish after {e2}'s due date 2030-02-26",
            f'["dependency-at-risk","item","{source}","{e2}","{source}","{keys["B4"]}",'
            f'"{source}","{keys["G2"]}"]',
        ),
        (
            "due-date-passed",
            "E2",
            beta,
            f"{e2} was due on 2030-02-26 and is not done",
            f'["due-date-passed","item","{source}","{e2}"]',
        ),
    ]

    # A second refresh the same day rewrites nothing: the request values are unchanged.
    again = refresh_kpis(engine, KpiConfig(), rules=RULES, now=NOW, portfolio=PORTFOLIO)
    assert (again.saved.inserted, again.saved.updated) == (0, 0)
