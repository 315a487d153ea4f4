"""The engine: team and source filters, modes, per-team overrides, order and identity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pmo_sync.domain import Stage
from pmo_sync.governance.engine import evaluate, stage_warnings
from pmo_sync.governance.model import ItemFacts, TeamFacts
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.items import item_metrics
from pmo_sync.kpi.model import ItemHistory, KpiOptions, StatusChange, Workflow

WORKFLOW = Workflow.from_categories(
    {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
)
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
STARTED = datetime(2026, 3, 10, 12, tzinfo=UTC)


def started(key: str, team: str, source: str = "jira", **facts: Any) -> ItemFacts:
    """In progress since 10 March, no update since: 10 days idle, no assignee."""
    history = ItemHistory(
        key=key,
        source=source,
        team=team,
        item_type="story",
        created=datetime(2026, 3, 1, 12, tzinfo=UTC),
        initial_status="To Do",
        status_changes=(StatusChange(STARTED, "To Do", "In Progress"),),
    )
    metrics = item_metrics(history, WORKFLOW, KpiOptions(), NOW)
    return ItemFacts(history, metrics, title=key, updated=STARTED, **facts)


ITEMS = [
    started("ABC-1", "Alpha"),
    started("ABC-2", "Alpha", source="ado"),
    started("DEF-1", "Beta"),
]
TEAMS = {name: TeamFacts(name, WORKFLOW) for name in ("Alpha", "Beta", "Gamma")}


def keys(rules: list[RuleConfig], items: list[ItemFacts] = ITEMS) -> list[tuple[str, str]]:
    return [(f.rule_id, f.scope_key) for f in evaluate(rules, items, TEAMS, NOW)]


def stale(**fields: Any) -> RuleConfig:
    return RuleConfig(**{"id": "stale", "rule": "stale_in_progress", **fields})


def test_every_team_and_source_by_default() -> None:
    assert keys([stale()]) == [("stale", "ABC-1"), ("stale", "ABC-2"), ("stale", "DEF-1")]


def test_team_and_source_filters() -> None:
    assert keys([stale(teams=["Beta"])]) == [("stale", "DEF-1")]
    assert keys([stale(sources=["ado"])]) == [("stale", "ABC-2")]
    assert keys([stale(teams=["Alpha"], sources=["jira"])]) == [("stale", "ABC-1")]


def test_a_rule_limited_to_sources_skips_teams_without_their_items() -> None:
    wip = {"id": "wip", "rule": "wip_limit", "params": {"total": 0}}
    assert keys([RuleConfig(**wip)]) == [("wip", "Alpha"), ("wip", "Beta")]
    assert keys([RuleConfig(**wip, sources=["ado"])]) == [("wip", "Alpha")]


def test_mode_off_is_not_evaluated_and_an_override_opts_a_team_in() -> None:
    assert keys([stale(mode="off")]) == []
    opt_in = stale(mode="off", overrides={"Beta": {"mode": "advisory"}})
    assert keys([opt_in]) == [("stale", "DEF-1")]
    opt_out = stale(overrides={"Alpha": {"mode": "off"}})
    assert keys([opt_out]) == [("stale", "DEF-1")]


def test_overrides_tune_params_severity_and_mode_per_team() -> None:
    rule = stale(
        severity="info",
        params={"days": 5},
        overrides={"Alpha": {"params": {"days": 15}}, "Beta": {"severity": "critical"}},
    )
    findings = evaluate([rule], ITEMS, TEAMS, NOW)
    assert [(f.scope_key, f.severity, f.message) for f in findings] == [
        ("DEF-1", "critical", "DEF-1 has been in progress with no update for more than 5 days")
    ]
    assert rule.settings_for("Alpha").params.days == 15  # type: ignore[union-attr]
    assert rule.settings_for("Gamma").params.days == 5  # type: ignore[union-attr]


def test_enforced_findings_are_required_and_at_least_warnings() -> None:
    findings = evaluate([stale(mode="enforced", severity="info")], ITEMS[:1], TEAMS, NOW)
    assert [(f.mode, f.severity, f.required) for f in findings] == [("enforced", "warning", True)]
    critical = evaluate([stale(mode="enforced", severity="critical")], ITEMS[:1], TEAMS, NOW)
    assert critical[0].severity == "critical"
    advisory = evaluate([stale()], ITEMS[:1], TEAMS, NOW)
    assert advisory[0].required is False


def test_findings_are_sorted_by_team_scope_key_and_rule() -> None:
    rules = [
        RuleConfig(id="who", rule="missing_assignee"),
        stale(),
        RuleConfig(id="wip", rule="wip_limit", params={"total": 1}),
    ]
    findings = evaluate(rules, list(reversed(ITEMS)), TEAMS, NOW)
    assert [(f.team, f.scope, f.scope_key, f.rule_id) for f in findings] == [
        ("Alpha", "team", "Alpha", "wip"),
        ("Alpha", "item", "ABC-1", "stale"),
        ("Alpha", "item", "ABC-1", "who"),
        ("Alpha", "item", "ABC-2", "stale"),
        ("Alpha", "item", "ABC-2", "who"),
        ("Beta", "item", "DEF-1", "stale"),
        ("Beta", "item", "DEF-1", "who"),
    ]


def test_identity_includes_the_source_and_ignores_tuning() -> None:
    same_key = [started("ABC-1", "Alpha"), started("ABC-1", "Alpha", source="ado")]
    first = evaluate([stale(params={"days": 5})], same_key, TEAMS, NOW)
    retuned = evaluate([stale(params={"days": 2}, severity="critical")], same_key, TEAMS, NOW)
    assert [f.identity for f in first] == [
        '["stale","item","ado","ABC-1"]',
        '["stale","item","jira","ABC-1"]',
    ]
    assert [f.identity for f in retuned] == [f.identity for f in first]


def test_items_of_a_team_without_facts_still_get_item_rules() -> None:
    findings = evaluate([stale()], [started("ZZZ-1", "Omega")], {}, NOW)
    assert [f.scope_key for f in findings] == ["ZZZ-1"]


def test_bad_calls_are_refused() -> None:
    with pytest.raises(ValueError, match="rule ids repeat"):
        evaluate([stale(), stale()], ITEMS, TEAMS, NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate([stale()], ITEMS, TEAMS, datetime(2026, 3, 20))


def test_stage_warnings_name_stages_a_team_does_not_have() -> None:
    rule = RuleConfig(
        id="wip",
        rule="wip_limit",
        teams=["Alpha", "Beta"],
        params={"limits": {"In Progress": 3}},
        overrides={"Beta": {"params": {"limits": {"In Reveiw": 2}}}},
    )
    assert stage_warnings([rule, stale()], TEAMS) == [
        "rule 'wip': team 'Beta' has no stage 'In Reveiw' (its stages: To Do, In Progress, Done)"
    ]
