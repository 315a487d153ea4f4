"""The sprint rules (scope added, over-commitment, carried over) on one team's four sprints.

Team Alpha, 2026, workflow To Do | In Progress | Done, sprints Monday 09:00
to Friday 17:00 (closed on time):

- Sprint 1, 2 - 13 Feb: D1 (10 points) done; C1, C2 not done at the close.
- Sprint 2, 16 - 27 Feb: D2 (20 points) done; C1 not done, C2 done on 25 Feb.
- Sprint 3, 2 - 13 March: D3 (30 points) done; C1 not done.
- Sprint 4, from 16 March, active on `NOW` (Friday 20 March 12:00): X1
  (30 points) committed, C1 carried in; A1 (5 points) added on 17 March.

C1 and C2 have no estimate (0 points). C2 was reopened on 18 March.
Completed points 10, 20, 30; committed 10, 20, 30, 30.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pmo_sync.domain import Stage
from pmo_sync.governance.engine import evaluate
from pmo_sync.governance.model import Finding, ItemFacts, TeamFacts
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.items import item_metrics
from pmo_sync.kpi.model import (
    ItemHistory,
    KpiOptions,
    SprintInfo,
    SprintStay,
    StatusChange,
    Workflow,
)
from pmo_sync.kpi.sprints import sprint_metrics

WORKFLOW = Workflow.from_categories(
    {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
)
OPTIONS = KpiOptions()


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


NOW = at(3, 20)
SPRINTS = [
    SprintInfo("1", "Sprint 1", "Alpha", "closed", at(2, 2, 9), at(2, 13, 17), at(2, 13, 17)),
    SprintInfo("2", "Sprint 2", "Alpha", "closed", at(2, 16, 9), at(2, 27, 17), at(2, 27, 17)),
    SprintInfo("3", "Sprint 3", "Alpha", "closed", at(3, 2, 9), at(3, 13, 17), at(3, 13, 17)),
    SprintInfo("4", "Sprint 4", "Alpha", "active", at(3, 16, 9), at(3, 27, 17)),
]


def history(
    key: str,
    points: float | None,
    sprints: dict[str, datetime],
    *moves: tuple[datetime, str],
) -> ItemHistory:
    changes, previous = [], "To Do"
    for moment, status in moves:
        changes.append(StatusChange(moment, previous, status))
        previous = status
    return ItemHistory(
        key=key,
        source="jira",
        team="Alpha",
        item_type="story",
        created=at(1, 20),
        initial_status="To Do",
        status_changes=tuple(changes),
        estimate=points,
        sprint_stays=tuple(SprintStay(sid, added, None) for sid, added in sprints.items()),
    )


HISTORIES = [
    history("D1", 10, {"1": at(2, 1)}, (at(2, 3), "In Progress"), (at(2, 10), "Done")),
    history("D2", 20, {"2": at(2, 15)}, (at(2, 17), "In Progress"), (at(2, 20), "Done")),
    history("D3", 30, {"3": at(3, 1)}, (at(3, 3), "In Progress"), (at(3, 10), "Done")),
    history("X1", 30, {"4": at(3, 15)}, (at(3, 17), "In Progress")),
    history(
        "C1",
        None,
        {"1": at(2, 1), "2": at(2, 15), "3": at(3, 1), "4": at(3, 15)},
        (at(2, 5), "In Progress"),
    ),
    history(
        "C2",
        None,
        {"1": at(2, 1), "2": at(2, 15)},
        (at(2, 3), "In Progress"),
        (at(2, 25), "Done"),
        (at(3, 18), "In Progress"),
    ),
    history("A1", 5, {"4": at(3, 17)}),
]
ITEMS = [
    ItemFacts(h, item_metrics(h, WORKFLOW, OPTIONS, NOW), title=h.key, updated=NOW)
    for h in HISTORIES
]
METRICS = sprint_metrics(SPRINTS, HISTORIES, WORKFLOW, OPTIONS, NOW)
TEAMS = {"Alpha": TeamFacts("Alpha", WORKFLOW, sprints=tuple(METRICS))}


def run(rule: str, **params: Any) -> list[Finding]:
    config = RuleConfig(id=rule.replace("_", "-"), rule=rule, params=params)
    return evaluate([config], ITEMS, TEAMS, NOW)


def test_the_scenario_is_what_the_docstring_says() -> None:
    numbers = [(m.name, m.committed_points, m.added_points, m.completed_points) for m in METRICS]
    assert numbers == [
        ("Sprint 1", 10, 0, 10),
        ("Sprint 2", 20, 0, 20),
        ("Sprint 3", 30, 0, 30),
        ("Sprint 4", 30, 5, 0),
    ]


def test_sprint_scope_added_above_the_limit() -> None:
    assert run("sprint_scope_added") == []  # 5 / 30 = 16.7% <= 20%
    assert run("sprint_scope_added", max_percent=10) == [
        Finding(
            rule_id="sprint-scope-added",
            rule="sprint_scope_added",
            severity="warning",
            mode="advisory",
            scope="sprint",
            scope_key="Sprint 4",
            team="Alpha",
            source=None,
            message="Sprint 4 gained 17% scope after it started: 5 points added to 30 "
            "committed (limit 10%)",
            details={
                "sprint_id": "4",
                "state": "active",
                "unit": "points",
                "added": 5.0,
                "committed": 30.0,
                "percent": 16.7,
                "limit_percent": 10,
            },
            identity='["sprint-scope-added","sprint","Alpha","4"]',
        )
    ]


def test_sprint_scope_added_counts_items_when_nothing_was_estimated() -> None:
    unestimated = [replace(h, estimate=None) for h in HISTORIES]
    metrics = sprint_metrics(SPRINTS, unestimated, WORKFLOW, OPTIONS, NOW)
    teams = {"Alpha": TeamFacts("Alpha", WORKFLOW, sprints=tuple(metrics))}
    config = RuleConfig(id="scope", rule="sprint_scope_added", params={"max_percent": 20})
    findings = evaluate([config], ITEMS, teams, NOW)
    # Sprint 4: X1 and C1 committed, A1 added: 1 of 2 items = 50%.
    assert [(f.scope_key, f.message) for f in findings] == [
        (
            "Sprint 4",
            "Sprint 4 gained 50% scope after it started: 1 item added to 2 committed (limit 20%)",
        )
    ]


def test_sprint_overcommitment_against_the_mean_of_earlier_closed_sprints() -> None:
    findings = run("sprint_overcommitment")
    # Sprint 3 (the last closed): 30 vs (10 + 20) / 2 = 15; Sprint 4: 30 vs 20.
    assert [(f.scope_key, f.message, dict(f.details)) for f in findings] == [
        (
            "Sprint 3",
            "Sprint 3 committed 30 points, 100% over the recent velocity of 15 points (limit 20%)",
            {
                "sprint_id": "3",
                "state": "closed",
                "unit": "points",
                "committed": 30.0,
                "velocity": 15.0,
                "sprints_averaged": 2,
                "percent_over": 100.0,
                "limit_percent": 20,
            },
        ),
        (
            "Sprint 4",
            "Sprint 4 committed 30 points, 50% over the recent velocity of 20 points (limit 20%)",
            {
                "sprint_id": "4",
                "state": "active",
                "unit": "points",
                "committed": 30.0,
                "velocity": 20.0,
                "sprints_averaged": 3,
                "percent_over": 50.0,
                "limit_percent": 20,
            },
        ),
    ]
    # Over the last sprint only: Sprint 3 vs Sprint 2 (50% over), Sprint 4 vs Sprint 3 (0%).
    last_only = run("sprint_overcommitment", sprints=1)
    assert [(f.scope_key, f.details["velocity"]) for f in last_only] == [("Sprint 3", 20.0)]
    assert run("sprint_overcommitment", max_percent=100) == []  # strictly more than


def test_carried_over_counts_closes_the_item_was_in_and_not_done() -> None:
    findings = run("carried_over", sprints=2)
    assert [(f.scope_key, f.message, dict(f.details)) for f in findings] == [
        (
            "C1",
            "C1 has been carried over from 3 sprints (threshold 2)",
            {"sprints": 3, "sprint_names": "Sprint 1, Sprint 2, Sprint 3", "threshold": 2},
        )
    ]
    # C2 was done at Sprint 2's close, so only Sprint 1 counts for it.
    once = run("carried_over", sprints=1)
    assert [(f.scope_key, f.details["sprints"]) for f in once] == [("C1", 3), ("C2", 1)]
