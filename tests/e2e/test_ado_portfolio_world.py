"""The scripted portfolio played into the Azure DevOps sandbox, synced by the real connector,
and compared with the script's truth item by item (`tests/e2e/portfolio_world_ado.py`).

Act one (days 0-30) is read by a full sync on day 35, act two (days 36-40) by an incremental
sync on day 42; after each the store, read back in the script's terms, equals the truth.
A few facts are spelled out too, so a reader sees what the comparison covers: E1's slips as
dates, a dependency across teams, a release shipped late, a backlog's order, and Gamma's
milestones (a traditional project: dated, in no sprint) stored like any team's items."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, select

from pmo_sync.domain import ChangeField
from pmo_sync.sandbox.portfolio import ACT_ONE, ACT_TWO, ALL_STEPS, truth
from pmo_sync.store.models import SprintItemRow, WorkItemRow
from pmo_sync.store.portfolio import date_history, item_links, source_releases
from pmo_sync.store.repository import Store

from ..portfolio_world import expected
from .portfolio_world_ado import SIZE, AdoWorld

PROJECT = "/contoso/Fabrikam"
REPORTING = ("POST", f"{PROJECT}/_apis/wit/reporting/workItemRevisions")
BATCH = ("POST", f"{PROJECT}/_apis/wit/workItemsBatch")
METADATA = {
    ("GET", "/contoso/_apis/ConnectionData"): 1,
    ("GET", "/contoso/_apis/projects/Fabrikam/teams"): 1,
    **{("GET", f"{PROJECT}/Team%20{team}/_apis/work/teamsettings/{what}"): 1
       for team in ("Alpha", "Beta", "Gamma") for what in ("teamfieldvalues", "iterations")},
    **{("GET", f"{PROJECT}/_apis/wit/workItemTypes/{kind}/states"): 1
       for kind in ("Epic", "Feature", "User%20Story", "Bug", "Task")},
    ("GET", "/contoso/_apis/wit/fields"): 1,
}  # fmt: skip
"""The metadata a run reads once its 6-hour cache is stale: the identity, the teams with
their area paths and iterations, each synced type's states, the field list."""


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def world() -> Iterator[AdoWorld]:
    with AdoWorld() as started:
        yield started


def _calls(world: AdoWorld) -> Counter[tuple[str, str]]:
    return Counter((r.method, r.path) for r in world.sandbox.requests if r.method != "OPTIONS")


def _source(store: Store) -> int:
    return next(s.id for s in store.sources() if s.kind == "azure_devops")


def test_act_one_full_sync_stores_the_portfolio_the_script_wrote(
    world: AdoWorld, engine: Engine
) -> None:
    store = Store(engine)
    world.play(ACT_ONE)
    summary = world.sync(store, full=True)
    assert summary.status == "success", summary.errors
    assert summary.items_inserted == SIZE + 17  # the generated items and the script's 17
    assert world.facts(engine, store, truth(ACT_ONE)) == expected(truth(ACT_ONE))

    source, key = _source(store), world.keys
    # E1's Target Date promised for day 40, slipped to 47 on day 15 and to 54 on day 30.
    e1 = [(c.from_date, c.to_date) for c in date_history(engine, source, key["E1"])
          if c.field is ChangeField.DUE_DATE]  # fmt: skip
    assert e1 == [
        (None, date(2030, 2, 16)),
        (date(2030, 2, 16), date(2030, 2, 23)),
        (date(2030, 2, 23), date(2030, 3, 2)),
    ]
    # B1 (Team Beta, not started) blocks A3 (Team Alpha, in progress): a Dependency link
    # kept on both items, B1's Successor end and A3's Predecessor end.
    b1, a3 = item_links(engine, source, key["B1"]), item_links(engine, source, key["A3"])
    assert [(x.link_type, x.direction, x.target_key) for x in b1.own] == [
        ("successor", "outward", key["A3"])
    ]
    assert [(x.link_type, x.direction, x.target_key) for x in a3.own] == [
        ("predecessor", "inward", key["B1"])
    ]
    rows = _rows(engine, [key["A1"], key["A2"], key["A3"], key["A4"], key["B1"], key["G1"]])
    assert (rows[key["B1"]].team, rows[key["B1"]].stage) == ("Team Beta", "todo")
    assert (rows[key["A3"]].team, rows[key["A3"]].stage) == ("Team Alpha", "in_progress")
    # 2030.2 was planned for 1 February (day 25) and shipped late, on 7 February (day 31);
    # 2030.1 shipped early (26 January, planned 27 January); 2030.3 is planned for 8 March.
    # The plans are the connector's `releases.dates` (`planned`), kept beside the ship day.
    releases = {
        r.name: (r.release_date, r.released, r.planned_date)
        for r in source_releases(engine, source)
    }
    assert releases == {
        "2030.1": (date(2030, 1, 26), True, date(2030, 1, 27)),
        "2030.2": (date(2030, 2, 7), True, date(2030, 2, 1)),
        "2030.3": (date(2030, 3, 8), False, date(2030, 3, 8)),
    }
    # Alpha's backlog: A2 above A4 by Stack Rank (A1 is done, A3 in progress).
    assert rows[key["A2"]].rank < rows[key["A4"]].rank
    assert (rows[key["A1"]].stage, rows[key["A2"]].stage) == ("done", "todo")
    # Gamma's first milestone: started day 2, due day 30 then 38; priority 1.
    assert (rows[key["G1"]].start_date, rows[key["G1"]].due_date) == (
        date(2030, 1, 9), date(2030, 2, 14),
    )  # fmt: skip
    assert rows[key["G1"]].priority == "1"


def test_the_traditional_team_is_stored_with_its_dated_milestones_like_any_team(
    world: AdoWorld, engine: Engine
) -> None:
    """Gamma runs a project, not sprints: its milestones are User Stories in its area path,
    in no iteration, with a Start Date and a Target Date, under Gamma's Feature E4."""
    store = Store(engine)
    world.play(ACT_ONE)
    assert world.sync(store, full=True).status == "success"
    key = world.keys
    labels = ("E4", "G1", "G2", "G3")
    rows = _rows(engine, [key[label] for label in labels])
    assert [
        (rows[key[label]].team, rows[key[label]].level, rows[key[label]].parent_key,
         rows[key[label]].start_date, rows[key[label]].due_date)
        for label in labels
    ] == [
        ("Team Gamma", "epic", key["I2"], date(2030, 1, 9), date(2030, 3, 18)),
        ("Team Gamma", "story", key["E4"], date(2030, 1, 9), date(2030, 2, 14)),
        ("Team Gamma", "story", key["E4"], date(2030, 2, 6), date(2030, 3, 4)),
        ("Team Gamma", "story", key["E4"], date(2030, 3, 4), date(2030, 3, 18)),
    ]  # fmt: skip
    with engine.connect() as conn:
        stays = conn.execute(
            select(SprintItemRow.id)
            .join(WorkItemRow, WorkItemRow.id == SprintItemRow.item_id)
            .where(WorkItemRow.key.in_([key[label] for label in labels]))
        ).all()
    assert stays == []


def test_act_two_incremental_sync_reads_only_what_changed_and_matches_the_truth(
    world: AdoWorld, engine: Engine
) -> None:
    store = Store(engine)
    world.play(ACT_ONE)
    assert world.sync(store, full=True).status == "success"
    world.play(ACT_TWO)
    world.sandbox.reset_log()
    summary = world.sync(store, full=False)
    assert summary.status == "success", summary.errors
    assert world.facts(engine, store, truth(ALL_STEPS)) == expected(truth(ALL_STEPS))

    # Act two saved seven items that existed (E1, E3 slip; A4 re-ranked and planned; B1,
    # B4 re-ranked, B4 linked; G2 linked and started; G1 done) and created A5; A2 kept its
    # place (third, as before), so it has no new revision. The run reads the stream once,
    # each changed item's revisions once (A5's are all in the stream), their relations in
    # one batch, and the metadata, a week old.
    assert (summary.items_seen, summary.items_inserted, summary.items_updated) == (8, 1, 7)
    changed = ("E1", "E3", "A4", "B1", "B4", "G1", "G2")
    revisions = {("GET", f"{PROJECT}/_apis/wit/workItems/{world.keys[label]}/revisions"): 1
                 for label in changed}  # fmt: skip
    assert _calls(world) == Counter({**METADATA, REPORTING: 1, **revisions, BATCH: 1})

    # Nothing changed since: one reporting call, as an unchanged sync cost before the
    # portfolio (tests/e2e/test_ado_portfolio.py).
    world.sandbox.reset_log()
    again = world.sync(store, full=False)
    assert (again.status, again.items_seen) == ("success", 0)
    assert _calls(world) == Counter({REPORTING: 1})
    assert world.facts(engine, store, truth(ALL_STEPS)) == expected(truth(ALL_STEPS))


def _rows(engine: Engine, keys: list[str]) -> dict[str, WorkItemRow]:
    with engine.connect() as conn:
        found = conn.execute(select(WorkItemRow.__table__).where(WorkItemRow.key.in_(keys)))
        return {row.key: row for row in found}  # type: ignore[misc]
