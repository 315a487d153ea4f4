"""Fixtures: a running AdoSandbox and real `azure-devops` SDK clients pointed at it.

The SDK caches route discovery on disk (12 h) in a directory fixed at import time:
point it at a temporary directory before the first import, and re-point the two
cache files in case another test module imported the SDK first.
"""

from __future__ import annotations

import os
import tempfile

_CACHE_DIR = tempfile.mkdtemp(prefix="ado-sdk-cache-")
os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", _CACHE_DIR)

import pytest  # noqa: E402
from azure.devops import _file_cache  # noqa: E402
from azure.devops.connection import Connection  # noqa: E402
from msrest.authentication import BasicAuthentication  # noqa: E402

from pmo_sync.sandbox.ado import AdoSandbox  # noqa: E402
from pmo_sync.sandbox.ado.generator import AdoDataset  # noqa: E402


@pytest.fixture(autouse=True)
def _sdk_cache(tmp_path):
    for cache, name in (
        (_file_cache.OPTIONS_CACHE, "options"),
        (_file_cache.RESOURCE_CACHE, "resources"),
    ):
        cache.file_name = str(tmp_path / f"{name}.json")
        cache.data = {}
        cache.initial_load_occurred = False
    yield


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
