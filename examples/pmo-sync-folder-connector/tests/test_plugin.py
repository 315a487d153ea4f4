"""The example as an admin meets it: installed, pmo-sync finds `kind: folder` through the
`pmo_sync.connectors` entry point; `pmo-sync connectors validate` accepts the sample config and
names what is wrong in a bad one; `connectors check`, `sync` and `push` run it; importing it
loads none of pmo-sync's engines.

Collected by pmo-sync's own test run too: see test_contract.py for PMO_SYNC_REQUIRE_EXAMPLE.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

if os.environ.get("PMO_SYNC_REQUIRE_EXAMPLE") != "1":
    pytest.importorskip(
        "pmo_sync_folder",
        reason="the example plug-in is not installed: "
        "pip install -e examples/pmo-sync-folder-connector",
    )

from pmo_sync_folder import FolderConnector

from connectors.registry import connector_classes

SAMPLE = Path(__file__).resolve().parents[1] / "sample"


def test_the_kind_is_found_through_the_entry_point() -> None:
    points = distribution("pmo-sync-folder-connector").entry_points
    declared = {ep.name: ep.value for ep in points if ep.group == "pmo_sync.connectors"}
    assert declared == {"folder": "pmo_sync_folder:FolderConnector"}
    assert connector_classes()["folder"] is FolderConnector


def test_importing_the_connector_loads_no_engine() -> None:
    """A plug-in needs the contract and the bottom layers only, as a built-in connector does."""
    code = (
        "import json, sys, pmo_sync_folder; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('pmo_sync.'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    engines = ("pmo_sync.kpi", "pmo_sync.governance", "pmo_sync.store", "pmo_sync.writeback")
    assert [m for m in json.loads(done.stdout) if m.startswith(engines)] == []


def _pmo_sync(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `pmo-sync` command of this interpreter's environment, run in `workdir`."""
    command = shutil.which("pmo-sync", path=str(Path(sys.executable).parent))
    assert command is not None, "pmo-sync is not installed beside this interpreter"
    env = {
        **os.environ,
        "PMO_SYNC_CONFIG_DIR": str(workdir / "config"),
        "PMO_SYNC_DATABASE_URL": f"sqlite:///{workdir / 'pmo.db'}",
    }
    return subprocess.run(
        [command, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The sample config and export, where an admin would keep them."""
    shutil.copytree(SAMPLE, tmp_path / "sample")
    shutil.copytree(SAMPLE / "config", tmp_path / "config")
    return tmp_path


def test_connectors_validate_accepts_the_sample_config(workdir: Path) -> None:
    done = _pmo_sync(workdir, "connectors", "validate")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"checked 1 connector file, kpis.yaml (none: the defaults), "
        f"portfolio.yaml (none: the defaults) and policies/ "
        f"(none: no findings) in {workdir / 'config'}: all valid\n"
    )


def test_connectors_validate_names_what_is_wrong(workdir: Path) -> None:
    bad = workdir / "config" / "connectors" / "ops-export.yaml"
    bad.write_text("name: ops-export\nkind: folder\nwritable_fields: 3\n", encoding="utf-8")
    done = _pmo_sync(workdir, "connectors", "validate")
    assert done.returncode == 2
    assert f"{bad}: folder: field required" in done.stderr.lower()


def test_check_sync_and_push_run_the_sample(workdir: Path) -> None:
    """What the README shows: check, sync, a file deleted and synced again, then push twice."""
    assert _pmo_sync(workdir, "db", "upgrade").returncode == 0
    checked = _pmo_sync(workdir, "connectors", "check", "ops-export")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ok   credentials:")
    for step in ("first", "after a deletion"):
        synced = _pmo_sync(workdir, "sync")
        assert synced.returncode == 0, f"{step}: {synced.stdout}{synced.stderr}"
        (workdir / "sample" / "export" / "items" / "OPS-9.json").unlink(missing_ok=True)
    with sqlite3.connect(workdir / "pmo.db") as db:
        rows = db.execute("SELECT external_id, deleted_at IS NOT NULL FROM work_items").fetchall()
    assert len(rows) == 10 and [key for key, deleted in rows if deleted] == ["OPS-9"]
    pushed = _pmo_sync(workdir, "push")
    assert pushed.returncode == 0 and "0 failed" in pushed.stdout, pushed.stdout + pushed.stderr
    written = sorted((workdir / "sample" / "export" / "writeback").glob("*.json"))
    assert written and all(json.loads(p.read_text())["fields"] for p in written)
    again = _pmo_sync(workdir, "push")
    assert "made 0 change(s)" in again.stdout, again.stdout
