"""`JiraClient` against recorded Jira Cloud answers (vcrpy cassettes), replayed offline.

The cassettes under `cassettes/` were recorded from the sandbox Jira by
`record_cassettes.py` (re-run it by hand when the client's calls change) with
the host rewritten to https://acme.atlassian.net. Each test replays one
cassette with `record_mode="none"`, so any request the recording does not hold
fails the test, and checks that every recorded interaction was played — the
429 and the 200 after it included, which shows vcrpy sees each urllib3 retry.

The recorded bodies are also compared with Atlassian's published shapes
(`tests/fixtures/api-samples/jira/`: response samples and the platform OpenAPI
schemas, copied from Atlassian's published spec).
The direction of each comparison:

- a schema marked `additionalProperties: false` bounds the recording: the
  recorded keys are a subset of its properties;
- a sample response is a floor for the keys it always carries: the sample's
  keys are a subset of the recorded ones (the sample may omit optional keys
  such as `nextPageToken`, or show a page the recording does not: then the
  recorded keys are compared exactly where both sides describe the same thing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml

from connectors.errors import AuthenticationError, UnexpectedResponseError
from connectors.http import CallStats
from connectors.jira.client import JiraClient
from connectors.jira.config import JiraConfig
from connectors.jira.convert import JiraFieldIds, find_field_ids

from ...api_samples import api_sample

CASSETTES = Path(__file__).resolve().parent / "cassettes"
URL = "https://acme.atlassian.net"
TOKEN_VARIABLE = "PMO_SYNC_TEST_JIRA_TOKEN"
TOKEN = "replay-tok-7c1e9a"  # never sent anywhere: replay needs no credentials
CASSETTE_NAMES = (
    "auth_401.yaml",
    "boards_and_sprints.yaml",
    "bulk_changelog.yaml",
    "count_and_census.yaml",
    "html_signin_page.yaml",
    "myself_and_fields.yaml",
    "search_429_then_200.yaml",
    "search_page_with_changelog.yaml",
)
# The calls record_cassettes.py made; a replayed request must match one exactly.
SEARCH_JQL = "project = ABC AND key in (ABC-9, ABC-10) ORDER BY created ASC, key ASC"
SEARCH_FIELDS = ["status", "created", "updated"]
BULK_ISSUE_IDS = ["10025", "10001"]  # ABC-9, ABC-1
BULK_FIELD_IDS = [
    "status",
    "assignee",
    "customfield_10020",
    "customfield_10016",
    "customfield_10021",
]


# -- helpers -----------------------------------------------------------------------------------


def load_cassette(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))["interactions"]


def recorded_json(name: str, index: int = 0) -> Any:
    """The JSON body of a cassette's `index`-th recorded response."""
    return json.loads(load_cassette(name)[index]["response"]["body"]["string"])


def sample(name: str) -> Any:
    return api_sample("jira", name)


def schema_properties(name: str) -> set[str]:
    """The properties of a closed (`additionalProperties: false`) schema of the OpenAPI subset."""
    schemas = sample("openapi-platform-schemas.json")
    assert schemas[name]["additionalProperties"] is False
    return set(schemas[name]["properties"])


@contextmanager
def replay(name: str) -> Iterator[Any]:
    """Replay one cassette; fail on any request it lacks and on any interaction left unplayed."""
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        decode_compressed_response=True,
    )
    with recorder.use_cassette(name, allow_playback_repeats=False) as cassette:
        yield cassette
    assert cassette.all_played, f"{name}: {cassette.play_count} of {len(cassette)} played"


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    clients: list[JiraClient] = []

    def build(seed_fields: bool = True) -> JiraClient:
        monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
        config = JiraConfig.model_validate(
            {
                "name": "acme-jira",
                "kind": "jira",
                "url": URL,
                "email": "pmo-bot@acme.example",
                "token": f"${{{TOKEN_VARIABLE}}}",
                "jql": "project in (ABC, DEF, GHI)",
                "max_retry_wait_seconds": 5,
            }
        )
        client = JiraClient(config, CallStats())
        if seed_fields:  # as SiteStream does: no GET /field behind each search
            client.seed_field_names(dict(recorded_field_ids().clause_names))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def recorded_field_ids() -> JiraFieldIds:
    return find_field_ids(recorded_json("myself_and_fields.yaml", 1), None)


# -- the cassettes themselves -------------------------------------------------------------------


def test_cassettes_are_the_expected_set_small_public_and_free_of_credentials() -> None:
    files = sorted(p.name for p in CASSETTES.glob("*.yaml"))
    assert files == sorted(CASSETTE_NAMES)
    assert sum((CASSETTES / name).stat().st_size for name in files) < 100_000
    for name in files:
        text = (CASSETTES / name).read_text(encoding="utf-8")
        assert "127.0.0.1" not in text, name
        assert "sandbox-token" not in text, name
        for interaction in load_cassette(name):
            request, response = interaction["request"], interaction["response"]
            assert request["uri"].startswith(f"{URL}/rest/"), name
            assert {h.lower() for h in request["headers"]}.isdisjoint(
                {"authorization", "cookie", "user-agent"}
            ), name
            assert {h.lower() for h in response["headers"]}.isdisjoint({"date", "server"}), name
            body = response["body"]["string"]
            assert isinstance(body, str), f"{name}: body is not text"
            assert response["headers"]["Content-Length"] == [str(len(body.encode()))], name


# -- replays -----------------------------------------------------------------------------------


def test_myself_and_fields(make_client: Any) -> None:
    client = make_client(seed_fields=False)
    with replay("myself_and_fields.yaml"):
        me = client.myself()
        fields = client.fields()
    assert me == {
        "self": f"{URL}/rest/api/2/myself",
        "accountId": "e90290cc65be76199669b21f",
        "accountType": "atlassian",
        "emailAddress": "pmo-bot@acme.example",
        "displayName": "PMO Bot",
        "active": True,
        "timeZone": "America/New_York",
        "locale": "en_US",
    }
    assert len(fields) == 17
    ids = find_field_ids(fields, None)
    assert (ids.sprint, ids.story_points, ids.flagged, ids.story_points_name) == (
        "customfield_10020",
        "customfield_10016",
        "customfield_10021",
        "Story point estimate",
    )
    # the cassette's bulk call predates the due date's history: its ids, then `duedate`
    assert ids.bulk_field_ids() == [*BULK_FIELD_IDS, "duedate"]
    assert (ids.rank, ids.epic_link) == (None, None)  # no Rank or Epic Link on this site
    assert find_field_ids(fields, "Story point estimate").story_points == "customfield_10016"
    assert client.stats.api_calls == 2
    assert client.stats.retries == 0


def test_search_page_with_changelog(make_client: Any) -> None:
    client = make_client()
    with replay("search_page_with_changelog.yaml"):
        page = next(client.search_pages(SEARCH_JQL, SEARCH_FIELDS, "changelog", 1))
    assert [issue["key"] for issue in page["issues"]] == ["ABC-9"]
    assert page["isLast"] is False
    assert isinstance(page["nextPageToken"], str)
    assert "total" not in page  # search/jql has no total: the census counts separately
    issue = page["issues"][0]
    assert issue["id"] == "10025"
    assert set(issue["fields"]) == {"status", "created", "updated"}
    assert issue["fields"]["status"]["name"] == "In Review"
    changelog = issue["changelog"]
    assert {k: v for k, v in changelog.items() if k != "histories"} == {
        "startAt": 5,
        "maxResults": 20,
        "total": 25,
    }
    histories = changelog["histories"]
    assert len(histories) == 20  # the latest 20 of 25: the stream must complete them
    assert [item["toString"] for item in histories[-1]["items"]] == ["In Review"]
    assert client.stats.api_calls == 1


def test_search_page_follows_the_official_shape() -> None:
    page = recorded_json("search_page_with_changelog.yaml")
    official = sample("search-jql.GET.200.json")
    # sample keys ⊆ recorded (the sample is a last page: no nextPageToken) ⊆ schema
    assert set(official) == {"isLast", "issues"}
    assert set(official) <= set(page) <= schema_properties("SearchAndReconcileResults")
    assert set(page) == {"isLast", "issues", "nextPageToken"}
    # the sample's issue was not expanded: the recorded one adds exactly `changelog`
    assert set(page["issues"][0]) == set(official["issues"][0]) | {"changelog"}
    for history in page["issues"][0]["changelog"]["histories"]:
        assert set(history) <= schema_properties("Changelog")
        assert isinstance(history["created"], str)  # search writes ISO text, bulk epoch ms
        for item in history["items"]:
            assert set(item) <= schema_properties("ChangeDetails")


def test_bulk_changelog(make_client: Any) -> None:
    client = make_client()
    with replay("bulk_changelog.yaml"):
        logs = list(client.bulk_changelogs(BULK_ISSUE_IDS, BULK_FIELD_IDS))
    assert [(issue_id, len(histories)) for issue_id, histories in logs] == [
        ("10025", 23),  # 25 histories, less the 2 of fields not asked for (summary, labels)
        ("10001", 2),
    ]
    last = logs[0][1][-1]
    assert last["created"] == 1795255200000
    assert last["items"] == [
        {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": "3",
            "fromString": "In Progress",
            "to": "10001",
            "toString": "In Review",
        }
    ]
    assert client.stats.api_calls == 1


def test_bulk_changelog_follows_the_official_shape() -> None:
    request = json.loads(load_cassette("bulk_changelog.yaml")[0]["request"]["body"])
    assert set(request) <= schema_properties("BulkChangelogRequestBean")
    assert request["maxResults"] == 10000  # the schema's maximum
    answer = recorded_json("bulk_changelog.yaml")
    official = sample("changelog-bulkfetch.POST.200.json")
    # recorded ⊆ sample (a single page: no nextPageToken) ⊆ schema
    assert set(answer) == {"issueChangeLogs"}
    assert set(answer) <= set(official) <= schema_properties("BulkChangelogResponseBean")
    official_log = official["issueChangeLogs"][0]
    official_history = official_log["changeHistories"][0]
    for log in answer["issueChangeLogs"]:
        assert set(log) == set(official_log) == {"changeHistories", "issueId"}
        for history in log["changeHistories"]:
            assert set(history) == set(official_history)  # author, created, id, items
            assert isinstance(history["created"], int)  # epoch, as in the sample
            for item in history["items"]:
                # the sample's item keys ⊆ recorded (adds from/to ids) ⊆ schema
                assert set(official_history["items"][0]) <= set(item)
                assert set(item) <= schema_properties("ChangeDetails")


def test_boards_and_sprints(make_client: Any) -> None:
    client = make_client()
    with replay("boards_and_sprints.yaml"):
        boards = list(client.boards("ABC"))
        sprints = list(client.sprints(1))
    assert [(b["id"], b["name"], b["type"], b["location"]["projectKey"]) for b in boards] == [
        (1, "Team Alpha", "scrum", "ABC")
    ]
    assert [(s["id"], s["state"]) for s in sprints] == [
        *[(n, "closed") for n in range(1, 38, 3)],
        (40, "active"),
        (43, "future"),
    ]
    assert {s["originBoardId"] for s in sprints} == {1}
    assert client.stats.api_calls == 2


def test_agile_pages_follow_the_official_shape() -> None:
    official = sample("agile-board-sprints.GET.200.json")
    by_state = {s["state"]: set(s) for s in official["values"]}
    for index in (0, 1):
        page = recorded_json("boards_and_sprints.yaml", index)
        assert set(page) == set(official)  # isLast, maxResults, startAt, total, values
    sprints = recorded_json("boards_and_sprints.yaml", 1)["values"]
    for sprint in sprints:
        if sprint["state"] == "closed":
            assert set(sprint) == by_state["closed"]
        elif sprint["state"] == "future":
            # the sample's future sprint omits originBoardId: recorded ⊇ sample
            assert set(sprint) == by_state["future"] | {"originBoardId"}
        else:  # active: the closed shape without completeDate
            assert set(sprint) == by_state["closed"] - {"completeDate"}


def test_count_and_census(make_client: Any) -> None:
    client = make_client()
    with replay("count_and_census.yaml"):
        count = client.count("project = ABC")
        ids = list(client.issue_ids("project in (ABC, DEF, GHI)"))
    assert count == 12
    assert ids == [str(10001 + n) for n in range(36)]
    assert client.stats.api_calls == 2
    request = json.loads(load_cassette("count_and_census.yaml")[0]["request"]["body"])
    assert request == {"jql": "project = ABC"}
    assert set(request) <= schema_properties("JQLCountRequestBean")
    assert set(recorded_json("count_and_census.yaml", 0)) <= schema_properties(
        "JQLCountResultsBean"
    )
    census = recorded_json("count_and_census.yaml", 1)
    assert set(census) == {"isLast", "issues"}
    assert census["isLast"] is True


def test_401_is_an_authentication_error(make_client: Any) -> None:
    client = make_client()
    with replay("auth_401.yaml"), pytest.raises(AuthenticationError) as caught:
        client.myself()
    assert str(caught.value) == (
        "Jira rejected the credentials of pmo-bot@acme.example (HTTP 401) while trying to "
        "read the API user (/myself): check the API token (and the email it belongs to)"
    )
    assert caught.value.status_code == 401
    assert TOKEN not in str(caught.value)
    assert client.stats.api_calls == 1
    assert client.stats.retries == 0


def test_429_is_retried_after_its_retry_after(make_client: Any) -> None:
    client = make_client()
    started = time.monotonic()
    with replay("search_429_then_200.yaml") as cassette:
        pages = list(client.search_pages("key = ABC-1", ["id"], None, 50))
    elapsed = time.monotonic() - started
    assert cassette.play_count == 2  # the 429, then the 200: each urllib3 attempt replays
    assert [[issue["key"] for issue in page["issues"]] for page in pages] == [["ABC-1"]]
    assert client.stats.rate_limit_waits == 1
    assert client.stats.retries == 1
    assert client.stats.api_calls == 2
    assert client.stats.backoff_seconds == 0
    assert 0.9 <= client.stats.rate_limit_wait_seconds <= elapsed


def test_html_sign_in_page_is_an_unexpected_response(make_client: Any) -> None:
    client = make_client()
    with replay("html_signin_page.yaml"), pytest.raises(UnexpectedResponseError) as caught:
        client.myself()
    assert str(caught.value) == (
        f"GET {URL}/rest/api/2/myself answered HTTP 200 with an HTML page ('Sign in') "
        "instead of JSON: the URL may point at a login page, a proxy or the wrong host"
    )
    assert caught.value.status_code == 200
    assert client.stats.api_calls == 1


def test_a_request_the_cassette_lacks_fails_instead_of_reaching_the_network(
    make_client: Any,
) -> None:
    client = make_client()
    with (
        pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException),
        replay("myself_and_fields.yaml"),
    ):
        client.statuses()
