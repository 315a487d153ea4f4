"""The portfolio for people (`pmo_sync.portfolio.overview`), worked by hand.

Two teams that each finished exactly one item a day over the 10 days before today make the
Monte Carlo certain: every sampled day gives 1, so n items are done on simulation day n - 1
(day 0 is today and counts a whole day's throughput), in every trial, and p50 = p85 = p95.

Today is 2030-04-01. The portfolio:

- initiative I-1 (theme Growth) over epics E-1 (rank a, due 04-03) and E-2 (rank b, due 04-03);
  epic E-3 (rank c, no initiative, no theme, no due date);
- E-1: stories A-1, A-2 on Team Alpha (open);
- E-2: A-3 on Alpha (in progress), A-4 on Alpha, B-9 on Beta (open);
- E-3: B-1..B-5 on Beta (open); B-1 blocks A-3.

The queues (rank order, cumulative remaining items, done on day cumulative - 1):

| team  | request | own | cumulative | done on |
|-------|---------|-----|------------|---------|
| Alpha | E-1     | 2   | 2          | day 1: 04-02 |
| Alpha | E-2     | 2   | 4          | day 3: 04-04 |
| Beta  | E-2     | 1   | 1          | day 0: 04-01 |
| Beta  | E-3     | 5   | 6          | day 5: 04-06 |

E-2 finishes when its last team's part does: max(04-04, 04-01) = 04-04.
"""

from __future__ import annotations

from datetime import date, timedelta

from pmo_sync.domain import Stage
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.dependency_risk import (
    DependencyStatus,
    Risk,
    RiskFinding,
    dependency_risks,
)
from pmo_sync.portfolio.forecast import RequestForecast, request_forecasts
from pmo_sync.portfolio.model import Dependency, WorkItem
from pmo_sync.portfolio.overview import (
    Ahead,
    item_forecasts,
    portfolio_overview,
    stakeholder_sentence,
    when_answer,
)

S = "s"
TODAY = date(2030, 4, 1)
ALPHA, BETA = "Team Alpha", "Team Beta"
THEMES = [ThemeConfig(name="Growth", target_share=50, match=ThemeMatch(labels=["growth"]))]


def ref(key: str) -> tuple[str, str]:
    return (S, key)


def story(key: str, team: str, parent: str | None, stage: Stage = Stage.TODO, **kw) -> WorkItem:  # type: ignore[no-untyped-def]
    started = TODAY if stage is Stage.IN_PROGRESS else kw.pop("started", None)
    return WorkItem(
        ref=ref(key),
        team=team,
        level="story",
        item_type="story",
        parent=ref(parent) if parent else None,
        stage=stage,
        created=date(2030, 1, 1),
        started=started,
        **kw,
    )


def epic(key: str, rank: str | None, parent: str | None, due: date | None, theme: str | None):  # type: ignore[no-untyped-def]
    return WorkItem(
        ref=ref(key),
        team=None,
        level="epic",
        item_type="epic",
        parent=ref(parent) if parent else None,
        stage=Stage.TODO,
        created=date(2030, 1, 1),
        rank=rank,
        due_date=due,
        theme=theme,
    )


def history(team: str, prefix: str) -> list[WorkItem]:
    """One item done on each of the 10 days before today: throughput exactly 1 a day, all
    under one request done the day its last story was and ranked above every other: the
    world the rank queue assumes, so every habit the forecast learns is neutral
    (`pmo_sync.portfolio.habits`)."""
    done = [
        story(
            f"{prefix}-{100 + n}",
            team,
            f"{prefix}-H",
            Stage.DONE,
            started=TODAY - timedelta(days=n),
            done=TODAY - timedelta(days=n),
        )
        for n in range(1, 11)
    ]
    request = WorkItem(
        ref=ref(f"{prefix}-H"),
        team=None,
        level="epic",
        item_type="epic",
        parent=None,
        stage=Stage.DONE,
        created=date(2030, 1, 1),
        done=TODAY - timedelta(days=1),
        rank="0",
    )
    return [request, *done]


def portfolio() -> list[WorkItem]:
    due = date(2030, 4, 3)
    return [
        WorkItem(
            ref("I-1"),
            None,
            "initiative",
            "other",
            None,
            Stage.TODO,
            date(2030, 1, 1),
            theme="Growth",
        ),
        epic("E-1", "a", "I-1", due, "Growth"),
        epic("E-2", "b", "I-1", due, "Growth"),
        epic("E-3", "c", None, None, None),
        story("A-1", ALPHA, "E-1", theme="Growth"),
        story("A-2", ALPHA, "E-1", theme="Growth"),
        story("A-3", ALPHA, "E-2", Stage.IN_PROGRESS, theme="Growth"),
        story("A-4", ALPHA, "E-2", theme="Growth"),
        story("B-9", BETA, "E-2", theme="Growth"),
        *(story(f"B-{n}", BETA, "E-3") for n in range(1, 6)),
        *history(ALPHA, "A"),
        *history(BETA, "B"),
    ]


DEPENDENCIES = [Dependency(ref("B-1"), ref("A-3"))]


def forecasts(items: list[WorkItem]) -> list[RequestForecast]:
    return request_forecasts(items, TODAY, trials=200, history_days=10)


def test_item_forecasts_give_each_open_item_its_requests_p85() -> None:
    items = portfolio()
    found = item_forecasts(items, forecasts(items), TODAY)
    e1, e2, e3 = date(2030, 4, 2), date(2030, 4, 4), date(2030, 4, 6)  # the table above
    # The requests their own p85; each open story its epic's; done items and the initiative
    # (not a request, no request above it) none.
    assert found == {
        ref("E-1"): e1, ref("A-1"): e1, ref("A-2"): e1,
        ref("E-2"): e2, ref("A-3"): e2, ref("A-4"): e2, ref("B-9"): e2,
        ref("E-3"): e3, **{ref(f"B-{n}"): e3 for n in range(1, 6)},
    }  # fmt: skip


def test_the_overview_groups_requests_under_their_initiative_and_judges_the_blocker() -> None:
    items = portfolio()
    found = forecasts(items)
    overview = portfolio_overview(items, found, DEPENDENCIES, [], THEMES, TODAY)
    # E-1 and E-2 under I-1, E-3 (no initiative) last; E-2's teams are its stories'.
    lines = overview.requests
    assert [(line.ref[1], line.initiative, line.teams, line.theme) for line in lines] == [
        ("E-1", ref("I-1"), (ALPHA,), "Growth"),
        ("E-2", ref("I-1"), (ALPHA, BETA), "Growth"),
        ("E-3", None, (BETA,), None),
    ]  # fmt: skip
    by_key = {line.ref[1]: line.forecast for line in overview.requests}
    assert by_key["E-1"].dates == {50: date(2030, 4, 2), 85: date(2030, 4, 2), 95: date(2030, 4, 2)}
    assert by_key["E-2"].dates[85] == date(2030, 4, 4)
    # Due 04-03: E-1 (done 04-02) in every trial, E-2 (04-04) in none.
    assert (by_key["E-1"].due_probability, by_key["E-2"].due_probability) == (1.0, 0.0)
    # B-1 (E-3's, p85 04-06) blocks A-3: 3 days after E-2's due date 04-03 (A-3 has none of
    # its own) and 2 after A-3's own forecast, its epic's p85 04-04 (`item_forecasts`); A-3 is
    # in progress while B-1 is to do.
    (dep,) = overview.dependencies.dependencies
    assert (dep.status, dep.blocker_finish, dep.waiting_request) == (
        DependencyStatus.AT_RISK,
        date(2030, 4, 6),
        ref("E-2"),
    )
    assert dep.risks == (
        RiskFinding(Risk.LATE_FOR_DUE, 3, date(2030, 4, 3), ref("E-2")),
        RiskFinding(Risk.LATE_FOR_FORECAST, 2, date(2030, 4, 4), ref("A-3")),
        RiskFinding(Risk.STARTED_BEFORE_BLOCKER),
    )
    # The allocation's open requests: E-1 and E-2 are Growth's (2 of 3: 66.7%, 16.7 points
    # over its 50% target), E-3 no theme's.
    growth, unaligned = overview.strategy.window.themes
    assert (growth.requests_open.amount, growth.requests_open.total) == (2, 3)
    assert round(growth.requests_open.off_target or 0, 1) == 16.7
    assert unaligned.requests_open.amount == 1


def test_team_and_theme_narrow_the_overview() -> None:
    items = portfolio()
    found = forecasts(items)
    beta = portfolio_overview(items, found, DEPENDENCIES, [], THEMES, TODAY, team=BETA)
    # Beta carries E-2 (B-9) and E-3; the dependency has Beta at the blocker's end.
    assert [line.ref[1] for line in beta.requests] == ["E-2", "E-3"]
    assert len(beta.dependencies.dependencies) == 1
    # Beta's allocation counts Beta's items only: E-3's five stories are to do (no WIP), B-9
    # too; its 10 done items are unaligned, so Growth's share of done items is 0 of 10.
    growth = beta.strategy.window.themes[0]
    assert (growth.done_items.amount, growth.done_items.total) == (0, 10)
    growth_only = portfolio_overview(items, found, DEPENDENCIES, [], THEMES, TODAY, theme="GROWTH")
    assert [line.ref[1] for line in growth_only.requests] == ["E-1", "E-2"]
    # A-3, waiting, is Growth's: the dependency stays, counted in its team pair.
    assert [(p.blocker_team, p.waiting_team, p.at_risk) for p in
            growth_only.dependencies.team_pairs] == [(BETA, ALPHA, 1)]  # fmt: skip
    alpha = portfolio_overview(items, found, DEPENDENCIES, [], THEMES, TODAY, team=ALPHA)
    none_of_it = portfolio_overview(items, found, [], [], THEMES, TODAY, team=ALPHA)
    assert [line.ref[1] for line in alpha.requests] == ["E-1", "E-2"]
    assert none_of_it.dependencies.dependencies == ()


def test_when_names_what_is_ahead_on_each_team_and_what_it_waits_on() -> None:
    items = portfolio()
    found = forecasts(items)
    report = dependency_risks(
        DEPENDENCIES, {i.ref: i for i in items}, item_forecasts(items, found, TODAY), TODAY
    )
    e2 = when_answer(ref("E-2"), items, found, report, TODAY, "intake")
    # On Alpha, E-1 (rank a) comes first with its 2 items: the forecast's ahead_by_team too;
    # on Beta E-2 is first.
    assert e2.ahead == (
        Ahead((S, ALPHA), 2, ((ref("E-1"), 2),)),
        Ahead((S, BETA), 0, ()),
    )
    assert [d.blocker for d in e2.waiting_on] == [ref("B-1")]
    assert e2.funnel_stage == "intake" and e2.done_on is None
    e3 = when_answer(ref("E-3"), items, found, report, TODAY, "intake")
    assert e3.ahead == (Ahead((S, BETA), 1, ((ref("E-2"), 1),)),)
    assert e3.waiting_on == ()
    # The sentence for stakeholders, in the form.
    assert stakeholder_sentence(e2.forecast, e2.waiting_on) == (  # type: ignore[arg-type]
        "85% likely done by 2030-04-04; due 2030-04-03: 0% likely by then; "
        "waiting on B-1 of Team Beta"
    )
    assert stakeholder_sentence(e3.forecast) == "85% likely done by 2030-04-06"  # type: ignore[arg-type]
    # Asked the day after E-2's due date (its p85 day), the sentence says the due date passed
    # rather than "0%", and "today" for the p85.
    after = date(2030, 4, 4)
    assert stakeholder_sentence(e2.forecast, e2.waiting_on, today=after) == (  # type: ignore[arg-type]
        "85% likely done by today; due 2030-04-03, passed; waiting on B-1 of Team Beta"
    )


def test_when_a_request_is_done_and_the_sentence_without_a_forecast() -> None:
    items = [
        epic("E-5", None, None, date(2030, 5, 1), None),
        story("C-1", "Team Gamma", "E-5"),
    ]
    found = forecasts(items)
    # Team Gamma finished nothing in the 10 days: no forecast, and why.
    assert stakeholder_sentence(found[0]) == (
        "no forecast: no throughput to sample: nothing finished in the last 10 days by "
        "Team Gamma (s); due 2030-05-01"
    )
    done = [
        WorkItem(ref("E-6"), None, "epic", "epic", None, Stage.DONE, date(2030, 1, 1),
                 done=date(2030, 3, 30)),
    ]  # fmt: skip
    report = dependency_risks([], {i.ref: i for i in done}, {}, TODAY)
    answer = when_answer(ref("E-6"), done, forecasts(done), report, TODAY, "done")
    assert (answer.done_on, answer.forecast, answer.ahead) == (date(2030, 3, 30), None, ())
