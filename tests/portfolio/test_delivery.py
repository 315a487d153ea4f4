"""Each team's delivery method: what each tracker says (scrum or kanban, from what its
connector already knows), and portfolio.yaml's `delivery:` over it."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.azure_devops.streams import TeamInfo
from connectors.azure_devops.streams import team_records as ado_team_records
from connectors.jira.streams import BoardInfo, JiraRunState
from connectors.trello.config import TrelloConfig
from connectors.trello.convert import BoardInfo as TrelloBoard
from connectors.trello.streams import team_records as trello_team_records
from pmo_sync.common.redaction import clear_secrets
from pmo_sync.domain import TeamRecord
from pmo_sync.portfolio.config import DeliveryMethod
from pmo_sync.portfolio.delivery import (
    TeamDelivery,
    delivery_method,
    delivery_notices,
    team_deliveries,
)

# -- Jira: the board type -------------------------------------------------------------------------

BOARDS = [
    BoardInfo(1, "Team Alpha", "scrum", "ABC"),
    BoardInfo(2, "Alpha Flow", "kanban", "ABC"),  # ABC's team is its scrum board's
    BoardInfo(3, "Team Beta", "kanban", "DEF"),
    BoardInfo(4, "Team Gamma", "simple", "GHI"),  # a team-managed board without sprints
    BoardInfo(5, "Cross-project", "scrum", None),  # a filter board of no one project
]


def test_jira_a_team_with_a_scrum_board_is_scrum_else_kanban() -> None:
    assert JiraRunState(boards=BOARDS).team_records("board") == [
        TeamRecord("Team Alpha", "scrum"),
        TeamRecord("Team Beta", "kanban"),
        TeamRecord("Team Gamma", "kanban"),
    ]


def test_jira_teams_by_project_are_scrum_when_any_board_of_theirs_is() -> None:
    boards = [*BOARDS, BoardInfo(6, "Beta Sprints", "scrum", "DEF")]
    assert JiraRunState(boards=boards).team_records("project") == [
        TeamRecord("ABC", "scrum"),
        TeamRecord("DEF", "scrum"),
        TeamRecord("GHI", "kanban"),
    ]


def test_jira_one_board_name_for_two_projects_is_scrum_when_either_runs_sprints() -> None:
    boards = [BoardInfo(1, "Platform", "kanban", "OPS"), BoardInfo(2, "Platform", "scrum", "SRE")]
    assert JiraRunState(boards=boards).team_records("board") == [TeamRecord("Platform", "scrum")]
    assert JiraRunState().team_records("board") == []  # no board: nothing said


# -- Azure DevOps: the team's iterations ----------------------------------------------------------


def test_azure_devops_a_team_with_iterations_is_scrum_else_kanban() -> None:
    sprint = {"id": "i-1", "name": "Sprint 1", "path": "Phoenix\\Sprint 1", "attributes": {}}
    teams = [
        TeamInfo("Phoenix Team", ["Phoenix"], [sprint]),
        TeamInfo("Ops", ["Phoenix\\Ops"], []),
    ]
    assert ado_team_records(teams) == [
        TeamRecord("Phoenix Team", "scrum"),
        TeamRecord("Ops", "kanban"),
    ]


# -- Trello: the sprint convention ----------------------------------------------------------------


@pytest.fixture
def trello_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TRELLO_KEY", "k3y")
    monkeypatch.setenv("TRELLO_TOKEN", "t0ken")
    yield
    clear_secrets()


def _trello(**more: Any) -> TrelloConfig:
    return TrelloConfig.model_validate(
        {
            "name": "boards",
            "api_key": "${TRELLO_KEY}",
            "token": "${TRELLO_TOKEN}",
            "boards": ["Team Alpha", "Team Beta"],
            **more,
        }
    )


TRELLO_BOARDS = {
    "b1": TrelloBoard("b1", "Team Alpha", {}, {}),
    "b2": TrelloBoard("b2", "Team Beta", {}, {}),
}


def test_trello_a_configured_sprint_convention_makes_every_board_scrum(trello_env: Any) -> None:
    config = _trello(sprints={"from": "label", "prefix": "Sprint "})
    assert trello_team_records(TRELLO_BOARDS, {}, config) == [
        TeamRecord("Team Alpha", "scrum"),
        TeamRecord("Team Beta", "scrum"),
    ]


def test_trello_without_one_a_board_whose_cards_name_a_sprint_is_scrum(trello_env: Any) -> None:
    """The default convention (a "Sprint" custom field) found sprints on Alpha's board only."""
    sprints = {"b1": {"Sprint 3"}, "b2": set()}
    assert trello_team_records(TRELLO_BOARDS, sprints, _trello()) == [
        TeamRecord("Team Alpha", "scrum"),
        TeamRecord("Team Beta", "kanban"),
    ]


# -- portfolio.yaml over the trackers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("team", "tracker", "overrides", "expected"),
    [
        ("Team Alpha", "scrum", {}, ("scrum", "tracker")),
        ("Team Beta", "kanban", {}, ("kanban", "tracker")),
        ("ABC", None, {}, ("kanban", "default")),  # no board says: no sprints
        ("ABC", "waterfall", {}, ("kanban", "default")),  # a plug-in's unknown word
        ("Team Gamma", "kanban", {"team gamma": "traditional"}, ("traditional", "portfolio.yaml")),
        ("Team Beta", "scrum", {"Team Beta": "kanban"}, ("kanban", "portfolio.yaml")),
        ("Team Beta", None, {"Team Alpha": "traditional"}, ("kanban", "default")),
    ],
)
def test_delivery_method(
    team: str,
    tracker: str | None,
    overrides: dict[str, DeliveryMethod],
    expected: tuple[str, str],
) -> None:
    assert delivery_method(team, tracker, overrides) == expected


def test_team_deliveries_keep_the_order_and_each_source() -> None:
    rows = [("jira", "Team Gamma", "scrum"), ("ado", "Team Gamma", None), ("ado", "Ops", None)]
    assert team_deliveries(rows, {"Team Gamma": "traditional"}) == [
        TeamDelivery("jira", "Team Gamma", "traditional", "portfolio.yaml"),
        TeamDelivery("ado", "Team Gamma", "traditional", "portfolio.yaml"),
        TeamDelivery("ado", "Ops", "kanban", "default"),
    ]


def test_a_delivery_name_no_synced_team_has_is_a_notice_with_the_closest() -> None:
    overrides: dict[str, DeliveryMethod] = {
        "team gamma": "traditional",  # any case: Team Gamma
        "Team Gama": "traditional",
        "Finance Systems": "traditional",
    }
    synced = {"Team Alpha", "Team Gamma"}
    assert list(delivery_notices(overrides, synced)) == [
        "portfolio.yaml: delivery.Team Gama: no synced team 'Team Gama' (closest: 'Team Gamma')",
        "portfolio.yaml: delivery.Finance Systems: no synced team 'Finance Systems' "
        "(closest: 'Team Gamma')",
    ]
    assert list(delivery_notices({"Ops": "kanban"}, set())) == [
        "portfolio.yaml: delivery.Ops: no synced team 'Ops' (none synced)"
    ]
