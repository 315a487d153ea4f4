"""Write-back plans on small real KPI runs, down to the exact actions and dry-run lines.

Team Alpha, source ``bench``, `NOW` Thursday 12 March 2026 12:00 UTC (the
reporting window starts Monday 15 December 2025):

- A-1 story, In Progress on the 2nd, Done on the 6th: cycle 5, lead 6 days.
- A-2 story, In Progress since the 10th: WIP age 3 days.
- A-3 story, never started.
- A-10 epic of the three, never started.

One done item: the team's p85 cycle time is 5.0. The requests' forecast fields and sentence
come from the portfolio answers, not passed here (tests/writeback/test_request_writeback.py).
A fake transport runs each plan and records each success with `apply_result`, as `pmo-sync
push` will.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.domain import Stage
from pmo_sync.governance.model import Finding, Severity, finding_identity
from pmo_sync.kpi.compute import KpiRun, compute_kpis
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, StatusChange
from pmo_sync.writeback.comment import render_comment, resolved_comment
from pmo_sync.writeback.plan import (
    COMMENT_TARGET,
    PENDING,
    Action,
    AddComment,
    DeleteComment,
    DesiredItem,
    FieldChange,
    LedgerEntry,
    LedgerKey,
    Outcome,
    SetFields,
    UpdateComment,
    _rounded,
    apply_result,
    canonical_json,
    desired_state,
    field_target,
    intent,
    plan,
    reconcile_add,
    reconcile_delete,
    value_hash,
)

NOW = datetime(2026, 3, 12, 12, tzinfo=UTC)
STATUSES = {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
STAGES = {"bench": STATUSES, "other": STATUSES}
CONFIG = WritebackConfig(
    enabled=True,
    fields={
        "cycle_time_days": "customfield_1",
        "wip_age_days": "customfield_2",
        "team_cycle_time_p85_days": "customfield_3",
        "forecast_done_p85_date": "customfield_4",
    },
)
Ledger = dict[LedgerKey, LedgerEntry]


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def item(
    key: str,
    created: datetime,
    *moves: tuple[datetime, str, str],
    source: str = "bench",
    item_type: str = "story",
    parent: str | None = "A-10",
) -> ItemHistory:
    return ItemHistory(
        key=key,
        source=source,
        team="Alpha",
        item_type=item_type,
        created=created,
        initial_status="To Do",
        status_changes=tuple(StatusChange(when, f, t) for when, f, t in moves),
        parent_key=parent,
    )


A1 = item("A-1", at(1), (at(2), "To Do", "In Progress"), (at(6), "In Progress", "Done"))
A2 = item("A-2", at(3), (at(10), "To Do", "In Progress"))
A3 = item("A-3", at(4))
A10 = item("A-10", at(1), item_type="epic", parent=None)
ITEMS = [A1, A2, A3, A10]


@functools.cache
def _run(items: tuple[ItemHistory, ...], now: datetime) -> KpiRun:
    return compute_kpis(items, [], KpiConfig(), STAGES, now)


def run_of(items: Sequence[ItemHistory], now: datetime = NOW) -> KpiRun:
    """One computation per distinct input (the team forecast's simulation is the slow part)."""
    return _run(tuple(items), now)


def finding(
    key: str,
    rule_id: str,
    severity: Severity = "warning",
    required: bool = False,
    source: str = "bench",
) -> Finding:
    return Finding(
        rule_id=rule_id,
        rule=rule_id,
        severity=severity,
        mode="enforced" if required else "advisory",
        scope="item",
        scope_key=key,
        team="Alpha",
        source=source,
        message=f"{key} breaks {rule_id}",
        details={},
        identity=finding_identity(rule_id, "item", source, key),
    )


STALE = finding("A-2", "stale")
NO_AC = finding("A-2", "acceptance-criteria", "critical", required=True)
FINDINGS = [STALE, NO_AC]


def desired(
    items: Sequence[ItemHistory] = ITEMS,
    findings: Sequence[Finding] = FINDINGS,
    config: WritebackConfig = CONFIG,
    now: datetime = NOW,
    source: str = "bench",
) -> list[DesiredItem]:
    run = run_of(items, now)
    return desired_state(run, findings, config, source, item_sources=[i.source for i in items])


class FakeTracker:
    """Runs actions like the transport would: comment ids from 10001, chosen failures."""

    def __init__(self) -> None:
        self.ids = itertools.count(10001)
        self.calls: list[Action] = []

    def push(
        self,
        actions: Iterable[Action],
        ledger: Ledger,
        outcome: Callable[[Action], Outcome | None] = lambda a: None,
    ) -> None:
        for action in actions:
            self.calls.append(action)
            result = outcome(action)
            if result is None:
                new_id = str(next(self.ids)) if isinstance(action, AddComment) else None
                result = Outcome.success(new_id)
            apply_result(action, result).apply(ledger)


def body(key: str, *findings: Finding) -> str:
    text = render_comment(key, findings, "[pmo-sync]")
    assert text is not None
    return text


def first_push(config: WritebackConfig = CONFIG) -> tuple[FakeTracker, Ledger]:
    tracker, ledger = FakeTracker(), {}
    tracker.push(plan(desired(config=config), ledger, config, source="bench"), ledger)
    return tracker, ledger


# -- desired state ------------------------------------------------------------------------------


def test_desired_state_is_exact() -> None:
    """Done A-1: item metrics only (p85 is open-only). Open items: the team's p85. No
    portfolio answers: no forecast field, even on the epic."""
    assert desired() == [
        DesiredItem("bench", "A-1", {"cycle_time_days": 5.0, "wip_age_days": None}, None),
        DesiredItem(
            "bench",
            "A-2",
            {"cycle_time_days": None, "wip_age_days": 3.0, "team_cycle_time_p85_days": 5.0},
            body("A-2", STALE, NO_AC),
        ),
        DesiredItem(
            "bench",
            "A-3",
            {"cycle_time_days": None, "wip_age_days": None, "team_cycle_time_p85_days": 5.0},
        ),
        DesiredItem(
            "bench",
            "A-10",
            {
                "cycle_time_days": None,
                "wip_age_days": None,
                "team_cycle_time_p85_days": 5.0,
            },
        ),
    ]


def test_desired_state_keeps_to_its_source_even_when_keys_collide() -> None:
    """`other` has an A-2 too: its findings and metrics never reach bench's A-2."""
    other = item("A-2", at(1), (at(2), "To Do", "In Progress"), source="other", parent=None)
    got = desired([*ITEMS, other], [*FINDINGS, finding("A-2", "no-estimate", source="other")])
    assert [d.key for d in got] == ["A-1", "A-2", "A-3", "A-10"]
    assert got[1].fields["wip_age_days"] == 3.0
    assert got[1].comment == body("A-2", STALE, NO_AC)
    on_other = desired([*ITEMS, other], [], source="other")
    assert on_other == [
        DesiredItem(
            "other",
            "A-2",
            {"cycle_time_days": None, "wip_age_days": 11.0, "team_cycle_time_p85_days": 5.0},
        )
    ]


def test_items_open_leaves_work_done_before_the_window_alone() -> None:
    """Done 1 December 2025, before the window (15 December): no fields, unless items: all."""
    old = item(
        "A-0",
        datetime(2025, 11, 20, 12, tzinfo=UTC),
        (datetime(2025, 11, 24, 12, tzinfo=UTC), "To Do", "In Progress"),
        (datetime(2025, 12, 1, 12, tzinfo=UTC), "In Progress", "Done"),
        parent=None,
    )
    got = desired([old, *ITEMS], [])
    assert got[0] == DesiredItem("bench", "A-0", {}, None)
    every = desired([old, *ITEMS], [], config=CONFIG.model_copy(update={"items": "all"}))
    assert every[0] == DesiredItem(
        "bench", "A-0", {"cycle_time_days": 8.0, "wip_age_days": None}, None
    )


def test_findings_on_an_item_not_in_the_run_still_get_a_comment() -> None:
    got = desired(findings=[finding("A-99", "stale")])
    assert got[-1] == DesiredItem("bench", "A-99", {}, body("A-99", finding("A-99", "stale")))


def test_a_disabled_config_is_refused() -> None:
    """Planning a disabled connector would read as "no comments wanted" and delete them all."""
    with pytest.raises(ValueError, match="write-back is not enabled for 'bench'"):
        desired(config=WritebackConfig())


def test_days_round_half_up_to_one_decimal() -> None:
    assert [_rounded(v, 1) for v in (4.05, 4.04, 2.25, -0.04, 3.0)] == [4.1, 4.0, 2.3, 0.0, 3.0]
    assert _rounded(0.805, 2) == 0.81


# -- plans --------------------------------------------------------------------------------------


def test_first_run_sets_fields_and_adds_the_comment() -> None:
    actions = plan(desired(), {}, CONFIG, source="bench")
    assert actions == [
        SetFields(
            "bench", "A-1", (FieldChange("cycle_time_days", "customfield_1", 5.0, first=True),)
        ),
        SetFields(
            "bench",
            "A-2",
            (
                FieldChange("wip_age_days", "customfield_2", 3.0, first=True),
                FieldChange("team_cycle_time_p85_days", "customfield_3", 5.0, first=True),
            ),
        ),
        AddComment("bench", "A-2", body("A-2", STALE, NO_AC)),
        SetFields(
            "bench",
            "A-3",
            (FieldChange("team_cycle_time_p85_days", "customfield_3", 5.0, first=True),),
        ),
        SetFields(
            "bench",
            "A-10",
            (FieldChange("team_cycle_time_p85_days", "customfield_3", 5.0, first=True),),
        ),
    ]
    assert actions[1].values == {"customfield_2": 3.0, "customfield_3": 5.0}  # type: ignore[union-attr]


def test_dry_run_lines_are_exact() -> None:
    actions = plan(desired(), {}, CONFIG, source="bench")
    assert "\n".join(a.describe() for a in actions) == (
        "A-1: set Cycle time (days) [customfield_1] = 5.0 (new)\n"
        "A-2: set WIP age (days) [customfield_2] = 3.0 (new); "
        "set Team cycle time p85 (days) [customfield_3] = 5.0 (new)\n"
        "A-2: add comment\n"
        "    [pmo-sync] 2 governance findings on A-2:\n"
        "    - critical, required: A-2 breaks acceptance-criteria (rule acceptance-criteria)\n"
        "    - warning: A-2 breaks stale (rule stale)\n"
        "\n"
        "    Managed by pmo-sync: edited in place when these findings change, deleted when they"
        " are all resolved. Changes made here by hand are overwritten.\n"
        "A-3: set Team cycle time p85 (days) [customfield_3] = 5.0 (new)\n"
        "A-10: set Team cycle time p85 (days) [customfield_3] = 5.0 (new)"
    )


def test_the_ledger_after_a_first_push() -> None:
    _, ledger = first_push()
    assert ledger[("bench", "A-2", COMMENT_TARGET)] == LedgerEntry(
        "bench", "A-2", "comment", value_hash(body("A-2", STALE, NO_AC)), comment_id="10001"
    )
    assert ledger[("bench", "A-2", "field:wip_age_days")] == LedgerEntry(
        "bench",
        "A-2",
        "field:wip_age_days",
        value_hash(3.0),
        value_json="3.0",
        tracker_field="customfield_2",
    )
    assert len(ledger) == 6  # 5 fields + 1 comment; nothing for values never written
    assert value_hash(3.0) == value_hash(3.0) != value_hash(3.1)
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_planning_again_after_recording_every_success_plans_nothing() -> None:
    tracker, ledger = FakeTracker(), {}
    counts = []
    for _ in range(10):
        actions = plan(desired(), ledger, CONFIG, source="bench")
        counts.append(len(actions))
        tracker.push(actions, ledger)
    assert counts == [5] + [0] * 9
    assert len(tracker.calls) == 5


def test_a_changed_value_sets_only_that_field() -> None:
    """A day later A-2's WIP age is 4; nothing else moved (p85 and the forecast are the same)."""
    _, ledger = first_push()
    actions = plan(desired(now=NOW + timedelta(days=1)), ledger, CONFIG, source="bench")
    assert actions == [
        SetFields("bench", "A-2", (FieldChange("wip_age_days", "customfield_2", 4.0, was=3.0),))
    ]
    assert actions[0].describe() == "A-2: set WIP age (days) [customfield_2] = 4.0 (was 3.0)"


def test_an_item_finishing_gets_its_final_values_and_its_wip_age_cleared() -> None:
    """A-2 done on the 12th at 10:00: cycle 10..12 = 3 days; the p85 of (5, 3) is 4.7."""
    _, ledger = first_push()
    done = item("A-2", at(3), (at(10), "To Do", "In Progress"), (at(12, 10), "In Progress", "Done"))
    actions = plan(desired([A1, done, A3, A10], [STALE]), ledger, CONFIG, source="bench")
    assert [a.describe() for a in actions] == [
        "A-2: set Cycle time (days) [customfield_1] = 3.0 (new); "
        "clear WIP age (days) [customfield_2] (was 3.0)",
        "A-2: update comment 10001\n"
        "    [pmo-sync] 1 governance finding on A-2:\n"
        "    - warning: A-2 breaks stale (rule stale)\n"
        "\n"
        "    Managed by pmo-sync: edited in place when these findings change, deleted when they"
        " are all resolved. Changes made here by hand are overwritten.",
        "A-3: set Team cycle time p85 (days) [customfield_3] = 4.7 (was 5.0)",
        "A-10: set Team cycle time p85 (days) [customfield_3] = 4.7 (was 5.0)",
    ]
    FakeTracker().push(actions, ledger)
    assert ledger[("bench", "A-2", "field:wip_age_days")].value_json == "null"
    assert plan(desired([A1, done, A3, A10], [STALE]), ledger, CONFIG, source="bench") == []


def test_changed_findings_update_the_comment_in_place() -> None:
    _, ledger = first_push()
    actions = plan(desired(findings=[NO_AC]), ledger, CONFIG, source="bench")
    assert actions == [UpdateComment("bench", "A-2", "10001", body("A-2", NO_AC))]


def test_the_same_findings_in_another_order_change_nothing() -> None:
    _, ledger = first_push()
    assert plan(desired(findings=[NO_AC, STALE]), ledger, CONFIG, source="bench") == []


def test_cleared_findings_delete_the_comment_once() -> None:
    tracker, ledger = first_push()
    actions = plan(desired(findings=[]), ledger, CONFIG, source="bench")
    assert actions == [DeleteComment("bench", "A-2", "10001")]
    assert actions[0].describe() == "A-2: delete comment 10001"
    tracker.push(actions, ledger)
    assert ("bench", "A-2", COMMENT_TARGET) not in ledger
    assert plan(desired(findings=[]), ledger, CONFIG, source="bench") == []
    again = plan(desired(), ledger, CONFIG, source="bench")  # the findings come back: a new one
    assert again == [AddComment("bench", "A-2", body("A-2", STALE, NO_AC))]


def test_on_clear_resolve_replaces_the_comment_with_a_note_once() -> None:
    config = CONFIG.model_copy(update={"on_clear": "resolve"})
    tracker, ledger = first_push(config)
    actions = plan(desired(findings=[], config=config), ledger, config, source="bench")
    assert actions == [
        UpdateComment("bench", "A-2", "10001", resolved_comment("A-2", "[pmo-sync]"))
    ]
    tracker.push(actions, ledger)
    assert plan(desired(findings=[], config=config), ledger, config, source="bench") == []
    # An item that never had a comment gets no "resolved" note: there is nothing to resolve.
    fresh = plan(desired(findings=[], config=config), {}, config, source="bench")
    assert [type(a) for a in fresh] == [SetFields] * 4


def test_an_item_that_left_the_scope_has_its_comment_deleted_whatever_on_clear_says() -> None:
    config = CONFIG.model_copy(update={"on_clear": "resolve"})
    _, ledger = first_push(config)
    actions = plan(desired([A1, A3, A10], [], config=config), ledger, config, source="bench")
    assert actions == [DeleteComment("bench", "A-2", "10001")]


def test_turning_comments_off_deletes_the_posted_ones() -> None:
    _, ledger = first_push()
    config = CONFIG.model_copy(update={"comments": False})
    actions = plan(desired(config=config), ledger, config, source="bench")
    assert actions == [DeleteComment("bench", "A-2", "10001")]


def test_a_failed_action_is_not_recorded_and_is_planned_again() -> None:
    tracker, ledger = FakeTracker(), {}
    first = plan(desired(), ledger, CONFIG, source="bench")

    def fail_a2(action: Action) -> Outcome | None:
        return Outcome.failure("HTTP 503") if action.key == "A-2" else None

    tracker.push(first, ledger, fail_a2)
    assert {k[1] for k in ledger} == {"A-1", "A-3", "A-10"}
    assert plan(desired(), ledger, CONFIG, source="bench") == [a for a in first if a.key == "A-2"]


def test_a_comment_deleted_by_a_person_is_added_again() -> None:
    """The update finds no comment (404): forgotten now, added again next run."""
    tracker, ledger = first_push()
    update = plan(desired(findings=[NO_AC]), ledger, CONFIG, source="bench")
    tracker.push(update, ledger, lambda a: Outcome.not_found())
    assert ("bench", "A-2", COMMENT_TARGET) not in ledger
    assert plan(desired(findings=[NO_AC]), ledger, CONFIG, source="bench") == [
        AddComment("bench", "A-2", body("A-2", NO_AC))
    ]


def test_a_comment_already_gone_counts_as_deleted() -> None:
    tracker, ledger = first_push()
    actions = plan(desired(findings=[]), ledger, CONFIG, source="bench")
    tracker.push(actions, ledger, lambda a: Outcome.not_found())
    assert plan(desired(findings=[]), ledger, CONFIG, source="bench") == []


def test_a_remapped_metric_is_written_to_its_new_field() -> None:
    _, ledger = first_push()
    fields = {**CONFIG.fields, "cycle_time_days": "customfield_9"}
    config = CONFIG.model_copy(update={"fields": fields})
    assert plan(desired(config=config), ledger, config, source="bench") == [
        SetFields(
            "bench", "A-1", (FieldChange("cycle_time_days", "customfield_9", 5.0, first=True),)
        )
    ]


def test_a_metric_no_longer_configured_is_left_alone() -> None:
    _, ledger = first_push()
    fields = {k: v for k, v in CONFIG.fields.items() if k != "wip_age_days"}
    config = CONFIG.model_copy(update={"fields": fields})
    assert plan(desired(config=config), ledger, config, source="bench") == []


def test_other_sources_ledger_rows_are_never_touched() -> None:
    _, ledger = first_push()
    theirs = LedgerEntry("other", "A-2", COMMENT_TARGET, value_hash("x"), comment_id="7")
    ledger[theirs.ledger_key] = theirs
    assert plan(desired(), ledger, CONFIG, source="bench") == []
    assert plan([], ledger, CONFIG, source="other") == [DeleteComment("other", "A-2", "7")]


def test_plans_refuse_mixed_or_repeated_items() -> None:
    item_ = DesiredItem("bench", "A-1", {}, None)
    with pytest.raises(ValueError, match="desired for source 'bench', planning 'other'"):
        plan([item_], {}, CONFIG, source="other")
    with pytest.raises(ValueError, match="A-1: desired twice"):
        plan([item_, item_], {}, CONFIG, source="bench")


# -- adopting comments the ledger does not know ----------------------------------------------


def test_an_add_adopts_the_oldest_bot_comment_and_deletes_the_rest() -> None:
    add = AddComment("bench", "A-2", "[pmo-sync] new")
    assert reconcile_add(add, []) == [add]
    found = [("10010", "[pmo-sync] old"), ("9999", "[pmo-sync] older")]
    assert reconcile_add(add, found) == [
        UpdateComment("bench", "A-2", "9999", "[pmo-sync] new"),
        DeleteComment("bench", "A-2", "10010"),
    ]


def test_a_successful_add_must_report_its_comment_id() -> None:
    with pytest.raises(ValueError, match="A-2: a successful add must report the new comment's id"):
        apply_result(AddComment("bench", "A-2", "x"), Outcome.success())


def test_a_failed_action_changes_nothing_in_the_ledger() -> None:
    for action in (
        AddComment("bench", "A-2", "x"),
        UpdateComment("bench", "A-2", "1", "x"),
        DeleteComment("bench", "A-2", "1"),
        SetFields("bench", "A-2", (FieldChange("wip_age_days", "customfield_2", 1.0),)),
    ):
        update = apply_result(action, Outcome.failure("HTTP 500"))
        assert update.put == () and update.remove == ()


def test_field_targets() -> None:
    assert field_target("cycle_time_days") == "field:cycle_time_days"


# -- writes whose answer was lost (write-ahead intents) -------------------------------------------


def _item(key: str, fields: dict[str, float | str | None], comment: str | None) -> DesiredItem:
    return DesiredItem("bench", key, fields, comment)


def test_an_intent_marks_every_target_of_the_action_pending_before_it_is_sent() -> None:
    """What the ledger says while a call is in flight: never a value the plan could match."""
    fields = SetFields(
        "bench",
        "A-1",
        (
            FieldChange("wip_age_days", "customfield_2", 3.0, was=2.0),
            FieldChange("cycle_time_days", "customfield_1", 4.0, first=True),
        ),
    )
    assert intent(fields).put == (
        LedgerEntry("bench", "A-1", "field:wip_age_days", PENDING, None, "2.0", "customfield_2"),
        LedgerEntry("bench", "A-1", "field:cycle_time_days", PENDING, None, None, "customfield_1"),
    )
    assert intent(AddComment("bench", "A-1", "body")).put == (
        LedgerEntry("bench", "A-1", COMMENT_TARGET, PENDING, comment_id=None),
    )
    assert intent(UpdateComment("bench", "A-1", "77", "body")).put == (
        LedgerEntry("bench", "A-1", COMMENT_TARGET, PENDING, comment_id="77"),
    )
    assert intent(DeleteComment("bench", "A-1", "77")).put == (
        LedgerEntry("bench", "A-1", COMMENT_TARGET, PENDING, comment_id="77"),
    )


def test_a_field_write_whose_answer_was_lost_is_written_again_even_back_to_the_old_value() -> None:
    """The write of 3.0 over 2.0 went out, its answer never came; a person then took the
    change back, so the KPIs say 2.0 again: written, since the field may hold 3.0."""
    ledger: Ledger = {
        ("bench", "A-1", "field:wip_age_days"): LedgerEntry(
            "bench", "A-1", "field:wip_age_days", PENDING, None, "2.0", "customfield_2"
        )
    }
    actions = plan([_item("A-1", {"wip_age_days": 2.0}, None)], ledger, CONFIG, source="bench")
    change = FieldChange("wip_age_days", "customfield_2", 2.0, was=2.0, unconfirmed=True)
    assert actions == [SetFields("bench", "A-1", (change,))]
    assert actions[0].describe() == (
        "A-1: set WIP age (days) [customfield_2] = 2.0 (a write's answer was lost)"
    )


def test_a_lost_add_is_reconciled_if_still_wanted_and_swept_if_not() -> None:
    """An add whose answer was lost left a comment the ledger has no id for: wanted, the add
    is planned again (and `reconcile_add` turns it into an update of what it finds); not
    wanted, whatever bot comment the item has is deleted."""
    pending: Ledger = {
        ("bench", "A-1", COMMENT_TARGET): LedgerEntry("bench", "A-1", COMMENT_TARGET, PENDING)
    }
    wanted = plan([_item("A-1", {}, "findings")], pending, CONFIG, source="bench")
    assert wanted == [AddComment("bench", "A-1", "findings")]
    unwanted = plan([_item("A-1", {}, None)], pending, CONFIG, source="bench")
    assert unwanted == [DeleteComment("bench", "A-1", None)]
    assert unwanted[0].describe() == "A-1: delete its bot comment, if an unconfirmed add left one"
    assert reconcile_delete(unwanted[0], [("12", "a"), ("15", "b")]) == [
        DeleteComment("bench", "A-1", "12"),
        DeleteComment("bench", "A-1", "15"),
    ]
    assert reconcile_delete(unwanted[0], []) == []


def test_a_lost_update_or_delete_is_written_again_whatever_the_findings_say_now() -> None:
    """The ledger's old hash would match the findings taken back; PENDING never does."""
    ledger: Ledger = {
        ("bench", "A-1", COMMENT_TARGET): LedgerEntry(
            "bench", "A-1", COMMENT_TARGET, PENDING, comment_id="77"
        )
    }
    back = plan([_item("A-1", {}, "old findings")], ledger, CONFIG, source="bench")
    assert back == [UpdateComment("bench", "A-1", "77", "old findings")]
    gone = plan([_item("A-1", {}, None)], ledger, CONFIG, source="bench")
    assert gone == [DeleteComment("bench", "A-1", "77")]
