"""Fixtures shared by every test group: a store on SQLite and on PostgreSQL.

PostgreSQL tests get a schema of their own (selected through ``search_path``
in the URL), dropped at teardown, so they can run in parallel with anything
else using the same database and leave it clean. They are skipped, with the
reason, when no server answers — unless PMO_SYNC_REQUIRE_POSTGRES=1 (CI sets
it where PostgreSQL is installed), which turns the skip into a failure.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import Engine

from .schema_helpers import migrated_engine, postgres_schema

# The Azure DevOps SDK reads its cache directory once, at import; pmo-sync points it
# under PMO_SYNC_CACHE_DIR (connectors/azure_devops/sdk_cache.py). Tests use a
# throwaway one and never the developer's own cache.
_TEST_CACHE = tempfile.mkdtemp(prefix="pmo-sync-test-cache-")
atexit.register(shutil.rmtree, _TEST_CACHE, ignore_errors=True)
os.environ["PMO_SYNC_CACHE_DIR"] = _TEST_CACHE
os.environ.pop("AZURE_DEVOPS_CACHE_DIR", None)

PG_URL = os.environ.get(
    "PMO_SYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

_pg_status: list[str | None] = []  # [] = not probed yet; [None] = reachable; [reason]


def _libpq_url() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def _pg_unreachable_reason() -> str | None:
    if not _pg_status:
        try:
            psycopg.connect(_libpq_url(), connect_timeout=3).close()
            _pg_status.append(None)
        except psycopg.Error as exc:
            detail = " ".join(str(exc).split())
            _pg_status.append(f"PostgreSQL at {PG_URL} is unreachable: {detail}")
    return _pg_status[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first, in their order, then the rest in theirs: pytest-xdist deals the
    first quarter of the run out in turn and the rest as workers free up, so the long tests
    are spread over the workers from the start and the run ends on short ones, not on one
    worker finishing a sweep while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A URL of an empty database: a temp SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'pmo.db'}"
        return
    reason = _pg_unreachable_reason()
    if reason is not None:
        if os.environ.get("PMO_SYNC_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:16]
    assert re.fullmatch(r"t_[0-9a-f]{16}", schema)
    with postgres_schema(_libpq_url(), schema):
        yield f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated engine; disposed before its database is dropped."""
    engine = migrated_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cold_ado_sdk_cache(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SDK's route caches empty: on disk (kept in the test's own directory) and in
    memory (`Client._locations_cache`, process-wide, by URL).

    So every test sees the calls of a first run (resource areas, OPTIONS) and no
    test depends on what an earlier one cached.
    """
    from azure.devops import _file_cache
    from azure.devops.client import Client

    monkeypatch.setattr(Client, "_locations_cache", {})

    for cache, name in (
        (_file_cache.OPTIONS_CACHE, "options"),
        (_file_cache.RESOURCE_CACHE, "resources"),
    ):
        cache.file_name = str(tmp_path / f"{name}.json")
        cache.data = {}
        cache.initial_load_occurred = False
    yield
