"""Each built-in writer is a `connectors.base.Writer`: every member, with the Protocol's
parameters, and what each connector's `writer()` returns passes `isinstance`.

The type checker proves the same statically (each connector's `writer() -> Writer`
returns its own writer class); this test says it without one, naming what differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from connectors.azure_devops.push import AdoWriter
from connectors.base import Connector, Writer
from connectors.jira import JiraConfig, JiraConnector
from connectors.jira.push import JiraWriter
from connectors.trello import TrelloConfig, TrelloConnector
from connectors.trello.push import TrelloWriter

METHODS = (
    "field_ids",
    "set_fields",
    "add_comment",
    "update_comment",
    "delete_comment",
    "find_bot_comments",
    "bot_account_id",
    "close",
)
WRITERS = {JiraWriter: False, AdoWriter: True, TrelloWriter: False}
"""Each writer class and its `checks_revisions`."""


def test_the_protocol_is_what_the_push_calls() -> None:
    declared = {
        n for n, v in vars(Writer).items() if inspect.isfunction(v) and not n.startswith("__")
    }
    assert declared == set(METHODS)
    assert Writer.__annotations__ == {"checks_revisions": "bool"}


def _mismatches(protocol: Callable[..., Any], actual: Callable[..., Any]) -> list[str]:
    """How `actual` fails to accept every call `protocol` allows (types left to mypy)."""
    wanted = list(inspect.signature(protocol).parameters.values())[1:]
    given = list(inspect.signature(actual).parameters.values())[1:]
    by_name = {p.name: p for p in given}
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    problems: list[str] = []
    for index, p in enumerate(wanted):
        q = by_name.get(p.name)
        if q is None:
            problems.append(f"no parameter {p.name!r}")
            continue
        if p.kind in positional and (given.index(q) != index or q.kind not in positional):
            problems.append(f"{p.name!r} is not positional parameter {index + 1}")
        if p.kind is inspect.Parameter.KEYWORD_ONLY and q.kind is inspect.Parameter.POSITIONAL_ONLY:
            problems.append(f"{p.name!r} cannot be passed by name")
        if p.default is not inspect.Parameter.empty and q.default is inspect.Parameter.empty:
            problems.append(f"{p.name!r} has no default")
    names = {p.name for p in wanted}
    problems += [
        f"extra parameter {q.name!r} without a default"
        for q in given
        if q.name not in names
        and q.default is inspect.Parameter.empty
        and q.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return problems


@pytest.mark.parametrize("writer", list(WRITERS), ids=lambda w: w.__name__)
def test_each_writer_has_every_member_of_the_protocol(writer: type) -> None:
    problems = {
        name: _mismatches(getattr(Writer, name), getattr(writer, name))
        for name in METHODS
        if callable(getattr(writer, name, None))
    }
    missing = [name for name in METHODS if not callable(getattr(writer, name, None))]
    assert missing == []
    assert {name: p for name, p in problems.items() if p} == {}
    declared = vars(writer).get("checks_revisions")
    assert isinstance(declared, bool), "checks_revisions must be declared on the class"
    assert declared is WRITERS[writer]


def test_set_fields_takes_expected_rev_only_where_revisions_are_checked() -> None:
    """Jira and Trello have no revision: given one, they refuse before any call."""
    for writer in (JiraWriter, TrelloWriter):
        with pytest.raises(ValueError, match="no revision to test"):
            writer.set_fields(object.__new__(writer), "KEY-1", {"f": 1}, expected_rev=3)


# Secrets are registered with the log redactor for the process: each is a text no message holds.


def _jira() -> Connector:
    return JiraConnector(
        JiraConfig.model_validate(
            {
                "name": "j",
                "url": "http://127.0.0.1:9/jira",
                "email": "bot@example.com",
                "token": SecretStr("writer-test-jira-9f27c1"),
                "jql": "project = ABC",
            }
        )
    )


def _ado() -> Connector:
    return AzureDevOpsConnector(
        AzureDevOpsConfig.model_validate(
            {
                "name": "a",
                "organization_url": "http://127.0.0.1:9/contoso",
                "token": SecretStr("writer-test-ado-pat-4be0d2"),
                "project": "Fabrikam",
            }
        )
    )


def _trello() -> Connector:
    return TrelloConnector(
        TrelloConfig.model_validate(
            {
                "name": "t",
                "url": "http://127.0.0.1:9",
                "api_key": SecretStr("writer-test-trello-key-71aa"),
                "token": SecretStr("writer-test-trello-token-c35e"),
                "boards": ["Team board"],
            }
        )
    )


@pytest.fixture(params=[_jira, _ado, _trello], ids=["jira", "azure_devops", "trello"])
def connector(request: pytest.FixtureRequest) -> Iterator[Connector]:
    with request.param() as built:
        yield built


def test_each_connector_returns_a_writer(connector: Connector) -> None:
    """Built without a call (nothing listens on port 9): a writer is made, not used."""
    writer = connector.writer()
    assert writer is not None
    try:
        assert isinstance(writer, Writer)
        assert type(writer) in WRITERS
        assert writer.checks_revisions is WRITERS[type(writer)]
    finally:
        writer.close()
    assert connector.stats.api_calls == 0
