"""Write-back of the portfolio answers onto requests: forecast fields and the stakeholder sentence.

Team Alpha, source ``bench``, `NOW` Thursday 12 March 2026 12:00 UTC, as in test_plan.py:
A-1 story done on the 6th, A-2 story in progress since the 10th, A-3 story never started,
A-10 their epic (a request at the default levels), open.

The portfolio answers are hand-set (`answers`): A-10's rank-queue forecast says p50 1 April,
p85 20 April, p95 beyond the horizon (None), due 15 April with 0.625 of the trials done by
then, which is 63% (62.5 rounds half up). A-10 waits on B-12 of Team Beta (at risk, through
A-2) and on B-7 of Team Beta twice (through A-2 and A-3): the sentence names B-7 once and
before B-12 (natural key order), whatever order and status the dependency report gives.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.domain import Stage
from pmo_sync.governance.model import Finding, PortfolioFacts, RequestFacts, finding_identity
from pmo_sync.kpi.compute import KpiRun, compute_kpis
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, StatusChange
from pmo_sync.portfolio.dependency_risk import DependencyRisk, DependencyStatus, Risk, RiskFinding
from pmo_sync.portfolio.forecast import NoForecast, RequestForecast, Scope
from pmo_sync.portfolio.model import WorkItem
from pmo_sync.writeback.plan import (
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
    apply_result,
    desired_state,
    plan,
)

NOW = datetime(2026, 3, 12, 12, tzinfo=UTC)
STATUSES = {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
STAGES = {"bench": STATUSES, "other": STATUSES}
CONFIG = WritebackConfig(
    enabled=True,
    fields={
        "cycle_time_days": "customfield_1",
        "forecast_done_p50_date": "customfield_5",
        "forecast_done_p85_date": "customfield_4",
        "forecast_done_p95_date": "customfield_7",
        "due_date_probability": "customfield_6",
    },
)
FOOTER = (
    "Managed by pmo-sync: edited in place when its forecast or findings change, deleted when"
    " it is done and no finding remains. Changes made here by hand are overwritten."
)
SENTENCE = (
    "85% likely done by 2026-04-20; due 2026-04-15: 63% likely by then;"
    " waiting on B-7 of Team Beta, B-12 of Team Beta"
)
SAID = {"forecast_done_p85_date": "2026-04-20", "due_date_probability": 63}
"""What A-10's sentence says, kept with its comment."""
Ledger = dict[LedgerKey, LedgerEntry]


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def history(
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


A1 = history("A-1", at(1), (at(2), "To Do", "In Progress"), (at(6), "In Progress", "Done"))
A2 = history("A-2", at(3), (at(10), "To Do", "In Progress"))
A3 = history("A-3", at(4))
A10 = history("A-10", at(1), item_type="epic", parent=None)
A10_DONE = history(
    "A-10", at(1), (at(5), "To Do", "In Progress"), (at(12, 9), "In Progress", "Done"),
    item_type="epic", parent=None,
)  # fmt: skip
ITEMS = (A1, A2, A3, A10)


@functools.cache
def run_of(items: tuple[ItemHistory, ...]) -> KpiRun:
    return compute_kpis(items, [], KpiConfig(), STAGES, NOW)


def forecast(
    ref: tuple[str, str] = ("bench", "A-10"),
    p85: date | None = date(2026, 4, 20),
    due: date | None = date(2026, 4, 15),
    probability: float | None = 0.625,
) -> RequestForecast:
    return RequestForecast(
        ref=ref,
        level="epic",
        scope=Scope(1, 2, 0.0, 0.0, 2),
        growth=(),
        remaining_by_team={("bench", "Alpha"): 2},
        ahead_by_team={("bench", "Alpha"): 0},
        share=None,
        due_date=due,
        dates={50: date(2026, 4, 1), 85: p85, 95: None},
        due_probability=probability if due is not None else None,
    )


def waits(blocker: str, through: str, status: DependencyStatus) -> DependencyRisk:
    return DependencyRisk(
        blocker=("bench", blocker),
        waiting=("bench", through),
        blocker_team="Team Beta",
        waiting_team="Alpha",
        status=status,
        risks=(RiskFinding(Risk.LATE_FOR_DUE, 3),) if status is DependencyStatus.AT_RISK else (),
        waiting_request=("bench", "A-10"),
    )


WAITING_ON = (
    waits("B-12", "A-2", DependencyStatus.AT_RISK),
    waits("B-7", "A-2", DependencyStatus.OPEN),
    waits("B-7", "A-3", DependencyStatus.OPEN),
)


def request(
    answer: RequestForecast | None, waiting_on: Sequence[DependencyRisk] = WAITING_ON
) -> RequestFacts:
    ref = answer.ref if answer is not None else ("bench", "A-10")
    item = WorkItem(
        ref=ref,
        team="Alpha",
        level="epic",
        item_type="epic",
        parent=None,
        stage=Stage.TODO if answer is not None else Stage.DONE,
        created=date(2026, 3, 1),
        done=None if answer is not None else date(2026, 3, 12),
        due_date=date(2026, 4, 15),
    )
    return RequestFacts(request=item, forecast=answer, waiting_on=tuple(waiting_on))


def answers(*requests: RequestFacts) -> PortfolioFacts:
    return PortfolioFacts(today=NOW.date(), requests=requests or (request(forecast()),))


def finding(key: str, rule_id: str) -> Finding:
    return Finding(
        rule_id=rule_id,
        rule=rule_id,
        severity="warning",
        mode="advisory",
        scope="item",
        scope_key=key,
        team="Alpha",
        source="bench",
        message=f"{key} breaks {rule_id}",
        details={},
        identity=finding_identity(rule_id, "item", "bench", key),
    )


def desired(
    portfolio: PortfolioFacts | None,
    items: tuple[ItemHistory, ...] = ITEMS,
    findings: Sequence[Finding] = (),
    config: WritebackConfig = CONFIG,
    source: str = "bench",
    ledger: Ledger | None = None,
) -> list[DesiredItem]:
    return desired_state(
        run_of(items),
        findings,
        config,
        source,
        item_sources=[i.source for i in items],
        portfolio=portfolio,
        ledger=ledger,
    )


def replan(
    portfolio: PortfolioFacts | None,
    ledger: Ledger,
    items: tuple[ItemHistory, ...] = ITEMS,
    findings: Sequence[Finding] = (),
    config: WritebackConfig = CONFIG,
) -> list[Action]:
    """The plan `push_connector` makes: the desired state against the ledger, and the plan."""
    got = desired(portfolio, items, findings, config, ledger=ledger)
    return plan(got, ledger, config, source="bench")


def push(actions: Sequence[object], ledger: Ledger) -> None:
    """Every action succeeds; added comments get ids from 10001."""
    ids = itertools.count(10001)
    for action in actions:
        new_id = str(next(ids)) if isinstance(action, AddComment) else None
        apply_result(action, Outcome.success(new_id)).apply(ledger)  # type: ignore[arg-type]


def first_push(config: WritebackConfig = CONFIG) -> Ledger:
    ledger: Ledger = {}
    push(replan(answers(), ledger, config=config), ledger)
    return ledger


def comment(*lines: str) -> str:
    return "\n".join(["[pmo-sync] A-10", *lines, "", FOOTER])


# -- desired state ------------------------------------------------------------------------------


def test_an_open_request_gets_its_forecast_fields_and_its_sentence() -> None:
    """A-10: p50 and p85 as ISO days, p95 None (beyond the horizon), 0.625 as 63; the stories
    get no request field, and no comment without a finding."""
    got = desired(answers())
    assert got == [
        DesiredItem("bench", "A-1", {"cycle_time_days": 5.0}),
        DesiredItem("bench", "A-2", {"cycle_time_days": None}),
        DesiredItem("bench", "A-3", {"cycle_time_days": None}),
        DesiredItem(
            "bench",
            "A-10",
            {
                "cycle_time_days": None,
                "forecast_done_p50_date": "2026-04-01",
                "forecast_done_p85_date": "2026-04-20",
                "forecast_done_p95_date": None,
                "due_date_probability": 63,
            },
            f"[pmo-sync] A-10\nWhen: {SENTENCE}\n\n{FOOTER}",
            SAID,
        ),
    ]


def test_the_sentence_goes_above_the_requests_findings() -> None:
    got = desired(answers(), findings=[finding("A-10", "stale"), finding("A-2", "stale")])
    assert got[3].comment == comment(
        f"When: {SENTENCE}", "1 governance finding:", "- warning: A-10 breaks stale (rule stale)"
    )
    assert got[1].comment is not None and got[1].comment.startswith(
        "[pmo-sync] 1 governance finding on A-2:"
    )  # a story's comment is as before: findings only


def test_without_the_answers_no_request_field_nor_sentence_is_planned() -> None:
    got = desired(None, findings=[finding("A-10", "stale")])
    assert got[3] == DesiredItem(
        "bench",
        "A-10",
        {"cycle_time_days": None},
        "[pmo-sync] 1 governance finding on A-10:\n- warning: A-10 breaks stale (rule stale)\n\n"
        "Managed by pmo-sync: edited in place when these findings change, deleted when they are"
        " all resolved. Changes made here by hand are overwritten.",
    )


def test_comments_off_means_fields_only() -> None:
    config = CONFIG.model_copy(update={"comments": False})
    assert [d.comment for d in desired(answers(), config=config)] == [None] * 4


@pytest.mark.parametrize(
    ("probability", "percent"),
    [(0.0, 0), (0.004, 1), (0.005, 1), (0.015, 2), (0.6245, 62), (0.996, 99), (1.0, 100)],
)
def test_the_due_probability_is_a_whole_percent_only_certainty_is_100(
    probability: float, percent: int
) -> None:
    got = desired(answers(request(forecast(probability=probability))))
    assert got[3].fields["due_date_probability"] == percent


def test_no_due_date_or_no_forecast_gives_no_probability_and_says_why() -> None:
    """No due date: probability None, the sentence without "due". No forecast (the team
    finished nothing in 90 days): every forecast field None, the sentence says why."""
    undue = desired(answers(request(forecast(due=None), waiting_on=())))
    assert undue[3].fields["due_date_probability"] is None
    assert undue[3].comment == comment("When: 85% likely done by 2026-04-20")
    none = replace(
        forecast(),
        dates={},
        due_probability=None,
        reason=NoForecast.NO_THROUGHPUT,
        reason_teams=(("bench", "Alpha"),),
        note="no throughput to sample: nothing finished in the last 90 days by Alpha",
    )
    got = desired(answers(request(none, waiting_on=())))
    assert {k: v for k, v in got[3].fields.items() if k != "cycle_time_days"} == {
        "forecast_done_p50_date": None,
        "forecast_done_p85_date": None,
        "forecast_done_p95_date": None,
        "due_date_probability": None,
    }
    assert got[3].comment == comment(
        "When: no forecast: no throughput to sample: nothing finished in the last 90 days by"
        " Alpha; due 2026-04-15"
    )


def test_each_tracker_gets_its_own_requests_answer() -> None:
    """An A-10 in `other` too: each source's request gets the forecast of its own ref."""
    twin = history("A-10", at(1), source="other", item_type="epic", parent=None)
    theirs = request(forecast(ref=("other", "A-10"), p85=date(2026, 5, 4), due=None), ())
    portfolio = answers(request(forecast()), theirs)
    ours = desired(portfolio, (*ITEMS, twin))
    other = desired(portfolio, (*ITEMS, twin), source="other")
    assert ours[3].fields["forecast_done_p85_date"] == "2026-04-20"
    assert [(d.key, d.fields["forecast_done_p85_date"]) for d in other] == [("A-10", "2026-05-04")]
    assert other[0].comment == "\n".join(
        ["[pmo-sync] A-10", "When: 85% likely done by 2026-05-04", "", FOOTER]
    )


def test_an_open_request_not_in_the_run_still_gets_its_fields_and_sentence() -> None:
    """The KPI run did not see A-10 (its source's items came in after the run): the answers
    alone are enough, with no item metric."""
    got = desired(answers(), items=(A1, A2, A3))
    assert got[3] == DesiredItem(
        "bench",
        "A-10",
        {
            "forecast_done_p50_date": "2026-04-01",
            "forecast_done_p85_date": "2026-04-20",
            "forecast_done_p95_date": None,
            "due_date_probability": 63,
        },
        f"[pmo-sync] A-10\nWhen: {SENTENCE}\n\n{FOOTER}",
        SAID,
    )


# -- plans --------------------------------------------------------------------------------------


def test_the_first_plan_writes_the_fields_and_adds_the_comment() -> None:
    actions = plan(desired(answers()), {}, CONFIG, source="bench")
    assert [a.describe() for a in actions] == [
        "A-1: set Cycle time (days) [customfield_1] = 5.0 (new)",
        "A-10: set Forecast done (p50) [customfield_5] = 2026-04-01 (new); "
        "set Forecast done (p85) [customfield_4] = 2026-04-20 (new); "
        "set Due date likelihood (%) [customfield_6] = 63 (new)",
        "A-10: add comment\n"
        "    [pmo-sync] A-10\n"
        "    When: 85% likely done by 2026-04-20; due 2026-04-15: 63% likely by then; waiting on"
        " B-7 of Team Beta, B-12 of Team Beta\n"
        "\n"
        "    Managed by pmo-sync: edited in place when its forecast or findings change, deleted"
        " when it is done and no finding remains. Changes made here by hand are overwritten.",
    ]
    assert actions[1] == SetFields(
        "bench",
        "A-10",
        (
            FieldChange("forecast_done_p50_date", "customfield_5", "2026-04-01", first=True),
            FieldChange("forecast_done_p85_date", "customfield_4", "2026-04-20", first=True),
            FieldChange("due_date_probability", "customfield_6", 63, first=True),
        ),
    )


def test_the_same_answers_plan_nothing_and_so_does_a_wobble_inside_the_percent() -> None:
    """Planned again with the same answers: nothing. A forecast whose probability moved
    0.625 -> 0.6281 (0.31 points, still 63%) and whose blockers came in another order and
    status: nothing either."""
    ledger = first_push()
    assert replan(answers(), ledger) == []
    reordered = (
        waits("B-7", "A-3", DependencyStatus.AT_RISK),
        waits("B-12", "A-2", DependencyStatus.OPEN),
    )
    wobble = answers(request(forecast(probability=0.6281), reordered))
    assert replan(wobble, ledger) == []


def test_a_moved_p85_changes_one_field_and_updates_the_comment_in_place() -> None:
    ledger = first_push()
    later = answers(request(forecast(p85=date(2026, 4, 24))))
    actions = replan(later, ledger)
    assert actions == [
        SetFields(
            "bench",
            "A-10",
            (FieldChange("forecast_done_p85_date", "customfield_4", "2026-04-24", "2026-04-20"),),
        ),
        UpdateComment(
            "bench",
            "A-10",
            "10001",
            comment(
                "When: 85% likely done by 2026-04-24; due 2026-04-15: 63% likely by then;"
                " waiting on B-7 of Team Beta, B-12 of Team Beta"
            ),
            '{"due_date_probability":63,"forecast_done_p85_date":"2026-04-24"}',
        ),
    ]
    push(actions, ledger)
    assert replan(later, ledger) == []


def test_a_due_date_removed_clears_the_probability_it_had_written() -> None:
    ledger = first_push()
    actions = replan(answers(request(forecast(due=None))), ledger)
    assert [a.describe().split("\n")[0] for a in actions] == [
        "A-10: clear Due date likelihood (%) [customfield_6] (was 63)",
        "A-10: update comment 10001",
    ]


def test_a_done_request_keeps_its_fields_and_its_sentence_goes() -> None:
    """A-10 done on the 12th: its open-only forecast fields stay as last written (only its
    cycle time, 5..12 = 8 days, is new); the answers have no forecast for it any more, so
    its comment, the sentence alone, is deleted."""
    ledger = first_push()
    items = (A1, A2, A3, A10_DONE)
    done = answers(request(None))
    actions = replan(done, ledger, items)
    assert actions == [
        SetFields(
            "bench", "A-10", (FieldChange("cycle_time_days", "customfield_1", 8.0, first=True),)
        ),
        DeleteComment("bench", "A-10", "10001"),
    ]
    assert actions[0].describe() == "A-10: set Cycle time (days) [customfield_1] = 8.0 (new)"


def test_a_done_request_with_findings_keeps_them_without_the_sentence() -> None:
    ledger = first_push()
    items = (A1, A2, A3, A10_DONE)
    stale = finding("A-10", "stale")
    actions = replan(answers(request(None)), ledger, items, [stale])
    assert actions[1] == UpdateComment(
        "bench",
        "A-10",
        "10001",
        "[pmo-sync] 1 governance finding on A-10:\n- warning: A-10 breaks stale (rule stale)\n\n"
        "Managed by pmo-sync: edited in place when these findings change, deleted when they are"
        " all resolved. Changes made here by hand are overwritten.",
    )


def test_a_done_request_with_on_clear_resolve_gets_the_resolved_note() -> None:
    config = CONFIG.model_copy(update={"on_clear": "resolve"})
    ledger = first_push(config)
    items = (A1, A2, A3, A10_DONE)
    actions = replan(answers(request(None)), ledger, items, config=config)
    assert actions[1] == UpdateComment(
        "bench",
        "A-10",
        "10001",
        "[pmo-sync] All governance findings on A-10 are resolved.\n\n"
        "Managed by pmo-sync: edited in place if new findings appear.",
    )


def test_a_forecast_of_today_reads_today_so_the_comment_stays_from_day_to_day() -> None:
    """A-10's work is done but A-10 is not closed: its p85 is the answers' today, 12 March,
    then 13 March the next day (kept: 1 day is within the band), then 14 March (2 days:
    written). The sentence says "today" every day, so the comment is not edited."""
    ledger = first_push()
    march = [date(2026, 3, d) for d in (12, 13, 14)]
    days = [replace(answers(request(forecast(p85=d), ())), today=d) for d in march]
    push(replan(days[0], ledger), ledger)
    assert desired(days[0], ledger=ledger)[3].comment == comment(
        "When: 85% likely done by today; due 2026-04-15: 63% likely by then"
    )
    assert replan(days[1], ledger) == []
    assert replan(days[2], ledger) == [
        SetFields(
            "bench",
            "A-10",
            (FieldChange("forecast_done_p85_date", "customfield_4", "2026-03-14", "2026-03-12"),),
        )
    ]


@pytest.mark.parametrize(
    ("p85", "probability", "written"),
    [
        # 39 days out (20 April): the band is 1 day.
        (date(2026, 4, 21), 0.625, []),
        (date(2026, 4, 22), 0.625, ["forecast_done_p85_date"]),
        # 63% written: 61% and 65% are kept, 60% and 66% written, 0% always.
        (date(2026, 4, 20), 0.61, []),
        (date(2026, 4, 20), 0.65, []),
        (date(2026, 4, 20), 0.60, ["due_date_probability"]),
        (date(2026, 4, 20), 0.66, ["due_date_probability"]),
        (date(2026, 4, 20), 0.0, ["due_date_probability"]),
    ],
)
def test_a_forecast_moved_by_noise_only_keeps_what_was_written(
    p85: date, probability: float, written: list[str]
) -> None:
    ledger = first_push()
    actions = replan(answers(request(forecast(p85=p85, probability=probability))), ledger)
    changed = [c.metric for a in actions if isinstance(a, SetFields) for c in a.changes]
    assert changed == written
    assert len(actions) == (2 if written else 0)  # the field and the comment, or nothing


def test_a_far_date_is_kept_within_a_twentieth_of_its_distance() -> None:
    """p85 written on 28 December, 291 days out: the band is 291 // 20 = 14 days. 11 January
    (14 days later) is kept, in the comment too; 12 January (15) is written."""
    far = date(2026, 12, 28)
    ledger: Ledger = {}
    push(replan(answers(request(forecast(p85=far), ())), ledger), ledger)
    kept = answers(request(forecast(p85=date(2027, 1, 11)), ()))
    assert replan(kept, ledger) == []
    assert desired(kept, ledger=ledger)[3].fields["forecast_done_p85_date"] == "2026-12-28"
    moved = replan(answers(request(forecast(p85=date(2027, 1, 12)), ())), ledger)
    assert [a.describe().split("\n")[0] for a in moved] == [
        "A-10: set Forecast done (p85) [customfield_4] = 2027-01-12 (was 2026-12-28)",
        "A-10: update comment 10001",
    ]


def test_with_comments_only_the_sentence_holds_what_it_said() -> None:
    """No forecast field configured: the comment's ledger row keeps what its sentence said
    (p85 20 April, 63%), so 21 April and 64% the next day edit nothing; 22 April does."""
    config = WritebackConfig(enabled=True, fields={"cycle_time_days": "customfield_1"})
    ledger = first_push(config)
    assert ledger[("bench", "A-10", "comment")].value_json == (
        '{"due_date_probability":63,"forecast_done_p85_date":"2026-04-20"}'
    )
    noise = answers(request(forecast(p85=date(2026, 4, 21), probability=0.64)))
    assert replan(noise, ledger, config=config) == []
    assert desired(noise, config=config, ledger=ledger)[3].comment == comment(f"When: {SENTENCE}")
    slipped = replan(answers(request(forecast(p85=date(2026, 4, 22)))), ledger, config=config)
    assert [a.describe().split("\n")[:2] for a in slipped] == [
        [
            "A-10: update comment 10001",
            "    [pmo-sync] A-10",
        ]
    ]
    assert "85% likely done by 2026-04-22; due 2026-04-15: 63% likely" in slipped[0].describe()
