"""`sources.data_version` (migration 0018): bumped by the store's triggers whenever a source's
tracker data is written, by any path, and only then; the refresh's "did anything change?"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, inspect, text

from pmo_sync.domain import Census, Stage
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.marks import data_versions
from pmo_sync.store.repository import Store

from .records import T0, make_bundle, make_change, make_sprint, make_status

NOW = T0 + timedelta(days=30)


def test_every_write_of_a_sources_data_bumps_its_version_and_nothing_else_does(
    engine: Engine, store: Store
) -> None:
    jira = store.ensure_source("jira-main", "jira", None)
    ado = store.ensure_source("ado-main", "azure_devops", None)
    assert data_versions(engine) == {jira: 0, ado: 0}

    def moved() -> set[int]:
        nonlocal before
        after = data_versions(engine)
        grew = {source for source, version in after.items() if version > before[source]}
        before = after
        return grew

    before = data_versions(engine)
    bundles = [make_bundle("1"), make_bundle("2", [make_change("2", "c1", T0 + timedelta(days=2))])]
    store.load_items(jira, bundles, NOW)
    assert moved() == {jira}
    store.load_items(jira, bundles, NOW)  # the same content: nothing written
    assert moved() == set()
    # the tracker's `updated` stamp moved and nothing else (pmo-sync's own write-back, echoed)
    touched = [make_bundle("1", updated=T0 + timedelta(days=3)), bundles[1]]
    store.load_items(jira, touched, NOW)
    assert moved() == set()
    store.load_items(jira, [make_bundle("1", status="Done", stage=Stage.DONE)], NOW)
    assert moved() == {jira}
    store.apply_census(jira, Census(frozenset({"1"})), NOW)  # item 2 deleted in the tracker
    assert moved() == {jira}

    store.load_sprints(ado, [make_sprint("10")])
    assert moved() == {ado}
    store.load_sprints(ado, [make_sprint("10")])
    assert moved() == set()
    store.load_sprints(ado, [make_sprint("10", state="active", completed=None)])
    assert moved() == {ado}
    store.load_statuses(ado, [make_status("3", "Done", "done", Stage.DONE)])
    assert moved() == {ado}
    store.load_statuses(ado, [make_status("3", "Done", "done", Stage.DONE)])
    assert moved() == set()

    with engine.begin() as conn:  # any other path too: a `pmo-sync db` command, by hand
        conn.execute(text("UPDATE work_items SET title = 'Renamed' WHERE external_id = '1'"))
    assert moved() == {jira}


def test_0018_adds_the_version_to_a_store_at_0017(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0017")
        with engine.begin() as conn:  # as a pmo-sync of 0017 stored it
            conn.execute(
                text(
                    "INSERT INTO sources (name, kind, created_at) "
                    "VALUES ('jira-main', 'jira', '2026-12-01 00:00:00')"
                )
            )
        upgrade(engine)
        assert "refresh_marks" in inspect(engine).get_table_names()
        [(source, version)] = data_versions(engine).items()
        assert version == 0
        Store(engine).load_items(source, [make_bundle("1")], NOW)
        assert data_versions(engine) == {source: 1}
    finally:
        engine.dispose()
