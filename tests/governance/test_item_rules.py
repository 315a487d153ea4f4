"""The item rules on hand-built items, with exact findings.

Moments are 12:00 UTC in March 2026; `NOW` is Friday 20 March 12:00. The
workflow is To Do | In Progress | Done from `Workflow.from_categories`
(In Review is an in-progress status), committed at In Progress. Item
metrics come from `item_metrics`, so they agree with the histories.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pmo_sync.domain import CheckItem, Stage
from pmo_sync.governance.engine import evaluate
from pmo_sync.governance.model import Finding, ItemFacts, TeamFacts
from pmo_sync.governance.policy import RuleConfig
from pmo_sync.kpi.items import item_metrics
from pmo_sync.kpi.model import (
    FlagChange,
    ItemHistory,
    KpiOptions,
    SprintInfo,
    SprintStay,
    StatusChange,
    Workflow,
    WorkflowStage,
)
from pmo_sync.kpi.sprints import sprint_metrics

WORKFLOW = Workflow.from_categories(
    {
        "To Do": Stage.TODO,
        "In Progress": Stage.IN_PROGRESS,
        "In Review": Stage.IN_PROGRESS,
        "Done": Stage.DONE,
    }
)
BLOCKING = Workflow(
    stages=(
        WorkflowStage("To Do", frozenset({"To Do"}), Stage.TODO),
        WorkflowStage("In Progress", frozenset({"In Progress"}), Stage.IN_PROGRESS),
        WorkflowStage("Blocked", frozenset({"Blocked"}), Stage.IN_PROGRESS),
        WorkflowStage("Waiting", frozenset({"Waiting"}), Stage.IN_PROGRESS),
        WorkflowStage("Done", frozenset({"Done"}), Stage.DONE),
    ),
    commitment_stage="In Progress",
    done_stage="Done",
    blocked_stages=frozenset({"Blocked", "Waiting"}),
)
OPTIONS = KpiOptions()


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


NOW = at(20)


def item(
    key: str,
    *moves: tuple[int, str],
    item_type: str = "story",
    estimate: float | None = None,
    flags: tuple[tuple[int, bool], ...] = (),
    stays: tuple[SprintStay, ...] = (),
    parent: str | None = None,
    team: str = "Alpha",
    source: str = "jira",
    workflow: Workflow = WORKFLOW,
    **facts: Any,
) -> ItemFacts:
    """An item created on 1 March in To Do, moved to each (day, status) at noon."""
    changes, previous = [], "To Do"
    for day, status in moves:
        changes.append(StatusChange(at(day), previous, status))
        previous = status
    history = ItemHistory(
        key=key,
        source=source,
        team=team,
        item_type=item_type,
        created=at(1),
        initial_status="To Do",
        status_changes=tuple(changes),
        flag_changes=tuple(FlagChange(at(d), f) for d, f in flags),
        estimate=estimate,
        sprint_stays=stays,
        parent_key=parent,
    )
    facts.setdefault("title", f"{key} title")
    facts.setdefault("updated", changes[-1].at if changes else at(1))
    return ItemFacts(history, item_metrics(history, workflow, OPTIONS, NOW), **facts)


def run(
    rule: str,
    items: list[ItemFacts],
    teams: dict[str, TeamFacts] | None = None,
    now: datetime = NOW,
    **params: Any,
) -> list[Finding]:
    config = RuleConfig(id=rule.replace("_", "-"), rule=rule, params=params)
    return evaluate([config], items, teams or {"Alpha": TeamFacts("Alpha", WORKFLOW)}, now)


def short(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.scope_key, f.message) for f in findings]


# -- missing_estimate --------------------------------------------------------------------------


def sprint_team(*items: ItemFacts) -> dict[str, TeamFacts]:
    """Alpha with Sprint 9 active (started 16 March) and Sprint 10 planned."""
    sprints = [
        SprintInfo("9", "Sprint 9", "Alpha", "active", at(16, 9), at(27, 17)),
        SprintInfo("10", "Sprint 10", "Alpha", "future", None, None),
    ]
    metrics = sprint_metrics(sprints, [i.history for i in items], WORKFLOW, OPTIONS, NOW)
    return {"Alpha": TeamFacts("Alpha", WORKFLOW, sprints=tuple(metrics))}


def test_missing_estimate_on_items_in_progress_or_in_the_active_sprint() -> None:
    items = [
        item("ABC-1", (10, "In Progress")),
        item("ABC-2", stays=(SprintStay("9", at(15), None),)),
        item("ABC-3", (10, "In Progress"), estimate=3),
        item("ABC-4", item_type="bug"),  # in the backlog
        item("ABC-5", (10, "In Progress"), item_type="subtask"),
        item("ABC-6", stays=(SprintStay("10", at(15), None),)),  # next sprint
        item("ABC-7", (10, "In Progress"), (12, "Done")),
        item("ABC-8", stays=(SprintStay("9", at(15), at(17)),)),  # taken out again
    ]
    findings = run("missing_estimate", items, sprint_team(*items))
    assert findings == [
        Finding(
            rule_id="missing-estimate",
            rule="missing_estimate",
            severity="warning",
            mode="advisory",
            scope="item",
            scope_key="ABC-1",
            team="Alpha",
            source="jira",
            message="ABC-1 has no estimate but is in progress",
            details={"status": "In Progress", "why": "in progress"},
            identity='["missing-estimate","item","jira","ABC-1"]',
        ),
        Finding(
            rule_id="missing-estimate",
            rule="missing_estimate",
            severity="warning",
            mode="advisory",
            scope="item",
            scope_key="ABC-2",
            team="Alpha",
            source="jira",
            message="ABC-2 has no estimate but is in the active sprint Sprint 9",
            details={"status": "To Do", "why": "in the active sprint Sprint 9"},
            identity='["missing-estimate","item","jira","ABC-2"]',
        ),
    ]


def test_missing_estimate_planned_and_open() -> None:
    items = [
        item("ABC-2", stays=(SprintStay("9", at(15), None),)),
        item("ABC-4", item_type="bug"),
        item("ABC-6", stays=(SprintStay("10", at(15), None),)),
    ]
    teams = sprint_team(*items)
    assert short(run("missing_estimate", items, teams, applies_to="planned")) == [
        ("ABC-2", "ABC-2 has no estimate but is in the active sprint Sprint 9"),
        ("ABC-6", "ABC-6 has no estimate but is in the future sprint Sprint 10"),
    ]
    assert short(run("missing_estimate", items, teams, applies_to="open")) == [
        ("ABC-2", "ABC-2 has no estimate"),
        ("ABC-4", "ABC-4 has no estimate"),
        ("ABC-6", "ABC-6 has no estimate"),
    ]


# -- missing_acceptance_criteria ---------------------------------------------------------------

DESCRIPTIONS = {
    "wiki heading": ("h3. Acceptance Criteria\n* user can log in\nh3. Notes\nnone", True),
    "empty section": ("## Acceptance criteria\n\n## Notes\nsomething", False),
    "inline": ("Context.\nAcceptance criteria: works offline", True),
    "bold heading": ("*Acceptance Criteria:*\n- the report opens\n", True),
    "no section": ("Just a description.", False),
    "prose only": ("We will agree on acceptance criterias later", False),
    "none": (None, False),
}


@pytest.mark.parametrize("case", sorted(DESCRIPTIONS))
def test_acceptance_criteria_in_the_description(case: str) -> None:
    description, present = DESCRIPTIONS[case]
    story = item("ABC-1", (10, "In Progress"), description=description)
    findings = run("missing_acceptance_criteria", [story])
    expected = (
        []
        if present
        else [
            (
                "ABC-1",
                "ABC-1 has no acceptance criteria "
                "(looked in the description's 'acceptance criteria' section)",
            )
        ]
    )
    assert short(findings) == expected


# What the connectors put in the records: Azure DevOps' criteria field as plain text (its HTML
# list flattened), a Trello card's checklists ("Acceptance criteria", "Definition of done").
CRITERIA = "* Visa and Mastercard are accepted\n* A declined card shows the bank's reason"
AC_CHECKLIST = (
    CheckItem("Receipt is emailed", True),
    CheckItem("Refund within 5 days", False),
)


def test_acceptance_criteria_in_the_criteria_field_or_a_checklist() -> None:
    """`field` is the tracker's criteria field as the connector read it; a checklist counts
    when one item has a word in it, checked or not (criteria are checked off as the work
    meets them, so a fresh story's are all unchecked)."""
    items = [
        item("ABC-1", (10, "In Progress"), acceptance_criteria=CRITERIA),
        item("ABC-2", (10, "In Progress"), acceptance_criteria=None),
        item("ABC-3", (10, "In Progress"), acceptance_criteria="* \n  "),  # an emptied list
        item("ABC-4", (10, "In Progress"), checklist=AC_CHECKLIST),
        item("ABC-5", (10, "In Progress"), checklist=(CheckItem("Refund within 5 days", False),)),
        item("ABC-6", (10, "In Progress"), checklist=(CheckItem("-", False),)),
        # criteria in the description, which this policy does not look at
        item("ABC-7", (10, "In Progress"), description="Acceptance criteria: works offline"),
        item("ABC-8", (10, "In Progress"), item_type="bug"),  # stories only by default
        item("ABC-9", checklist=()),  # not committed
    ]
    findings = run("missing_acceptance_criteria", items, where=["field", "checklist"])
    looked = "(looked in the acceptance-criteria field or the checklist)"
    assert short(findings) == [
        ("ABC-2", f"ABC-2 has no acceptance criteria {looked}"),
        ("ABC-3", f"ABC-3 has no acceptance criteria {looked}"),
        ("ABC-6", f"ABC-6 has no acceptance criteria {looked}"),
        ("ABC-7", f"ABC-7 has no acceptance criteria {looked}"),
    ]
    assert findings[0].details == {"status": "In Progress", "why": "in progress"}
    # A policy that names the field (as older ones had to) keeps its message.
    named = run("missing_acceptance_criteria", items[:2], where="field", field="AC")
    assert short(named) == [("ABC-2", "ABC-2 has no acceptance criteria (looked in field 'AC')")]


def test_the_shipped_description_or_checklist_option() -> None:
    """config/policies/backlog.yaml: `where: [description, checklist]`, section
    "acceptance criteria|AC", applies to planned stories: a card whose criteria are a
    checklist passes, like a story whose description has the section; one with neither,
    or with only a template story in its description, does not."""
    planned = (SprintStay("10", at(15), None),)
    items = [
        item("ABC-1", stays=planned, checklist=AC_CHECKLIST),
        item("ABC-2", stays=planned, description="As a shopper I want receipts\nAC: a PDF"),
        item("ABC-3", stays=planned, description="As a shopper I want receipts so that I file"),
        item("ABC-4", (10, "In Progress"), checklist=(CheckItem("Released", True),)),
        item("ABC-5", (10, "In Progress")),
    ]
    findings = run(
        "missing_acceptance_criteria",
        items,
        sprint_team(*items),
        where=["description", "checklist"],
        section="acceptance criteria|AC",
        applies_to="planned",
    )
    looked = (
        "(looked in the description's 'acceptance criteria' (or 'AC') section or the checklist)"
    )
    assert short(findings) == [
        ("ABC-3", f"ABC-3 has no acceptance criteria {looked}"),
        ("ABC-5", f"ABC-5 has no acceptance criteria {looked}"),
    ]
    assert findings[0].details == {
        "status": "To Do",
        "why": "in the future sprint Sprint 10",
    }


def test_acceptance_criteria_section_is_a_regex_ending_at_a_word() -> None:
    items = [
        item("ABC-1", (10, "In Progress"), description="AC: the total is shown"),
        item("ABC-2", (10, "In Progress"), description="Account settings: all of them"),
    ]
    findings = run("missing_acceptance_criteria", items, section="acceptance criteria|AC")
    assert [f.scope_key for f in findings] == ["ABC-2"]


@pytest.mark.parametrize(
    ("section", "looked"),
    [
        ("Acceptance Criteria", "'Acceptance Criteria'"),
        ("acceptance criteria|AC|definition of done",
         "'acceptance criteria' (or 'AC', 'definition of done')"),
        (r"accept\w* crit\w*", "acceptance-criteria"),
        (r"(?:AC|acceptance)", "acceptance-criteria"),
        ("AC|", "acceptance-criteria"),
    ],
)  # fmt: skip
def test_acceptance_criteria_message_says_the_heading_in_words_never_a_pattern(
    section: str, looked: str
) -> None:
    """A PMO reads the message: plain headings are quoted, a pattern is described, not shown."""
    story = item("ABC-7", (10, "In Progress"), description="Just a description.")
    (finding,) = run("missing_acceptance_criteria", [story], section=section)
    assert finding.message == (
        f"ABC-7 has no acceptance criteria (looked in the description's {looked} section)"
    )


# -- user_story_template -----------------------------------------------------------------------


def test_user_story_template_in_title_or_description() -> None:
    items = [
        item("ABC-1", (10, "In Progress"), title="As a PMO I want dashboards so that I see flow"),
        item(
            "ABC-2",
            (10, "In Progress"),
            title="Export",
            description="*As an* admin,\nI want a CSV export,\nso that I can audit.",
        ),
        item("ABC-3", (10, "In Progress"), title="Fix login"),
        item("ABC-4", (10, "In Progress"), title="Fix crash", item_type="bug"),
        item("ABC-5", title="Not committed"),
    ]
    findings = run("user_story_template", items)
    assert short(findings) == [
        ("ABC-3", "ABC-3 does not follow the user-story template in its title or description")
    ]
    assert findings[0].details == {
        "pattern": "As an? .+ I want .+ so that .+",
        "why": "in progress",
    }
    custom = run("user_story_template", items, pattern=r"^\[.+\]", where="title")
    assert [f.scope_key for f in custom] == ["ABC-1", "ABC-2", "ABC-3"]
    assert custom[0].message == "ABC-1 does not follow the user-story template in its title"


# -- wip_limit ---------------------------------------------------------------------------------


def test_wip_limit_per_stage_and_in_total() -> None:
    items = [
        item("ABC-1", (10, "In Progress")),
        item("ABC-2", (11, "In Review")),  # In Review is in the In Progress stage
        item("ABC-3", (12, "In Progress")),
        item("ABC-4", (12, "In Progress"), item_type="epic"),  # not counted by default
        item("ABC-5"),
        item("ABC-6"),
        item("ABC-7", (12, "In Progress"), (13, "Done")),
    ]
    findings = run("wip_limit", items, limits={"In Progress": 2, "To Do": 2}, total=3)
    assert [(f.scope_key, f.message, dict(f.details), f.identity) for f in findings] == [
        (
            "Alpha / In Progress",
            "Alpha has 3 items in In Progress (limit 2)",
            {"stage": "In Progress", "items": 3, "limit": 2, "keys": "ABC-1, ABC-2, ABC-3"},
            '["wip-limit","team","Alpha","In Progress"]',
        ),
    ]
    assert findings[0].scope == "team" and findings[0].source is None
    total = run("wip_limit", items, total=2)
    assert [(f.scope_key, f.message, f.identity) for f in total] == [
        ("Alpha", "Alpha has 3 items in progress (limit 2)", '["wip-limit","team","Alpha"]')
    ]
    with_epics = run("wip_limit", items, total=3, item_types=["story", "epic"])
    assert short(with_epics) == [("Alpha", "Alpha has 4 items in progress (limit 3)")]


# -- aging_wip ---------------------------------------------------------------------------------


def test_aging_wip_against_the_teams_percentile() -> None:
    teams = {"Alpha": TeamFacts("Alpha", WORKFLOW, {50: 3.0, 85: 5.0})}
    items = [
        item("ABC-1", (14, "In Progress")),  # 14..20 March inclusive: 7 days
        item("ABC-2", (16, "In Progress")),  # 5 days: not older than 5
        item("ABC-3", (2, "In Progress"), (3, "Done")),
    ]
    findings = run("aging_wip", items, teams)
    assert short(findings) == [
        ("ABC-1", "ABC-1 has been in progress longer than Alpha's 85th-percentile cycle time")
    ]
    assert findings[0].details == {
        "age_days": 7.0,
        "percentile": 85,
        "cycle_time_days": 5.0,
        "factor": 1.0,
        "limit_days": 5.0,
        "stage": "In Progress",
    }
    assert run("aging_wip", items, teams, factor=1.5) == []  # limit 7.5
    median = run("aging_wip", items, teams, percentile=50, factor=1.5)  # limit 4.5
    assert short(median) == [
        (
            "ABC-1",
            "ABC-1 has been in progress longer than 1.5 times Alpha's 50th-percentile cycle time",
        ),
        (
            "ABC-2",
            "ABC-2 has been in progress longer than 1.5 times Alpha's 50th-percentile cycle time",
        ),
    ]


def test_aging_wip_without_finished_items_finds_nothing() -> None:
    teams = {"Alpha": TeamFacts("Alpha", WORKFLOW, {85: None})}
    assert run("aging_wip", [item("ABC-1", (2, "In Progress"))], teams) == []


# -- stale_in_progress -------------------------------------------------------------------------


def test_stale_in_progress_more_than_n_days_without_an_update() -> None:
    items = [
        item("ABC-1", (10, "In Progress"), updated=at(14)),  # 6 days
        item("ABC-2", (10, "In Progress"), updated=at(15)),  # exactly 5: not more
        item("ABC-3", (10, "In Progress"), (18, "In Review"), updated=at(2)),  # history is newer
        item("ABC-4", updated=at(1)),  # not in progress
    ]
    findings = run("stale_in_progress", items, days=5)
    assert short(findings) == [
        ("ABC-1", "ABC-1 has been in progress with no update for more than 5 days")
    ]
    assert findings[0].details == {
        "days_since_update": 6.0,
        "last_update": "2026-03-14T12:00:00+00:00",
        "limit_days": 5,
        "stage": "In Progress",
    }


def test_messages_do_not_change_as_time_passes() -> None:
    """The write-back comment is not edited every day: only `details` grows."""
    stale = item("ABC-1", (10, "In Progress"), updated=at(14))
    today = run("stale_in_progress", [stale], days=5)
    later_item = replace(stale, metrics=item_metrics(stale.history, WORKFLOW, OPTIONS, at(23)))
    later = run("stale_in_progress", [later_item], now=at(23), days=5)
    assert later[0].message == today[0].message
    assert later[0].identity == today[0].identity
    assert (today[0].details["days_since_update"], later[0].details["days_since_update"]) == (
        6.0,
        9.0,
    )


# -- blocked_too_long --------------------------------------------------------------------------


def test_blocked_too_long_by_flag_and_by_blocked_stage() -> None:
    teams = {"Alpha": TeamFacts("Alpha", BLOCKING)}
    moves = ((10, "In Progress"),)
    items = [
        # Flagged 12th, cleared 14th, flagged again 15th (16th repeats it): since the 15th.
        item(
            "ABC-1",
            *moves,
            flags=((12, True), (14, False), (15, True), (16, True)),
            flagged=True,
            workflow=BLOCKING,
        ),
        item("ABC-2", *moves, flags=((19, True),), flagged=True, workflow=BLOCKING),
        # In Blocked since the 12th, then Waiting (also blocked) on the 14th: since the 12th.
        item("ABC-3", *moves, (12, "Blocked"), (14, "Waiting"), workflow=BLOCKING),
        # Flagged since the 18th, in Blocked since the 16th: since the 16th.
        item(
            "ABC-4",
            *moves,
            (16, "Blocked"),
            flags=((18, True),),
            flagged=True,
            workflow=BLOCKING,
        ),
        item("ABC-5", flags=((2, True),), flagged=True, workflow=BLOCKING),  # not started
        item("ABC-6", *moves, flags=((2, True),), flagged=False, workflow=BLOCKING),
        item("ABC-7", *moves, flagged=True, workflow=BLOCKING),  # no flag history: untimed
    ]
    findings = run("blocked_too_long", items, teams, days=3)
    assert [(f.scope_key, f.message, dict(f.details)) for f in findings] == [
        (
            "ABC-1",
            "ABC-1 has been blocked for more than 3 days",
            {
                "blocked_days": 5.0,
                "blocked_since": "2026-03-15T12:00:00+00:00",
                "how": "flagged",
                "limit_days": 3,
            },
        ),
        (
            "ABC-3",
            "ABC-3 has been blocked for more than 3 days",
            {
                "blocked_days": 8.0,
                "blocked_since": "2026-03-12T12:00:00+00:00",
                "how": "in Waiting",
                "limit_days": 3,
            },
        ),
        (
            "ABC-4",
            "ABC-4 has been blocked for more than 3 days",
            {
                "blocked_days": 4.0,
                "blocked_since": "2026-03-16T12:00:00+00:00",
                "how": "flagged, in Blocked",
                "limit_days": 3,
            },
        ),
    ]


# -- missing_assignee and missing_parent_epic -------------------------------------------------


def test_missing_assignee_on_work_in_progress() -> None:
    items = [
        item("ABC-1", (10, "In Progress")),
        item("ABC-2", (10, "In Progress"), assignee="  "),
        item("ABC-3", (10, "In Progress"), assignee="Dana"),
        item("ABC-4"),
        item("ABC-5", (10, "In Progress"), item_type="epic"),
    ]
    findings = run("missing_assignee", items)
    assert short(findings) == [
        ("ABC-1", "ABC-1 is in progress with no assignee"),
        ("ABC-2", "ABC-2 is in progress with no assignee"),
    ]
    assert findings[0].details == {"stage": "In Progress"}


def test_missing_parent_epic() -> None:
    items = [
        item("ABC-1", (10, "In Progress")),
        item("ABC-2", (10, "In Progress"), parent="ABC-9", parent_type="story"),
        item("ABC-3", (10, "In Progress"), parent="ABC-8", parent_type="epic"),
        item("ABC-4", (10, "In Progress"), parent="OTHER-1"),  # type unknown: trusted
        item("ABC-5", (10, "In Progress"), item_type="subtask"),
        item("ABC-6"),
    ]
    findings = run("missing_parent_epic", items)
    assert [(f.scope_key, f.message, dict(f.details)) for f in findings] == [
        (
            "ABC-1",
            "ABC-1 is in progress with no parent epic",
            {"parent_key": "", "parent_type": "", "stage": "In Progress"},
        ),
        (
            "ABC-2",
            "ABC-2 is in progress and its parent ABC-9 is a story, not an epic",
            {"parent_key": "ABC-9", "parent_type": "story", "stage": "In Progress"},
        ),
    ]
    features = run("missing_parent_epic", items[:1], parent_types=["epic", "other"])
    assert features[0].message == "ABC-1 is in progress with no parent epic or other"


def test_details_and_identity_survive_a_day_later() -> None:
    first = run("missing_assignee", [item("ABC-1", (10, "In Progress"))])
    again = run("missing_assignee", [item("ABC-1", (10, "In Progress"))], now=NOW + timedelta(1))
    assert first == again
