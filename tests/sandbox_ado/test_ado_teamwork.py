"""The generated organisation as a portfolio (`pmo_sync/sandbox/ado/teamwork.py`): requests worked
in rank order through their children, themes, initiatives, dependencies, releases. Seed 7 at the
demo's size (300 items), checked against the dataset's own ground truth (`dataset.teamwork`,
`dataset.outcome`) and the revisions the API serves."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from pmo_sync.sandbox.ado.generator import AdoDataset, parse_ts
from pmo_sync.sandbox.ado.portfolio import generated_portfolio_block, generated_themes
from pmo_sync.sandbox.ado.teamwork import PREDECESSOR, SUCCESSOR, Request

TARGET = "Microsoft.VSTS.Scheduling.TargetDate"


@pytest.fixture(scope="module")
def dataset() -> AdoDataset:
    return AdoDataset.generate(seed=7, size=300)


def _created(dataset: AdoDataset, item_id: int) -> datetime:
    return parse_ts(dataset.item(item_id).revisions[0].fields["System.CreatedDate"])


def _first_start(dataset: AdoDataset, request: Request) -> datetime | None:
    starts = [dataset.outcome(c.id)[0] for c in request.children]
    return min((s for s in starts if s is not None), default=None)


def test_seed_7_holds_30_requests_under_4_initiatives_with_200_children(dataset):
    plan = dataset.teamwork
    assert Counter(h.role for h in plan.heads) == {
        "child": 200, "free": 66, "request": 30, "initiative": 4,
    }  # fmt: skip
    assert Counter(dataset.item(r.head.id).type for r in plan.requests) == {"Feature": 30}
    assert Counter(dataset.item(i.head.id).type for i in plan.initiatives) == {"Epic": 4}
    assert sorted(len(r.children) for r in plan.requests) == [
        3, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 7, 7, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11,
        11, 12,
    ]  # fmt: skip
    for request in plan.requests:  # the parent chain the connector reads: System.Parent
        for child in request.children:
            assert dataset.item(child.id).fields["System.Parent"] == request.head.id
            assert dataset.item(child.id).type in ("User Story", "Bug")
    under = {r.head.id: i.head.id for i in plan.initiatives for r in i.requests}
    assert len(under) == 10
    for request in plan.requests:
        assert dataset.item(request.head.id).fields.get("System.Parent") == under.get(
            request.head.id
        )
    ids = [h.id for h in plan.heads]  # numbered in creation order, as the service does
    assert ids == list(range(1, 301))
    assert [_created(dataset, i) for i in ids] == sorted(_created(dataset, i) for i in ids)


def test_a_request_starts_with_its_first_child_and_closes_days_after_its_last(dataset):
    """Active 1-90 minutes after its first child left New; Closed 0-3 days (and half an hour to
    six hours) after its last child was done; open while a child is not done."""
    lags: Counter[int] = Counter()
    still_open, waiting = [], []
    for request in dataset.teamwork.requests:
        item = dataset.item(request.head.id)
        start, done = dataset.outcome(request.head.id)
        first = _first_start(dataset, request)
        if first is None:  # waiting in the backlog: nothing started
            assert (start, done, item.state) == (None, None, "New")
            waiting.append(request.head.id)
            continue
        assert start is not None
        assert timedelta(minutes=1) <= start - first <= timedelta(minutes=90)
        dones = [dataset.outcome(c.id)[1] for c in request.children]
        if done is None:
            still_open.append((request.head.id, sum(d is None for d in dones)))
            assert item.state == "Active"
            continue
        assert None not in dones and item.state == "Closed"
        lag = done - max(d for d in dones if d is not None)
        assert timedelta(minutes=30) <= lag <= timedelta(days=3, hours=6)
        lags[lag.days] += 1
    assert lags == {0: 6, 1: 9, 2: 3, 3: 2}
    assert sorted(waiting) == [260, 280, 289, 290]
    assert sorted(still_open) == [  # (request, children not done)
        (180, 1), (185, 5), (232, 3), (234, 2), (248, 4), (269, 3),
    ]  # fmt: skip


def test_children_start_in_the_rank_order_of_their_requests(dataset):
    """Of the pairs of one team's requests where the higher-ranked one existed when the lower
    one was created, the higher one's children started first 91 times, later 5 times (the
    team's out-of-rank picks)."""
    in_rank = out_of_rank = 0
    for team in range(len(dataset.teams)):
        mine = [r for r in dataset.teamwork.requests if r.head.team == team]
        first = {r.head.id: _first_start(dataset, r) for r in mine}
        for a in mine:
            for b in mine:
                fa, fb = first[a.head.id], first[b.head.id]
                if a.rank < b.rank and fa and fb and a.head.created_ms <= b.head.created_ms:
                    in_rank += fa <= fb
                    out_of_rank += fa > fb
    assert (in_rank, out_of_rank) == (91, 5)
    ranks = [dataset.item(r.head.id).fields["Microsoft.VSTS.Common.StackRank"] for r in mine]
    assert len(set(ranks)) == len(ranks)


def test_each_team_has_two_to_five_requests_open_every_week(dataset):
    now = dataset.generated_at
    for team in range(len(dataset.teams)):
        weekly = []
        for week in range(26):
            day = now - timedelta(days=7 * week)
            weekly.append(
                sum(
                    1
                    for r in dataset.teamwork.requests
                    if r.head.team == team
                    and _created(dataset, r.head.id) <= day
                    and (dataset.outcome(r.head.id)[1] or now + timedelta(1)) > day
                )
            )
        assert min(weekly) >= 2 and max(weekly) <= 5, (dataset.teams[team].name, weekly)


def test_themes_are_the_area_under_the_project_on_the_request_in_the_teams_part(dataset):
    """A theme is an area under the project (`Fabrikam\\Growth`); each team owns its part of
    it (`Fabrikam\\Growth\\Phoenix`, in its team field values), where its themed requests are."""
    areas = Counter(
        dataset.item(r.head.id).fields["System.AreaPath"] for r in dataset.teamwork.requests
    )
    assert areas == {
        "Fabrikam\\Growth\\Atlas": 5, "Fabrikam\\Growth\\Orion": 5, "Fabrikam\\Growth\\Phoenix": 3,
        "Fabrikam\\Reliability\\Atlas": 4, "Fabrikam\\Reliability\\Phoenix": 3,
        "Fabrikam\\Reliability\\Orion": 3, "Fabrikam\\Compliance\\Phoenix": 3,
        "Fabrikam\\Compliance\\Atlas": 1, "Fabrikam\\Phoenix": 3,
    }  # fmt: skip
    assert dataset.teams[0].area_paths == (
        "Fabrikam\\Phoenix", "Fabrikam\\Growth\\Phoenix", "Fabrikam\\Reliability\\Phoenix",
        "Fabrikam\\Compliance\\Phoenix",
    )  # fmt: skip
    for request in dataset.teamwork.requests:  # children stay in their team's own area
        team = dataset.teams[request.head.team]
        assert {dataset.item(c.id).fields["System.AreaPath"] for c in request.children} == {
            team.area_path
        }
    for initiative in dataset.teamwork.initiatives:
        area = dataset.item(initiative.head.id).fields["System.AreaPath"]
        assert area.split("\\")[1] == initiative.theme
        for request in initiative.requests:
            assert request.theme == initiative.theme
    assert generated_themes(dataset) == [
        {"name": "Growth", "match": {"area_paths": ["Fabrikam\\Growth"]}},
        {"name": "Reliability", "match": {"area_paths": ["Fabrikam\\Reliability"]}},
        {"name": "Compliance", "match": {"area_paths": ["Fabrikam\\Compliance"]}},
    ]


def test_due_dates_are_set_at_creation_and_some_move_later(dataset):
    dated = slipped = 0
    for request in dataset.teamwork.requests:
        item = dataset.item(request.head.id)
        values = []
        for revision in item.revisions:
            value = revision.fields.get(TARGET)
            if value is not None and (not values or values[-1][1] != value):
                values.append((revision.rev, value))
        if not values:
            assert request.due_ms is None
            continue
        dated += 1
        assert values[0][0] == 1  # set when the Feature was created
        assert values[0][1].endswith("T00:00:00Z")
        assert len(values) <= 3 and [v for _, v in values] == sorted(v for _, v in values)
        slipped += len(values) > 1
    assert (dated, slipped) == (27, 10)


def test_dependencies_link_two_teams_and_two_are_still_open(dataset):
    links = dataset.teamwork.dependencies
    assert [(d.blocker, d.waiting) for d in links] == [
        (42, 93), (5, 94), (113, 187), (47, 211), (145, 253), (265, 236), (270, 191),
    ]  # fmt: skip
    before = still_open = 0
    for link in links:
        blocker, waiting = dataset.item(link.blocker), dataset.item(link.waiting)
        assert (SUCCESSOR, link.waiting) in blocker.links
        assert (PREDECESSOR, link.blocker) in waiting.links
        assert blocker.fields["System.RelatedLinkCount"] == len(blocker.links)
        assert blocker.fields["System.AreaPath"] != waiting.fields["System.AreaPath"]
        blocker_done = dataset.outcome(link.blocker)[1]
        waiting_start = dataset.outcome(link.waiting)[0]
        if blocker_done is None and waiting_start is None:
            still_open += 1
        elif blocker_done is not None and waiting_start is not None:
            before += blocker_done <= waiting_start
    assert (before, still_open) == (5, 2)


def test_releases_every_four_weeks_tag_what_was_closed_before_they_shipped(dataset):
    releases = dataset.teamwork.releases
    assert len(releases) == 21 and sum(r.released is None for r in releases) == 3
    late = [
        (r.name, (r.released - r.planned).days)
        for r in releases
        if r.released and r.released > r.planned
    ]
    assert late == [("Phoenix 3", 5), ("Orion 3", 4), ("Orion 6", 3)]
    by_name = {r.name: r for r in releases}
    tagged = 0
    for item in dataset.items():
        tag = item.fields.get("System.Tags")
        if tag is None:
            continue
        release = by_name[tag.removeprefix("Release ")]
        assert release.ship_ms is not None and item.state == "Closed"
        done = dataset.outcome(item.id)[1]
        assert done is not None and done.timestamp() * 1000 <= release.ship_ms
        tagged += 1
    assert tagged == 186
    block = generated_portfolio_block(dataset)
    assert block["levels"] == {"Epic": "initiative", "Feature": "epic"}
    assert block["releases"]["tag"] == "Release {name}"
    assert block["releases"]["dates"]["Phoenix 3"] == {
        "planned": "2026-08-20",
        "released": "2026-08-25",
    }
    assert block["releases"]["dates"]["Phoenix 7"] == {"planned": "2026-12-10"}


def test_a_small_dataset_has_no_portfolio():
    small = AdoDataset.generate(seed=7, size=40)
    assert small.teamwork.requests == [] and small.teamwork.dependencies == []
    assert generated_portfolio_block(small) == {}
    assert all(not item.links and "System.Parent" not in item.fields for item in small.items())
