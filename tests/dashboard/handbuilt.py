"""A tiny store written by hand: a few items and the values a refresh would keep for them.

Every figure the team and sprint pages draw from it is worked out by hand in
the tests. The day the values end (`done_in_window`'s last day) is AS_OF, a
Thursday; "90 days" reaches back to 2025-12-13 and "30 days" to 2026-02-11.

Items of team Alpha (source jira-a unless said):

| key | status | stage | resolved | stored value |
|---|---|---|---|---|
| A-1 | Done | done | 2026-03-10 | cycle 2.5 |
| A-2 | Done | done | 2026-03-11 | cycle 4.0 |
| A-3 | Done | done | 2026-01-05 | cycle 2.0 (inside 90 days, outside 30) |
| jira-a:X-1 | Done | done | 2026-03-12 | cycle 1.0 (X-1 is also a trello-b key) |
| A-4 | Review | in_progress | - | WIP age 6.0 |
| A-5 | In Progress | in_progress | - | WIP age 1.0 |
| A-7 | Blocked | in_progress | - | WIP age 2.0 (no stage of that name) |

A deleted trello-b item also has the key A-1: it is not the stored A-1.
Team Beta has trello-b:X-1 (Doing, WIP age 3.0) and no sprints.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, Table, insert

from pmo_sync.kpi.compute import date_value
from pmo_sync.store.engine import write_transaction
from pmo_sync.store.kpis import KpiValue, save_kpi_values
from pmo_sync.store.models import SourceRow, WorkItemRow

AS_OF = date(2026, 3, 12)
WINDOW = "2026-02-16/2026-03-12"
STAGES = ("To Do", "In Progress", "Review", "Done")  # the workflow's order
CFD_DAYS = {  # day -> items in To Do, In Progress, Review, Done at its end
    "2026-01-01": (5, 1, 0, 0),
    "2026-03-10": (3, 2, 1, 2),
    "2026-03-11": (2, 2, 1, 3),
    "2026-03-12": (2, 2, 1, 4),
}
THROUGHPUT = {"2026-01-05": 1.0, "2026-03-10": 1.0, "2026-03-11": 1.0, "2026-03-12": 1.0}
WIP = {"2026-01-01": 1.0, "2026-03-10": 3.0, "2026-03-11": 3.0, "2026-03-12": 3.0}
PERCENTILES = {50: 2.0, 70: 2.5, 85: 4.0, 95: 4.0}
DONE_SHARES = {"2026-03-13": 0.25, "2026-03-14": 0.5, "2026-03-16": 0.25}
COUNT_SHARES = {"0": 0.1, "2": 0.3, "10": 0.6}  # 10 sorts after 2 as a number, not as text
FORECAST_DATES = {50: date(2026, 3, 14), 85: date(2026, 3, 16), 95: date(2026, 3, 16)}
FORECAST_COUNTS = {50: 10, 85: 2, 95: 0}
SPRINTS = {  # key -> (window, committed, added, removed, completed, say/do, velocity)
    "Sprint 0": ("closed@2026-01-15", 6.0, 0.0, 0.0, 6.0, 1.0, 6.0),
    "Sprint 1": ("closed@2026-02-27", 8.0, 2.0, 1.0, 7.0, 0.875, 6.5),
    "Sprint 2": ("active@2026-03-12", 8.0, 0.0, 0.0, 5.0, 0.625, None),
    "Sprint 3": ("future", 0.0, 0.0, 0.0, 0.0, None, None),
}
BURNDOWN = {  # sprint -> day -> (remaining, done, scope)
    "Sprint 1": {"2026-02-16": (8.0, 0.0, 8.0), "2026-02-27": (3.0, 7.0, 10.0)},
    "Sprint 2": {
        "2026-03-02": (8.0, 0.0, 8.0),
        "2026-03-03": (5.0, 3.0, 8.0),
        "2026-03-04": (3.0, 5.0, 8.0),
    },
}

_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_sources: Table = SourceRow.__table__  # type: ignore[assignment]


def _team_values() -> list[KpiValue]:
    team = "Alpha"
    values = [
        KpiValue("team", team, "done_in_window", WINDOW, 4.0, team),
        KpiValue("team", team, "open_items", "current", 3.0, team),
        KpiValue("team", "Beta", "done_in_window", WINDOW, 0.0, "Beta"),
    ]
    for index, stage in reversed(list(enumerate(STAGES))):  # stored out of order on purpose
        values.append(KpiValue("team", team, f"stage_index:{stage}", "current", index, team))
    for day, counts in CFD_DAYS.items():
        for stage, count in zip(STAGES, counts, strict=True):
            values.append(KpiValue("team", team, f"cfd_in_stage:{stage}", day, count, team))
    values += [KpiValue("team", team, "throughput_day", d, v, team) for d, v in THROUGHPUT.items()]
    values += [KpiValue("team", team, "wip_day", d, v, team) for d, v in WIP.items()]
    values += [
        KpiValue("team", team, f"cycle_time_p{p}_days", WINDOW, v, team)
        for p, v in PERCENTILES.items()
    ]
    values += [
        KpiValue(
            "team", team, f"forecast_done_p{p}_date", "2026-03-12/+3 items", date_value(d), team
        )
        for p, d in FORECAST_DATES.items()
    ]
    values += [
        KpiValue("team", team, f"forecast_items_p{p}", "2026-03-12/2026-04-08", float(n), team)
        for p, n in FORECAST_COUNTS.items()
    ]
    values += [
        KpiValue("team", team, "forecast_done_share", d, s, team) for d, s in DONE_SHARES.items()
    ]
    values += [
        KpiValue("team", team, "forecast_items_share", n, s, team) for n, s in COUNT_SHARES.items()
    ]
    return values


def _item_values() -> list[KpiValue]:
    cycle = {"A-1": 2.5, "A-2": 4.0, "A-3": 2.0, "jira-a:X-1": 1.0}
    ages = {"A-4": 6.0, "A-5": 1.0, "A-7": 2.0}
    values = [
        KpiValue("item", k, "cycle_time_days", "current", v, "Alpha") for k, v in cycle.items()
    ]
    values += [KpiValue("item", k, "wip_age_days", "current", v, "Alpha") for k, v in ages.items()]
    values.append(KpiValue("item", "A-1", "lead_time_days", "current", 9.0, "Alpha"))  # not drawn
    values.append(KpiValue("item", "trello-b:X-1", "wip_age_days", "current", 3.0, "Beta"))
    return values


def _sprint_values() -> list[KpiValue]:
    values: list[KpiValue] = []
    names = ("committed_points", "added_points", "removed_points", "completed_points")
    for key, (window, *numbers, say_do, velocity) in SPRINTS.items():
        for metric, number in zip(names, numbers, strict=True):
            values.append(KpiValue("sprint", key, metric, window, number, "Alpha"))
        values.append(KpiValue("sprint", key, "committed_items", window, 2.0, "Alpha"))
        if say_do is not None:
            values.append(KpiValue("sprint", key, "say_do", window, say_do, "Alpha"))
        if velocity is not None:
            values.append(KpiValue("sprint", key, "velocity_points", window, velocity, "Alpha"))
    for key, days in BURNDOWN.items():
        for day, (remaining, done, scope) in days.items():
            values.append(KpiValue("sprint", key, "burndown_points", day, remaining, "Alpha"))
            values.append(KpiValue("sprint", key, "burnup_done_points", day, done, "Alpha"))
            values.append(KpiValue("sprint", key, "burnup_scope_points", day, scope, "Alpha"))
    return values


def _item(source_id: int, key: str, team: str, status: str, stage: str, **extra: object) -> dict:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "source_id": source_id,
        "external_id": f"{key}-{source_id}-{extra.get('deleted_at') is not None}",
        "key": key,
        "url": f"https://tracker.test/{source_id}/{key}",
        "title": f"Item {key} of {team}",
        "item_type": "story",
        "raw_type": "Story",
        "status": status,
        "status_category": stage,
        "stage": stage,
        "project": "P",
        "team": team,
        "created": moment,
        "updated": moment,
        "resolved": None,
        "deleted_at": None,
        "content_hash": "x",
        **extra,
    }


def fill(engine: Engine) -> None:
    """Write the items and values above into a migrated, empty store."""
    with write_transaction(engine) as conn:
        jira = conn.execute(
            insert(_sources).values(name="jira-a", kind="jira", base_url="https://j.test")
        ).inserted_primary_key[0]
        trello = conn.execute(
            insert(_sources).values(name="trello-b", kind="trello", base_url="https://t.test")
        ).inserted_primary_key[0]

        def done(day: int, month: int = 3) -> datetime:
            return datetime(2026, month, day, 10, tzinfo=UTC)

        rows = [
            _item(jira, "A-1", "Alpha", "Done", "done", resolved=done(10)),
            _item(jira, "A-2", "Alpha", "Done", "done", resolved=done(11)),
            _item(jira, "A-3", "Alpha", "Done", "done", resolved=done(5, 1)),
            _item(jira, "X-1", "Alpha", "Done", "done", resolved=done(12)),
            _item(jira, "A-4", "Alpha", "Review", "in_progress"),
            _item(jira, "A-5", "Alpha", "In Progress", "in_progress"),
            _item(jira, "A-7", "Alpha", "Blocked", "in_progress"),
            _item(trello, "X-1", "Beta", "Doing", "in_progress"),
            _item(trello, "A-1", "Beta", "Doing", "in_progress", deleted_at=done(1)),
        ]
        conn.execute(insert(_items), rows)
    save_kpi_values(
        engine,
        [*_item_values(), *_team_values(), *_sprint_values()],
        datetime(2026, 3, 12, 12, tzinfo=UTC),
    )
