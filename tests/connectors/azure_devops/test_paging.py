"""Azure DevOps `continuationToken` paging against the sandbox, through the real SDK: a
service handing back a token already sent stops the crawl with the token named, after
the very requests the loop made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.azure_devops import AzureDevOpsConfig
from connectors.azure_devops.client import AdoClient
from connectors.azure_devops.push import AdoWriter
from connectors.errors import UnexpectedResponseError
from connectors.http import CallStats
from pmo_sync.sandbox.ado import AdoSandbox

TOKEN_VARIABLE = "PMO_SYNC_TEST_ADO_TOKEN"
REPORTING = r"/_apis/wit/reporting/workItemRevisions$"


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(size=20) as sandbox:
        yield sandbox


@pytest.fixture
def client(ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[AdoClient]:
    monkeypatch.setenv(TOKEN_VARIABLE, ado.pat)
    config = AzureDevOpsConfig.model_validate(
        {
            "name": "sandbox-ado",
            "kind": "azure_devops",
            "organization_url": ado.url,
            "token": f"${{{TOKEN_VARIABLE}}}",
            "project": ado.dataset.project.name,
        }
    )
    made = AdoClient(config, CallStats())
    yield made
    made.close()


def _sent(ado: AdoSandbox, path: str) -> list[list[str] | None]:
    """The continuation token of each request to `path` (None: none sent)."""
    return [
        r.query.get("continuationToken")
        for r in ado.requests
        if r.path.lower().endswith(path.lower())
    ]


def test_the_revision_stream_follows_its_tokens_to_the_last_batch(
    ado: AdoSandbox, client: AdoClient
) -> None:
    ado.inject(
        "POST",
        REPORTING,
        status=200,
        body={"values": [], "continuationToken": "7", "isLastBatch": False},
    )
    pages = list(client.reporting_revisions(None, ["System.Id"]))
    path = "/_apis/wit/reporting/workitemrevisions"
    assert _sent(ado, path) == [None, ["7"]]
    assert pages[-1]["isLastBatch"] is True


def test_a_revision_token_sent_before_stops_the_stream(ado: AdoSandbox, client: AdoClient) -> None:
    looping = {"values": [], "continuationToken": "41", "isLastBatch": False}
    ado.inject("POST", REPORTING, status=200, body=looping, times=5)
    pages = client.reporting_revisions("41", ["System.Id"])
    with pytest.raises(UnexpectedResponseError) as raised:
        next(pages)
    assert str(raised.value) == (
        "Azure DevOps returned continuation token '41' twice while trying to read the work "
        "item revisions; stopping to avoid an endless crawl"
    )
    assert _sent(ado, "/_apis/wit/reporting/workitemrevisions") == [["41"]]


def test_a_comment_token_sent_before_stops_the_listing(ado: AdoSandbox, client: AdoClient) -> None:
    item = next(iter(ado.dataset.items())).id
    comments = rf"/_apis/wit/workItems/{item}/comments$"
    ado.inject(
        "GET",
        comments,
        status=200,
        body={"totalCount": 0, "count": 0, "comments": [], "continuationToken": "c1"},
        times=5,
    )
    with AdoWriter(client) as writer, pytest.raises(UnexpectedResponseError) as raised:
        writer.find_bot_comments(str(item), "pmo-bot@contoso.example", "[pmo-sync:kpi]")
    assert str(raised.value) == (
        f"Azure DevOps returned continuation token 'c1' twice while trying to list the "
        f"comments of work item {item}; stopping to avoid an endless crawl"
    )
    assert _sent(ado, f"/_apis/wit/workItems/{item}/comments") == [None, ["c1"]]
