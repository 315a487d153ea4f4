"""Store.load_teams and stored_teams: the teams' methods as their trackers say, on both
databases, and the 0015 upgrade of a filled store."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select

from pmo_sync.domain import TeamRecord
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.models import TeamRow
from pmo_sync.store.repository import Store
from pmo_sync.store.results import LoadCounts
from pmo_sync.store.teams import StoredTeam, stored_teams

from .records import T0, Records


def _rows(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        query = select(TeamRow.source_id, TeamRow.name, TeamRow.method).order_by(
            TeamRow.source_id, TeamRow.name
        )
        return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def test_load_teams_upserts_by_name_and_keeps_a_team_no_longer_described(
    store: Store, engine: Engine, source_id: int
) -> None:
    first = [TeamRecord("Core", "scrum"), TeamRecord("Flow", "kanban")]
    assert store.load_teams(source_id, first) == LoadCounts(inserted=2)
    assert store.load_teams(source_id, first) == LoadCounts(unchanged=2)
    # Core's board stopped running sprints; Flow is not described any more; Ops is new
    again = [TeamRecord("Core", "kanban"), TeamRecord("Ops", "scrum")]
    assert store.load_teams(source_id, again) == LoadCounts(inserted=1, updated=1)
    assert _rows(engine) == [
        (source_id, "Core", "kanban"),
        (source_id, "Flow", "kanban"),
        (source_id, "Ops", "scrum"),
    ]


def test_stored_teams_are_the_live_items_teams_with_their_trackers_method(
    store: Store, engine: Engine, source_id: int, rec: type[Records]
) -> None:
    other = store.ensure_source("ado", "azure_devops", None)
    store.load_items(
        source_id,
        [
            rec.bundle("1", team="Core"),
            rec.bundle("2", team="Core"),
            rec.bundle("3", team="Platform"),  # no record describes it
            rec.bundle("4", team=None),
        ],
        T0,
    )
    store.load_items(other, [rec.bundle("9", team="Core")], T0)  # ado's own Core
    store.load_teams(source_id, [TeamRecord("Core", "scrum"), TeamRecord("Idle", "kanban")])
    assert stored_teams(engine) == [
        StoredTeam("ado", "Core", None),  # jira-main's record is not ado's
        StoredTeam("jira-main", "Core", "scrum"),
        StoredTeam("jira-main", "Platform", None),
        # Idle has a row but no live item: a team is named by its items
    ]


def test_0015_adds_the_teams_table_to_a_store_at_0014(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0014")
        assert "teams" not in inspect(engine).get_table_names()
        upgrade(engine)
        columns = {c["name"] for c in inspect(engine).get_columns("teams")}
        assert columns == {"id", "source_id", "name", "method"}
        source = Store(engine).ensure_source("jira-main", "jira", None)
        Store(engine).load_teams(source, [TeamRecord("Core", "scrum")])
        assert _rows(engine) == [(source, "Core", "scrum")]
    finally:
        engine.dispose()
