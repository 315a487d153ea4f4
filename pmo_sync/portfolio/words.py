"""The portfolio answers in words: one wording for `pmo-sync portfolio` and `when`, the
dashboard's request and strategy pages and the demo, so a page and the command never say the
same answer two ways. Pure: answers in, text out."""

from __future__ import annotations

from pmo_sync.portfolio.dependency_risk import DependencyRisk, Risk, RiskFinding
from pmo_sync.portfolio.overview import whole_percent
from pmo_sync.portfolio.releases import ReleaseDelivery

__all__ = ["count", "delivery_words", "percent", "risk_words"]


def count(n: int, word: str) -> str:
    """`1 day`, `3 days`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def percent(probability: float) -> str:
    """A probability as a whole percent (`overview.whole_percent`: halves up, 100% only when
    certain, 0% only when impossible; 0.996 reads 99%)."""
    return f"{whole_percent(probability)}%"


def risk_words(d: DependencyRisk, risk: RiskFinding) -> str:
    """One risk of a dependency: "ABC-15 is in progress while DEF-14 has not started", "5 days
    after DEF-12's due date 2030-02-26", "not forecast: at least …" past the horizon."""
    if risk.risk is Risk.STARTED_BEFORE_BLOCKER:
        return f"{d.waiting[1]} is in progress while {d.blocker[1]} has not started"
    whose = risk.of[1] if risk.of is not None else d.waiting[1]
    what = "due date" if risk.risk is Risk.LATE_FOR_DUE else "forecast (p85)"
    days = count(risk.days or 0, "day")
    against = None if risk.against is None else risk.against.isoformat()
    if risk.at_least:
        return f"not forecast: at least {days} after {whose}'s {what} {against}"
    return f"{days} after {whose}'s {what} {against}"


def delivery_words(row: ReleaseDelivery) -> str:
    """A team's release delivery: shipped per month, on-time share, median slip, overdue."""
    said = [
        f"{count(len(row.shipped), 'release')} shipped ({row.per_month:.1f} a month: "
        + ", ".join(str(m.released) for m in row.monthly)
        + ")"
    ]
    if row.on_time_share is not None:
        said.append(f"{row.on_time_share * 100:.0f}% on time")
    if row.median_slip_days is not None:
        said.append(f"median slip {row.median_slip_days:g} days")
    if row.overdue:
        said.append(
            "overdue: "
            + ", ".join(f"{r.name} ({count(r.slip_days or 0, 'day')} late)" for r in row.overdue)
        )
    return "; ".join(said)
