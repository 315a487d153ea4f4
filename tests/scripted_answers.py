"""What the answers must say of the scripted portfolio (`pmo_sync.sandbox.portfolio`) on day
42, worked out by hand once (tests/portfolio/test_scripted_dependencies_releases.py derives
each value): the truth-fed test and the store-fed one (tests/e2e/test_portfolio_inputs.py)
compare with the same values, each naming items its own way (`ref`) and counting days from
the portfolio's first day (`day`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pmo_sync.portfolio.dependency_risk import (
    DependencyRisk,
    DependencyStatus,
    Resolution,
    Risk,
    RiskFinding,
)
from pmo_sync.sandbox.portfolio import TEAMS

ALPHA, BETA, GAMMA = TEAMS.values()

Ref = Callable[[str], tuple[str, str]]


def dependencies_on_day_42(ref: Ref, day: Callable[[int], date]) -> tuple[DependencyRisk, ...]:
    """The four dependencies with the p85s given by hand (B1 day 55, G2 day 56): B1 → A3 five
    days late for E2 (day 50) and A3 started before B1; G2 → B4 six days late for E2; A1 → A2
    and G1 → B2 resolved (A1 done day 12, G1 day 39)."""
    return (
        DependencyRisk(
            ref("B1"),
            ref("A3"),
            BETA,
            ALPHA,
            DependencyStatus.AT_RISK,
            risks=(
                RiskFinding(Risk.LATE_FOR_DUE, 5, day(50), ref("E2")),
                RiskFinding(Risk.STARTED_BEFORE_BLOCKER),
            ),
            blocker_finish=day(55),
            waiting_request=ref("E2"),
        ),
        DependencyRisk(
            ref("G2"),
            ref("B4"),
            GAMMA,
            BETA,
            DependencyStatus.AT_RISK,
            risks=(RiskFinding(Risk.LATE_FOR_DUE, 6, day(50), ref("E2")),),
            blocker_finish=day(56),
            waiting_request=ref("E2"),
        ),
        DependencyRisk(
            ref("A1"),
            ref("A2"),
            ALPHA,
            ALPHA,
            DependencyStatus.RESOLVED,
            resolution=Resolution.BLOCKER_DONE,
            blocker_finish=day(12),
            waiting_request=ref("E1"),
        ),
        DependencyRisk(
            ref("G1"),
            ref("B2"),
            GAMMA,
            BETA,
            DependencyStatus.RESOLVED,
            resolution=Resolution.BLOCKER_DONE,
            blocker_finish=day(39),
            waiting_request=ref("E3"),
        ),
    )
