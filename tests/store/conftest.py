"""Store test fixtures; `store_url` and `engine` (both databases) are in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from pmo_sync.store.repository import Store

from .records import FakeClock, Records, WriteLog


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> Store:
    return Store(engine, clock=clock)


@pytest.fixture
def source_id(store: Store) -> int:
    return store.ensure_source("jira-main", "jira", "https://jira.example.com")


@pytest.fixture
def write_log(engine: Engine) -> Iterator[WriteLog]:
    log = WriteLog()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield log
    event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def rec() -> type[Records]:
    return Records
