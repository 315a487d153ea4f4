"""The scripted portfolio played into the Azure DevOps dataset (`pmo_sync.sandbox.ado.portfolio`):
the work items, fields and revisions an Agile project's people would leave, without a server.
The sync of the same is tests/e2e/test_ado_portfolio_world.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pmo_sync.sandbox.ado.generator import WORK_ITEM_TYPES, AdoDataset, AdoError
from pmo_sync.sandbox.ado.portfolio import AdoPortfolioPlayer, priority_of, release_config
from pmo_sync.sandbox.portfolio import ACT_ONE, TEAMS, play

START = datetime(2030, 1, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def played() -> tuple[AdoDataset, AdoPortfolioPlayer]:
    data = AdoDataset.generate(size=6, now=START, teams=tuple(TEAMS.values()))
    player = AdoPortfolioPlayer(data, START.date())
    play(player, START, ACT_ONE)
    return data, player


def test_levels_are_epic_feature_user_story_in_the_teams_area_paths(
    played: tuple[AdoDataset, AdoPortfolioPlayer],
) -> None:
    data, player = played
    fields = {label: data.item(i).fields for label, i in player.ids.items()}
    assert [(fields[x]["System.WorkItemType"], fields[x]["System.AreaPath"],
             fields[x].get("System.Parent"), fields[x].get("System.Tags"))
            for x in ("I1", "E2", "B1", "G1")] == [
        ("Epic", "Fabrikam\\Team Alpha", None, "growth"),
        ("Feature", "Fabrikam\\Team Beta", player.ids["I1"], None),
        ("User Story", "Fabrikam\\Team Beta", player.ids["E2"], None),
        ("User Story", "Fabrikam\\Team Gamma", player.ids["E4"], None),
    ]  # fmt: skip
    assert player.keys == {label: str(i) for label, i in player.ids.items()}
    # Gamma's milestones are in no sprint: the iteration is the project's root.
    assert {fields[x]["System.IterationPath"] for x in ("G1", "G2", "G3")} == {"Fabrikam"}


def test_each_edit_is_a_revision_by_a_team_member_at_the_steps_moment(
    played: tuple[AdoDataset, AdoPortfolioPlayer],
) -> None:
    data, player = played
    e1 = data.item(player.ids["E1"])
    targets = [
        (r.fields.get("Microsoft.VSTS.Scheduling.TargetDate"), r.fields["System.ChangedDate"])
        for r in e1.revisions
    ]
    assert targets == [
        (None, "2030-01-07T09:02:00Z"),
        ("2030-02-16T00:00:00Z", "2030-01-08T09:00:00Z"),
        ("2030-02-23T00:00:00Z", "2030-01-22T09:00:00Z"),
        ("2030-03-02T00:00:00Z", "2030-02-06T09:00:00Z"),
    ]
    alpha = data.team("Team Alpha")
    assert alpha is not None
    authors = {r.fields["System.ChangedBy"] for r in e1.revisions}
    assert authors == {alpha.members[0].ref} != {data.api_identity.ref}


def test_priority_is_only_what_was_set_and_rank_is_the_place(
    played: tuple[AdoDataset, AdoPortfolioPlayer],
) -> None:
    data, player = played
    priority = "Microsoft.VSTS.Common.Priority"
    rank = "Microsoft.VSTS.Common.StackRank"
    assert {x: data.item(i).fields.get(priority) for x, i in player.ids.items()
            if priority in data.item(i).fields} == {"A1": 1, "B1": 2, "G1": 1, "B3": 4}  # fmt: skip
    beta = ("B2", "B3", "B4", "B1")
    assert [data.item(player.ids[x]).fields[rank] for x in beta] == [1000, 2000, 3000, 4000]


def test_dependencies_keep_both_ends_and_releases_are_tags(
    played: tuple[AdoDataset, AdoPortfolioPlayer],
) -> None:
    data, player = played
    ids = player.ids
    assert data.item(ids["B1"]).links == [("System.LinkTypes.Dependency-Forward", ids["A3"])]
    assert data.item(ids["A3"]).links == [("System.LinkTypes.Dependency-Reverse", ids["B1"])]
    assert data.item(ids["A1"]).fields["System.Tags"] == "Release 2030.1"
    assert release_config(START.date()) == {
        "tag": "Release {name}",
        "dates": {
            "2030.1": {"planned": "2030-01-27", "released": "2030-01-26"},
            "2030.2": {"planned": "2030-02-01", "released": "2030-02-07"},
            "2030.3": {"planned": "2030-03-08"},
        },
    }


def test_the_epic_type_exists_and_a_small_dataset_generates_none() -> None:
    """An Agile project has Epics: the sandbox creates one and serves its states; a dataset
    too small for a portfolio (`teamwork.PORTFOLIO_MIN_SIZE`) holds User Stories, Bugs, Tasks
    and Features only."""
    assert "Epic" not in WORK_ITEM_TYPES
    data = AdoDataset.generate(size=40)
    assert {i.type for i in data.items()} <= set(WORK_ITEM_TYPES)
    epic = data.create("Epic", "An initiative")
    assert (epic.type, data.states("Epic")[0]) == ("Epic", "New")
    with pytest.raises(AdoError):
        data.create("Initiative", "not a type of the process")


@pytest.mark.parametrize(
    ("stored", "priority"),
    [("1", 1), ("4", 4), (" 2 ", 2), (None, None), ("5", None), ("2.5", None), ("", None)],
)
def test_priority_of_reads_the_stored_priority_back(stored: str | None, priority: int | None):
    assert priority_of(stored) == priority
