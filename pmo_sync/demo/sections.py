"""The demo's sections, as a newcomer reads them at an 80-column terminal.

One section a screen or two: what was synced, flow per team (items), sprints per
team (points), governance, write-back, the portfolio view (the report file and
how to serve the dashboard), and the next steps for one's own tracker.
Each says what its numbers mean. The full tables stay with the commands that own
them (`pmo-sync kpis`, `pmo-sync findings`); the demo summarises: one row a team,
one row a rule. The `*_rows` functions are pure (values in, cells out); the
`print_*` functions only lay them out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pmo_sync.kpi.compute import value_date
from pmo_sync.store.findings import StoredFinding
from pmo_sync.store.kpis import KpiValue
from pmo_sync.sync import RunSummary

__all__ = [
    "EXAMPLE_CONFIGS",
    "FlowRow",
    "SprintRow",
    "WriteBack",
    "flow_rows",
    "print_flow",
    "print_governance",
    "print_next_steps",
    "print_portfolio_view",
    "print_sprints",
    "print_sync",
    "print_write_back",
    "rule_rows",
    "section",
    "sprint_rows",
]

EXAMPLE_CONFIGS = "config/examples/connectors"  # the shipped examples: nothing loads them
RECENT_WEEKS = 4
EARLIER_SPRINTS = 3


def section(console: Console, number: int, title: str, *explanation: str) -> None:
    """A numbered heading and the lines that say what the section's numbers mean."""
    console.print()
    console.print(f"[bold]{number}. {escape(title)}[/bold]", highlight=False)
    for line in explanation:
        console.print(f"   {escape(line)}", highlight=False)


def _table(*columns: str, justify: str = "") -> Table:
    """Compact: no outer frame, two spaces between columns, so eight columns fit 80.
    `justify` has a letter a column, "l" or "r" (default: the first left, the rest right)."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False, show_edge=False)
    justify = justify or "l" + "r" * (len(columns) - 1)
    for column, side in zip(columns, justify, strict=True):
        table.add_column(column, justify="left" if side == "l" else "right")
    return table


# -- 1. sync --------------------------------------------------------------------------------


def print_sync(console: Console, summaries: Sequence[RunSummary]) -> None:
    """One row per connector, then each error in full (errors never carry secrets)."""
    table = _table("connector", "status", "items", "API calls", "seconds", justify="llrrr")
    for s in summaries:
        table.add_row(
            escape(s.connector), s.status, str(s.items_seen), str(s.api_calls),
            f"{s.duration_seconds:.1f}",
        )  # fmt: skip
    console.print(table)
    for s in summaries:
        for error in s.errors:
            console.print(f"[red]{escape(s.connector)}[/red]: {escape(error)}", highlight=False)


def print_stored(console: Console, counts: Mapping[str, tuple[int, int, int, int]]) -> None:
    """Per team: items, status changes, sprint stays (an item in a sprint), sprints."""
    table = _table("team", "items", "status changes", "sprint stays", "sprints")
    for team, (items, changes, stays, sprints) in sorted(counts.items()):
        table.add_row(escape(team), str(items), str(changes), str(stays), str(sprints))
    console.print(table)


# -- 2. flow --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One team's (or the portfolio's) flow, in items and days."""

    team: str
    done: int
    wip: int
    cycle_p50: float | None
    cycle_p85: float | None
    per_week: float | None  # mean of the last RECENT_WEEKS weeks' throughput
    open_items: int | None
    done_by_p85: str | None  # ISO date


def flow_rows(values: Iterable[KpiValue]) -> tuple[list[FlowRow], str]:
    """The teams' rows (sorted), the portfolio's last, and the window they cover."""
    by_scope: dict[tuple[str, str], dict[str, float | None]] = defaultdict(dict)
    weeks: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    window = ""
    for v in values:
        if v.scope not in ("team", "portfolio"):
            continue
        key = (v.scope, v.scope_key)
        if v.metric == "throughput_week":
            weeks[key].append((v.window, v.value or 0.0))
        elif not v.metric.endswith(("_week", "_day")) and ":" not in v.metric:
            by_scope[key][v.metric] = v.value
        if v.metric == "done_in_window":
            window = v.window
    order = sorted(k for k in by_scope if k[0] == "team") + [
        k for k in by_scope if k[0] == "portfolio"
    ]
    rows = []
    for key in order:
        m = by_scope[key]
        recent = [count for _, count in sorted(weeks[key])[-RECENT_WEEKS:]]
        done_by = m.get("forecast_done_p85_date")
        rows.append(
            FlowRow(
                team=key[1],
                done=int(m.get("done_in_window") or 0),
                wip=int(m.get("wip") or 0),
                cycle_p50=m.get("cycle_time_p50_days"),
                cycle_p85=m.get("cycle_time_p85_days"),
                per_week=sum(recent) / len(recent) if recent else None,
                open_items=None if m.get("open_items") is None else int(m["open_items"] or 0),
                done_by_p85=None if done_by is None else value_date(done_by).isoformat(),
            )
        )
    return rows, window


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_flow(console: Console, values: Sequence[KpiValue], trials: int, header: str) -> None:
    """Section 2; `header` is the line `pmo-sync kpis` prints above its tables too."""
    rows, window = flow_rows(values)
    first, _, last = window.partition("/")
    section(
        console, 2, f"Flow per team, counted in items, {first} to {last}", header,
        "done: items finished in that window; per week: finished a week, mean of the",
        f"last {RECENT_WEEKS} weeks. cycle time: days from first in progress to done, both days",
        "counted; p50: half the items took at most that long; p85: 85 in 100 did.",
        f"done by (p85): of {trials:,} futures simulated from the team's daily throughput,",
        "85 in 100 finish every open item by that date.",
    )  # fmt: skip
    table = _table(
        "team", "done", "in\nprogress", "cycle\np50", "cycle\np85", "per\nweek", "open",
        "done by\n(p85)",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            escape(r.team), str(r.done), str(r.wip), _days(r.cycle_p50), _days(r.cycle_p85),
            _days(r.per_week), "-" if r.open_items is None else str(r.open_items),
            r.done_by_p85 or "-",
        )  # fmt: skip
    console.print(table)
    console.print(
        "   more in pmo-sync kpis: every percentile, lead time, net flow, forecasts.",
        highlight=False,
    )


# -- 3. sprints -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SprintRow:
    """A team's last closed sprint, in points, and the say/do of the sprints before it."""

    team: str
    sprint: str
    committed: float
    added: float
    completed: float
    carried_over: float
    say_do: float | None
    earlier: tuple[float | None, ...]  # oldest first


def sprint_rows(values: Iterable[KpiValue]) -> list[SprintRow]:
    sprints: dict[str, dict[str, dict[str, float | None]]] = defaultdict(dict)
    closed_on: dict[tuple[str, str], str] = {}
    for v in values:
        if v.scope != "sprint" or not v.window.startswith("closed@") or v.team is None:
            continue
        sprints[v.team].setdefault(v.scope_key, {})[v.metric] = v.value
        closed_on[(v.team, v.scope_key)] = v.window.split("@", 1)[1]
    rows = []
    for team in sorted(sprints):
        ordered = sorted(sprints[team], key=lambda key: (closed_on[(team, key)], key))
        last = sprints[team][ordered[-1]]
        earlier = ordered[-1 - EARLIER_SPRINTS : -1]
        suffix = f" ({team})"
        name = ordered[-1].removesuffix(suffix)
        rows.append(
            SprintRow(
                team=team,
                sprint=name,
                committed=last.get("committed_points") or 0.0,
                added=last.get("added_points") or 0.0,
                completed=last.get("completed_points") or 0.0,
                carried_over=last.get("carried_over_points") or 0.0,
                say_do=last.get("say_do"),
                earlier=tuple(sprints[team][key].get("say_do") for key in earlier),
            )
        )
    return rows


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _points(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def print_sprints(console: Console, values: Sequence[KpiValue]) -> None:
    section(
        console, 3, "Sprints: each team's last closed sprint, in story points",
        "committed: in the sprint when it started; added: joined after the start;",
        "done: finished when it closed; carried: still open then, moves on.",
        f"say/do = done / committed; before: the {EARLIER_SPRINTS} sprints before it.",
    )  # fmt: skip
    table = _table(
        "team", "sprint", "com-\nmitted", "added", "done", "carried", "say/do", "before",
        justify="llrrrrrr",
    )  # fmt: skip
    for r in sprint_rows(values):
        table.add_row(
            escape(r.team), escape(r.sprint), _points(r.committed), _points(r.added),
            _points(r.completed), _points(r.carried_over), _percent(r.say_do),
            " ".join(_percent(s) for s in r.earlier),
        )  # fmt: skip
    console.print(table)


# -- 4. governance --------------------------------------------------------------------------


def rule_rows(findings: Iterable[StoredFinding]) -> list[tuple[str, str, int, StoredFinding]]:
    """Per rule: (rule id, severity, open findings, the first finding), most findings first."""
    counts: Counter[str] = Counter()
    first: dict[str, StoredFinding] = {}
    for f in findings:
        counts[f.rule_id] += 1
        first.setdefault(f.rule_id, f)
    return [
        (rule, first[rule].severity, n, first[rule])
        for rule, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def print_governance(
    console: Console, rules: int, policies: str, findings: Sequence[StoredFinding]
) -> None:
    section(
        console, 4, f"Governance: {rules} rules ({policies}), {len(findings)} open findings",
        "a finding is a rule's warning about one item, sprint or team, kept until",
        "it is resolved; docs/governance.md explains every rule.",
    )  # fmt: skip
    rows = rule_rows(findings)
    table = _table("rule", "severity", "open", "for example", justify="llrl")
    for rule, severity, count, example in rows:
        table.add_row(escape(rule), severity, str(count), escape(example.scope_key))
    console.print(table)
    for _, _, _, example in rows[:3]:
        console.print(f"   {escape(example.message)}", highlight=False)
    console.print("   pmo-sync findings lists them all, per team.", highlight=False)


# -- 5. write-back --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteBack:
    """One connector's push, and the push right after it (which should write nothing)."""

    connector: str
    changes: int
    comments: int
    api_calls: int
    failed: int
    again_changes: int
    again_api_calls: int


def print_write_back(
    console: Console, pushes: Sequence[WriteBack], example: tuple[str, str] | None
) -> None:
    section(
        console, 6, "Write-back: KPI fields on every item, one bot comment per item",
        "with findings; pushed twice, the second push finds nothing to change.",
    )  # fmt: skip
    table = _table("connector", "changes", "comments", "API calls", "failed", "again")
    for p in pushes:
        table.add_row(
            escape(p.connector), str(p.changes), str(p.comments), str(p.api_calls),
            str(p.failed), f"{p.again_changes} changes, {p.again_api_calls} calls",
        )  # fmt: skip
    console.print(table)
    if example is not None:
        key, text = example
        console.print(f"   the bot's comment on {escape(key)}:", highlight=False)
        for line in text.splitlines():
            console.print(f"   | {line}" if line else "   |", highlight=False, markup=False)


# -- 7. the portfolio view, 8. next steps ---------------------------------------------------------


def dashboard_lines(store_dir: Path | None) -> list[str]:
    """How to serve the dashboard on the demo's store: its directory when kept, else how to
    keep it (the store of a demo without `--keep` is gone when it ends)."""
    where = "DIR" if store_dir is None else str(store_dir)
    lines = [] if store_dir is not None else ["pmo-sync demo --keep DIR"]
    return [
        *lines,
        f"PMO_SYNC_DATABASE_URL=sqlite:///{where}/pmo-sync.sqlite3 pmo-sync dashboard",
    ]


def print_portfolio_view(
    console: Console, report: Path, pages: int, store_dir: Path | None
) -> None:
    """Where the report file is, and how to see the same pages served."""
    section(
        console, 7, "The portfolio view: the teams' KPIs, trends, findings and freshness",
        "as one HTML file that opens offline (scripts, styles and data inside):",
    )  # fmt: skip
    count = f"{pages} page" + ("" if pages == 1 else "s")
    console.print(f"   report: {report} ({count})", highlight=False, markup=False)
    console.print(
        "   the same pages served by a dashboard on the demo's store, in a shell:",
        highlight=False,
    )
    for line in dashboard_lines(store_dir):
        console.print(f"   {line}", highlight=False, markup=False)
    console.print(
        "   or `pmo-sync demo --serve`: the demo serves them until Ctrl-C.",
        highlight=False,
        markup=False,
    )


def print_next_steps(console: Console) -> None:
    section(
        console, 8, "Next: your own tracker",
        f"copy an example from {EXAMPLE_CONFIGS}/ (acme-jira.yaml,",
        "contoso-ado.yaml, acme-trello.yaml), set its url and projects or boards;",
        "then, in a shell:",
    )  # fmt: skip
    for line in (
        "mkdir -p my-config/connectors",
        f"cp {EXAMPLE_CONFIGS}/acme-jira.yaml my-config/connectors/",
        "export PMO_SYNC_CONFIG_DIR=my-config",
        "export JIRA_API_TOKEN=...    # the variable the file names",
        "pmo-sync connectors check acme-jira",
        "pmo-sync sync",
        "pmo-sync serve               # syncs, measures and writes back on a schedule",
    ):
        console.print(f"   {line}", highlight=False, markup=False)


def as_of(now: datetime) -> str:
    return f"{now:%Y-%m-%d %H:%M} UTC"
