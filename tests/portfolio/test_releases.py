"""release_delivery: each team's releases over the last whole months, worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from pmo_sync.domain import Stage
from pmo_sync.portfolio.model import PortfolioRelease, WorkItem
from pmo_sync.portfolio.releases import (
    MonthReleases,
    ReleaseDelivery,
    ReleaseOutcome,
    release_delivery,
    window_months,
)

JIRA, ADO = "acme-jira", "contoso-ado"
ALPHA, BETA = "Team Alpha", "Team Beta"


def item(key: str, team: str | None, *releases: str, source: str = JIRA) -> WorkItem:
    return WorkItem(
        ref=(source, key),
        team=team,
        level="story",
        item_type="story",
        parent=None,
        stage=Stage.TODO,
        created=date(2029, 11, 1),
        releases=releases,
    )


def release(
    name: str, planned: date | None, released: date | None, project: str = "ABC"
) -> PortfolioRelease:
    return PortfolioRelease(JIRA, name, project, planned, released)


def months(jan: int, feb: int, mar: int) -> tuple[MonthReleases, ...]:
    return (
        MonthReleases(date(2030, 1, 1), jan),
        MonthReleases(date(2030, 2, 1), feb),
        MonthReleases(date(2030, 3, 1), mar),
    )


def test_window_months_are_the_whole_months_before_todays() -> None:
    assert window_months(date(2030, 1, 15), 3) == (
        date(2029, 10, 1),
        date(2029, 11, 1),
        date(2029, 12, 1),
    )
    assert window_months(date(2030, 3, 1), 1) == (date(2030, 2, 1),)
    with pytest.raises(ValueError, match="months must be at least 1, not 0"):
        window_months(date(2030, 3, 1), 0)


def test_two_teams_and_the_portfolio_by_hand() -> None:
    # Today 2030-04-10, 3 months: the window is January to March 2030 (April is in progress).
    releases = [
        release("2030.1", date(2030, 1, 27), date(2030, 1, 26)),  # 1 day early
        release("2030.2", date(2030, 2, 1), date(2030, 2, 7)),  # 6 days late
        release("2030.3", date(2030, 3, 8), None),  # due in the window, not shipped
        release("2030.4", date(2030, 3, 20), date(2030, 3, 20)),  # on the day
        release("2029.12", date(2029, 12, 15), date(2029, 12, 20)),  # before the window
        release("2030.5", date(2030, 4, 30), None),  # not due yet
        release("hotfix", None, date(2030, 3, 2)),  # never planned
        release("2030.6", date(2030, 4, 5), None),  # overdue, due after the window
        release("tools", None, date(2030, 2, 20)),  # no item names it: the portfolio's only
    ]
    items = [
        item("ABC-1", ALPHA, "2030.1"),
        item("ABC-2", ALPHA, "2030.1", "2030.2"),
        item("ABC-3", ALPHA, "2030.3"),
        item("ABC-4", ALPHA, "2030.4"),
        item("ABC-5", ALPHA, "hotfix"),
        item("ABC-6", ALPHA, "2029.12"),
        item("ABC-7", ALPHA, "no such release"),  # no dates: left out
        item("DEF-1", BETA, "2030.2"),
        item("DEF-2", BETA, "2030.2"),
        item("DEF-3", BETA, "2030.5"),
        item("DEF-4", BETA, "2030.6"),
        item("PMO-1", None, "2030.4"),  # no team: the portfolio's count only
        item("7", BETA, "2030.1", source=ADO),  # the ADO source lists no 2030.1
    ]
    report = release_delivery(items, releases, date(2030, 4, 10), months=3)
    assert (report.window_start, report.window_end) == (date(2030, 1, 1), date(2030, 3, 31))

    def shipped(
        name: str, planned: date | None, on: date, items: int, slip: int | None
    ) -> ReleaseOutcome:
        return ReleaseOutcome(JIRA, name, planned, on, items, slip)

    def overdue(name: str, planned: date, items: int, slip: int) -> ReleaseOutcome:
        return ReleaseOutcome(JIRA, name, planned, None, items, slip)

    # Alpha ships 2030.1 (01-26), 2030.2 (02-07), hotfix (03-02), 2030.4 (03-20): 4 in 3
    # months. Slips -1, 6, 0 (hotfix has no plan): on time 2 of 3 shipped + 2030.3, due
    # 03-08 in the window and not shipped: 2 / 4 = 0.5; the slip so far 04-10 - 03-08 = 33.
    # Median slip of (-1, 0, 6): 0. Items per release (2, 1, 1, 1): median 1.
    # Days between: 01-26 → 02-07 = 12, 02-07 → 03-02 = 23, 03-02 → 03-20 = 18: median 18.
    alpha = ReleaseDelivery(
        team=ALPHA,
        monthly=months(1, 1, 2),
        shipped=(
            shipped("2030.1", date(2030, 1, 27), date(2030, 1, 26), 2, -1),
            shipped("2030.2", date(2030, 2, 1), date(2030, 2, 7), 1, 6),
            shipped("hotfix", None, date(2030, 3, 2), 1, None),
            shipped("2030.4", date(2030, 3, 20), date(2030, 3, 20), 1, 0),
        ),
        overdue=(overdue("2030.3", date(2030, 3, 8), 1, 33),),
        per_month=4 / 3,
        on_time_share=0.5,
        median_slip_days=0.0,
        median_items=1.0,
        median_days_between=18.0,
    )
    # Beta ships 2030.2 only (6 days late): on time 0 of 1 (2030.6, overdue 04-10 - 04-05 = 5
    # days, was due after the window: not judged in it). One ship day: no gap.
    beta = ReleaseDelivery(
        team=BETA,
        monthly=months(0, 1, 0),
        shipped=(shipped("2030.2", date(2030, 2, 1), date(2030, 2, 7), 2, 6),),
        overdue=(overdue("2030.6", date(2030, 4, 5), 1, 5),),
        per_month=1 / 3,
        on_time_share=0.0,
        median_slip_days=6.0,
        median_items=2.0,
        median_days_between=None,
    )
    assert report.teams == (alpha, beta)
    # The portfolio: Alpha's four and "tools" (02-20): 5 in 3 months; every item counted
    # (2030.2: ABC-2, DEF-1, DEF-2 = 3; 2030.4: ABC-4, PMO-1 = 2); items (2, 3, 0, 1, 2):
    # median 2. Days between 01-26, 02-07, 02-20, 03-02, 03-20: 12, 13, 10, 18: median 12.5.
    assert report.portfolio == ReleaseDelivery(
        team=None,
        monthly=months(1, 2, 2),
        shipped=(
            shipped("2030.1", date(2030, 1, 27), date(2030, 1, 26), 2, -1),
            shipped("2030.2", date(2030, 2, 1), date(2030, 2, 7), 3, 6),
            shipped("tools", None, date(2030, 2, 20), 0, None),
            shipped("hotfix", None, date(2030, 3, 2), 1, None),
            shipped("2030.4", date(2030, 3, 20), date(2030, 3, 20), 2, 0),
        ),
        overdue=(
            overdue("2030.3", date(2030, 3, 8), 1, 33),
            overdue("2030.6", date(2030, 4, 5), 1, 5),
        ),
        per_month=5 / 3,
        on_time_share=0.5,
        median_slip_days=0.0,
        median_items=2.0,
        median_days_between=12.5,
    )
    assert [r.on_time for r in report.portfolio.shipped] == [True, False, None, None, True]


def test_one_name_listed_twice_in_a_source_is_one_release() -> None:
    # Window: March 2030. "1.0" in ABC (planned 03-10, shipped 03-12) and in DEF (planned
    # 03-05, shipped 03-15): planned 03-05, shipped 03-15 when the last shipped: slip 10.
    # "2.0" shipped in ABC (03-15) but not yet in DEF: not shipped, planned 03-20 (the
    # earlier), overdue 04-10 - 03-20 = 21 days. On time 0 of (1.0 + 2.0) = 0.0.
    # "3.0" ships 03-15 too: one ship day, so no gap.
    releases = [
        release("1.0", date(2030, 3, 10), date(2030, 3, 12), "ABC"),
        release("1.0", date(2030, 3, 5), date(2030, 3, 15), "DEF"),
        release("2.0", date(2030, 3, 20), date(2030, 3, 15), "ABC"),
        release("2.0", date(2030, 3, 25), None, "DEF"),
        release("3.0", None, date(2030, 3, 15)),
    ]
    items = [item("ABC-1", ALPHA, "1.0", "1.0"), item("DEF-1", ALPHA, "2.0", "3.0")]
    (alpha,) = release_delivery(items, releases, date(2030, 4, 10), months=1).teams
    assert alpha.shipped == (
        ReleaseOutcome(JIRA, "1.0", date(2030, 3, 5), date(2030, 3, 15), 1, 10),
        ReleaseOutcome(JIRA, "3.0", None, date(2030, 3, 15), 1, None),
    )
    assert alpha.overdue == (ReleaseOutcome(JIRA, "2.0", date(2030, 3, 20), None, 1, 21),)
    assert (alpha.on_time_share, alpha.median_days_between) == (0.0, None)
    assert alpha.monthly == (MonthReleases(date(2030, 3, 1), 2),)


def test_the_windows_edges() -> None:
    # Today 2030-04-10, 2 months: February and March. "0.9" shipped 03-31, the window's last
    # day: counted in March; "0.8" shipped 04-01, in the month in progress: not counted.
    # "1.1" is planned today and not shipped: not overdue until tomorrow; "1.0" is due in May.
    # Nothing shipped had a planned day: no on-time share, no slip; one ship day: no gap.
    releases = [
        release("1.0", date(2030, 5, 1), None),
        release("1.1", date(2030, 4, 10), None),
        release("0.9", None, date(2030, 3, 31)),
        release("0.8", None, date(2030, 4, 1)),
    ]
    items = [item("ABC-1", ALPHA, "1.0", "1.1", "0.9", "0.8")]
    (alpha,) = release_delivery(items, releases, date(2030, 4, 10), months=2).teams
    assert alpha.monthly == (MonthReleases(date(2030, 2, 1), 0), MonthReleases(date(2030, 3, 1), 1))
    assert alpha.shipped == (ReleaseOutcome(JIRA, "0.9", None, date(2030, 3, 31), 1, None),)
    assert (alpha.per_month, alpha.on_time_share, alpha.median_slip_days) == (0.5, None, None)
    assert (alpha.median_items, alpha.median_days_between, alpha.overdue) == (1.0, None, ())
