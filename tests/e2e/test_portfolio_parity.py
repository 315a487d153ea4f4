"""Portfolio parity: one scripted portfolio (`pmo_sync.sandbox.portfolio`) played into Jira,
Azure DevOps and Trello gives the same portfolio facts in the store from each.

Issue 16's acceptance: "the tracker-parity test shows the same portfolio facts from Jira, Azure
DevOps and Trello for one scripted portfolio". Each tracker's world (tests/e2e/
portfolio_world_*.py) carries the script out its own way (Jira: an Advanced Roadmaps
initiative, fix versions, "Blocks" links, LexoRank; Azure DevOps: Epic/Feature/User Story,
Target Date, release tags, predecessor links, Stack Rank; Trello: labels, card links,
"Depends on" attachments, the To Do list's order) and its real connector syncs it into one
store, each as its own source. Read back in the script's terms (tests/portfolio_world.py),
the three sources hold the same facts, item by item: level, parent chain, team, start and due
dates with every change, priority, releases with their dates and released flags, every
dependency as (blocker, waiting), and each team's backlog in rank order. After act one by a
full sync, and after act two by an incremental one.

The per-tracker tests (test_*_portfolio_world.py) spell the facts out and count the calls;
this one puts the three side by side, so a difference between trackers shows as the one
field where they disagree.

**The same answers** (issue 17: "the same scripted portfolio played into the three sandboxes
gives the same answers"): the script's items, read by `read_portfolio_inputs` from each
tracker's source and named in the script's terms (`_neutral`), give the same request
forecasts, the same overview (requests under initiatives, theme shares, dependency risks,
release delivery) and the same schedule (variances, milestones, date moves) on day 42. The
generated teams' ordinary flow each world plays around the script comes from each tracker's
own generator, so it is left out: the script is what the three share. Ranks are compared as
each team's order (LexoRank, Stack Rank and a card's place are different scales of one
order). One difference is the trackers', and asserted as such: Jira keeps one date on a
version, so a release first seen already shipped (2030.1, before the first sync) has no
planned date there and no on-time share, where Azure DevOps and Trello take it from the config.
"""

from __future__ import annotations

import dataclasses
import re
from contextlib import ExitStack
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from pmo_sync.evaluation.portfolio_inputs import PortfolioInputs, read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.delivery import team_deliveries
from pmo_sync.portfolio.dependency_risk import DependencyStatus
from pmo_sync.portfolio.forecast import request_forecasts
from pmo_sync.portfolio.model import Dependency, WorkItem
from pmo_sync.portfolio.overview import item_forecasts, portfolio_overview
from pmo_sync.portfolio.schedule import date_moves, milestones, schedule_variances
from pmo_sync.sandbox.portfolio import ACT_ONE, ACT_TWO, ALL_STEPS, DELIVERY, TEAMS, truth
from pmo_sync.store.models import SourceRow
from pmo_sync.store.repository import Store
from pmo_sync.store.teams import stored_teams

from ..portfolio_world import PortfolioFacts, expected
from .portfolio_world_ado import AdoWorld
from .portfolio_world_jira import JiraWorld
from .portfolio_world_trello import TrelloWorld

OVERRIDES = {"Team Gamma": "traditional"}
"""portfolio.yaml's `delivery:`: no tracker says a team runs as a traditional project."""

WORLDS: dict[str, Any] = {"jira": JiraWorld, "azure_devops": AdoWorld, "trello": TrelloWorld}
DAY_42 = date(2030, 2, 18)
"""The second sync's day (`SECOND_SYNC_DAY` from 2030-01-07): the answers are asked then."""
THEMES = [
    ThemeConfig(
        name="Growth",
        target_share=60,
        match=ThemeMatch(labels=["growth"], trello_labels=["growth"]),
    ),
    ThemeConfig(
        name="Reliability",
        target_share=30,
        match=ThemeMatch(labels=["reliability"], trello_labels=["reliability"]),
    ),
]
"""portfolio.yaml's themes: the script's theme labels (Jira labels, Azure DevOps tags, Trello
labels)."""


def _disagreements(facts: dict[str, PortfolioFacts]) -> list[str]:
    """Each (label, field) where a tracker's fact differs from the first tracker's."""
    (first, reference), *others = facts.items()
    found: list[str] = []
    for kind, other in others:
        for label, item in reference.items.items():
            theirs = other.items.get(label)
            if theirs is None:
                found.append(f"{kind}: {label} missing")
                continue
            for name in item.__slots__:
                if getattr(item, name) != getattr(theirs, name):
                    found.append(
                        f"{label}.{name}: {first} {getattr(item, name)!r}, "
                        f"{kind} {getattr(theirs, name)!r}"
                    )
        for name in ("links", "backlog", "releases"):
            if getattr(reference, name) != getattr(other, name):
                found.append(f"{name}: {first} {getattr(reference, name)!r}, {kind} "
                             f"{getattr(other, name)!r}")  # fmt: skip
    return found


def _neutral(inputs: PortfolioInputs, keys: dict[str, str]) -> PortfolioInputs:
    """The script's items, links and releases of one tracker's inputs in the script's terms:
    refs ("script", label), teams without the connector's name, ranks as each team's order."""
    label = {key: name for name, key in keys.items()}

    def ref(r: tuple[str, str]) -> tuple[str, str]:
        return ("script", label[r[1]])

    ours = [i for i in inputs.items if i.ref[1] in label]
    order: dict[tuple[str, str], str] = {}
    for team in {i.team for i in ours}:
        ranked = sorted((i for i in ours if i.team == team and i.rank), key=lambda i: i.rank or "")
        order.update({i.ref: f"{n:04d}" for n, i in enumerate(ranked)})
    items: list[WorkItem] = [
        dataclasses.replace(
            i,
            ref=ref(i.ref),
            parent=None if i.parent is None else ref(i.parent),
            team=None if i.team is None else re.sub(r" \(.*\)$", "", i.team),
            rank=order.get(i.ref),
        )
        for i in ours
    ]
    return PortfolioInputs(
        items=sorted(items, key=lambda i: i.ref),
        dependencies=[
            Dependency(ref(d.blocker), ref(d.waiting), d.blocker_known)
            for d in inputs.dependencies
            if d.blocker[1] in label and d.waiting[1] in label
        ],
        date_moves=[
            dataclasses.replace(m, ref=ref(m.ref)) for m in inputs.date_moves if m.ref[1] in label
        ],
        releases=[dataclasses.replace(r, source="script", project=None) for r in inputs.releases],
    )


def _answers(inputs: PortfolioInputs) -> dict[str, Any]:
    """Every portfolio answer on day 42 from one tracker's neutral inputs."""
    forecasts = request_forecasts(inputs.items, DAY_42)
    dated = item_forecasts(inputs.items, forecasts, DAY_42)
    gamma = {("script", "Team Gamma")}
    return {
        "forecasts": forecasts,
        "overview": portfolio_overview(
            inputs.items, forecasts, inputs.dependencies, inputs.releases, THEMES, DAY_42
        ),
        # Which field holds a target is the tracker's naming (Azure DevOps' Target Date is its
        # due date and its target end at once): the answer is the date and the days.
        "variances": [
            (v.ref, v.team, v.target, v.basis, v.finish, v.days)
            for v in schedule_variances(inputs.items, dated, DAY_42)
        ],
        "milestones": milestones(inputs.items, gamma, DAY_42),
        "date_moves": [
            dataclasses.replace(m, field="due_date")
            for m in date_moves(inputs.items, inputs.date_moves)
        ],
    }


def test_the_trackers_store_the_same_portfolio_after_a_full_and_an_incremental_sync(
    engine: Engine,
) -> None:
    store = Store(engine)
    with ExitStack() as stack:
        worlds = {kind: stack.enter_context(world()) for kind, world in WORLDS.items()}
        for kind, world in worlds.items():
            world.play(ACT_ONE)
            summary = world.sync(store, full=True)
            assert summary.status == "success", (kind, summary.errors)
        first = {kind: world.facts(engine, store, truth(ACT_ONE)) for kind, world in worlds.items()}

        for kind, world in worlds.items():
            world.play(ACT_TWO)
            summary = world.sync(store, full=False)
            assert summary.status == "success", (kind, summary.errors)
        second = {
            kind: world.facts(engine, store, truth(ALL_STEPS)) for kind, world in worlds.items()
        }
        sources = {world.config().name for world in worlds.values()}
        keys = {kind: dict(world.keys) for kind, world in worlds.items()}
        names = {kind: world.config().name for kind, world in worlds.items()}

    # Each team's delivery method, as the trackers say it and portfolio.yaml corrects it:
    # Alpha and Beta run sprints in every tracker, Gamma is the traditional project.
    methods = {
        (t.source, t.team): t.method
        for t in team_deliveries(
            ((t.source, t.name, t.method) for t in stored_teams(engine)), OVERRIDES
        )
    }
    assert {source: {team: methods[source, name] for team, name in TEAMS.items()}
            for source in sources} == {source: DELIVERY for source in sources}  # fmt: skip
    assert _disagreements(first) == []
    assert _disagreements(second) == []
    assert first["jira"] == expected(truth(ACT_ONE))
    assert second["jira"] == expected(truth(ALL_STEPS))
    # The facts are the portfolio's, not empty agreement: a slip, a cross-team dependency,
    # a late release and a re-ordered backlog are there in every tracker.
    for facts in second.values():
        assert facts.items["E1"].due_history == ((None, 40), (40, 47), (47, 54), (54, 61))
        assert {("B1", "A3"), ("G2", "B4")} <= facts.links
        assert facts.releases["2030.2"] == (31, True)
        assert facts.backlog["alpha"] == ("A4", "A5", "A2")
        assert facts.items["A3"].parents == ("E2", "I1")
    _assert_the_same_answers(engine, keys, names)


def _assert_the_same_answers(
    engine: Engine, keys: dict[str, dict[str, str]], names: dict[str, str]
) -> None:
    with engine.connect() as connection:
        ids = {name: sid for name, sid in connection.execute(select(SourceRow.name, SourceRow.id))}
    answers = {
        kind: _answers(
            _neutral(
                read_portfolio_inputs(engine, KpiConfig(), THEMES, {ids[names[kind]]}), keys[kind]
            )
        )
        for kind in WORLDS
    }
    # Jira's one difference (module docstring): 2030.1 shipped before its first sync.
    jira_releases = answers["jira"]["overview"].releases
    shipped = [o for o in jira_releases.portfolio.shipped if o.name == "2030.1"]
    assert [(o.planned, o.released_on, o.slip_days) for o in shipped] == [
        (None, date(2030, 1, 26), None)
    ]
    for kind in ("azure_devops", "trello"):
        theirs = answers[kind]["overview"].releases.portfolio.shipped
        assert [(o.planned, o.released_on, o.slip_days) for o in theirs if o.name == "2030.1"] == [
            (date(2030, 1, 27), date(2030, 1, 26), -1)
        ], kind
    for kind in WORLDS:
        answers[kind]["overview"] = dataclasses.replace(answers[kind]["overview"], releases=None)
    reference = answers["jira"]
    for kind in ("azure_devops", "trello"):
        for name, value in reference.items():
            assert answers[kind][name] == value, f"{kind}: {name} differs from Jira's"
    # Not empty agreement: the four open epics with their due dates, the two dependencies at
    # risk (B1 -> A3 and G2 -> B4, both for E2), E1's three slips, Gamma's milestones.
    overview = reference["overview"]
    assert [(line.forecast.ref[1], line.forecast.due_date) for line in overview.requests] == [
        ("E1", date(2030, 3, 9)),
        ("E2", date(2030, 2, 26)),
        ("E3", date(2030, 3, 8)),
        ("E4", date(2030, 3, 18)),
    ]
    assert all(line.forecast.dates for line in overview.requests)
    at_risk = {
        (d.blocker[1], d.waiting[1])
        for d in overview.dependencies.dependencies
        if d.status is DependencyStatus.AT_RISK
    }
    assert at_risk == {("B1", "A3"), ("G2", "B4")}
    moves = {m.ref[1]: m for m in reference["date_moves"]}
    assert (moves["E1"].slips, moves["E1"].moves_later) == ((7, 7, 7), 3)
    (gamma,) = reference["milestones"]
    assert [m.ref[1] for m in gamma.milestones] == ["G1", "G2", "G3"]
    # G1 due day 30, moved to day 38 (02-14), done day 39: missed by a day; G2 (day 56) and
    # G3 (day 70) pending.
    assert (gamma.met, gamma.missed, gamma.pending) == (0, 1, 2)
    assert gamma.milestones[0].late_days == 1
