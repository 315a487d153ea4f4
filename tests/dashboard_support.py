"""Dashboard fixtures: one store filled from the three sandboxes, shared by the session.

Imported by tests/dashboard/conftest.py and tests/browser/conftest.py (the same fixture
names in both); the store is built once a session whichever directory asks first.

The demo's own pipeline (sandboxes → sync → KPI and governance refresh →
write-back) fills it, with the sandboxes' clock at noon UTC on SANDBOX_DAY,
so every figure is the same on every run; tests read it through an engine
opened to read, as the dashboard does. `cli_on` runs `pmo-sync` on it (`kpis_json`: the
figures the pages must show, as `pmo-sync kpis --format json --no-refresh` gives them).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Engine

from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.portfolio import build_portfolio
from pmo_sync.dashboard.report import ReportArticle, ReportContext
from pmo_sync.demo import run_demo
from pmo_sync.sandbox.clock import sandbox_now
from pmo_sync.store.engine import make_engine

from .cli_support import cli_state_restored, run_cli

SANDBOX_DAY = date(2026, 11, 20)
ISSUES_PER_PROJECT = 40


@dataclass(frozen=True)
class SandboxStore:
    directory: Path
    url: str
    day: date

    @property
    def config_dir(self) -> Path:
        return self.directory / "config"


_built: list[SandboxStore] = []


@pytest.fixture(scope="session")
def sandbox_store(tmp_path_factory: pytest.TempPathFactory) -> SandboxStore:
    """The three sandboxes synced, refreshed and pushed into one SQLite store (once a session:
    each conftest importing this fixture has its own, both get the first one's store).

    The demo's pipeline at a pinned day gives the same store every time, so it runs once a
    run (`built_once`)."""
    if _built:
        return _built[0]
    directory = built_once(tmp_path_factory, "dashboard-store", _build)
    _built.append(
        SandboxStore(directory, f"sqlite:///{directory / 'pmo-sync.sqlite3'}", SANDBOX_DAY)
    )
    return _built[0]


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A directory of this process's own holding what `build(directory)` writes, built once a
    run: under pytest-xdist the first worker to ask builds it in the run's shared temp
    directory (under a file lock) and every worker, that one too, gets a copy of it; `build`
    must write the same whichever worker runs it. Without xdist it is built in place."""
    directory = tmp_path_factory.mktemp(name)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        build(directory)
        return directory
    shared = tmp_path_factory.getbasetemp().parent / f"{name}-shared"
    shared.mkdir(exist_ok=True)
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (shared / "built").exists():
                build(shared / "built-files")
                (shared / "built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    shutil.copytree(shared / "built-files", directory, dirs_exist_ok=True)
    return directory


def _build(directory: Path) -> None:
    console = Console(file=io.StringIO(), width=120)
    code = run_demo(
        console,
        keep=directory,
        now=sandbox_now(SANDBOX_DAY),
        issues_per_project=ISSUES_PER_PROJECT,
    )
    assert code == 0, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def sandbox_engine(sandbox_store: SandboxStore) -> Iterator[Engine]:
    engine = make_engine(sandbox_store.url, read_only=True)
    yield engine
    engine.dispose()


def cli_on(store: SandboxStore, *args: str) -> Any:
    """Run `pmo-sync ARGS` with the store's URL and config in the environment (in the store's
    directory: no `.env` of the checkout is read)."""
    with pytest.MonkeyPatch.context() as patch, cli_state_restored():
        patch.chdir(store.directory)
        patch.setenv("PMO_SYNC_DATABASE_URL", store.url)
        patch.setenv("PMO_SYNC_CONFIG_DIR", str(store.config_dir))
        patch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
        return run_cli(args)


def kpis_json(store: SandboxStore) -> list[dict[str, Any]]:
    result = cli_on(store, "kpis", "--format", "json", "--no-refresh")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def team_values(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[str, Any]]]]:
    """Team-scope values: team → metric → [(window, value)] in window order."""
    teams: dict[str, dict[str, list[tuple[str, Any]]]] = {}
    for row in rows:
        if row["scope"] == "team":
            metrics = teams.setdefault(row["scope_key"], {})
            metrics.setdefault(row["metric"], []).append((row["window"], row["value"]))
    for metrics in teams.values():
        for values in metrics.values():
            values.sort()
    return teams


def alpha_as_team_page(report: ReportContext) -> list[ReportArticle]:
    """A second report page drawing the same chart ids as the portfolio (Team Alpha's
    portfolio, filed as the report's page `#team-Team%20Alpha`): what the ids' prefixing must
    keep apart."""
    page = build_portfolio(report.reads, Filters(team="Team Alpha"), report.today)
    return [
        report.article("Team Alpha", "portfolio.html", "team", {"team": "Team Alpha"}, page=page)
    ]
