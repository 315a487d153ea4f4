"""How the work matches strategy: each theme's shares, worked out by hand on a small portfolio.

The portfolio of `ITEMS` (window 1..10 March 2026, both days count; themes Growth 50%,
Platform 30%, Compliance 10% with no work at all, so 10% of room is planned for nothing):

| item | theme     | level/type        | started | done   | stage now   | points |
|------|-----------|-------------------|---------|--------|-------------|--------|
| G1   | Growth    | story             | 1 Mar   | 5 Mar  | done        | 3      |
| G2   | Growth    | story             | 20 Feb  | -      | in progress | -      |
| G3   | Growth    | story/bug         | 8 Mar   | 8 Mar  | done        | -      |
| P1   | Platform  | story             | 6 Mar   | -      | in progress | 5      |
| P2   | Platform  | task              | 2 Mar   | 4 Mar  | done        | 5      |
| U1   | -         | story             | 9 Mar   | -      | in progress | -      |
| U2   | -         | story             | 20 Feb  | 25 Feb | done        | 8      |
| U3   | -         | story             | 3 Mar   | -      | to do again | -      |
| U4   | -         | story             | 9 Mar   | 10 Mar | done        | 2      |
| E1   | Growth    | epic              | 2 Feb   | -      | in progress | 13     |
| E2   | Platform  | feature/epic      | -       | 3 Mar  | done        | -      |
| E3   | -         | epic (made 5 Mar) | -       | -      | to do       | -      |
| E4   | Growth    | epic (made 11 Mar)| -       | -      | to do       | -      |
| I1   | Growth    | initiative/other  | 1 Mar   | -      | in progress | -      |
| S1   | Growth    | subtask           | 1 Mar   | 2 Mar  | done        | 1      |

An item is in progress at the end of day d when started <= d < done (docs/metrics.md 5.3), so
its item-days in the window are the days from max(started, 1 Mar) to min(done - 1, 10 Mar):
G1 1..4 Mar = 4, G2 1..10 = 10, G3 none (started and done the same day), P1 6..10 = 5,
P2 2..3 = 2, U1 9..10 = 2, U4 9 = 1, U2 before the window, U3 not in progress now (back in to
do: never WIP, as the KPIs say). Epics, features, initiatives and sub-tasks are not work.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from pmo_sync.domain import Stage
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.model import WorkItem
from pmo_sync.portfolio.strategy import (
    Share,
    ThemeShares,
    strategy_shares,
)
from pmo_sync.portfolio.work import is_work

GROWTH = ThemeConfig(name="Growth", target_share=50, match=ThemeMatch(labels=["growth"]))
PLATFORM = ThemeConfig(name="Platform", target_share=30, match=ThemeMatch(labels=["platform"]))
COMPLIANCE = ThemeConfig(name="Compliance", target_share=10, match=ThemeMatch(labels=["gdpr"]))
THEMES = [GROWTH, PLATFORM, COMPLIANCE]

FIRST, LAST = date(2026, 3, 1), date(2026, 3, 10)
IN_PROGRESS, DONE, TODO = Stage.IN_PROGRESS, Stage.DONE, Stage.TODO


def mar(day: int) -> date:
    return date(2026, 3, day)


def feb(day: int) -> date:
    return date(2026, 2, day)


def item(
    key: str,
    theme: str | None,
    stage: Stage,
    started: date | None = None,
    done: date | None = None,
    points: float | None = None,
    level: str | None = "story",
    item_type: str = "story",
    created: date = date(2026, 2, 1),
) -> WorkItem:
    return WorkItem(
        ref=("acme-jira", key),
        team="Team Alpha",
        level=level,
        item_type=item_type,
        parent=None,
        stage=stage,
        created=created,
        started=started,
        done=done,
        points=points,
        theme=theme,
    )


def epic(
    key: str,
    theme: str | None,
    stage: Stage,
    started: date | None = None,
    points: float | None = None,
    created: date = date(2026, 2, 1),
) -> WorkItem:
    return item(key, theme, stage, started, None, points, "epic", "epic", created)


ITEMS = [
    item("G1", "Growth", DONE, mar(1), mar(5), 3),
    item("G2", "Growth", IN_PROGRESS, feb(20)),
    item("G3", "Growth", DONE, mar(8), mar(8), item_type="bug"),
    item("P1", "Platform", IN_PROGRESS, mar(6), points=5),
    item("P2", "Platform", DONE, mar(2), mar(4), 5, level="task", item_type="task"),
    item("U1", None, IN_PROGRESS, mar(9)),
    item("U2", None, DONE, feb(20), feb(25), 8),
    item("U3", None, TODO, mar(3)),
    item("U4", None, DONE, mar(9), mar(10), 2),
    epic("E1", "Growth", IN_PROGRESS, started=feb(2), points=13),
    item("E2", "Platform", DONE, done=mar(3), level="feature", item_type="epic", created=feb(15)),
    epic("E3", None, TODO, created=mar(5)),
    epic("E4", "Growth", TODO, created=mar(11)),
    item("I1", "Growth", IN_PROGRESS, mar(1), level="initiative", item_type="other"),
    item("S1", "Growth", DONE, mar(1), mar(2), 1, level="subtask", item_type="subtask"),
]


def fraction(share: Share) -> Fraction:
    """The share as the exact fraction it is (every amount here is a whole number)."""
    return Fraction(share.amount) / Fraction(share.total)


def check(share: Share, amount: float, total: float, target: float | None) -> None:
    """`share` is amount/total exactly, its percent 100 x that, off its target by the difference."""
    assert (share.amount, share.total) == (amount, total)
    exact = Fraction(amount) / Fraction(total) * 100
    assert share.percent == pytest.approx(float(exact), abs=1e-12)
    if target is None:
        assert share.off_target is None
    else:
        assert share.off_target == pytest.approx(float(exact - Fraction(target)), abs=1e-12)


def by_name(rows: tuple[ThemeShares, ...]) -> dict[str | None, ThemeShares]:
    return {row.theme: row for row in rows}


def test_the_window_shares_of_every_theme_against_its_target() -> None:
    answer = strategy_shares(ITEMS, THEMES, FIRST, LAST, period_days=5, periods=2)
    rows = answer.window.themes
    assert [r.theme for r in rows] == ["Growth", "Platform", "Compliance", None]
    assert [r.target_share for r in rows] == [50, 30, 10, None]
    assert (answer.window.first, answer.window.last) == (FIRST, LAST)
    assert answer.unplanned_room == 10  # 100 - (50 + 30 + 10)
    growth, platform, compliance, unaligned = rows
    assert answer.window.unaligned is unaligned

    # WIP at the end of 10 March: G2, P1, U1 (U4 was done that day): 1 of 3 each.
    check(growth.wip, 1, 3, 50)  # 33.3% - 50 = -16.7 points
    check(platform.wip, 1, 3, 30)  # +3.3 points
    check(compliance.wip, 0, 3, 10)  # a theme with no work: 0%, 10 points under
    check(unaligned.wip, 1, 3, None)
    # Item-days: Growth 4 + 10 + 0 = 14, Platform 5 + 2 = 7, unaligned 2 + 1 = 3; 24 in all.
    assert fraction(growth.wip_days) == Fraction(7, 12)
    check(growth.wip_days, 14, 24, 50)  # 58.3%: 8.3 points over
    check(platform.wip_days, 7, 24, 30)  # 29.2%: 0.8 points under
    check(compliance.wip_days, 0, 24, 10)
    check(unaligned.wip_days, 3, 24, None)  # 12.5% aligned to no theme
    # Done in the window: G1, G3 | P2 | U4 (U2 before it; E2 and S1 are not work): 4.
    check(growth.done_items, 2, 4, 50)  # exactly on target
    check(platform.done_items, 1, 4, 30)
    check(unaligned.done_items, 1, 4, None)
    # Their points: Growth 3 (G3 has none), Platform 5, unaligned 2: 10.
    check(growth.done_points, 3, 10, 50)  # 30%: 20 points under
    check(platform.done_points, 5, 10, 30)  # 50%: 20 points over
    check(unaligned.done_points, 2, 10, None)
    assert [r.done_unpointed for r in rows] == [1, 0, 0, 0]
    # Requests open at the end of 10 March: E1, E3 (E2 done 3 March, E4 made 11 March).
    check(growth.requests_open, 1, 2, 50)
    check(platform.requests_open, 0, 2, 30)  # 30 points under
    check(compliance.requests_open, 0, 2, 10)
    check(unaligned.requests_open, 1, 2, None)


def test_the_trend_is_the_same_shares_per_period_ending_on_the_last_day() -> None:
    answer = strategy_shares(ITEMS, THEMES, FIRST, LAST, period_days=5, periods=2)
    assert answer.period_days == 5
    early, late = answer.trend
    assert (early.first, early.last, late.first, late.last) == (mar(1), mar(5), mar(6), mar(10))
    growth, platform, compliance, unaligned = early.themes
    # End of 5 March: G1 was done that day, P1 not started, P2 done: only G2 is in progress.
    check(growth.wip, 1, 1, 50)
    check(platform.wip, 0, 1, 30)
    # Item-days 1..5 March: G1 4 + G2 5 = 9, P2 2: 11.
    check(growth.wip_days, 9, 11, 50)
    check(platform.wip_days, 2, 11, 30)
    # Done: G1 (3 points) and P2 (5 points).
    check(growth.done_items, 1, 2, 50)
    check(growth.done_points, 3, 8, 50)
    check(platform.done_points, 5, 8, 30)
    # Open at the end of 5 March: E1, and E3, made that day; E2 was done on the 3rd.
    check(growth.requests_open, 1, 2, 50)
    check(unaligned.requests_open, 1, 2, None)
    check(compliance.requests_open, 0, 2, 10)

    growth, platform, compliance, unaligned = late.themes
    # Item-days 6..10 March: G2 5, P1 5, U1 2, U4 1: 13 (and 11 + 13 = the window's 24).
    check(growth.wip_days, 5, 13, 50)
    check(platform.wip_days, 5, 13, 30)
    check(unaligned.wip_days, 3, 13, None)
    # Done: G3 (no points), U4 (2 points): Growth has half the items and none of the points.
    check(growth.done_items, 1, 2, 50)
    check(growth.done_points, 0, 2, 50)
    assert growth.done_unpointed == 1
    check(unaligned.done_points, 2, 2, None)
    # The last period ends on the window's last day: the same snapshot.
    assert late.themes[0].wip == answer.window.themes[0].wip
    assert late.themes[3].requests_open == answer.window.themes[3].requests_open


def test_the_trend_reaches_back_before_a_shorter_window() -> None:
    # A window of the last five days alone is the trend's late period; the early one is still
    # computed from the items, though it lies before the window.
    short = strategy_shares(ITEMS, THEMES, mar(6), LAST, period_days=5, periods=2)
    whole = strategy_shares(ITEMS, THEMES, FIRST, LAST, period_days=5, periods=2)
    assert short.window == whole.trend[1]
    assert short.trend == whole.trend


def test_a_longer_window_than_the_trend_counts_every_day_of_it() -> None:
    # Three periods of one day: 8, 9 and 10 March; the window stays 1..10 March.
    answer = strategy_shares(ITEMS, THEMES, FIRST, LAST, period_days=1, periods=3)
    assert [(p.first, p.last) for p in answer.trend] == [(mar(d), mar(d)) for d in (8, 9, 10)]
    assert answer.window.themes[0].wip_days.amount == 14
    # 9 March: G2, P1, U1, U4 in progress; 10 March: G2, P1, U1.
    assert [p.themes[3].wip_days.amount for p in answer.trend] == [0, 2, 1]
    assert [p.themes[3].wip_days.total for p in answer.trend] == [2, 4, 3]
    # Done on the 8th: G3 alone; on the 10th: U4 alone.
    assert [p.themes[0].done_items.percent for p in answer.trend] == [100, None, 0]


def test_without_themes_everything_is_unaligned() -> None:
    answer = strategy_shares(ITEMS, [], FIRST, LAST, periods=0)
    # The items name themes portfolio.yaml no longer has: they keep their rows, by name,
    # with no target, before the unaligned work.
    assert [r.theme for r in answer.window.themes] == ["Growth", "Platform", None]
    plain = [
        WorkItem(**{**{f: getattr(i, f) for f in WorkItem.__slots__}, "theme": None}) for i in ITEMS
    ]
    answer = strategy_shares(plain, [], FIRST, LAST, periods=0)
    assert answer.trend == ()
    assert answer.unplanned_room is None
    (unaligned,) = answer.window.themes
    assert unaligned.theme is None
    check(unaligned.wip, 3, 3, None)
    check(unaligned.wip_days, 24, 24, None)
    check(unaligned.done_items, 4, 4, None)
    check(unaligned.done_points, 10, 10, None)
    check(unaligned.requests_open, 2, 2, None)
    assert unaligned.done_unpointed == 1


def test_a_zero_total_has_no_share_never_a_division_by_zero() -> None:
    answer = strategy_shares([], THEMES, FIRST, LAST, periods=1)
    for period in (answer.window, *answer.trend):
        for row in period.themes:
            for share in (row.wip, row.wip_days, row.done_items, row.done_points):
                assert share == Share(0, 0, None, None)
            assert row.requests_open == Share(0, 0, None, None)
    # Work done but none of it pointed: items have a share, points none.
    only = [item("G9", "Growth", DONE, mar(2), mar(3))]
    growth = strategy_shares(only, THEMES, FIRST, LAST, periods=0).window.themes[0]
    check(growth.done_items, 1, 1, 50)
    assert growth.done_points == Share(0, 0, None, None)
    assert growth.done_unpointed == 1


def test_targets_short_of_100_leave_room_and_are_shares_of_all_the_work() -> None:
    # Growth 40 and an untargeted theme: 60% of capacity is planned for nothing. A target is a
    # share of all the work, the unaligned included, never rescaled to the aligned work alone.
    growth = ThemeConfig(name="Growth", target_share=40, match=ThemeMatch(labels=["g"]))
    other = ThemeConfig(name="Platform", match=ThemeMatch(labels=["p"]))
    answer = strategy_shares(ITEMS, [growth, other], FIRST, LAST, periods=0)
    assert answer.unplanned_room == 60
    g, p, u = answer.window.themes
    check(g.done_items, 2, 4, 40)  # 50% - 40 = 10 points over
    check(p.done_items, 1, 4, None)  # no target: no difference
    assert answer.window.unaligned is u
    check(u.done_items, 1, 4, None)


def test_theme_names_match_ignoring_case_and_unknown_ones_sort_by_name() -> None:
    items = [
        item("A", "growth", IN_PROGRESS, mar(1)),
        item("B", "Zeta", IN_PROGRESS, mar(1)),
        item("C", "Alpha", IN_PROGRESS, mar(1)),
    ]
    rows = strategy_shares(items, [GROWTH], FIRST, LAST, periods=0).window.themes
    assert [(r.theme, r.target_share, r.wip.amount) for r in rows] == [
        ("Growth", 50, 1),
        ("Alpha", None, 1),
        ("Zeta", None, 1),
        (None, None, 0),
    ]


def test_the_request_levels_are_configurable() -> None:
    # Initiatives alone: I1 (in progress) is the one request; the epics are neither requests
    # nor work.
    rows = strategy_shares(ITEMS, THEMES, FIRST, LAST, ["Initiative"], periods=0).window.themes
    assert [r.requests_open.amount for r in rows] == [1, 0, 0, 0]
    assert [r.done_items.amount for r in rows] == [2, 1, 0, 1]


def test_what_counts_as_work_is_what_the_kpis_count_as_throughput() -> None:
    cases = {
        ("story", "story"): True,
        ("story", "bug"): True,
        ("task", "task"): True,
        (None, "story"): True,  # a connector that gives no level: its type decides
        (None, "other"): True,  # as the KPIs count it
        ("epic", "epic"): False,
        ("feature", "epic"): False,  # Azure DevOps' Feature
        ("initiative", "other"): False,  # Jira's Initiative: counted by type, not by level
        ("theme", "other"): False,  # a tracker's own level above epics
        ("subtask", "subtask"): False,
        (None, "subtask"): False,
        ("Story", "story"): True,
    }
    got = {
        (level, kind): is_work(item("X", None, TODO, level=level, item_type=kind))
        for level, kind in cases
    }
    assert got == cases


def test_a_window_or_trend_that_cannot_be_is_refused() -> None:
    with pytest.raises(ValueError, match="first day 2026-03-10 is after its last 2026-03-01"):
        strategy_shares([], THEMES, LAST, FIRST)
    with pytest.raises(ValueError, match="period_days >= 1 and periods >= 0, got 0, 3"):
        strategy_shares([], THEMES, FIRST, LAST, period_days=0, periods=3)


def test_the_default_trend_is_six_fortnights_ending_on_the_last_day() -> None:
    # 10 March back 6 x 14 = 84 days: 17 December 2025 to 10 March 2026, oldest first.
    answer = strategy_shares(ITEMS, THEMES, FIRST, LAST)
    assert answer.period_days == 14
    assert [(p.first, p.last) for p in answer.trend] == [
        (date(2025, 12, 17), date(2025, 12, 30)),
        (date(2025, 12, 31), date(2026, 1, 13)),
        (date(2026, 1, 14), date(2026, 1, 27)),
        (date(2026, 1, 28), date(2026, 2, 10)),
        (date(2026, 2, 11), date(2026, 2, 24)),
        (date(2026, 2, 25), mar(10)),
    ]
    # 25 February to 10 March: U2 done on the 25th joins the four done in March.
    check(answer.trend[-1].unaligned.done_items, 2, 5, None)
    check(answer.trend[-1].unaligned.done_points, 10, 18, None)  # 8 + 2 of 3 + 5 + 8 + 2
