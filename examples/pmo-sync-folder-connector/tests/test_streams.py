"""The items bookmark loses nothing the contract suite cannot stage: a file rewritten within the
same timestamp tick as the run before saw it, and a file that did not read as an item.

Collected by pmo-sync's own test run too: see test_contract.py for PMO_SYNC_REQUIRE_EXAMPLE.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

if os.environ.get("PMO_SYNC_REQUIRE_EXAMPLE") != "1":
    pytest.importorskip(
        "pmo_sync_folder",
        reason="the example plug-in is not installed: "
        "pip install -e examples/pmo-sync-folder-connector",
    )

from pmo_sync_folder import FolderConfig, FolderConnector

from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

SAMPLE = Path(__file__).resolve().parents[1] / "sample" / "export"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SAMPLE, tmp_path / "export"))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    engine = make_engine(f"sqlite:///{tmp_path / 'pmo.db'}")
    upgrade(engine)
    return Store(engine)


def _sync(export: Path, store: Store) -> RunSummary:
    with FolderConnector(FolderConfig(name="ops", folder=export)) as connector:
        return sync_connector(connector, store)


def _title(store: Store, key: str) -> str:
    return next(i.title for i in store.iter_items() if i.key == key)


def test_a_file_rewritten_within_the_same_tick_is_read_again(export: Path, store: Store) -> None:
    path = export / "items" / "OPS-4.json"
    os.utime(path)  # written just now: after the mark the sync keeps
    stamp = path.stat().st_mtime_ns
    assert _sync(export, store).items_inserted == 10
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "title": "Alert 30 days before a certificate expires"}))
    os.utime(path, ns=(stamp, stamp))  # the same modification time as the first sync saw
    second = _sync(export, store)
    assert (second.status, second.items_seen, second.items_updated) == ("success", 1, 1)
    assert _title(store, "OPS-4") == "Alert 30 days before a certificate expires"
    assert _sync(export, store).items_seen == 0


def test_a_file_that_does_not_read_is_skipped_then_read_again(export: Path, store: Store) -> None:
    path = export / "items" / "OPS-5.json"
    good = path.read_text()
    path.write_text(good[: len(good) // 2])  # half written when the sync reads it
    first = _sync(export, store)
    assert first.status == "partial" and first.items_inserted == 9
    assert [e.split(":")[0] for e in first.errors] == ["items/OPS-5.json"]
    old = (path.stat().st_mtime_ns - 10**10,) * 2
    path.write_text(good)
    os.utime(path, ns=old)  # finished, with a time before the mark: read for its retry
    second = _sync(export, store)
    assert (second.status, second.items_inserted) == ("success", 1)
    assert _sync(export, store).items_seen == 0
