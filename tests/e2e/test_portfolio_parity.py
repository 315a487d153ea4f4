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
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from sqlalchemy import Engine

from pmo_sync.portfolio.delivery import team_deliveries
from pmo_sync.sandbox.portfolio import ACT_ONE, ACT_TWO, ALL_STEPS, DELIVERY, TEAMS, truth
from pmo_sync.store.repository import Store
from pmo_sync.store.teams import stored_teams

from ..portfolio_world import PortfolioFacts, expected
from .portfolio_world_ado import AdoWorld
from .portfolio_world_jira import JiraWorld
from .portfolio_world_trello import TrelloWorld

OVERRIDES = {"Team Gamma": "traditional"}
"""portfolio.yaml's `delivery:`: no tracker says a team runs as a traditional project."""

WORLDS: dict[str, Any] = {"jira": JiraWorld, "azure_devops": AdoWorld, "trello": TrelloWorld}


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
