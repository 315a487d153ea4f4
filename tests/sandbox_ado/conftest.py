"""Fixtures: a running AdoSandbox and real `azure-devops` SDK clients pointed at it.

The SDK caches route discovery on disk (12 h) in a directory fixed at import time:
point it at a temporary directory before the first import, and re-point the two
cache files in case another test module imported the SDK first.
"""

from __future__ import annotations

import pytest
from azure.devops.connection import Connection
from msrest.authentication import BasicAuthentication

from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.generator import AdoDataset


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture(scope="module")
def dataset() -> AdoDataset:
    return AdoDataset.generate(seed=7, size=300)


@pytest.fixture
def sandbox():
    with AdoSandbox(AdoDataset.generate(seed=7, size=300)) as sb:
        yield sb


@pytest.fixture
def connect(sandbox):
    """A factory: a fresh SDK Connection to the sandbox, with the right or another PAT."""

    def make(pat: str | None = None) -> Connection:
        return Connection(base_url=sandbox.url, creds=BasicAuthentication("", pat or sandbox.pat))

    return make


@pytest.fixture
def conn(connect):
    return connect()


@pytest.fixture
def wit(conn):
    return conn.clients_v7_1.get_work_item_tracking_client()
