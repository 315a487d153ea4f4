"""The refresh keeps each open request's forecast as a dated history (`request_forecasts`),
adding a row only when the forecast moved, on SQLite and PostgreSQL.

The store: source jira-main, statuses To Do / In Progress / Done. Epic PMO-100 (team Core,
due 2030-03-01) holds stories PMO-1..PMO-12, all started 2 Jan 2030; PMO-1..PMO-8 done on
days 5, 10, .., 40 after 1 Jan (6 Jan .. 10 Feb), PMO-9..PMO-12 open: 4 remaining. Epic
PMO-200 (team Idle, no due date) holds PMO-21 and PMO-22, open, and Idle finished nothing: no
throughput, so no forecast (dates and probability None) and 2 remaining, the same every day.

The dates are the Monte Carlo's (`portfolio.forecast`); the rows must hold exactly what the
refresh forecast, on the days the forecast moved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from pmo_sync.domain import ItemBundle, Stage
from pmo_sync.evaluation.refresh import KpiRefresh, refresh_kpis
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.store.forecast_history import ForecastPoint, forecast_histories, forecast_history
from pmo_sync.store.repository import Store

from ..store.records import make_bundle, make_change, make_status

T = datetime(2030, 1, 1, 9, tzinfo=UTC)
D = datetime(2030, 2, 20, 12, tzinfo=UTC)
STATUSES = [
    make_status("1", "To Do", "new", Stage.TODO),
    make_status("3", "In Progress", "indeterminate", Stage.IN_PROGRESS),
    make_status("5", "Done", "done", Stage.DONE),
]


def story(n: int, epic: str, team: str, done: datetime | None = None) -> ItemBundle:
    changes = [make_change(str(n), "a", T + timedelta(days=1), "To Do", "In Progress")]
    common = {"level": "story", "parent_key": epic, "team": team, "created": T}
    if done is None:
        return make_bundle(str(n), changes, status="In Progress", stage=Stage.IN_PROGRESS, **common)
    changes.append(make_change(str(n), "b", done, "In Progress", "Done"))
    return make_bundle(str(n), changes, status="Done", stage=Stage.DONE, resolved=done, **common)


def epic(n: int, team: str, due: date | None) -> ItemBundle:
    return make_bundle(
        str(n),
        [],
        status="In Progress",
        stage=Stage.IN_PROGRESS,
        level="epic",
        item_type="epic",
        raw_type="Epic",
        team=team,
        created=T,
        due_date=due,
    )


def point(refreshed: KpiRefresh, key: str, made_on: date) -> ForecastPoint:
    """What the refresh forecast for `key`, as the history row it is."""
    assert refreshed.portfolio is not None
    f = next(f for f in refreshed.portfolio.forecasts if f.ref == ("jira-main", key))
    return ForecastPoint(
        made_on,
        f.dates.get(50),
        f.dates.get(85),
        f.dates.get(95),
        f.due_date,
        f.due_probability,
        f.scope.items_remaining,
    )


def test_a_row_is_added_on_the_days_the_forecast_moved(engine: Engine) -> None:
    store = Store(engine)
    source = store.ensure_source("jira-main", "jira", None)
    store.load_statuses(source, STATUSES)
    core = [story(n, "PMO-100", "Core", T + timedelta(days=5 * n)) for n in range(1, 9)]
    core += [story(n, "PMO-100", "Core") for n in range(9, 13)]
    idle = [story(n, "PMO-200", "Idle") for n in (21, 22)]
    bundles = [epic(100, "Core", date(2030, 3, 1)), epic(200, "Idle", None), *core, *idle]
    store.load_items(source, bundles, T + timedelta(days=50))

    # Day D: one row each. PMO-100: 4 remaining, due 1 March, dates as forecast;
    # PMO-200: no throughput, so no dates and no probability, 2 remaining.
    first = refresh_kpis(engine, KpiConfig(), now=D)
    day0 = point(first, "PMO-100", D.date())
    assert (day0.remaining, day0.due_date) == (4, date(2030, 3, 1))
    assert day0.p50 is not None and day0.p85 is not None and day0.p95 is not None
    idle_row = ForecastPoint(D.date(), None, None, None, None, None, 2)
    assert point(first, "PMO-200", D.date()) == idle_row
    assert forecast_history(engine, source, "PMO-100") == [day0]
    assert forecast_history(engine, source, "PMO-200") == [idle_row]

    # Day D again: the same forecasts, nothing added.
    refresh_kpis(engine, KpiConfig(), now=D)
    assert forecast_histories(engine) == {
        ("jira-main", "PMO-100"): [day0],
        ("jira-main", "PMO-200"): [idle_row],
    }

    # D+1: PMO-9 done that morning: Core's throughput changed and PMO-100 has 3 remaining,
    # a row added; PMO-200's forecast (none, 2 remaining) is unchanged: nothing.
    d1 = D + timedelta(days=1)
    store.load_items(source, [story(9, "PMO-100", "Core", d1 - timedelta(hours=3))], d1)
    second = refresh_kpis(engine, KpiConfig(), now=d1)
    day1 = point(second, "PMO-100", d1.date())
    assert day1.remaining == 3
    assert forecast_histories(engine) == {
        ("jira-main", "PMO-100"): [day0, day1],
        ("jira-main", "PMO-200"): [idle_row],
    }

    # D+2, nothing synced: PMO-200 still has no forecast and 2 remaining, nothing added (a
    # new day with the same forecast adds no row). PMO-100's dates are counted from today,
    # and a day passed without a finished item: its dates moved (a quiet day is a slip when
    # there is work left), so that is one row, holding exactly what the refresh said.
    d2 = D + timedelta(days=2)
    third = refresh_kpis(engine, KpiConfig(), now=d2)
    day2 = point(third, "PMO-100", d2.date())
    assert day2.remaining == 3
    assert (day2.p50, day2.p85, day2.p95) != (day1.p50, day1.p85, day1.p95)
    assert forecast_histories(engine) == {
        ("jira-main", "PMO-100"): [day0, day1, day2],
        ("jira-main", "PMO-200"): [idle_row],
    }
