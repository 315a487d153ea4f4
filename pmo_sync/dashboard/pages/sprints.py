"""The sprints page: a Scrum team's burndown and burnup, velocity, say/do and scope change.

Sprint values are stored per sprint key (the sprint's name, qualified by the
team or the sprint id when names repeat; `pmo_sync.kpi.compute._sprint_values`)
with the sprint's state and measuring day as the window (`closed@2026-08-24`,
`active@2026-03-10`, `future`), and the burn charts per day. The page reads
them as stored; the window filter keeps the sprints measured in the last N
days (and the future ones) in the velocity chart and the table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pmo_sync.dashboard.charts import Chart, Series, bar_chart, burn_chart, velocity_chart
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.store.kpis import KpiValue

__all__ = ["SprintRow", "SprintsPage", "build_sprints", "sprint_order"]

DAILY_METRICS = ("burndown_points", "burnup_done_points", "burnup_scope_points")
TABLE_METRICS = (
    "committed_points",
    "added_points",
    "removed_points",
    "completed_points",
    "say_do",
    "velocity_points",
    "committed_items",
    "added_items",
    "removed_items",
    "completed_items",
)


@dataclass(frozen=True, slots=True)
class SprintRow:
    """One sprint as stored: its key, state, measuring day and numbers (metric → value)."""

    key: str
    window: str
    numbers: dict[str, float | None]

    @property
    def state(self) -> str:
        return self.window.split("@", 1)[0]

    @property
    def measured_on(self) -> date | None:
        return date.fromisoformat(self.window.split("@", 1)[1]) if "@" in self.window else None

    def get(self, metric: str) -> float | None:
        return self.numbers.get(metric)


@dataclass(frozen=True, slots=True)
class SprintsPage:
    team: str
    filters: Filters
    sprints: list[SprintRow]  # in the window (and future ones), oldest first
    selected: SprintRow | None
    burndown: Chart | None = None
    burnup: Chart | None = None
    velocity: Chart | None = None
    say_do: Chart | None = None
    scope_change: Chart | None = None

    @property
    def charts(self) -> list[Chart]:
        shown = (self.burndown, self.burnup, self.velocity, self.say_do, self.scope_change)
        return [c for c in shown if c is not None]


def _natural(text: str) -> tuple[object, ...]:
    """ "Sprint 9" before "Sprint 10"."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def sprint_order(row: SprintRow) -> tuple[object, ...]:
    """Measured sprints by their measuring day, then undated and future ones, then by name."""
    day = row.measured_on
    return (day is None, day or date.max, row.state == "future", _natural(row.key))


def _choose(sprints: Sequence[SprintRow], wanted: str | None) -> SprintRow | None:
    """`?sprint=` when it names one; otherwise the active sprint, else the last closed one."""
    if wanted:
        for row in sprints:
            if row.key == wanted:
                return row
    active = [r for r in sprints if r.state == "active"]
    if active:
        return active[-1]
    closed = [r for r in sprints if r.state == "closed"]
    return closed[-1] if closed else None


def _daily(values: Sequence[KpiValue], metric: str) -> Series:
    chosen = sorted((v for v in values if v.metric == metric), key=lambda v: v.window)
    names = {
        "burndown_points": "remaining points",
        "burnup_done_points": "done points",
        "burnup_scope_points": "scope points",
    }
    return Series(names[metric], [v.window for v in chosen], [v.value for v in chosen])


def _burn_charts(
    reads: DashboardReads, team: str, sprint: SprintRow
) -> tuple[Chart | None, Chart | None]:
    """The chosen sprint's burndown and burnup, from its stored daily points."""
    daily = reads.values("sprint", team=team, metrics=DAILY_METRICS, scope_keys=[sprint.key])
    down = _daily(daily, "burndown_points")
    done, scope = _daily(daily, "burnup_done_points"), _daily(daily, "burnup_scope_points")
    burndown = burnup = None
    if down.x:
        burndown = burn_chart(
            "burndown",
            f"Burndown: {sprint.key}",
            [down],
            kind="burndown",
            description="Points not done at the end of each day (burndown_points).",
        )
    if done.x:
        burnup = burn_chart(
            "burnup",
            f"Burnup: {sprint.key}",
            [done, scope],
            kind="burnup",
            description="Points done and the sprint's scope each day "
            "(burnup_done_points, burnup_scope_points).",
        )
    return burndown, burnup


def _column(sprints: Sequence[SprintRow], metric: str, name: str, sign: float = 1.0) -> Series:
    """One stored number per sprint (None where not stored), as a named series."""
    values = [s.get(metric) for s in sprints]
    return Series(name, [s.key for s in sprints], [None if v is None else sign * v for v in values])


def _sprint_charts(
    measured: Sequence[SprintRow],
) -> tuple[Chart | None, Chart | None, Chart | None]:
    """Velocity (commitment beside completion), say/do and scope change per measured sprint."""
    if not measured:
        return None, None, None
    with_velocity = [s for s in measured if s.get("velocity_points") is not None]
    with_say_do = [s for s in measured if s.get("say_do") is not None]
    velocity = velocity_chart(
        "velocity",
        "Velocity: committed and completed",
        [
            _column(measured, "committed_points", "committed"),
            _column(measured, "completed_points", "completed"),
        ],
        _column(with_velocity, "velocity_points", "velocity") if with_velocity else None,
        description="Points committed at the start and completed per sprint; the line is "
        "the stored velocity (velocity_points).",
    )
    say_do = None
    if with_say_do:
        say_do = bar_chart(
            "say-do",
            "Say/do",
            [_column(with_say_do, "say_do", "say/do")],
            x_title="sprint",
            y_title="completed ÷ committed",
            kind="say-do",
            percent=True,
            description="Completed points over committed points (say_do).",
        )
    scope_change = bar_chart(
        "scope-change",
        "Scope added and removed",
        [
            _column(measured, "added_points", "added"),
            _column(measured, "removed_points", "removed", -1.0),
        ],
        x_title="sprint",
        y_title="points",
        kind="scope",
        description="Points added after the start (added_points) and removed "
        "(removed_points, drawn below zero).",
    )
    return velocity, say_do, scope_change


def build_sprints(
    reads: DashboardReads, team: str, filters: Filters, today: date, wanted: str | None = None
) -> SprintsPage | None:
    """The sprints page's data; None when no team of that name has stored values."""
    if team not in reads.team_names():
        return None
    first = filters.first_day(today)
    rows: dict[str, SprintRow] = {}
    for v in reads.values("sprint", team=team, metrics=TABLE_METRICS):
        row = rows.setdefault(v.scope_key, SprintRow(v.scope_key, v.window, {}))
        row.numbers[v.metric] = v.value
    every = sorted(rows.values(), key=sprint_order)
    shown = [r for r in every if r.measured_on is None or r.measured_on >= first]
    selected = _choose(every, wanted)
    burndown, burnup = _burn_charts(reads, team, selected) if selected else (None, None)
    velocity, say_do, scope_change = _sprint_charts([r for r in shown if r.measured_on])
    return SprintsPage(
        team, filters, shown, selected, burndown, burnup, velocity, say_do, scope_change
    )
