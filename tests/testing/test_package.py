"""`pmo_sync.testing` imports without pytest; the pytest class comes with the suite's first use."""

from __future__ import annotations

import json
import subprocess
import sys


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}; import json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_importing_the_package_and_its_checks_loads_no_pytest() -> None:
    loaded = _loaded_after("import pmo_sync.testing, pmo_sync.testing.checks")
    assert not [m for m in loaded if m.split(".")[0] in ("pytest", "_pytest")]
    assert "pmo_sync.testing.contract" not in loaded


def test_the_suite_loads_pytest_when_asked_for() -> None:
    loaded = _loaded_after("from pmo_sync.testing import connector_contract_tests")
    assert "pytest" in loaded and "pmo_sync.testing.contract" in loaded
