"""The Jira player of the scripted portfolio, on a dataset without a server: who makes the
edits, when the releases ship, the LexoRank strings and the priorities' names."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.portfolio import (
    PROJECTS,
    JiraPortfolioPlayer,
    lexorank,
    priority_of,
)
from pmo_sync.sandbox.portfolio import ACT_ONE, at, play

START = datetime(2030, 1, 7, tzinfo=UTC)


def test_priority_names_back_to_the_scripts_numbers() -> None:
    names = ("Highest", "High", "Medium", "Low", "Lowest", None)
    assert [priority_of(name) for name in names] == [1, 2, 3, 4, None, None]


def test_ranks_handed_out_later_sort_after_earlier_ones() -> None:
    assert [lexorank(n) for n in (0, 1, 4)] == ["0|i00008:", "0|i0000g:", "0|i00014:"]
    ranks = [lexorank(n) for n in range(5000)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 5000
    assert {len(r) for r in ranks} == {9}


def test_act_one_is_played_by_team_members_with_releases_shipping_on_their_day() -> None:
    data = JiraDataset.generate(issues_per_project=0, now=START)
    player = JiraPortfolioPlayer(data, START)
    play(player, START, ACT_ONE)

    # Each edit is by the project lead of the item's team; a link's two histories are both
    # by the blocker's team (Beta's lead links B1 to Alpha's A3): no edit is the API user's.
    lead = {key: data.teams[key][0].account_id for key in PROJECTS.values()}
    authors = {
        (issue.project_key, history.author.account_id)
        for issue in data.issues
        for history in issue.histories
    }
    assert authors == {
        ("ABC", lead["ABC"]), ("ABC", lead["DEF"]), ("DEF", lead["DEF"]),
        ("DEF", lead["GHI"]), ("GHI", lead["GHI"]),
    }  # fmt: skip
    assert {(i.key, i.issue_type.name, i.labels[0]) for i in data.issues if i.labels} == {
        ("ABC-1", "Initiative", "growth"), ("DEF-1", "Initiative", "reliability"),
    }  # fmt: skip
    start_field = data.custom_field(player.start_field)
    assert start_field is not None and start_field.name == "Start date"
    assert data.issue(player.keys["G2"]).custom_values == {player.start_field: "2030-02-06"}

    # The last step of act one is on day 30: 2030.2 (day 31) ships only when the clock
    # passes its day, before the sync.
    def state() -> list[tuple[str, date | None, bool]]:
        return [
            (v.name, v.release_date, v.released)
            for key in ("ABC", "DEF")
            for v in data.versions(key)
            if v.id not in data.generated_version_ids
        ]

    assert state() == [
        ("2030.1", date(2030, 1, 26), True),
        ("2030.3", date(2030, 3, 8), False),
        ("2030.2", date(2030, 2, 1), False),
    ]
    player.settle(START + at(35))
    assert state()[2] == ("2030.2", date(2030, 2, 7), True)
    assert data.clock.now == START + at(31)
