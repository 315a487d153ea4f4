"""KPI values for people and for tools: the per-team table, JSON and CSV.

JSON and CSV carry every value as `{"scope", "scope_key", "metric", "window",
"value"}`; a date metric (its name ends in `_date`) shows as an ISO date. The
table is what a PMO reads: per team, aligned, with units, the latest weeks.
"""

from __future__ import annotations

import csv
import json
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pmo_sync.common.layout import fits
from pmo_sync.kpi.compute import value_date
from pmo_sync.kpi.model import DayCounting
from pmo_sync.store.kpis import KpiValue

__all__ = [
    "flow_rows",
    "kpi_header",
    "print_kpi_table",
    "public_value",
    "sprint_rows",
    "write_csv",
    "write_json",
]

COLUMNS = ("scope", "scope_key", "metric", "window", "value")
RECENT_WEEKS = 4


def public_value(value: KpiValue) -> float | int | str | None:
    """Dates as ISO strings, whole numbers as ints, the rest as stored."""
    if value.value is None:
        return None
    if value.metric.endswith("_date"):
        return value_date(value.value).isoformat()
    if float(value.value).is_integer():
        return int(value.value)
    return round(value.value, 4)


def write_json(values: Iterable[KpiValue], out: TextIO) -> int:
    rows = [
        {"scope": v.scope, "scope_key": v.scope_key, "metric": v.metric, "window": v.window,
         "value": public_value(v)}
        for v in values
    ]  # fmt: skip
    json.dump(rows, out, indent=1)
    out.write("\n")
    return len(rows)


def write_csv(values: Iterable[KpiValue], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for v in values:
        value = public_value(v)
        writer.writerow([v.scope, v.scope_key, v.metric, v.window, "" if value is None else value])
        count += 1
    return count


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} d"


_DAY_COUNTING: dict[DayCounting, str] = {
    "inclusive": "days counted inclusively (Vacanti)",
    "exclusive": "days counted exclusively (whole days between the dates)",
    "fractional": "days counted as elapsed hours / 24",
}


def kpi_header(now: datetime, values_stored: int, day_counting: DayCounting) -> str:
    """The line above the KPI tables (`kpis` and the demo): as of when, how days count."""
    return (
        f"KPIs as of {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({values_stored} values stored); "
        f"{_DAY_COUNTING[day_counting]}"
    )


def print_kpi_table(console: Console, values: Sequence[KpiValue]) -> None:
    """One block per team (and the portfolio): flow, forecast, and its recent sprints.

    Each block is a table when the console is wide enough for it on one line a
    row, and `measure: value` lines wrapped at the console's width when not
    (a terminal of 80 columns), so no value is ever cut.
    """
    by_scope: dict[tuple[str, str], list[KpiValue]] = defaultdict(list)
    for value in values:
        by_scope[(value.scope, value.scope_key)].append(value)
    teams = sorted(key for scope, key in by_scope if scope == "team")
    blocks = [("team", t) for t in teams]
    if ("portfolio", "portfolio") in by_scope:
        blocks.append(("portfolio", "portfolio"))
    sprints_by_team: dict[str, list[KpiValue]] = defaultdict(list)
    for (scope, _key), rows in by_scope.items():
        if scope == "sprint":
            for row in rows:
                sprints_by_team[row.team or ""].append(row)
    for scope, key in blocks:
        _print_flow_block(console, key, by_scope[(scope, key)])
        if scope == "team":
            _print_sprints(console, key, sprints_by_team.get(key, []))


def _latest(rows: list[KpiValue], metric: str) -> KpiValue | None:
    found = [r for r in rows if r.metric == metric]
    return max(found, key=lambda r: r.window) if found else None


def flow_rows(rows: Sequence[KpiValue]) -> list[tuple[str, str]]:
    """A team's (or the portfolio's) flow and forecast as (measure, value) pairs, with units."""
    get = {
        r.metric: r
        for r in rows
        if not r.metric.endswith(("_week", "_day")) and ":" not in r.metric
    }
    out: list[tuple[str, str]] = []

    def value(metric: str) -> float | None:
        row = get.get(metric)
        return row.value if row is not None else None

    items, done, wip = (_int(value(m)) for m in ("items", "done_in_window", "wip"))
    out.append(("items", f"{items} ({done} done in the window, {wip} in progress now)"))
    for kind in ("cycle_time", "lead_time"):
        parts = [f"p{p} {_days(value(f'{kind}_p{p}_days'))}" for p in (50, 70, 85, 95)]
        out.append((kind.replace("_", " "), "  ".join(parts)))
    weeks = sorted((r for r in rows if r.metric == "throughput_week"), key=lambda r: r.window)
    recent = weeks[-RECENT_WEEKS:]
    if recent:
        counts = " ".join(str(int(r.value or 0)) for r in recent)
        out.append((f"throughput (last {len(recent)} weeks)", f"{counts} items/week"))
    net = sorted((r for r in rows if r.metric == "net_flow_week"), key=lambda r: r.window)[
        -RECENT_WEEKS:
    ]
    if net:
        out.append(("net flow (same weeks)", " ".join(f"{int(r.value or 0):+d}" for r in net)))
    if value("wip_age_max_days") is not None:
        out.append(("oldest WIP", _days(value("wip_age_max_days"))))
    dates = [(p, get.get(f"forecast_done_p{p}_date")) for p in (50, 85, 95)]
    if value("open_items") is not None:
        shown = "  ".join(
            f"p{p} {value_date(r.value).isoformat()}"
            for p, r in dates
            if r is not None and r.value is not None
        )
        out.append(
            (f"forecast: {_int(value('open_items'))} open items done by",
             shown or "no throughput history")
        )  # fmt: skip
        item_forecasts = [(p, get.get(f"forecast_items_p{p}")) for p in (50, 85, 95)]
        window_row = next((r for _, r in item_forecasts if r is not None), None)
        if window_row is not None:
            out.append(
                (f"forecast: items done {window_row.window}",
                 "  ".join(f"p{p} {_int(r.value)}" for p, r in item_forecasts if r is not None))
            )  # fmt: skip
    return out


def _print_lines(console: Console, pairs: Sequence[tuple[str, str]]) -> None:
    """`measure: value`, wrapped at the console's width, continuation lines indented."""
    for measure, shown in pairs:
        for line in textwrap.wrap(
            f"{measure}: {shown}", width=max(console.width, 40), subsequent_indent="    "
        ):
            console.print(line, highlight=False, markup=False)


def _print_flow_block(console: Console, name: str, rows: list[KpiValue]) -> None:
    window = next((r.window for r in rows if r.metric == "done_in_window"), "")
    title = f"{escape(name)} — window {window}"
    pairs = flow_rows(rows)
    table = Table(
        "measure", "value", title=title, title_justify="left",
        show_header=False, box=None, pad_edge=False,
    )  # fmt: skip
    for measure, shown in pairs:
        table.add_row(escape(measure), escape(shown))
    if fits(console, table):
        console.print(table)
    else:
        console.print(title, highlight=False)
        _print_lines(console, pairs)
    console.print()


_SPRINT_COLUMNS = (
    "sprint", "state", "committed", "added", "removed", "completed", "carried over", "say/do",
    "velocity",
)  # fmt: skip


def sprint_rows(rows: Sequence[KpiValue]) -> list[tuple[str, ...]]:
    """A team's last sprints (closed or active, oldest first) as cells of `_SPRINT_COLUMNS`:
    points, with the items in brackets."""
    by_sprint: dict[str, dict[str, KpiValue]] = defaultdict(dict)
    for row in rows:
        if not row.metric.startswith("burn"):
            by_sprint[row.scope_key][row.metric] = row
    closed = [
        (key, metrics) for key, metrics in by_sprint.items()
        if next(iter(metrics.values())).window.startswith(("closed@", "active@"))
    ]  # fmt: skip
    closed.sort(key=lambda kv: next(iter(kv[1].values())).window.split("@", 1)[1])
    out: list[tuple[str, ...]] = []
    for key, m in closed[-RECENT_WEEKS:]:
        state = next(iter(m.values())).window.split("@", 1)[0]
        say_do = m.get("say_do")
        vel = m.get("velocity_points")
        out.append((
            key, state,
            _pts(m, "committed"), _pts(m, "added"), _pts(m, "removed"), _pts(m, "completed"),
            _pts(m, "carried_over"),
            "-" if say_do is None or say_do.value is None else f"{say_do.value:.0%}",
            "-" if vel is None or vel.value is None else f"{vel.value:.1f}",
        ))  # fmt: skip
    return out


def _print_sprints(console: Console, team: str, rows: list[KpiValue]) -> None:
    if not rows:
        return
    cells = sprint_rows(rows)
    title = f"{escape(team)} — last sprints (points)"
    table = Table(*_SPRINT_COLUMNS, title=title, title_justify="left")
    for row in cells:
        table.add_row(*(escape(cell) for cell in row))
    if fits(console, table):
        console.print(table)
    else:
        console.print(f"{title}, items in brackets", highlight=False)
        for key, state, *rest in cells:
            facts = ", ".join(
                f"{name} {cell}" for name, cell in zip(_SPRINT_COLUMNS[2:], rest, strict=True)
            )
            for line in textwrap.wrap(
                f"{key} ({state}): {facts}", width=max(console.width, 40), subsequent_indent="    "
            ):
                console.print(line, highlight=False, markup=False)
    console.print()


def _pts(metrics: dict[str, KpiValue], name: str) -> str:
    points = metrics.get(f"{name}_points")
    items = metrics.get(f"{name}_items")
    return f"{_num(points.value if points else None)} ({_int(items.value if items else None)})"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _int(value: float | None) -> str:
    return "-" if value is None else str(int(value))
