"""`AdoClient` and `AdoWriter` against recorded Azure DevOps answers (vcrpy), replayed offline.

The cassettes under `cassettes/` were recorded from the sandbox Azure DevOps by
`record_cassettes.py` (re-run it by hand when the client's calls change), with
the organisation URL rewritten to https://dev.azure.com/contoso. Each test
replays one cassette with `record_mode="none"` and `allow_playback_repeats=False`,
so any request the recording does not hold fails the test, and checks that
every recorded interaction was played — the 429 and the 200 after it included,
which shows vcrpy sees each urllib3 retry. The requests the client sent are
also captured (`requests.Session.send`) and compared exactly: method, path,
query, JSON body, in order.

Route discovery. The SDK asks `OPTIONS {org}/_apis` for its routes and
`GET _apis/ResourceAreas` for where each API area lives, and caches both: on disk
for 12 hours (`azure.devops._file_cache`, in `AZURE_DEVOPS_CACHE_DIR`, read once
at import) and per process (`Client._locations_cache`). The recorder started
with both cold, so each discovery request is in the one cassette that first
needed it. Every test here starts cold too — the disk caches moved into the
test's `tmp_path`, the process-wide one emptied, all with monkeypatch — so no
replay can depend on what a previous run or test cached; `replay()` then seeds
the disk caches (in `tmp_path`) with the recorded discovery answers that the
cassette under test does not hold itself, as the recording's warm caches had them.

The recorded bodies are also compared with Microsoft's published examples
(`tests/fixtures/api-samples/azure-devops/`, copied from MicrosoftDocs/vsts-rest-api-specs)
and with the SDK's own models:

- a sample is a floor: the sample's keys are a subset of the recorded keys for
  the same object; where they are not, the test names the difference exactly
  (`commentId` in the comment samples, `values` in the iterations sample, and
  the links and relations a sandbox work item does not have);
- an SDK model's `_attribute_map` bounds the recording: every recorded key is
  one the SDK deserialises.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import vcr
import yaml
from azure.devops import _file_cache
from azure.devops.client import Client
from azure.devops.v7_1.location import models as location_models
from azure.devops.v7_1.work import models as work_models
from azure.devops.v7_1.work_item_tracking import models as wit_models

from connectors.azure_devops.client import AdoClient
from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.azure_devops.portfolio import PRIORITY_FIELD, RANK_FIELDS, SCHEDULING_FIELDS
from connectors.azure_devops.push import AdoWriter, RevisionConflictError, authenticated_identity
from connectors.azure_devops.streams import REVISION_FIELDS
from connectors.errors import AuthenticationError
from connectors.http import CallStats

from ...api_samples import api_sample

CASSETTES = Path(__file__).resolve().parent / "cassettes"
ORG_URL = "https://dev.azure.com/contoso"
TOKEN_VARIABLE = "PMO_SYNC_TEST_ADO_TOKEN"
TOKEN = "replay-pat-3f9a1c"  # never sent anywhere: replay needs no credentials
WRONG_TOKEN = "replay-wrong-pat-77d0"
CASSETTE_NAMES = (
    "auth_401.yaml",
    "batch_429_then_200.yaml",
    "comment_add.yaml",
    "comment_update.yaml",
    "connection_data.yaml",
    "reporting_revisions_two_pages.yaml",
    "signin_page_203.yaml",
    "team_iterations.yaml",
    "update_work_item_rev_conflict.yaml",
    "update_work_item_test_rev.yaml",
    "wiql_ids.yaml",
    "work_item_type_states.yaml",
    "work_items_batch.yaml",
)
# The calls record_cassettes.py made; a replayed request must match one exactly.
WIQL = (
    "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
    "AND [System.WorkItemType] IN ('User Story', 'Product Backlog Item', 'Bug', 'Task', "
    "'Feature') AND [System.Id] > 0 ORDER BY [System.Id]"
)
WIQL_TOP = 20_000
LIVE_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]  # 10 was deleted before the recording
BATCH_IDS = list(range(1, 13))
BATCH_FIELDS = ["System.Id", "System.Rev", "System.WorkItemType", "System.State"]
RECORDED_FIELDS = [
    f for f in REVISION_FIELDS if f not in {*SCHEDULING_FIELDS, PRIORITY_FIELD, *RANK_FIELDS}
]
"""The fields the reporting cassette asks for: the stream's before it read the portfolio facts
(the client sends the list it is given; recording again against today's sandbox would move
the log's watermark and the revisions every constant here names)."""
START_TOKEN = "76"  # the revision log's watermark before the four recorded changes
WRITE_ITEM = 9
WRITE_FIELD = "Custom.CycleTimeDays"
COMMENT = "<p>[pmo-sync:kpi] Cycle time: 4.5 days</p>"
COMMENT_EDITED = "<p>[pmo-sync:kpi] Cycle time: 5 days</p>"
BOT = "pmo-bot@contoso.example"
# The SDK's route discovery: (method, path) of each request and the disk cache it fills.
OPTIONS = ("OPTIONS", "/contoso/_apis")
RESOURCE_AREAS = ("GET", "/contoso/_apis/ResourceAreas")
DISCOVERY = {OPTIONS: _file_cache.OPTIONS_CACHE, RESOURCE_AREAS: _file_cache.RESOURCE_CACHE}
PROJECT_APIS = "/contoso/Fabrikam/_apis"


# -- helpers -----------------------------------------------------------------------------------


@functools.cache
def load_cassette(name: str) -> list[dict[str, Any]]:
    """A cassette's recorded interactions (parsed once; callers only read them)."""
    text = (CASSETTES / name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["interactions"]


def recorded_json(name: str, index: int = 0) -> Any:
    """The JSON body of a cassette's `index`-th recorded response."""
    return json.loads(load_cassette(name)[index]["response"]["body"]["string"])


def sample(name: str) -> Any:
    """The 200 body of one of Microsoft's examples."""
    return api_sample("azure-devops", name)["responses"]["200"]["body"]


def sdk_keys(model: type) -> set[str]:
    """The JSON keys an SDK model deserialises (its `_attribute_map`)."""
    return {spec["key"] for spec in model._attribute_map.values()}


def _method_path(interaction: dict[str, Any]) -> tuple[str, str]:
    """(method, path) of a recorded interaction's request."""
    request = interaction["request"]
    return request["method"], urlsplit(request["uri"]).path


def discovery_cassette(request: tuple[str, str]) -> str:
    """The one cassette that recorded a discovery request."""
    [name] = [n for n in CASSETTE_NAMES if request in map(_method_path, load_cassette(n))]
    return name


def seed_discovery(name: str) -> None:
    """Warm the (test-local) disk caches with the discovery answers `name` does not hold."""
    held = set(map(_method_path, load_cassette(name)))
    for request, cache in DISCOVERY.items():
        if request in held:
            continue
        source = discovery_cassette(request)
        index = list(map(_method_path, load_cassette(source))).index(request)
        cache[ORG_URL] = recorded_json(source, index)["value"]


@dataclass
class Sent:
    """One request as the client sent it (below msrest, above urllib3's retries)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str] = field(repr=False)

    def call(self) -> tuple[str, str, dict[str, list[str]], Any]:
        return self.method, self.path, self.query, self.body


@dataclass
class Replay:
    cassette: Any
    sent: list[Sent]

    def calls(self) -> list[tuple[str, str, dict[str, list[str]], Any]]:
        return [s.call() for s in self.sent]


@contextmanager
def replay(name: str, *, seed: bool = True) -> Iterator[Replay]:
    """Replay one cassette; fail on any request it lacks and on any interaction left unplayed."""
    if seed:
        seed_discovery(name)
    sent: list[Sent] = []
    send = requests.Session.send

    def spy(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        body = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        sent.append(
            Sent(
                str(request.method),
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                json.loads(body) if body else None,
                dict(request.headers),
            )
        )
        return send(session, request, **kwargs)

    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        decode_compressed_response=True,
    )
    with (
        mock.patch.object(requests.Session, "send", spy),
        recorder.use_cassette(name, allow_playback_repeats=False) as cassette,
    ):
        yield Replay(cassette, sent)
    assert cassette.all_played, f"{name}: {cassette.play_count} of {len(cassette)} played"


@pytest.fixture(autouse=True)
def cold_sdk_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SDK's route caches empty, the disk ones in this test's own directory."""
    directory = tmp_path / "sdk-cache"
    directory.mkdir()
    for request, cache in DISCOVERY.items():
        kind = "options" if request == OPTIONS else "resources"
        monkeypatch.setattr(cache, "file_name", str(directory / f"{kind}.json"))
        monkeypatch.setattr(cache, "data", {})
        monkeypatch.setattr(cache, "initial_load_occurred", False)
    monkeypatch.setattr(Client, "_locations_cache", {})
    return directory


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AdoClient]]:
    clients: list[AdoClient] = []

    def build(token: str = TOKEN) -> AdoClient:
        monkeypatch.setenv(TOKEN_VARIABLE, token)
        config = AzureDevOpsConfig.model_validate(
            {
                "name": "contoso-ado",
                "kind": "azure_devops",
                "organization_url": ORG_URL,
                "token": f"${{{TOKEN_VARIABLE}}}",
                "project": "Fabrikam",
                "max_retry_wait_seconds": 5,
            }
        )
        client = AdoClient(config, CallStats())
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def writer(make_client: Callable[..., AdoClient]) -> Iterator[AdoWriter]:
    with AdoWriter(make_client()) as w:
        yield w


# -- the cassettes themselves -------------------------------------------------------------------


def test_cassettes_are_the_expected_set_small_public_and_free_of_credentials() -> None:
    files = sorted(p.name for p in CASSETTES.glob("*.yaml"))
    assert files == sorted(CASSETTE_NAMES)
    assert sum((CASSETTES / name).stat().st_size for name in files) < 100_000
    for name in files:
        text = (CASSETTES / name).read_text(encoding="utf-8")
        assert "127.0.0.1" not in text, name
        assert "sandbox-pat" not in text, name
        assert "wrong-pat" not in text, name
        for interaction in load_cassette(name):
            request, response = interaction["request"], interaction["response"]
            assert request["uri"].startswith(f"{ORG_URL}/"), name
            assert {h.lower() for h in request["headers"]}.isdisjoint(
                {"authorization", "cookie", "user-agent", "x-tfs-session"}
            ), name
            # the SDK asks every call not to be redirected to a sign-in page
            assert request["headers"]["X-TFS-FedAuthRedirect"] == ["Suppress"], name
            assert {h.lower() for h in response["headers"]}.isdisjoint(
                {"date", "server", "activityid"}
            ), name
            body = response["body"]["string"]
            assert isinstance(body, str), f"{name}: body is not text"
            assert response["headers"]["Content-Length"] == [str(len(body.encode()))], name


def test_route_discovery_is_recorded_once_in_the_cassette_that_first_needed_it() -> None:
    everywhere = [
        (name, request)
        for name in CASSETTE_NAMES
        for request in map(_method_path, load_cassette(name))
        if request in DISCOVERY
    ]
    assert sorted(everywhere) == [
        ("connection_data.yaml", OPTIONS),  # the location client's first call
        ("wiql_ids.yaml", RESOURCE_AREAS),  # the first work item tracking client
    ]
    routes = {loc["id"]: loc for loc in recorded_json("connection_data.yaml", 0)["value"]}
    reporting = routes["f828fe59-dd87-495d-a17c-7a8d6211ca6c"]  # the client's _send target
    assert reporting["routeTemplate"] == "{project}/_apis/{area}/reporting/{resource}"
    areas = recorded_json("wiql_ids.yaml", 0)
    assert {a["name"]: a["locationUrl"] for a in areas["value"]} == {
        "wit": f"{ORG_URL}/",
        "work": f"{ORG_URL}/",
        "core": f"{ORG_URL}/",
    }
    assert {k for a in areas["value"] for k in a} <= sdk_keys(location_models.ResourceAreaInfo)


def test_sdk_caches_are_this_tests_own_and_cold(cold_sdk_caches: Path) -> None:
    for cache in DISCOVERY.values():
        assert Path(cache.file_name).parent == cold_sdk_caches
        assert dict(cache) == {}  # loads from the empty directory
    assert Client._locations_cache == {}


# -- replays: reads ----------------------------------------------------------------------------


def test_connection_data_with_cold_caches(make_client: Any, cold_sdk_caches: Path) -> None:
    client = make_client()
    with replay("connection_data.yaml") as played:
        identity = authenticated_identity(client)
    assert identity == BOT
    assert played.calls() == [
        ("OPTIONS", "/contoso/_apis", {}, None),
        ("GET", "/contoso/_apis/ConnectionData", {}, None),
    ]
    assert played.sent[1].headers["Accept"] == "application/json;api-version=7.1-preview.1"
    assert client.stats.api_calls == 2  # discovery goes through the client's policy too
    # The SDK wrote what it discovered to its disk cache: here, the test's own directory.
    options = json.loads((cold_sdk_caches / "options.json").read_text())
    assert list(options) == [ORG_URL]
    assert len(options[ORG_URL]) == 15  # every route the sandbox serves (LOCATIONS)
    answer = recorded_json("connection_data.yaml", 1)
    assert set(answer) <= sdk_keys(location_models.ConnectionData)
    assert set(answer["authenticatedUser"]) <= sdk_keys(location_models.Identity)
    assert answer["authenticatedUser"]["properties"]["Account"]["$value"] == BOT


def test_cold_caches_and_a_cassette_without_discovery_fail_instead_of_reaching_the_network(
    make_client: Any,
) -> None:
    client = make_client()
    with (
        pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException),
        replay("work_item_type_states.yaml", seed=False) as played,
    ):
        client.states("User Story")
    assert [s.call()[:2] for s in played.sent] == [OPTIONS]  # nothing got further


def test_a_request_the_cassette_lacks_fails_instead_of_reaching_the_network(
    make_client: Any,
) -> None:
    client = make_client()
    with (
        pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException),
        replay("work_item_type_states.yaml"),
    ):
        client.team_iterations("Phoenix")


def test_wiql_ids(make_client: Any) -> None:
    client = make_client()
    with replay("wiql_ids.yaml") as played:
        ids = client.work_item_ids(WIQL, WIQL_TOP)
    assert ids == LIVE_IDS  # the deleted item 10 is not in WIQL's answer
    assert played.calls() == [
        ("GET", "/contoso/_apis/ResourceAreas", {}, None),
        ("POST", f"{PROJECT_APIS}/wit/wiql", {"$top": ["20000"]}, {"query": WIQL}),
    ]
    # The SDK sends the api-version in Accept, never in the query.
    assert played.sent[1].headers["Accept"] == "application/json;api-version=7.1-preview.2"
    assert client.stats.api_calls == 2
    assert client.stats.retries == 0


def test_wiql_follows_the_official_shape() -> None:
    answer = recorded_json("wiql_ids.yaml", 1)
    official = sample("wiql.POST.example.json")
    # sample ⊆ recorded (adds queryResultType) ⊆ the SDK's WorkItemQueryResult
    assert set(official) <= set(answer) <= sdk_keys(wit_models.WorkItemQueryResult)
    assert set(answer) - set(official) == {"queryResultType"}
    assert set(answer["workItems"][0]) == set(official["workItems"][0]) == {"id", "url"}
    assert set(answer["columns"][0]) == set(official["columns"][0])
    assert set(answer["sortColumns"][0]) == set(official["sortColumns"][0])
    assert set(answer["sortColumns"][0]["field"]) == set(official["sortColumns"][0]["field"])


def test_work_items_batch(make_client: Any) -> None:
    client = make_client()
    with replay("work_items_batch.yaml") as played:
        items = client.work_items_batch(BATCH_IDS, BATCH_FIELDS)
    assert [(i["id"], i["rev"], i["fields"]["System.State"]) for i in items] == [
        (1, 6, "Closed"),
        (2, 5, "Closed"),
        (3, 3, "Closed"),
        (4, 6, "Closed"),
        (5, 9, "Closed"),
        (6, 17, "Closed"),
        (7, 6, "Closed"),
        (8, 10, "Removed"),
        (9, 5, "Resolved"),
        (11, 4, "Closed"),
        (12, 5, "Closed"),
    ]
    assert all(set(i["fields"]) == set(BATCH_FIELDS) for i in items)
    assert played.calls() == [
        (
            "POST",
            f"{PROJECT_APIS}/wit/workItemsBatch",
            {},
            {"errorPolicy": "omit", "fields": BATCH_FIELDS, "ids": BATCH_IDS},
        )
    ]
    # errorPolicy=omit: the deleted item is a null in its place, which the client drops
    assert recorded_json("work_items_batch.yaml")["value"][9] is None
    assert client.stats.api_calls == 1
    with pytest.raises(ValueError, match="at most 200"):
        client.work_items_batch(list(range(1, 202)), BATCH_FIELDS)  # refused before any call


def test_work_items_batch_follows_the_official_shape() -> None:
    request = json.loads(load_cassette("work_items_batch.yaml")[0]["request"]["body"])
    answer = recorded_json("work_items_batch.yaml")
    official = sample("workitemsbatch.POST.example.json")
    assert set(request) <= sdk_keys(wit_models.WorkItemBatchGetRequest)
    assert set(answer) == set(official) == {"count", "value"}
    assert answer["count"] == len(answer["value"]) == 12  # the null counts
    for item in filter(None, answer["value"]):
        assert set(item) == set(official["value"][0]) == {"id", "rev", "fields", "url"}
        assert set(item) <= sdk_keys(wit_models.WorkItem)


def test_reporting_revisions_follow_the_continuation_token(make_client: Any) -> None:
    client = make_client()
    with replay("reporting_revisions_two_pages.yaml") as played:
        pages = list(client.reporting_revisions(START_TOKEN, RECORDED_FIELDS))
    body = {"fields": RECORDED_FIELDS, "includeDeleted": True, "includeIdentityRef": False}
    path = f"{PROJECT_APIS}/wit/reporting/workItemRevisions"
    assert played.calls() == [
        ("POST", path, {"continuationToken": [START_TOKEN]}, body),
        ("POST", path, {"continuationToken": ["79"]}, body),  # the first page's token
    ]
    assert played.sent[0].headers["Accept"] == "application/json;api-version=7.1-preview.2"
    assert [(p["continuationToken"], p["isLastBatch"]) for p in pages] == [
        ("79", False),
        ("80", True),  # the token to store: the next run starts from it
    ]
    assert [[(v["id"], v["rev"]) for v in p["values"]] for p in pages] == [
        [(9, 4), (6, 17), (10, 4)],
        [(9, 5)],
    ]
    revisions = [v for p in pages for v in p["values"]]
    deleted = revisions[2]["fields"]
    assert deleted["System.IsDeleted"] is True  # includeDeleted: the deletion is a revision
    assert deleted["System.RevisedDate"] == "9999-01-01T00:00:00Z"  # its latest
    assert [v["fields"]["System.State"] for v in revisions] == [
        "Resolved",
        "Closed",
        "Closed",
        "Resolved",
    ]
    # rev 4 of item 9 was superseded by rev 5 an hour later; 5 is the latest
    assert revisions[0]["fields"]["System.RevisedDate"] == "2026-11-20T16:00:00Z"
    assert revisions[3]["fields"]["System.RevisedDate"] == "9999-01-01T00:00:00Z"
    # includeIdentityRef=false: identities are "Name <email>" text
    assert revisions[3]["fields"]["System.ChangedBy"] == (
        "Christie Church <christie.church@contoso.example>"
    )
    assert all(set(v["fields"]) <= set(RECORDED_FIELDS) for v in revisions)
    assert client.stats.api_calls == 2


def test_reporting_revisions_follow_the_official_shape() -> None:
    official = sample("reporting-workitemrevisions.GET.example.json")
    # The SDK's batch model maps nothing: why the client parses the answer itself.
    assert sdk_keys(wit_models.ReportingWorkItemRevisionsBatch) == set()
    request = json.loads(load_cassette("reporting_revisions_two_pages.yaml")[0]["request"]["body"])
    assert set(request) <= sdk_keys(wit_models.ReportingWorkItemRevisionsFilter)
    for index in (0, 1):
        page = recorded_json("reporting_revisions_two_pages.yaml", index)
        # sample (api-version 2.0: no continuationToken) ⊆ recorded
        assert set(official) == {"values", "nextLink", "isLastBatch"}
        assert set(page) == set(official) | {"continuationToken"}
        assert page["nextLink"] == (
            f"{ORG_URL}/_apis/wit/reporting/workItemRevisions?continuationToken="
            f"{page['continuationToken']}&api-version=7.1-preview.2"
        )
        for value in page["values"]:
            assert set(value) == set(official["values"][0]) == {"id", "rev", "fields"}
            # identities as text and a RevisedDate on every revision, as in the sample
            assert " <" in value["fields"]["System.ChangedBy"]
            assert "System.RevisedDate" in value["fields"]
    assert " <" in official["values"][0]["fields"]["System.ChangedBy"]


def test_team_iterations(make_client: Any) -> None:
    client = make_client()
    with replay("team_iterations.yaml") as played:
        iterations = client.team_iterations("Phoenix")
    assert played.calls() == [
        ("GET", "/contoso/Fabrikam/Phoenix/_apis/work/teamsettings/iterations", {}, None)
    ]
    assert [it["name"] for it in iterations] == [f"Sprint {n}" for n in range(1, 16)]
    assert [it["attributes"]["timeFrame"] for it in iterations] == [
        *["past"] * 12,
        "current",
        *["future"] * 2,
    ]
    current = iterations[12]
    assert current["path"] == "Fabrikam\\Phoenix\\Sprint 13"
    assert current["id"] == "3e143787-a400-57ad-9050-9c90e31fdfcc"
    # dates come back through the SDK's datetime model, re-serialised as ISO text
    assert (current["attributes"]["startDate"], current["attributes"]["finishDate"]) == (
        "2026-11-15T00:00:00.000Z",
        "2026-11-26T00:00:00.000Z",
    )
    assert client.stats.api_calls == 1


def test_team_iterations_follow_the_official_shape() -> None:
    answer = recorded_json("team_iterations.yaml")
    official = sample("teamsettings-iterations.GET.example.json")
    # A real difference: the example wraps the list as `values`, the live API (and the
    # sandbox) as {count, value}, which is what the SDK unwraps.
    assert set(official) == {"values"}
    assert set(answer) == {"count", "value"}
    example = official["values"][0]
    for iteration in answer["value"]:
        # sample ⊆ recorded (adds path) ⊆ the SDK's TeamSettingsIteration
        assert set(example) <= set(iteration) <= sdk_keys(work_models.TeamSettingsIteration)
        assert set(iteration) - set(example) == {"path"}
        attributes = iteration["attributes"]
        assert set(example["attributes"]) <= set(attributes)
        assert set(attributes) <= sdk_keys(work_models.TeamIterationAttributes)
        assert set(attributes) - set(example["attributes"]) == {"timeFrame"}


def test_work_item_type_states(make_client: Any) -> None:
    client = make_client()
    with replay("work_item_type_states.yaml") as played:
        states = client.states("User Story")
    assert played.calls() == [
        ("GET", f"{PROJECT_APIS}/wit/workItemTypes/User%20Story/states", {}, None)
    ]
    assert [(s["name"], s["category"]) for s in states] == [
        ("New", "Proposed"),
        ("Active", "InProgress"),
        ("Resolved", "Resolved"),
        ("Closed", "Completed"),
        ("Removed", "Removed"),
    ]
    # no published example: the SDK's model bounds the answer
    for state in recorded_json("work_item_type_states.yaml")["value"]:
        assert set(state) == sdk_keys(wit_models.WorkItemStateColor)
    assert client.stats.api_calls == 1


# -- replays: errors ---------------------------------------------------------------------------


def test_429_on_a_post_is_retried_after_its_retry_after(make_client: Any) -> None:
    client = make_client()
    started = time.monotonic()
    with replay("batch_429_then_200.yaml") as played:
        items = client.work_items_batch([WRITE_ITEM], ["System.Rev"])
    elapsed = time.monotonic() - started
    assert played.cassette.play_count == 2  # the 429, then the 200: each urllib3 attempt
    body = {"errorPolicy": "omit", "fields": ["System.Rev"], "ids": [WRITE_ITEM]}
    # one request from the client; the retry is urllib3's, below it
    assert played.calls() == [("POST", f"{PROJECT_APIS}/wit/workItemsBatch", {}, body)]
    assert items == [{"id": WRITE_ITEM, "rev": 5, "fields": {"System.Rev": 5}}]
    throttled = load_cassette("batch_429_then_200.yaml")[0]["response"]
    assert throttled["status"]["code"] == 429
    assert throttled["headers"]["Retry-After"] == ["1"]
    assert throttled["headers"]["X-RateLimit-Resource"] == ["ATCPU"]
    assert client.stats.rate_limit_waits == 1
    assert client.stats.retries == 1
    assert client.stats.api_calls == 2
    assert client.stats.backoff_seconds == 0
    assert 0.9 <= client.stats.rate_limit_wait_seconds <= elapsed


def test_401_is_an_authentication_error(make_client: Any) -> None:
    client = make_client(WRONG_TOKEN)
    with replay("auth_401.yaml") as played, pytest.raises(AuthenticationError) as caught:
        authenticated_identity(client)
    assert played.calls() == [("GET", "/contoso/_apis/ConnectionData", {}, None)]
    assert str(caught.value) == (
        "Azure DevOps rejected the personal access token with HTTP 401 while trying to read "
        f"who the personal access token belongs to at {ORG_URL}: check that the PAT is right, "
        "not expired, and issued for this organisation"
    )
    assert caught.value.status_code == 401
    assert WRONG_TOKEN not in str(caught.value)
    assert client.stats.api_calls == 1
    assert client.stats.retries == 0


def test_sign_in_page_203_is_an_authentication_error(make_client: Any) -> None:
    client = make_client(WRONG_TOKEN)
    with (
        replay("signin_page_203.yaml") as played,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.work_item_ids(WIQL, WIQL_TOP)
    assert played.calls() == [
        ("POST", f"{PROJECT_APIS}/wit/wiql", {"$top": ["20000"]}, {"query": WIQL})
    ]
    assert str(caught.value) == (
        "Azure DevOps rejected the personal access token with a sign-in page (HTTP 203) while "
        f"trying to run a WIQL query at {ORG_URL}: check that the PAT is right, not expired, "
        "and issued for this organisation"
    )
    assert caught.value.status_code == 203
    assert caught.value.__cause__ is None  # `from None`: the HTML never reaches the message
    assert client.stats.api_calls == 1
    assert client.stats.retries == 0


# -- replays: write-back -----------------------------------------------------------------------


def test_update_work_item_with_test_rev(writer: AdoWriter) -> None:
    with replay("update_work_item_test_rev.yaml") as played:
        writer.set_fields(WRITE_ITEM, {WRITE_FIELD: 4.5}, expected_rev=5)
    assert played.calls() == [
        (
            "PATCH",
            f"{PROJECT_APIS}/wit/workItems/{WRITE_ITEM}",
            {"suppressNotifications": ["true"]},
            [
                {"op": "test", "path": "/rev", "value": 5},
                {"op": "add", "path": f"/fields/{WRITE_FIELD}", "value": 4.5},
            ],
        )
    ]
    headers = played.sent[0].headers
    assert headers["Content-Type"] == "application/json-patch+json; charset=utf-8"
    assert headers["Accept"] == "application/json;api-version=7.1-preview.3"
    answer = recorded_json("update_work_item_test_rev.yaml")
    assert (answer["rev"], answer["fields"][WRITE_FIELD]) == (6, 4.5)
    assert answer["fields"]["System.ChangedBy"]["uniqueName"] == BOT
    assert writer.stats.api_calls == 1


def test_update_work_item_follows_the_official_shape() -> None:
    official_file = api_sample("azure-devops", "workitem-update-fields.PATCH.example.json")
    request = json.loads(load_cassette("update_work_item_test_rev.yaml")[0]["request"]["body"])
    # the example also starts with `test /rev`; every operation has the same three keys
    official_ops = official_file["parameters"]["body"]
    assert official_ops[0] == {"op": "test", "path": "/rev", "value": 1}
    assert request[0] == {"op": "test", "path": "/rev", "value": 5}
    assert {frozenset(op) for op in request} == {frozenset(op) for op in official_ops}
    answer = recorded_json("update_work_item_test_rev.yaml")
    official = sample("workitem-update-fields.PATCH.example.json")
    assert set(answer) <= sdk_keys(wit_models.WorkItem)
    # Real differences: the example's item has links to other items (`relations`, absent
    # when an item has none, as every sandbox item) and more `_links` than the sandbox's.
    assert set(official) - set(answer) == {"relations"}
    assert set(answer) - set(official) == set()
    assert set(official["_links"]) - set(answer["_links"]) == {
        "workItemHistory",
        "html",
        "workItemType",
        "fields",
    }
    assert set(answer["_links"]) - set(official["_links"]) == {"workItemComments"}
    # identities: the example's carry `_links` (avatar), the sandbox's do not
    identity = answer["fields"]["System.ChangedBy"]
    official_identity = official["fields"]["System.ChangedBy"]
    assert set(official_identity) - set(identity) == {"_links"}
    assert set(identity) == set(official_identity) - {"_links"}
    assert set(identity) <= sdk_keys(wit_models.IdentityRef)


def test_update_work_item_rev_conflict(writer: AdoWriter) -> None:
    with (
        replay("update_work_item_rev_conflict.yaml") as played,
        pytest.raises(RevisionConflictError) as caught,
    ):
        writer.set_fields(WRITE_ITEM, {WRITE_FIELD: 5}, expected_rev=5)
    item = f"{PROJECT_APIS}/wit/workItems/{WRITE_ITEM}"
    assert played.calls() == [
        (
            "PATCH",
            item,
            {"suppressNotifications": ["true"]},
            [
                {"op": "test", "path": "/rev", "value": 5},
                {"op": "add", "path": f"/fields/{WRITE_FIELD}", "value": 5},
            ],
        ),
        # is it our own earlier write, one revision on? (no: 4.5, not 5)
        ("GET", item, {"fields": [f"System.Rev,{WRITE_FIELD}"]}, None),
    ]
    conflict = caught.value
    assert (conflict.work_item_id, conflict.expected_rev, conflict.current_rev) == (9, 5, 6)
    assert conflict.status_code == 400  # what the service answered (VS403432)
    assert "test /rev failed, HTTP 400" in str(conflict)
    assert "VS403432" in str(conflict)
    assert recorded_json("update_work_item_rev_conflict.yaml", 0)["typeKey"] == (
        "TestOperationFailedException"
    )
    assert writer.stats.api_calls == 2


def test_comment_add(writer: AdoWriter) -> None:
    with replay("comment_add.yaml") as played:
        comment_id = writer.add_comment(WRITE_ITEM, COMMENT)
    assert comment_id == "1"
    assert played.calls() == [
        ("POST", f"{PROJECT_APIS}/wit/workItems/{WRITE_ITEM}/comments", {}, {"text": COMMENT})
    ]
    assert played.sent[0].headers["Accept"] == "application/json;api-version=7.1-preview.4"
    answer = recorded_json("comment_add.yaml")
    assert (answer["version"], answer["createdBy"]["uniqueName"]) == (1, BOT)
    assert writer.stats.api_calls == 1


def test_comment_update(writer: AdoWriter) -> None:
    with replay("comment_update.yaml") as played:
        writer.update_comment(WRITE_ITEM, "1", COMMENT_EDITED)
    assert played.calls() == [
        (
            "PATCH",
            f"{PROJECT_APIS}/wit/workItems/{WRITE_ITEM}/comments/1",
            {},
            {"text": COMMENT_EDITED},
        )
    ]
    answer = recorded_json("comment_update.yaml")
    assert (answer["id"], answer["version"], answer["text"]) == (1, 2, COMMENT_EDITED)
    assert writer.stats.api_calls == 1


@pytest.mark.parametrize(
    ("name", "example"),
    [
        ("comment_add.yaml", "comment-add.POST.example.json"),
        ("comment_update.yaml", "comment-update.PATCH.example.json"),
    ],
)
def test_comments_follow_the_official_shape(name: str, example: str) -> None:
    answer = recorded_json(name)
    official = sample(example)
    assert set(answer) <= sdk_keys(wit_models.Comment)
    # A real difference: the examples (migrated from api-version 5.1-preview) name the id
    # `commentId`; 7.1's Comment model, the sandbox and the client (`created.id`) use `id`.
    assert set(official) - set(answer) == {"commentId"}
    assert "commentId" not in sdk_keys(wit_models.Comment)
    assert set(answer) - set(official) == {"id", "renderedText", "format"}
    for who in ("createdBy", "modifiedBy"):
        assert set(official[who]) - set(answer[who]) == {"_links"}
        assert set(answer[who]) <= sdk_keys(wit_models.IdentityRef)
