"""Building facts: TeamFacts from a KPI run, parent types, ADF descriptions as text."""

from __future__ import annotations

from datetime import UTC, datetime

from pmo_sync.domain import Stage
from pmo_sync.governance.engine import evaluate
from pmo_sync.governance.facts import link_parents, team_facts
from pmo_sync.governance.model import ItemFacts
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.compute import compute_kpis
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, SprintInfo, SprintStay, StatusChange

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
CATEGORIES = {"jira": {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}}


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


def history(
    key: str, *moves: tuple[int, str], item_type: str = "story", **kw: object
) -> ItemHistory:
    changes, previous = [], "To Do"
    for day, status in moves:
        changes.append(StatusChange(at(day), previous, status))
        previous = status
    return ItemHistory(
        key=key,
        source="jira",
        team="Alpha",
        item_type=item_type,
        created=at(1),
        initial_status="To Do",
        status_changes=tuple(changes),
        **kw,  # type: ignore[arg-type]
    )


def test_team_facts_from_a_kpi_run_feed_the_aging_rule() -> None:
    histories = [
        history("ABC-1", (2, "In Progress"), (4, "Done")),  # 3 days inclusive
        history("ABC-2", (5, "In Progress"), (9, "Done")),  # 5 days
        history("ABC-3", (15, "In Progress"), sprint_stays=(SprintStay("2", at(9), None),)),
        history("ABC-4", (19, "In Progress"), sprint_stays=(SprintStay("2", at(9), None),)),
    ]
    sprints = [
        SprintInfo("3", "Sprint 3", "Alpha", "future", None, None),
        SprintInfo("2", "Sprint 2", "Alpha", "active", at(9), at(20)),
        SprintInfo("1", "Sprint 1", "Alpha", "closed", at(1), at(8), at(8)),
    ]
    run = compute_kpis(histories, sprints, KpiConfig(), CATEGORIES, NOW)
    teams = team_facts(run, sprints)
    alpha = teams["Alpha"]
    assert [s.name for s in alpha.sprints] == ["Sprint 1", "Sprint 2", "Sprint 3"]
    assert alpha.workflow.stage_names == ("To Do", "In Progress", "Done")
    # p85 of [3, 5]: rank 0.85 -> 3 + 0.85 * 2 = 4.7
    assert round(alpha.cycle_time_percentiles[85] or 0, 6) == 4.7

    items = [
        ItemFacts(h, m, title=h.key, updated=NOW)
        for h, m in zip(histories, run.flow.metrics, strict=True)
    ]
    findings = evaluate([RuleConfig(id="aging", rule="aging_wip")], items, teams, NOW)
    assert [(f.scope_key, f.details["age_days"]) for f in findings] == [("ABC-3", 6.0)]


def test_link_parents_fills_known_parent_types_of_the_same_source() -> None:
    epic = history("ABC-9", item_type="epic")
    story = history("ABC-1", parent_key="ABC-9")
    foreign = history("ABC-2", parent_key="XYZ-1")
    given = history("ABC-3", parent_key="ABC-9")
    facts = [
        ItemFacts(h, None, title=h.key, updated=NOW)  # type: ignore[arg-type]
        for h in (epic, story, foreign)
    ]
    facts.append(
        ItemFacts(given, None, title="x", updated=NOW, parent_type="feature")  # type: ignore[arg-type]
    )
    linked = link_parents(facts)
    assert [(f.key, f.parent_type) for f in linked] == [
        ("ABC-9", None),
        ("ABC-1", "epic"),
        ("ABC-2", None),
        ("ABC-3", "feature"),
    ]
