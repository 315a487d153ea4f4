"""A tiny portfolio written straight into a store, small enough to work every figure out by hand.

Two connectors: `jira` (teams Team Alpha and Team Beta) and `ado` (Team
Alpha again, and Orion, which kpis.yaml renamed Platform). So the last KPI
refresh shows the teams as `Team Alpha (jira)`, `Team Alpha (ado)`, `Team
Beta` and `Platform`.

| epic | connector, team | stage | children (live, not epics) | stored p50 / p85 / p95 |
|---|---|---|---|---|
| E-1 | jira, Team Alpha | in progress | C-1, C-2 done, C-3 started, C-4 | 01-01 / 01-20 / 02-01 |
| E-2 | jira, Team Alpha | to do | C-6, C-7 to do | none (no throughput) |
| E-3 | jira, Team Beta | to do | C-8 done, C-9 to do | 02-10 / 03-01 / 03-15 |
| E-4 | jira, Team Beta | done | C-10 done | none (done) |
| E-5 | jira, Team Beta | to do | none | none (no child items) |
| 100 | ado, Orion | to do | 101 in progress | none (no throughput) |
| E-9 | jira, Team Alpha | to do | none (its parent is E-1) | none (no child items) |
| E-3 | ado, Team Alpha | to do | 103 to do | none: the stored E-3 values are jira's |

(Dates in 2027; E-1 has 2 items remaining, E-3 1.)

Not children: E-9 (an epic under E-1), C-5 (under E-1, deleted), ado's 102 (its
parent key is `E-1`, but in another connector).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, insert

from pmo_sync.kpi.compute import date_value
from pmo_sync.store.kpis import KpiValue, save_kpi_values
from pmo_sync.store.models import FindingRow, SourceRow, WorkItemRow

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DAY = NOW.date()
ORDER = ["E-2", "E-3", "100", "E-3", "E-1", "E-4", "E-5", "E-9"]
"""The epics page's order: open work without a date, then the latest p85, then the rest."""
FORECASTS = {
    "E-1": (date(2027, 1, 1), date(2027, 1, 20), date(2027, 2, 1), 2),
    "E-3": (date(2027, 2, 10), date(2027, 3, 1), date(2027, 3, 15), 1),
}
TEAMS = ["Platform", "Team Alpha (ado)", "Team Alpha (jira)", "Team Beta"]

# key, connector, type, stage, parent, tracker team, title
_ITEMS: list[tuple[str, str, str, str, str | None, str, str]] = [
    ("E-1", "jira", "epic", "in_progress", None, "Team Alpha", "Checkout revamp"),
    ("C-1", "jira", "story", "done", "E-1", "Team Alpha", "Card form"),
    ("C-2", "jira", "story", "done", "E-1", "Team Alpha", "Wallets"),
    ("C-3", "jira", "bug", "in_progress", "E-1", "Team Alpha", "Totals round wrong"),
    ("C-4", "jira", "task", "todo", "E-1", "Team Alpha", "Receipt e-mail"),
    ("C-5", "jira", "story", "todo", "E-1", "Team Alpha", "Deleted child"),
    ("E-9", "jira", "epic", "todo", "E-1", "Team Alpha", "Nested epic"),
    ("E-2", "jira", "epic", "todo", None, "Team Alpha", "Search speed"),
    ("C-6", "jira", "story", "todo", "E-2", "Team Alpha", "Index titles"),
    ("C-7", "jira", "story", "todo", "E-2", "Team Alpha", "Cache results"),
    ("E-3", "jira", "epic", "todo", None, "Team Beta", "Billing portal"),
    ("C-8", "jira", "story", "done", "E-3", "Team Beta", "Invoices list"),
    ("C-9", "jira", "story", "todo", "E-3", "Team Beta", "Pay an invoice"),
    ("E-4", "jira", "epic", "done", None, "Team Beta", "Old launch"),
    ("C-10", "jira", "story", "done", "E-4", "Team Beta", "Press kit"),
    ("E-5", "jira", "epic", "todo", None, "Team Beta", "Empty promise"),
    ("100", "ado", "epic", "todo", None, "Orion", "Data platform"),
    ("101", "ado", "story", "in_progress", "100", "Orion", "Ingest events"),
    ("102", "ado", "story", "todo", "E-1", "Team Alpha", "Same parent key, other tracker"),
    ("E-3", "ado", "epic", "todo", None, "Team Alpha", "Reporting"),
    ("103", "ado", "story", "todo", "E-3", "Team Alpha", "Monthly report"),
]


def url(source: str, key: str) -> str:
    return f"https://{source}.example/browse/{key}"


def _item(source_id: int, source: str, row: tuple[str, ...], n: int) -> dict[str, Any]:
    key, _, item_type, stage, parent, team, title = row
    status = {"todo": "To Do", "in_progress": "In Progress", "done": "Done"}[stage]
    return {
        "source_id": source_id,
        "external_id": str(n),
        "key": key,
        "url": url(source, key),
        "title": title,
        "item_type": item_type,
        "raw_type": item_type.title(),
        "status": status,
        "status_category": stage,
        "stage": stage,
        "project": "P",
        "team": team,
        "parent_key": parent,
        "created": NOW,
        "updated": NOW,
        "resolved": NOW if stage == "done" else None,
        "deleted_at": NOW if key == "C-5" else None,
        "content_hash": "x",
    }


def _values() -> list[KpiValue]:
    values = [
        KpiValue("team", team, "done_in_window", f"2026-08-24/{DAY.isoformat()}", 3.0, team)
        for team in TEAMS
    ]
    for key, (p50, p85, p95, remaining) in FORECASTS.items():
        team = "Team Alpha (jira)" if key == "E-1" else "Team Beta"
        window = f"{DAY.isoformat()}/+{remaining} items"
        values.append(KpiValue("epic", key, "remaining_items", "current", remaining, team))
        for p, day in ((50, p50), (85, p85), (95, p95)):
            values.append(
                KpiValue("epic", key, f"forecast_done_p{p}_date", window, date_value(day), team)
            )
    values += [
        KpiValue("epic", "E-2", "remaining_items", "current", 2.0, "Team Alpha (jira)"),
        KpiValue("item", "C-1", "cycle_time_days", "current", 3.5, "Team Alpha (jira)"),
        KpiValue("item", "C-3", "wip_age_days", "current", 6.25, "Team Alpha (jira)"),
        KpiValue("item", "101", "wip_age_days", "current", 2.0, "Platform"),
    ]
    return values


def _finding(identity: str, **row: Any) -> dict[str, Any]:
    return {
        "identity": identity,
        "rule": row["rule_id"].replace("-", "_"),
        "mode": "advisory",
        "scope": "item",
        "details": {},
        "first_seen": NOW,
        "last_seen": NOW,
        "resolved_at": None,
        **row,
    }


FINDINGS = [
    _finding("f1", rule_id="stale-in-progress", severity="warning", scope_key="C-3",
             team="Team Alpha (jira)", source="jira", message="C-3 is stale"),
    _finding("f2", rule_id="estimate-committed", severity="critical", scope_key="101",
             team="Platform", source="ado", message="101 has no estimate", mode="enforced"),
    _finding("f3", rule_id="sprint-scope-added", severity="info", scope="sprint",
             scope_key="Sprint 7", team="Team Beta", source=None, message="Sprint 7 grew"),
    _finding("f4", rule_id="stale-in-progress", severity="warning", scope_key="C-4",
             team="Team Alpha (jira)", source="jira", message="resolved", resolved_at=NOW),
]  # fmt: skip


def fill(engine: Engine) -> Engine:
    """Write the tiny portfolio into a migrated, empty store."""
    with engine.begin() as conn:
        ids = {}
        for name, kind in (("jira", "jira"), ("ado", "azure_devops")):
            ids[name] = conn.execute(
                insert(SourceRow.__table__).values(name=name, kind=kind, created_at=NOW)
            ).inserted_primary_key[0]
        conn.execute(
            insert(WorkItemRow.__table__),
            [_item(ids[r[1]], r[1], r, n) for n, r in enumerate(_ITEMS)],
        )
        conn.execute(insert(FindingRow.__table__), FINDINGS)
    save_kpi_values(engine, _values(), NOW)
    return engine
