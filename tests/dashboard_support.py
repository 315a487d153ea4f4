"""Dashboard fixtures: one store filled from the three sandboxes, shared by the session.

Imported by tests/dashboard/conftest.py and tests/browser/conftest.py (the same fixture
names in both); the store is built once a session whichever directory asks first.

The demo's own pipeline (sandboxes → sync → KPI and governance refresh →
write-back) fills it, with the sandboxes' clock at noon UTC on SANDBOX_DAY,
so every figure is the same on every run; tests read it through an engine
opened to read, as the dashboard does.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine

from pmo_sync.demo import run_demo
from pmo_sync.sandbox.clock import sandbox_now
from pmo_sync.store.engine import make_engine

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
    each conftest importing this fixture has its own, both get the first one's store)."""
    if _built:
        return _built[0]
    directory = tmp_path_factory.mktemp("dashboard-store")
    console = Console(file=io.StringIO(), width=120)
    code = run_demo(
        console,
        keep=directory,
        now=sandbox_now(SANDBOX_DAY),
        issues_per_project=ISSUES_PER_PROJECT,
    )
    assert code == 0, console.file.getvalue()  # type: ignore[attr-defined]
    _built.append(
        SandboxStore(directory, f"sqlite:///{directory / 'pmo-sync.sqlite3'}", SANDBOX_DAY)
    )
    return _built[0]


@pytest.fixture
def sandbox_engine(sandbox_store: SandboxStore) -> Iterator[Engine]:
    engine = make_engine(sandbox_store.url, read_only=True)
    yield engine
    engine.dispose()
