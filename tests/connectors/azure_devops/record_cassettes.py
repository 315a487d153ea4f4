"""Record the vcrpy cassettes that `test_client_cassettes.py` replays.

Run by hand, from the repository root, whenever the client's calls change:

    python tests/connectors/azure_devops/record_cassettes.py

It starts a small `AdoSandbox` (12 work items; organisation "contoso", project
"Fabrikam"), makes four changes with the dataset's mutation API, an hour apart
(work item 9 Active → Resolved, 6 Resolved → Closed, 10 deleted, 9 reassigned:
the tail of the revision log the reporting cassette pages through from the
continuation token taken before them), drives `AdoClient` and `AdoWriter`
through each interaction and writes one cassette per interaction to
`cassettes/`, in the order of `main()`.

The SDK's route discovery is recorded once, in whichever cassette first needs
it: its caches start cold (the disk cache in a temporary directory, the
process-wide `Client._locations_cache` emptied) and stay warm for the cassettes
after. `OPTIONS {org}/_apis` is in the first cassette; `GET _apis/ResourceAreas`
in the first that needs a work item tracking or work client. The replay seeds
the caches with those recorded answers for every other cassette.

Two things the sandbox does differently from the service are arranged here:

- it pages the reporting stream 1,000 revisions a call, as the service does; for
  two small pages the recorder lowers that to 3 while recording that cassette;
- a wrong PAT gets 401 from it (and from the service) whenever the request says
  `X-TFS-FedAuthRedirect: Suppress`, which the SDK always sends; the 203 with the
  HTML sign-in page that Azure DevOps answers without that header is injected
  with the sandbox's fault injection.

While recording, the sandbox's `http://127.0.0.1:<port>` becomes
`https://dev.azure.com` in every URL and body (the sandbox's organisation URL
`http://127.0.0.1:<port>/contoso` becomes `https://dev.azure.com/contoso`), the
Authorization header is dropped, so are the headers that name versions, times or
requests (`User-Agent`, the SDK's per-process `X-TFS-Session` id; `Server`,
`Date`, `ActivityId`: re-recording gives identical files), and `Content-Length`
is set to the rewritten body's length. Bodies stay plain JSON text.
"""

from __future__ import annotations

import os
import tempfile

# The SDK reads (and creates) its cache directory once, when first imported: a throwaway
# one, so recording never reads nor writes a cache of an earlier run or of pmo-sync's own.
CACHE_DIR = tempfile.mkdtemp(prefix="ado-record-cache-")
os.environ["AZURE_DEVOPS_CACHE_DIR"] = CACHE_DIR

import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from unittest import mock  # noqa: E402

import vcr  # noqa: E402
from azure.devops import _file_cache  # noqa: E402
from azure.devops.client import Client  # noqa: E402

import pmo_sync.sandbox.ado.api as sandbox_api  # noqa: E402
from connectors.azure_devops.client import AdoClient  # noqa: E402
from connectors.azure_devops.config import AzureDevOpsConfig  # noqa: E402
from connectors.azure_devops.portfolio import (  # noqa: E402
    PRIORITY_FIELD,
    RANK_FIELDS,
    SCHEDULING_FIELDS,
)
from connectors.azure_devops.push import AdoWriter, authenticated_identity  # noqa: E402
from connectors.azure_devops.streams import REVISION_FIELDS  # noqa: E402
from connectors.http import CallStats  # noqa: E402
from pmo_sync.sandbox.ado import AdoSandbox  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/connectors: run as a script
from cassette_recording import public_recorder, record_cassette  # noqa: E402

CASSETTES = Path(__file__).resolve().parent / "cassettes"
RECORDED_FIELDS = [
    f for f in REVISION_FIELDS if f not in {*SCHEDULING_FIELDS, PRIORITY_FIELD, *RANK_FIELDS}
]  # as test_client_cassettes.RECORDED_FIELDS: the fields asked before the portfolio facts
PUBLIC_ROOT = "https://dev.azure.com"  # + "/contoso": the organisation URL
TOKEN_VARIABLE = "PMO_SYNC_RECORD_ADO_TOKEN"
PROJECT = "Fabrikam"
SIZE = 12
TEAM = "Phoenix"
WORK_ITEM_TYPE = "User Story"
REPORTING_PAGE = 3
WIQL = (
    "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
    "AND [System.WorkItemType] IN ('User Story', 'Product Backlog Item', 'Bug', 'Task', "
    "'Feature') AND [System.Id] > 0 ORDER BY [System.Id]"
)
WIQL_TOP = 20_000
BATCH_IDS = list(range(1, SIZE + 1))  # 10 is deleted: errorPolicy=omit answers null for it
BATCH_FIELDS = ["System.Id", "System.Rev", "System.WorkItemType", "System.State"]
WRITE_ITEM = 9
WRITE_FIELD = "Custom.CycleTimeDays"
COMMENT = "<p>[pmo-sync:kpi] Cycle time: 4.5 days</p>"
COMMENT_EDITED = "<p>[pmo-sync:kpi] Cycle time: 5 days</p>"
MAX_CASSETTES_BYTES = 100_000
DROPPED_RESPONSE_HEADERS = ("date", "server", "activityid")


def ado_config(url: str, token_value: str, **overrides: Any) -> AzureDevOpsConfig:
    """An AzureDevOpsConfig validated the way a YAML file is (like tests/e2e)."""
    os.environ[TOKEN_VARIABLE] = token_value
    data: dict[str, Any] = {
        "name": "contoso-ado",
        "kind": "azure_devops",
        "organization_url": url,
        "token": f"${{{TOKEN_VARIABLE}}}",
        "project": PROJECT,
        "max_retry_wait_seconds": 5,
    }
    data.update(overrides)
    return AzureDevOpsConfig.model_validate(data)


def cold_sdk_caches(directory: str) -> None:
    """Empty the SDK's route caches: the disk ones, moved to `directory`, and the in-memory one."""
    for cache, name in (
        (_file_cache.OPTIONS_CACHE, "options"),
        (_file_cache.RESOURCE_CACHE, "resources"),
    ):
        cache.file_name = str(Path(directory) / f"{name}.json")
        cache.data = {}
        cache.initial_load_occurred = False
    Client._locations_cache.clear()


def _recorder(sandbox_root: str) -> vcr.VCR:
    return public_recorder(
        CASSETTES,
        sandbox_root,
        PUBLIC_ROOT,
        dropped_request_headers=("authorization", "user-agent", "x-tfs-session"),
        dropped_response_headers=DROPPED_RESPONSE_HEADERS,
    )


def main() -> int:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    cold_sdk_caches(CACHE_DIR)  # already cold unless the SDK was imported before this module
    with AdoSandbox(size=SIZE) as sandbox:
        dataset = sandbox.dataset
        start_token = str(dataset.watermark())
        orion = dataset.team("Orion")
        assert orion is not None
        human, other = orion.members[0], orion.members[1]
        for change in (
            lambda: dataset.set_state(9, "Resolved", by=human),
            lambda: dataset.set_state(6, "Closed", by=human),
            lambda: dataset.delete(10, by=human),
            lambda: dataset.assign(9, other, by=human),
        ):
            dataset.clock.advance(hours=1)
            change()
        recorder = _recorder(sandbox.root_url)
        print(f"reporting stream from continuation token {start_token}")

        def client(token: str | None = None) -> AdoClient:
            return AdoClient(ado_config(sandbox.url, token or sandbox.pat), CallStats())

        def connection_data() -> None:
            authenticated_identity(client())

        def wiql_ids() -> None:
            client().work_item_ids(WIQL, WIQL_TOP)

        def work_items_batch() -> None:
            client().work_items_batch(BATCH_IDS, BATCH_FIELDS)

        def reporting_revisions() -> None:
            with mock.patch.object(sandbox_api, "DEFAULT_REVISIONS_PAGE", REPORTING_PAGE):
                list(client().reporting_revisions(start_token, RECORDED_FIELDS))

        def team_iterations() -> None:
            client().team_iterations(TEAM)

        def states() -> None:
            client().states(WORK_ITEM_TYPE)

        def batch_429_then_200() -> None:
            sandbox.inject("POST", r"/_apis/wit/workitemsbatch$", status=429)
            client().work_items_batch([WRITE_ITEM], ["System.Rev"])
            sandbox.clear_faults()

        def auth_401() -> None:
            authenticated_identity(client("wrong-pat"))

        def signin_page_203() -> None:
            sandbox.inject(
                "POST", r"/_apis/wit/wiql$", status=203, content_type="text/html; charset=utf-8"
            )
            client("wrong-pat").work_item_ids(WIQL, WIQL_TOP)
            sandbox.clear_faults()

        def writer() -> AdoWriter:
            return AdoWriter(client())

        rev = dataset.item(WRITE_ITEM).rev

        def update_with_test_rev() -> None:
            with writer() as w:
                w.set_fields(WRITE_ITEM, {WRITE_FIELD: 4.5}, expected_rev=rev)

        def update_rev_conflict() -> None:
            with writer() as w:  # the same expected revision again: it moved on
                w.set_fields(WRITE_ITEM, {WRITE_FIELD: 5}, expected_rev=rev)

        def comment_add() -> None:
            with writer() as w:
                w.add_comment(WRITE_ITEM, COMMENT)

        def comment_update() -> None:
            [comment] = dataset.comments(WRITE_ITEM)
            with writer() as w:
                w.update_comment(WRITE_ITEM, comment.id, COMMENT_EDITED)

        record_cassette(recorder, "connection_data.yaml", connection_data)
        record_cassette(recorder, "wiql_ids.yaml", wiql_ids)
        record_cassette(recorder, "work_items_batch.yaml", work_items_batch)
        record_cassette(recorder, "reporting_revisions_two_pages.yaml", reporting_revisions)
        record_cassette(recorder, "team_iterations.yaml", team_iterations)
        record_cassette(recorder, "work_item_type_states.yaml", states)
        record_cassette(recorder, "batch_429_then_200.yaml", batch_429_then_200)
        record_cassette(recorder, "auth_401.yaml", auth_401)
        record_cassette(recorder, "signin_page_203.yaml", signin_page_203)
        record_cassette(recorder, "update_work_item_test_rev.yaml", update_with_test_rev)
        record_cassette(recorder, "update_work_item_rev_conflict.yaml", update_rev_conflict)
        record_cassette(recorder, "comment_add.yaml", comment_add)
        record_cassette(recorder, "comment_update.yaml", comment_update)
    shutil.rmtree(CACHE_DIR, ignore_errors=True)

    total = sum(p.stat().st_size for p in CASSETTES.glob("*.yaml"))
    print(f"total {total} bytes in {CASSETTES}")
    leaked = [p.name for p in CASSETTES.glob("*.yaml") if "127.0.0.1" in p.read_text()]
    if leaked:
        print(f"the sandbox host is still in {leaked}", file=sys.stderr)
        return 1
    if total > MAX_CASSETTES_BYTES:
        print(f"cassettes exceed {MAX_CASSETTES_BYTES} bytes", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
