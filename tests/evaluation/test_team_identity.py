"""Jira's "Team Alpha" and a Trello board named "Team Alpha", synced into one store.

Before issue 14 they were one team of 208 items with one sprint table, one
velocity and one forecast written into both trackers. Now they stay two teams
(100 issues and 108 cards), each with the numbers it has on its own: the oracle
is the same Jira synced into a store of its own, where Trello is not there to mix
with. Only `teams:` in kpis.yaml makes them one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.jira import JiraConfig
from connectors.registry import connector_for_kind
from connectors.trello import TrelloConfig
from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.evaluation.refresh import KpiRefresh, refresh_kpis
from pmo_sync.evaluation.teams import stored_team_names
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.sprints import SprintMetrics
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import DEFAULT_NOW, TrelloDataset
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_connector
from pmo_sync.writeback.plan import desired_state

from ..schema_helpers import migrated_engine

JIRA, TRELLO = "acme-jira", "acme-trello"
JIRA_ALPHA, TRELLO_ALPHA = "Team Alpha (acme-jira)", "Team Alpha (acme-trello)"
KEY_VARIABLE, TOKEN_VARIABLE = "PMO_SYNC_TEAMS_TRELLO_KEY", "PMO_SYNC_TEAMS_TRELLO_TOKEN"
JIRA_TOKEN_VARIABLE = "PMO_SYNC_TEAMS_JIRA_TOKEN"
P85 = "team_cycle_time_p85_days"


@pytest.fixture(scope="module")
def trackers() -> Iterator[tuple[JiraSandbox, TrelloSandbox]]:
    """Read-only sandboxes: the Jira (3 projects x 100, boards Team Alpha/Beta/Gamma) and a
    Trello whose boards are Team Alpha and Team Beta (100 cards each before moves and copies)."""
    trello = TrelloDataset.generate(cards_per_board=100, boards=("Team Alpha", "Team Beta"))
    with JiraSandbox(issues_per_project=100) as jira, TrelloSandbox(trello) as board:
        assert jira.dataset.clock.now == board.dataset.clock.now == DEFAULT_NOW
        yield jira, board


def configs(
    trackers: tuple[JiraSandbox, TrelloSandbox], monkeypatch: pytest.MonkeyPatch
) -> list[Any]:
    jira, trello = trackers
    monkeypatch.setenv(JIRA_TOKEN_VARIABLE, jira.token)
    monkeypatch.setenv(KEY_VARIABLE, trello.key)
    monkeypatch.setenv(TOKEN_VARIABLE, trello.token)
    return [
        JiraConfig.model_validate(
            {
                "name": JIRA,
                "kind": "jira",
                "url": jira.url,
                "email": jira.email,
                "token": f"${{{JIRA_TOKEN_VARIABLE}}}",
                "jql": "project in (ABC, DEF, GHI)",
            }
        ),
        TrelloConfig.model_validate(
            {
                "name": TRELLO,
                "kind": "trello",
                "url": trello.root_url,
                "api_key": f"${{{KEY_VARIABLE}}}",
                "token": f"${{{TOKEN_VARIABLE}}}",
                "boards": ["Team Alpha", "Team Beta"],
                "sprints": {"cadence": {"sprint": "Sprint 18", "starts": "2026-11-16", "days": 14}},
            }
        ),
    ]


def sync_into(engine: Engine, connector_configs: list[Any]) -> None:
    store = Store(engine)
    for config in connector_configs:
        with connector_for_kind(config.kind)(config) as connector:
            assert sync_connector(connector, store).ok


def refresh(engine: Engine, config: KpiConfig | None = None) -> KpiRefresh:
    return refresh_kpis(engine, config or KpiConfig(), rules=[], now=DEFAULT_NOW)


def sprints_of(result: KpiRefresh, team: str) -> dict[str, tuple[float, float | None]]:
    """Each of the team's sprints: (completed points, velocity up to it)."""
    run = result.run
    found: list[SprintMetrics] = [s for s in run.sprints if s.team == team]
    return {s.sprint_id: (s.completed_points, run.velocity.get(s.sprint_id)) for s in found}


@pytest.fixture
def jira_alone(
    trackers: tuple[JiraSandbox, TrelloSandbox], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[KpiRefresh]:
    """The oracle: the same Jira in a store of its own."""
    engine = migrated_engine(f"sqlite:///{tmp_path / 'jira-alone.db'}")
    try:
        sync_into(engine, configs(trackers, monkeypatch)[:1])
        yield refresh(engine)
    finally:
        engine.dispose()


def test_two_sources_team_alpha_stay_two_teams_each_with_its_own_numbers(
    engine: Engine,
    trackers: tuple[JiraSandbox, TrelloSandbox],
    monkeypatch: pytest.MonkeyPatch,
    jira_alone: KpiRefresh,
) -> None:
    sync_into(engine, configs(trackers, monkeypatch))
    result = refresh(engine)
    assert result.teams.notices == (
        "team 'Team Alpha' is in acme-jira and acme-trello: kept apart as "
        "'Team Alpha (acme-jira)' and 'Team Alpha (acme-trello)'; to make them one team, add "
        "under teams: in kpis.yaml: Team Alpha: [{source: acme-jira, team: Team Alpha}, "
        "{source: acme-trello, team: Team Alpha}] (or give each a name of its own the same way)",
        "team 'Team Beta' is in acme-jira and acme-trello: kept apart as "
        "'Team Beta (acme-jira)' and 'Team Beta (acme-trello)'; to make them one team, add "
        "under teams: in kpis.yaml: Team Beta: [{source: acme-jira, team: Team Beta}, "
        "{source: acme-trello, team: Team Beta}] (or give each a name of its own the same way)",
    )
    teams = result.run.flow.teams
    assert {team: summary.items for team, summary in teams.items()} == {
        JIRA_ALPHA: 100,
        TRELLO_ALPHA: 108,
        "Team Beta (acme-jira)": 100,
        "Team Beta (acme-trello)": 89,
        "Team Gamma": 100,
    }
    # Jira's Team Alpha is exactly the team it is without Trello: flow, sprints, velocity.
    alone = jira_alone.run.flow.teams["Team Alpha"]
    assert teams[JIRA_ALPHA].cycle_time_percentiles == alone.cycle_time_percentiles
    assert (teams[JIRA_ALPHA].wip, teams[JIRA_ALPHA].done_in_range) == (
        alone.wip,
        alone.done_in_range,
    )
    assert sprints_of(result, JIRA_ALPHA) == sprints_of(jira_alone, "Team Alpha")
    assert len(sprints_of(result, JIRA_ALPHA)) == 15  # 12 closed, the active one, 2 future
    assert len(sprints_of(result, TRELLO_ALPHA)) == 16  # Sprint 5 to Sprint 20
    assert result.run.team_forecasts[JIRA_ALPHA].open_items == 16
    assert result.run.team_forecasts[TRELLO_ALPHA].open_items == 9
    # What is written back into each tracker is its own team's p85.
    writeback = WritebackConfig(enabled=True, comments=False, items="all", fields={P85: "p85"})
    run = result.run
    team_of = {(s, m.key): m.team for m, s in zip(run.flow.metrics, run.item_sources, strict=True)}
    for source, team in ((JIRA, JIRA_ALPHA), (TRELLO, TRELLO_ALPHA)):
        planned = desired_state(run, [], writeback, source, item_sources=run.item_sources)
        # done items keep their last team p85 (it is an open-only metric): the open ones carry it
        written = [
            item.fields[P85]
            for item in planned
            if team_of[source, item.key] == team and P85 in item.fields
        ]
        assert len(written) == sum(m.done_at is None for m in run.flow.metrics if m.team == team)
        assert set(written) == {round(teams[team].cycle_time_percentiles[85], 1)}, source
    assert (
        teams[JIRA_ALPHA].cycle_time_percentiles[85]
        != teams[TRELLO_ALPHA].cycle_time_percentiles[85]
    )
    assert stored_team_names(engine) == sorted(teams)


@pytest.mark.slow  # two syncs and two KPI runs
def test_teams_in_kpis_yaml_makes_them_one(
    engine: Engine, trackers: tuple[JiraSandbox, TrelloSandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_into(engine, configs(trackers, monkeypatch))
    apart = refresh(engine)
    merged = KpiConfig.model_validate(
        {
            "teams": {
                "Team Alpha": [
                    {"source": JIRA, "team": "Team Alpha"},
                    {"source": TRELLO, "team": "Team Alpha"},
                ],
                "Jira Beta": [{"source": JIRA, "team": "Team Beta"}],  # a rename
            }
        }
    )
    result = refresh(engine, merged)
    assert result.teams.notices == ()
    teams = result.run.flow.teams
    assert {team: summary.items for team, summary in teams.items()} == {
        "Team Alpha": 208,
        "Jira Beta": 100,
        "Team Beta": 89,  # Trello's, the only Team Beta left
        "Team Gamma": 100,
    }
    assert sprints_of(result, "Team Alpha").keys() == (
        sprints_of(apart, JIRA_ALPHA).keys() | sprints_of(apart, TRELLO_ALPHA).keys()
    )
    assert result.run.team_forecasts["Team Alpha"].open_items == 16 + 9
