"""The sandbox organisation's process through the unmodified SDK: the field list, and
TF51535 for a read naming a field the process lacks, in the service's error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.devops.connection import Connection
from azure.devops.exceptions import AzureDevOpsServiceError
from azure.devops.v7_1.work_item_tracking.models import WorkItemBatchGetRequest
from msrest.authentication import BasicAuthentication

from pmo_sync.sandbox.ado import AdoDataset, AdoProcess, AdoSandbox
from pmo_sync.sandbox.ado.process import DEFAULT_FIELDS

REPORTING = "f828fe59-dd87-495d-a17c-7a8d6211ca6c"
BLOCKED = "Microsoft.VSTS.CMMI.Blocked"


@pytest.fixture
def lacking() -> Iterator[AdoSandbox]:
    """An organisation whose process has no Blocked field (an Agile process, not CMMI)."""
    process = AdoProcess().without(BLOCKED)
    with AdoSandbox(AdoDataset.generate(seed=7, size=20), process=process) as sandbox:
        yield sandbox


def _wit(sandbox: AdoSandbox) -> Any:  # the SDK's client class is untyped
    conn = Connection(base_url=sandbox.url, creds=BasicAuthentication("", sandbox.pat))
    return conn.clients_v7_1.get_work_item_tracking_client()


def test_the_field_list_names_every_field_of_the_process(sandbox: AdoSandbox, wit) -> None:
    fields = wit.get_work_item_fields()
    assert [(f.reference_name, f.name) for f in fields] == [
        (f.reference_name, f.name) for f in DEFAULT_FIELDS
    ]
    blocked = next(f for f in fields if f.reference_name == BLOCKED)
    assert (blocked.name, blocked.type, blocked.read_only) == ("Blocked", "string", False)
    assert blocked.url == f"{sandbox.url}/_apis/wit/fields/{BLOCKED}"
    assert wit.get_work_item_fields("Fabrikam") == fields  # project-scoped: the same list
    assert [r.path for r in sandbox.requests if r.method == "GET" and "fields" in r.path] == [
        "/contoso/_apis/wit/fields",
        "/contoso/Fabrikam/_apis/wit/fields",
    ]


def test_a_process_without_a_field_leaves_it_out_of_the_list(lacking: AdoSandbox) -> None:
    names = [f.reference_name for f in _wit(lacking).get_work_item_fields()]
    assert BLOCKED not in names
    assert len(names) == len(DEFAULT_FIELDS) - 1
    with pytest.raises(ValueError, match="no field"):
        AdoProcess().without("Custom.NotThere")


def test_asking_the_revision_stream_for_a_missing_field_is_tf51535(lacking: AdoSandbox) -> None:
    wit = _wit(lacking)
    with pytest.raises(AzureDevOpsServiceError) as raised:
        wit._send(
            http_method="POST", location_id=REPORTING, version="7.1-preview.2",
            route_values={"project": "Fabrikam"}, query_parameters={},
            content={"fields": ["System.Id", BLOCKED], "includeDeleted": True},
        )  # fmt: skip
    assert raised.value.message == f"TF51535: Cannot find field {BLOCKED}."
    assert raised.value.type_key == "WorkItemTrackingFieldDefinitionNotFoundException"
    refused = lacking.requests[-1]
    assert (refused.method, refused.status) == ("POST", 400)
    # the field names are matched case-insensitively; without the missing one, it answers
    page = wit._send(
        http_method="POST", location_id=REPORTING, version="7.1-preview.2",
        route_values={"project": "Fabrikam"}, query_parameters={},
        content={"fields": ["system.id", "System.State"], "includeDeleted": True},
    ).json()  # fmt: skip
    assert page["values"] and page["isLastBatch"] is True


def test_batch_and_single_reads_of_a_missing_field_are_tf51535(lacking: AdoSandbox) -> None:
    wit = _wit(lacking)
    item = next(iter(lacking.dataset.items())).id
    for read in (
        lambda: wit.get_work_items_batch(WorkItemBatchGetRequest(ids=[item], fields=[BLOCKED])),
        lambda: wit.get_work_item(item, fields=["System.Title", BLOCKED]),
    ):
        with pytest.raises(AzureDevOpsServiceError, match=f"TF51535: Cannot find field {BLOCKED}"):
            read()
    assert wit.get_work_item(item, fields=["System.Title"]).fields["System.Title"]


def test_a_server_without_the_field_list_answers_404() -> None:
    process = AdoProcess(lists_fields=False)
    with AdoSandbox(AdoDataset.generate(seed=7, size=5), process=process) as sandbox:
        with pytest.raises(AzureDevOpsServiceError):
            _wit(sandbox).get_work_item_fields()
        assert sandbox.requests[-1].status == 404
