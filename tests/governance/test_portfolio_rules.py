"""The seven portfolio rules, worked by hand on one small portfolio as of TODAY, Sunday 10 Jan 2027.

Two teams, Alpha and Beta, in one Jira (source ``jira``); every request is an epic.
Each rule gets a case that fires, one exactly at its threshold that does not, and a per-team
(for `theme_off_target`: per-theme) override; every expected value is derived in the test's
comment. The facts are the portfolio answers' own results where the answer is cheap to work by
hand (`dependency_risks`, `date_moves`, `strategy_shares`), and the answers' dataclasses built
directly where it is not (a `RequestForecast`'s probability comes from 10,000 trials).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from pmo_sync.domain import Stage
from pmo_sync.governance.engine import evaluate
from pmo_sync.governance.model import Finding, PortfolioFacts, RequestFacts
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.dependency_risk import dependency_risks
from pmo_sync.portfolio.forecast import RequestForecast, Scope, request_forecasts
from pmo_sync.portfolio.model import DateMove, Dependency, WorkItem
from pmo_sync.portfolio.schedule import date_moves
from pmo_sync.portfolio.strategy import StrategyAnswer, strategy_shares

TODAY = date(2027, 1, 10)
NOW = datetime(2027, 1, 10, 12, tzinfo=UTC)
DOC = Path(__file__).resolve().parents[2] / "docs" / "governance.md"


def d(month: int, day: int, year: int = 2027) -> date:
    return date(year, month, day)


def item(
    key: str,
    team: str = "Alpha",
    *,
    level: str = "epic",
    stage: Stage = Stage.IN_PROGRESS,
    parent: str | None = None,
    due: date | None = None,
    target_end: date | None = None,
    created: date = date(2026, 10, 1),
    started: date | None = None,
    done: date | None = None,
    theme: str | None = None,
) -> WorkItem:
    return WorkItem(
        ref=("jira", key),
        team=team,
        level=level,
        item_type="epic" if level == "epic" else "story",
        parent=("jira", parent) if parent else None,
        stage=stage,
        created=created,
        started=started,
        done=done,
        due_date=due,
        target_end=target_end,
        theme=theme,
    )


def forecast(request: WorkItem, probability: float | None) -> RequestForecast:
    """A forecast as `request_forecasts` gives one: 4 of 10 items left, on its own team."""
    return RequestForecast(
        ref=request.ref,
        level=request.level,
        scope=Scope(6, 4, 12.0, 8.0, 0),
        growth=(),
        remaining_by_team={("jira", request.team or ""): 4},
        ahead_by_team={("jira", request.team or ""): 0},
        share=None,
        due_date=request.due_date,
        dates={50: d(1, 18), 85: d(2, 2), 95: None},
        due_probability=probability,
    )


def rule(name: str, **config: Any) -> RuleConfig:
    return RuleConfig(id=name.replace("_", "-"), rule=name, **config)


def run(config: RuleConfig, portfolio: PortfolioFacts) -> list[Finding]:
    return evaluate([config], [], {}, NOW, portfolio)


def said(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.team, f.scope_key, f.message) for f in findings]


# -- due_date_unlikely -----------------------------------------------------------------------------

# A-1 due 20 Jan, 50% likely: exactly the default threshold (below 0.5 fires): no finding.
# A-2 due 31 Jan, 31% likely: fires. A-3 due 5 Jan: passed, due_date_passed's, not this rule's.
# A-4 due today, 20% likely: today is not past its due date: fires. A-5 done: never.
# B-1 due 1 Feb, 75% likely: above 50%, but Beta's override asks for 80%: fires for Beta only.
UNLIKELY = [
    (item("A-1", due=d(1, 20)), 0.5),
    (item("A-2", due=d(1, 31)), 0.31),
    (item("A-3", due=d(1, 5)), 0.0),
    (item("A-4", due=d(1, 10)), 0.2),
    (item("A-5", stage=Stage.DONE, done=d(1, 2), due=d(1, 20)), None),
    (item("B-1", "Beta", due=d(2, 1)), 0.75),
]
UNLIKELY_FACTS = PortfolioFacts(
    TODAY,
    requests=tuple(RequestFacts(r, None if p is None else forecast(r, p)) for r, p in UNLIKELY),
)


def test_due_date_unlikely_fires_below_the_probability_not_at_it() -> None:
    findings = run(rule("due_date_unlikely"), UNLIKELY_FACTS)
    assert said(findings) == [
        ("Alpha", "A-2", "A-2 is less than 50% likely to be done by its due date 2027-01-31"),
        ("Alpha", "A-4", "A-4 is less than 50% likely to be done by its due date 2027-01-10"),
    ]
    assert findings[0].details == {
        "due_date": "2027-01-31",
        "probability": 0.31,
        "min_probability": 0.5,
        "p50": "2027-01-18",
        "p85": "2027-02-02",
        "p95": "",
    }
    assert findings[0].identity == '["due-date-unlikely","item","jira","A-2"]'
    assert findings[0].source == "jira"


def test_due_date_unlikely_per_team_threshold() -> None:
    config = rule("due_date_unlikely", overrides={"Beta": {"params": {"min_probability": 0.8}}})
    assert said(run(config, UNLIKELY_FACTS))[-1] == (
        "Beta",
        "B-1",
        "B-1 is less than 80% likely to be done by its due date 2027-02-01",
    )
    # 0.75 is not below Beta's 0.75: the edge, per team.
    edge = rule("due_date_unlikely", overrides={"Beta": {"params": {"min_probability": 0.75}}})
    assert [f.scope_key for f in run(edge, UNLIKELY_FACTS)] == ["A-2", "A-4"]


def test_a_request_without_a_forecast_or_probability_gives_no_finding() -> None:
    request = item("A-9", due=d(1, 31))
    facts = PortfolioFacts(
        TODAY, requests=(RequestFacts(request), RequestFacts(request, forecast(request, None)))
    )
    assert run(rule("due_date_unlikely", params={"min_probability": 1}), facts) == []


def test_due_date_unlikely_reads_request_forecasts_as_they_come() -> None:
    """The facts straight from `request_forecasts`: Alpha finished one story of A-0 on each of
    the 90 days before TODAY, so every sampled day gives exactly 1 and the forecast is certain. A-50
    has 5 stories left: the first done today (10 Jan), the fifth on 14 Jan. Due 14 Jan: every
    trial makes it, 100%, no finding; due 13 Jan: none does, 0%, a finding."""
    history = [
        item(f"D-{n}", level="story", stage=Stage.DONE, started=d(9, 1, 2026),
             done=date.fromordinal(TODAY.toordinal() - n), parent="A-0")
        for n in range(1, 91)
    ]  # fmt: skip
    # Request work (A-0, done yesterday, before A-50 in the queue), so the forecast's habits are
    # neutral: no unplanned work, no growth, no closing lag, the queue worked in order.
    history.append(item("A-0", stage=Stage.DONE, done=date.fromordinal(TODAY.toordinal() - 1)))
    stories = [item(f"S-{n}", level="story", stage=Stage.TODO, parent="A-50") for n in range(5)]
    found = {}
    for due in (d(1, 14), d(1, 13)):
        request = item("A-50", due=due)
        (answer,) = request_forecasts([*history, request, *stories], TODAY, trials=200)
        assert (answer.dates[85], answer.due_probability) == (d(1, 14), float(due == d(1, 14)))
        facts = PortfolioFacts(TODAY, requests=(RequestFacts(request, answer),))
        found[due] = [f.message for f in run(rule("due_date_unlikely"), facts)]
    assert found == {
        d(1, 14): [],
        d(1, 13): ["A-50 is less than 50% likely to be done by its due date 2027-01-13"],
    }


# -- due_date_passed -------------------------------------------------------------------------------

# A-3 due 5 Jan, open on 10 Jan: 5 days late, fires. A-4 due today: 0 days late, not late.
# A-5 done after its due date: not open, no finding. B-2 due 8 Jan: 2 days late; Beta's
# grace_days 2 lets it be (2 <= 2), grace 1 does not (2 > 1).
PASSED_FACTS = PortfolioFacts(
    TODAY,
    requests=(
        RequestFacts(item("A-3", due=d(1, 5))),
        RequestFacts(item("A-4", due=d(1, 10))),
        RequestFacts(item("A-5", stage=Stage.DONE, done=d(1, 8), due=d(1, 5))),
        RequestFacts(item("B-2", "Beta", stage=Stage.TODO, due=d(1, 8))),
    ),
)


def test_due_date_passed_fires_the_day_after_the_due_date() -> None:
    findings = run(rule("due_date_passed"), PASSED_FACTS)
    assert said(findings) == [
        ("Alpha", "A-3", "A-3 was due on 2027-01-05 and is not done"),
        ("Beta", "B-2", "B-2 was due on 2027-01-08 and is not done"),
    ]
    assert findings[1].details == {
        "due_date": "2027-01-08",
        "days_late": 2,
        "grace_days": 0,
        "stage": "todo",
    }


@pytest.mark.parametrize(("grace", "beta_fires"), [(2, False), (1, True)])
def test_due_date_passed_grace_per_team(grace: int, beta_fires: bool) -> None:
    config = rule("due_date_passed", overrides={"Beta": {"params": {"grace_days": grace}}})
    keys = [f.scope_key for f in run(config, PASSED_FACTS)]
    assert keys == (["A-3", "B-2"] if beta_fires else ["A-3"])


# -- dependency_at_risk ----------------------------------------------------------------------------

# A-10 (Alpha's epic, due 20 Jan, forecast 12 Jan) has two stories in progress, A-11 and A-12.
# A-11 waits on B-20 (Beta, to do, forecast 1 Feb): A-11 has no due date or forecast of its
# own, so A-10's count: 1 Feb is after the due date 20 Jan (12 days) and after A-10's forecast
# 12 Jan (20 days), and A-11 is in progress while B-20 has not started: three risks.
# A-12 waits on A-13 (Alpha, to do, forecast 15 Jan): before the due date, after A-10's
# forecast (3 days), and A-12 is in progress: two risks, within Alpha.
# A-10 also waits on X-99, outside the synced scope: unknown, not at risk.
DEP_ITEMS = {
    i.ref: i
    for i in (
        item("A-10", due=d(1, 20)),
        item("A-11", level="story", parent="A-10"),
        item("A-12", level="story", parent="A-10"),
        item("A-13", level="story", stage=Stage.TODO),
        item("B-20", "Beta", level="story", stage=Stage.TODO),
    )
}
DEP_REPORT = dependency_risks(
    [
        Dependency(("jira", "B-20"), ("jira", "A-11")),
        Dependency(("jira", "A-13"), ("jira", "A-12")),
        Dependency(("jira", "X-99"), ("jira", "A-10"), blocker_known=False),
    ],
    DEP_ITEMS,
    {("jira", "B-20"): d(2, 1), ("jira", "A-13"): d(1, 15), ("jira", "A-10"): d(1, 12)},
    TODAY,
)
DEP_FACTS = PortfolioFacts(
    TODAY,
    requests=(
        RequestFacts(
            DEP_ITEMS[("jira", "A-10")], waiting_on=DEP_REPORT.waiting_on(("jira", "A-10"))
        ),
    ),
)
B20 = (
    "A-10 waits on B-20 of Beta (through A-11): it is forecast to finish after A-10's due date "
    "2027-01-20; it is forecast to finish after A-10 is forecast to; "
    "A-11 is in progress and it has not started"
)
A13 = (
    "A-10 waits on A-13 (through A-12): it is forecast to finish after A-10 is forecast to; "
    "A-12 is in progress and it has not started"
)


def test_dependency_at_risk_one_finding_per_dependency_at_risk() -> None:
    findings = run(rule("dependency_at_risk"), DEP_FACTS)
    assert [f.message for f in findings] == [B20, A13]
    assert [f.identity for f in findings] == [
        '["dependency-at-risk","item","jira","A-10","jira","A-11","jira","B-20"]',
        '["dependency-at-risk","item","jira","A-10","jira","A-12","jira","A-13"]',
    ]
    assert findings[0].details == {
        "blocker": "B-20",
        "blocker_source": "jira",
        "blocker_team": "Beta",
        "waiting": "A-11",
        "risks": "late_for_due, late_for_forecast, started_before_blocker",
        "blocker_finish": "2027-02-01",
        "days_late": 20,
    }


def test_dependency_at_risk_kinds_and_teams() -> None:
    # Only the due-date risk: A-13 has none, B-20's message keeps that clause alone.
    due_only = run(rule("dependency_at_risk", params={"risks": "late_for_due"}), DEP_FACTS)
    assert [f.message for f in due_only] == [
        "A-10 waits on B-20 of Beta (through A-11): it is forecast to finish after A-10's "
        "due date 2027-01-20"
    ]
    # Across teams only: A-12 -> A-13 is within Alpha.
    across = run(rule("dependency_at_risk", params={"across_teams_only": True}), DEP_FACTS)
    assert [f.message for f in across] == [B20]
    # Alpha's override narrows the kinds for Alpha's requests.
    config = rule(
        "dependency_at_risk",
        overrides={"Alpha": {"params": {"risks": ["started_before_blocker"]}}},
    )
    assert [f.message for f in run(config, DEP_FACTS)] == [
        "A-10 waits on B-20 of Beta (through A-11): A-11 is in progress and it has not started",
        "A-10 waits on A-13 (through A-12): A-12 is in progress and it has not started",
    ]


def test_a_blocker_without_a_forecast_cannot_finish_by_a_date_already_passed() -> None:
    # A-30 due 8 Jan waits directly on B-31 (Beta, to do, no forecast): finish at least today,
    # 10 Jan, 2 days after the due date; A-30 is to do, so not started before its blocker.
    items = {
        i.ref: i
        for i in (
            item("A-30", stage=Stage.TODO, due=d(1, 8)),
            item("B-31", "Beta", level="story", stage=Stage.TODO),
        )
    }
    report = dependency_risks([Dependency(("jira", "B-31"), ("jira", "A-30"))], items, {}, TODAY)
    facts = PortfolioFacts(
        TODAY,
        requests=(
            RequestFacts(items[("jira", "A-30")], waiting_on=report.waiting_on(("jira", "A-30"))),
        ),
    )
    assert [f.message for f in run(rule("dependency_at_risk"), facts)] == [
        "A-30 waits on B-31 of Beta: it has no forecast and cannot finish by A-30's due date "
        "2027-01-08"
    ]


# -- intake_too_long -------------------------------------------------------------------------------

# A-6 entered intake on 10 Dec: 31 days by 10 Jan, more than 30: fires. A-7 on 11 Dec: 30 days,
# not more: no finding. A-8's entry is not known: since its creation, 1 Nov, 70 days: fires.
# A-20 is approved: out of intake. B-3 since 20 Nov (51 days): fires at 30, not at Beta's 60.
INTAKE_FACTS = PortfolioFacts(
    TODAY,
    requests=(
        RequestFacts(
            item("A-6", stage=Stage.TODO), funnel_stage="intake", funnel_since=d(12, 10, 2026)
        ),
        RequestFacts(
            item("A-7", stage=Stage.TODO), funnel_stage="intake", funnel_since=d(12, 11, 2026)
        ),
        RequestFacts(item("A-8", stage=Stage.TODO, created=d(11, 1, 2026)), funnel_stage="intake"),
        RequestFacts(
            item("A-20", stage=Stage.TODO), funnel_stage="approved", funnel_since=d(1, 1, 2026)
        ),
        RequestFacts(
            item("B-3", "Beta", stage=Stage.TODO),
            funnel_stage="intake",
            funnel_since=d(11, 20, 2026),
        ),
    ),
)


def test_intake_too_long_counts_from_the_day_it_entered_intake() -> None:
    findings = run(rule("intake_too_long"), INTAKE_FACTS)
    assert said(findings) == [
        ("Alpha", "A-6", "A-6 has been waiting in intake for more than 30 days"),
        ("Alpha", "A-8", "A-8 has been waiting in intake for more than 30 days"),
        ("Beta", "B-3", "B-3 has been waiting in intake for more than 30 days"),
    ]
    assert [f.details for f in findings[:2]] == [
        {"days_in_intake": 31, "in_intake_since": "2026-12-10", "limit_days": 30},
        {"days_in_intake": 70, "in_intake_since": "2026-11-01", "limit_days": 30},
    ]


def test_intake_too_long_per_team() -> None:
    config = rule("intake_too_long", overrides={"Beta": {"params": {"days": 60}}})
    assert [f.scope_key for f in run(config, INTAKE_FACTS)] == ["A-6", "A-8"]
    # Beta at 51 days exactly: no finding; one day less, one.
    assert [
        f.scope_key
        for f in run(rule("intake_too_long", params={"days": 50}), INTAKE_FACTS)
        if f.team == "Beta"
    ] == ["B-3"]
    assert [
        f.scope_key
        for f in run(rule("intake_too_long", params={"days": 51}), INTAKE_FACTS)
        if f.team == "Beta"
    ] == []


# -- target_date_moved -----------------------------------------------------------------------------

# A-40's target end moved 1 Jan -> 15 Jan (+14) -> 10 Jan (-5) -> 1 Feb (+22) -> 8 Feb (+7):
# three moves later, 14 + 22 + 7 = 43 days; the move earlier does not offset the count.
# A-41's due date moved twice later (+5, +5): below the default three. B-40's target end moved
# later three times (+1 each): fires at 3, not under Beta's 4.
MOVED_ITEMS = [
    item("A-40", target_end=d(2, 8)),
    item("A-41", due=d(1, 30)),
    item("B-40", "Beta", target_end=d(1, 4)),
]


def moves(key: str, field: str, *days: date) -> list[DateMove]:
    return [
        DateMove(("jira", key), field, d(12, 1 + i, 2026), before, after)
        for i, (before, after) in enumerate(pairwise(days))
    ]


MOVED_FACTS = PortfolioFacts(
    TODAY,
    date_moves=tuple(
        date_moves(
            MOVED_ITEMS,
            [
                *moves("A-40", "target_end", d(1, 1), d(1, 15), d(1, 10), d(2, 1), d(2, 8)),
                *moves("A-41", "due_date", d(1, 20), d(1, 25), d(1, 30)),
                *moves("B-40", "target_end", d(1, 1), d(1, 2), d(1, 3), d(1, 4)),
            ],
        )
    ),
)


def test_target_date_moved_counts_the_moves_later() -> None:
    findings = run(rule("target_date_moved"), MOVED_FACTS)
    assert said(findings) == [
        (
            "Alpha",
            "A-40",
            "A-40's target end date has moved later 3 times, 43 days in all (threshold 3)",
        ),
        (
            "Beta",
            "B-40",
            "B-40's target end date has moved later 3 times, 3 days in all (threshold 3)",
        ),
    ]
    assert findings[0].details == {
        "field": "target_end",
        "moves_later": 3,
        "days_later": 43,
        "slips": "14, 22, 7",
        "net_days": 38,
        "threshold": 3,
    }


def test_target_date_moved_per_team_and_at_two() -> None:
    config = rule("target_date_moved", overrides={"Beta": {"params": {"times": 4}}})
    assert [f.scope_key for f in run(config, MOVED_FACTS)] == ["A-40"]
    twice = run(rule("target_date_moved", params={"times": 2}), MOVED_FACTS)
    assert [f.message for f in twice][1] == (
        "A-41's due date has moved later twice, 10 days in all (threshold 2)"
    )


# -- theme_off_target and unaligned_work -----------------------------------------------------------

# The window is 1 - 10 Jan 2027 (10 days), no trend. Stories, all started 1 Dec 2026 unless said:
#   Growth (target 50%): G1 in progress all window: 10 item-days.
#   Run (target 30%): R1, R2 in progress all window: 20 item-days.
#   Risk (no target): K1 done on 6 Jan: in progress 1 - 5 Jan, 5 item-days.
#   no theme: U1 started 6 Jan: 6 - 10 Jan, 5 item-days.
# Alpha's 40 item-days: Growth 25% (25 points below 50), Run 50% (20 above 30), Risk 12.5%
# (no target: never a finding), unaligned 12.5%.
# Beta: BG in Growth and BU with no theme, both in progress all window: 10 + 10, unaligned 50%.
THEMES = [
    ThemeConfig(name="Growth", target_share=50, match=ThemeMatch()),
    ThemeConfig(name="Run", target_share=30, match=ThemeMatch()),
    ThemeConfig(name="Risk", match=ThemeMatch()),
]
STARTED = d(12, 1, 2026)
ALPHA_WORK = [
    item("G1", level="story", started=STARTED, theme="Growth"),
    item("R1", level="story", started=STARTED, theme="Run"),
    item("R2", level="story", started=STARTED, theme="Run"),
    item("K1", level="story", stage=Stage.DONE, started=STARTED, done=d(1, 6), theme="Risk"),
    item("U1", level="story", started=d(1, 6)),
]
BETA_WORK = [
    item("BG", "Beta", level="story", started=STARTED, theme="Growth"),
    item("BU", "Beta", level="story", started=STARTED),
]


def shares(items: list[WorkItem]) -> StrategyAnswer:
    return strategy_shares(items, THEMES, d(1, 1), d(1, 10), periods=0)


THEME_FACTS = PortfolioFacts(
    TODAY,
    strategy=shares(ALPHA_WORK),
    team_strategy={"Alpha": shares(ALPHA_WORK), "Beta": shares(BETA_WORK)},
)
GROWTH = (
    "Theme Growth has 25% of the work in progress (item-days over the window), "
    "25 points below its target of 50% (limit 10 points)"
)
RUN = (
    "Theme Run has 50% of the work in progress (item-days over the window), "
    "20 points above its target of 30% (limit 10 points)"
)


def test_theme_off_target_is_a_portfolio_finding_per_theme() -> None:
    findings = run(rule("theme_off_target"), THEME_FACTS)
    assert said(findings) == [("", "Growth", GROWTH), ("", "Run", RUN)]
    assert [(f.scope, f.source, f.identity) for f in findings] == [
        ("theme", None, '["theme-off-target","theme","Growth"]'),
        ("theme", None, '["theme-off-target","theme","Run"]'),
    ]
    assert findings[0].details == {
        "measure": "wip_days",
        "amount": 10,
        "total": 40,
        "percent": 25.0,
        "window_first": "2027-01-01",
        "window_last": "2027-01-10",
        "target_share": 50,
        "off_target_points": -25.0,
        "limit_points": 10,
    }


def test_theme_off_target_edge_direction_and_per_theme_override() -> None:
    # Run is 20 points off: not more than Run's own limit of 20.
    config = rule("theme_off_target", overrides={"Run": {"params": {"max_points": 20}}})
    assert [f.scope_key for f in run(config, THEME_FACTS)] == ["Growth"]
    below = run(rule("theme_off_target", params={"direction": "below"}), THEME_FACTS)
    assert [f.scope_key for f in below] == ["Growth"]
    # Items in progress now (end of 10 Jan): G1, R1, R2, U1: Growth 1 of 4, 25%, still 25 off;
    # Run 2 of 4, 50%, 20 off.
    now = run(rule("theme_off_target", params={"measure": "wip", "max_points": 24}), THEME_FACTS)
    assert [f.message for f in now] == [
        "Theme Growth has 25% of the items in progress now, 25 points below its target of 50% "
        "(limit 24 points)"
    ]


def test_unaligned_work_per_team_share() -> None:
    findings = run(rule("unaligned_work"), THEME_FACTS)
    # Alpha 12.5% is under 20%; Beta's 50% is over.
    assert said(findings) == [
        (
            "Beta",
            "Beta",
            "Beta has 50% of its work in progress (item-days over the window) aligned to no "
            "theme (limit 20%)",
        )
    ]
    assert (findings[0].scope, findings[0].identity) == (
        "team",
        '["unaligned-work","team","Beta"]',
    )
    # At the edge: Alpha's 12.5% is not more than 12.5; Beta's 50% not more than Beta's 50.
    config = rule(
        "unaligned_work",
        params={"max_percent": 12.5},
        overrides={"Beta": {"params": {"max_percent": 50}}},
    )
    assert run(config, THEME_FACTS) == []
    assert [
        f.team for f in run(rule("unaligned_work", params={"max_percent": 12}), THEME_FACTS)
    ] == [
        "Alpha",
        "Beta",
    ]


# -- the engine and the policies -------------------------------------------------------------------


def test_portfolio_rules_need_portfolio_facts_and_respect_teams_and_sources() -> None:
    config = rule("due_date_passed")
    assert evaluate([config], [], {}, NOW) == []
    assert [f.team for f in run(rule("due_date_passed", teams=["Beta"]), PASSED_FACTS)] == ["Beta"]
    assert run(rule("due_date_passed", sources=["ado"]), PASSED_FACTS) == []
    off = rule("due_date_passed", overrides={"Alpha": {"mode": "off"}})
    assert [f.team for f in run(off, PASSED_FACTS)] == ["Beta"]


def test_policy_keys_are_checked_with_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "policies" / "portfolio.yaml"
    path.parent.mkdir()
    path.write_text(
        """
rules:
  - {id: unlikely, rule: due_date_unlikly}
  - {id: odds, rule: due_date_unlikely, params: {min_probabilty: 0.4}}
  - {id: odds2, rule: due_date_unlikely, params: {min_probability: 50}}
  - {id: themes, rule: theme_off_target, teams: [Alpha]}
  - {id: unaligned, rule: unaligned_work, sources: [jira]}
  - {id: deps, rule: dependency_at_risk, params: {risks: [late]}}
  - id: moved
    rule: target_date_moved
    overrides: {Beta: {params: {time: 4}}}
""",
        encoding="utf-8",
    )
    rules, errors = load_policies(tmp_path)
    assert rules == []
    assert [str(e) for e in errors] == [
        f"{path}: rules[0].rule: unknown rule 'due_date_unlikly' "
        "(did you mean 'due_date_unlikely'?)",
        f"{path}: rules[1].params.min_probabilty: unknown key (did you mean 'min_probability'?)",
        f"{path}: rules[2].params.min_probability: Input should be less than or equal to 1",
        f"{path}: rules[3].teams: theme_off_target is about the whole portfolio's themes, "
        "not a team's: leave teams out (overrides are per theme)",
        f"{path}: rules[4].sources: unaligned_work reads theme shares over every source: "
        "leave sources out",
        f"{path}: rules[5].params.risks[0]: Input should be 'late_for_due', "
        "'late_for_forecast' or 'started_before_blocker'",
        # pydantic checks the length after dropping the bad entry (as for every rule's
        # `item_types`): a second line for the same mistake.
        f"{path}: rules[5].params.risks: Tuple should have at least 1 item after validation, not 0",
        f"{path}: rules[6].overrides.Beta.params.time: unknown key (did you mean 'times'?)",
    ]


# -- the documented examples -----------------------------------------------------------------------


def documented(rule_name: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## `{rule_name}`\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^Example findings?\b.*?:\n\n```text\n(.*?)\n```", section, re.M | re.S)
    assert found is not None, rule_name
    return found[1].splitlines()


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        ("due_date_unlikely", UNLIKELY_FACTS),
        ("due_date_passed", PASSED_FACTS),
        ("dependency_at_risk", DEP_FACTS),
        ("theme_off_target", THEME_FACTS),
        ("unaligned_work", THEME_FACTS),
        ("intake_too_long", INTAKE_FACTS),
        ("target_date_moved", MOVED_FACTS),
    ],
)
def test_the_documented_examples_are_these_findings(name: str, facts: PortfolioFacts) -> None:
    """docs/governance.md's example findings of the portfolio rules are this file's worked
    examples (the demo's refresh does not fill the portfolio facts yet)."""
    messages = {f.message for f in run(rule(name), facts)}
    assert set(documented(name)) <= messages
