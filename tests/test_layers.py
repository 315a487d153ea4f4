"""The layers point down: a connector's config loads no engine, and import-linter's
contracts (pyproject.toml) hold, so a later import that breaks a layer fails here and in CI
with the offending import named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("pmo_sync.kpi", "pmo_sync.governance", "pmo_sync.store", "pmo_sync.writeback")


def _modules_loaded_by(module: str) -> list[str]:
    """Every pmo_sync/connectors module a fresh interpreter holds after importing `module`."""
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('pmo_sync', 'connectors'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("kind", ["jira", "azure_devops", "trello"])
def test_a_connectors_config_loads_no_engine(kind: str) -> None:
    """Before, `import connectors.jira.config` loaded 46 modules, the KPI engine, the rules and
    the SQL store among them; a connector needs only the domain and `pmo_sync.common`."""
    loaded = _modules_loaded_by(f"connectors.{kind}.config")
    assert [m for m in loaded if m.startswith(ENGINES)] == []
    assert {m for m in loaded if m.startswith("pmo_sync")} <= {
        "pmo_sync",
        "pmo_sync.common",
        "pmo_sync.common.rank",  # a connector's streams encode numeric ranks (issue 16)
        "pmo_sync.common.redaction",
        "pmo_sync.common.writeback_config",
        "pmo_sync.domain",
    }


def test_the_import_contracts_hold() -> None:
    """`lint-imports` exits 0 on the tree as it is (it names the import when one breaks)."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command is not None, "import-linter is in the test extra: pip install -e '.[test]'"
    done = subprocess.run([command], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout
