"""The harness's dropped connections, slow answers and chaos as Azure DevOps shows them: fault
paths match case-blind, the SDK retries a dropped read, a write dropped after it was carried
out has its revision, chaos's 429 carries Azure DevOps' rate-limit headers and its HTML page
is the Azure DevOps sign-in page.

The generic behaviour is tested in tests/sandbox/test_sandbox_fault_kinds.py."""

from __future__ import annotations

import pytest
import requests

from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.harness import DROPPED

ITEM = "/contoso/_apis/wit/workItems/1"


def test_the_sdk_reads_again_after_a_dropped_connection(sandbox: AdoSandbox, wit) -> None:
    wit.get_work_item(1)
    sandbox.reset_log()
    fault = sandbox.inject("GET", r"/workitems/1$", drop=True)  # the SDK asks for workItems/1
    assert wit.get_work_item(1).id == 1
    assert fault.fired == 1
    assert [(r.path, r.status) for r in sandbox.requests] == [(ITEM, DROPPED), (ITEM, 200)]


def test_a_patch_dropped_after_it_was_carried_out_has_its_revision(sandbox: AdoSandbox) -> None:
    rev = sandbox.dataset.item(1).rev
    patch = [{"op": "add", "path": "/fields/System.Title", "value": "Renamed"}]

    def send() -> requests.Response:
        return requests.patch(
            f"{sandbox.url}/_apis/wit/workitems/1",
            params={"api-version": "7.1"},
            json=patch,
            headers={"Content-Type": "application/json-patch+json"},
            auth=("", sandbox.pat),
            timeout=5,
        )

    sandbox.inject("PATCH", r"/workitems/1$", drop=True)
    with pytest.raises(requests.ConnectionError):
        send()
    assert sandbox.dataset.item(1).rev == rev  # dropped on the way in

    sandbox.inject("PATCH", r"/workitems/1$", drop=True, applied=True)
    with pytest.raises(requests.ConnectionError):
        send()
    item = sandbox.dataset.item(1)
    assert (item.rev, item.fields["System.Title"]) == (rev + 1, "Renamed")

    sandbox.inject("PATCH", r"/WORKITEMS/1$", delay=1.5)
    with pytest.raises(requests.ReadTimeout):
        requests.patch(
            f"{sandbox.url}/_apis/wit/workitems/1",
            params={"api-version": "7.1"},
            json=[{"op": "add", "path": "/fields/System.Title", "value": "Late"}],
            headers={"Content-Type": "application/json-patch+json"},
            auth=("", sandbox.pat),
            timeout=0.5,
        )
    assert sandbox.dataset.item(1).fields["System.Title"] == "Late"
    assert [w.status for w in sandbox.writes] == [DROPPED, DROPPED, 200]


def test_chaos_speaks_azure_devops(sandbox: AdoSandbox) -> None:
    chaos = sandbox.chaos(rate=1, seed=3, kinds=("429", "html"), path=r"/_apis/projects$")
    seen = set()
    for _ in range(6):
        answer = requests.get(f"{sandbox.url}/_apis/projects", auth=("", sandbox.pat), timeout=5)
        if answer.status_code == 429:
            seen.add("429")
            assert answer.headers["Retry-After"] == "1"
            assert answer.headers["X-RateLimit-Resource"] == "ATCPU"
            assert answer.json()["message"].startswith("TF400733: The request has been throttled")
        else:
            seen.add("html")
            assert answer.status_code == 200
            assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "<title>Azure DevOps Services | Sign In</title>" in answer.text
    assert seen == {"429", "html"} and chaos.total == 6
    assert chaos.fired == {kind: n for kind, n in chaos.fired.items() if kind in seen}
