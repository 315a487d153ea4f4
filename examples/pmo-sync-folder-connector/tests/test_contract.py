"""The example passes pmo-sync's shipped contract suite (`pmo_sync.testing`) on a copy of
`sample/export`: the tracker the suite drives, where a person rewrites an item's file, adds
one and deletes one.

pmo-sync's own test run collects this file too; it needs the example installed
(``pip install -e examples/pmo-sync-folder-connector``), which `.ci/run` does, setting
PMO_SYNC_REQUIRE_EXAMPLE=1 so that a missing install fails the run instead of skipping here.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

if os.environ.get("PMO_SYNC_REQUIRE_EXAMPLE") != "1":
    pytest.importorskip(
        "pmo_sync_folder",
        reason="the example plug-in is not installed: "
        "pip install -e examples/pmo-sync-folder-connector",
    )

from pmo_sync_folder import FolderConfig, FolderConnector

from pmo_sync.testing import ContractCase, WritebackCase, connector_contract_tests

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
FIELDS = ("Cycle time (days)", "WIP age (days)")


def copy_export(into: Path) -> Path:
    """The sample export, each item file modified when its item last changed (as the exporting
    tool leaves them), not all at the moment of copying."""
    export = into / "export"
    shutil.copytree(SAMPLE / "export", export)
    for path in (export / "items").glob("*.json"):
        updated = datetime.fromisoformat(json.loads(path.read_text())["updated"])
        os.utime(path, (updated.timestamp(), updated.timestamp()))
    return export


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def folder_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractCase]:
    export = copy_export(tmp_path)
    items = export / "items"
    config = FolderConfig(name="contract-folder", folder=export, writable_fields=list(FIELDS))

    def edit() -> str:
        path = items / "OPS-6.json"
        data = json.loads(path.read_text())
        now = _now()
        data["history"].append(
            {"at": now, "field": "status", "from": data["status"], "to": "In Progress"}
        )
        data.update(status="In Progress", updated=now)
        path.write_text(json.dumps(data, indent=2))
        return "OPS-6"

    def create() -> str:
        now = _now()
        item = {"title": "Renew the code-signing certificate", "type": "task",
                "status": "To Do", "created": now, "updated": now}  # fmt: skip
        (items / "OPS-11.json").write_text(json.dumps(item))
        return "OPS-11"

    def delete() -> str:
        (items / "OPS-9.json").unlink()
        return "OPS-9"

    yield ContractCase(
        connector=lambda: FolderConnector(config),
        edit_item=edit,
        create_item=create,
        delete_item=delete,
        writeback=WritebackCase(dict.fromkeys(FIELDS, 4.5), missing_key="OPS-404"),
    )


TestFolderContract = connector_contract_tests(folder_case)
