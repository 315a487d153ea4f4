"""Fixtures for the sandbox Jira tests: a shared read-only sandbox and fresh ones to mutate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jira
import pytest

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox


@pytest.fixture(scope="session")
def dataset() -> JiraDataset:
    """The default seeded dataset (seed 7, 3 x 100 issues); never mutated."""
    return JiraDataset.generate()


@pytest.fixture(scope="module")
def sandbox(dataset: JiraDataset) -> Iterator[JiraSandbox]:
    """A Cloud sandbox over the shared dataset; tests must not mutate it."""
    with JiraSandbox(dataset) as running:
        yield running


@pytest.fixture
def fresh() -> Iterator[JiraSandbox]:
    """A sandbox with its own dataset, for tests that mutate or inject faults."""
    with JiraSandbox() as running:
        yield running


def _connect(sandbox: JiraSandbox, **kwargs: Any) -> jira.JIRA:
    kwargs.setdefault("basic_auth", sandbox.basic_auth)
    return jira.JIRA(server=sandbox.url, get_server_info=True, **kwargs)


@pytest.fixture(scope="session")
def connect() -> Callable[..., jira.JIRA]:
    """Factory: a real `jira.JIRA` client logged in to a given sandbox."""
    return _connect


@pytest.fixture(scope="module")
def client(sandbox: JiraSandbox) -> jira.JIRA:
    """The real client, logged in to the shared sandbox."""
    return _connect(sandbox)
