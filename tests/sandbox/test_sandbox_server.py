"""The HTTP layer: authentication, fault injection, the request log, permissions, server mode."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import jira
import pytest
import requests

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox, RecordedRequest


@pytest.fixture(scope="module")
def forbidding(dataset: JiraDataset) -> Iterator[JiraSandbox]:
    """A sandbox whose API user cannot browse GHI."""
    with JiraSandbox(dataset, forbidden_projects={"GHI"}) as running:
        yield running


@pytest.fixture(scope="module")
def server_mode(dataset: JiraDataset) -> Iterator[JiraSandbox]:
    """The same data behind a Jira Server 9.12 face."""
    with JiraSandbox(dataset, deployment="server") as running:
        yield running


def _get(sandbox: JiraSandbox, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("auth", sandbox.basic_auth)
    return requests.get(f"{sandbox.url}{path}", timeout=10, **kwargs)


# -- authentication ---------------------------------------------------------------------


def test_wrong_token_is_401(sandbox: JiraSandbox, connect: Callable[..., jira.JIRA]) -> None:
    """A wrong API token is refused with Jira's JSON 401, even on serverInfo."""
    with pytest.raises(jira.JIRAError) as err:
        connect(sandbox, basic_auth=(sandbox.email, "wrong-token"))
    assert err.value.status_code == 401
    response = _get(sandbox, "/rest/api/2/myself", auth=("someone@else.example", sandbox.token))
    assert response.status_code == 401
    assert response.json() == {
        "errorMessages": ["Client must be authenticated to access this resource."],
        "errors": {},
    }
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"


def test_missing_credentials_are_401(sandbox: JiraSandbox) -> None:
    """Without an Authorization header every endpoint answers 401."""
    for path in ("/rest/api/2/serverInfo", "/rest/api/3/myself", "/rest/agile/1.0/board"):
        response = _get(sandbox, path, auth=None)
        assert response.status_code == 401
        assert response.json()["errorMessages"] == [
            "Client must be authenticated to access this resource."
        ]


def test_bearer_tokens_only_in_server_mode(sandbox: JiraSandbox, server_mode: JiraSandbox) -> None:
    """A personal access token (Bearer) works on Server/DC, not on Cloud."""
    bearer = {"Authorization": f"Bearer {server_mode.token}"}
    assert _get(server_mode, "/rest/api/2/myself", auth=None, headers=bearer).status_code == 200
    assert _get(sandbox, "/rest/api/2/myself", auth=None, headers=bearer).status_code == 401


# -- faults -----------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_by_the_client(
    fresh: JiraSandbox, connect: Callable[..., jira.JIRA]
) -> None:
    """The library honours Retry-After on a 429 and then succeeds; the log shows both."""
    client = connect(fresh)
    fresh.inject(method="GET", path=r"/myself$", status=429, headers={"Retry-After": "1"})
    fresh.reset_log()
    assert client.myself()["emailAddress"] == fresh.email
    assert [(r.path, r.status) for r in fresh.requests] == [
        ("/rest/api/2/myself", 429),
        ("/rest/api/2/myself", 200),
    ]


def test_429_headers_reach_the_caller(fresh: JiraSandbox) -> None:
    """A raw request sees the status, Retry-After and any extra rate-limit headers."""
    fresh.inject(
        path=r"search/jql", status=429, headers={"Retry-After": "7", "X-RateLimit-Remaining": "0"}
    )
    response = _get(fresh, "/rest/api/3/search/jql", params={"jql": "project = ABC"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.json()["errorMessages"] == ["Rate limit exceeded."]
    assert _get(fresh, "/rest/api/3/search/jql", params={"jql": "project = ABC"}).ok


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_json(
    fresh: JiraSandbox, connect: Callable[..., jira.JIRA], status: int
) -> None:
    """500 and 503 (without Retry-After) reach the client as JIRAError with a JSON body."""
    client = connect(fresh)
    fresh.inject(method="GET", path=r"/field$", status=status, headers={})
    with pytest.raises(jira.JIRAError) as err:
        client.fields()
    assert err.value.status_code == status
    assert json.loads(err.value.response.text)["errorMessages"]


def test_html_sign_in_page_with_200(fresh: JiraSandbox, connect: Callable[..., jira.JIRA]) -> None:
    """A proxy's sign-in page served as 200 text/html is not JSON; the client cannot parse it."""
    client = connect(fresh)
    fresh.inject(path=r"/myself$", status=200, content_type="text/html;charset=UTF-8", times=2)
    response = _get(fresh, "/rest/api/2/myself")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Sign in</title>" in response.text
    with pytest.raises(ValueError):
        client.myself()
    assert client.myself()["emailAddress"] == fresh.email


def test_injected_403_and_skip(fresh: JiraSandbox) -> None:
    """skip lets the first matches through; times bounds how many get the fault."""
    fresh.inject(method="GET", path=r"/rest/agile/1\.0/board$", status=403, skip=1, times=2)
    statuses = [_get(fresh, "/rest/agile/1.0/board").status_code for _ in range(4)]
    assert statuses == [200, 403, 403, 200]
    fresh.inject(method="GET", path=r"/board$", status=500, times=5)
    fresh.clear_faults()
    assert _get(fresh, "/rest/agile/1.0/board").status_code == 200


def test_request_log_records_query_body_and_status(fresh: JiraSandbox) -> None:
    """Every request is logged in order with its parsed query, JSON body and status."""
    fresh.reset_log()
    _get(fresh, "/rest/api/3/search/jql", params={"jql": "project = ABC", "fields": ["id", "key"]})
    requests.post(
        f"{fresh.url}/rest/api/3/search/approximate-count",
        json={"jql": "key = ABC-1"},
        auth=fresh.basic_auth,
        timeout=10,
    )
    _get(fresh, "/rest/api/3/myself", auth=None)
    assert fresh.requests == [
        RecordedRequest(
            "GET",
            "/rest/api/3/search/jql",
            {"jql": ["project = ABC"], "fields": ["id", "key"]},
            None,
            200,
        ),
        RecordedRequest(
            "POST", "/rest/api/3/search/approximate-count", {}, {"jql": "key = ABC-1"}, 200
        ),
        RecordedRequest("GET", "/rest/api/3/myself", {}, None, 401),
    ]


def test_concurrent_requests(sandbox: JiraSandbox) -> None:
    """The threaded server answers parallel clients consistently."""
    results: list[int] = []

    def count() -> None:
        body = _get(
            sandbox, "/rest/api/3/search/jql", params={"jql": "project = DEF", "maxResults": 5000}
        ).json()
        results.append(len(body["issues"]))

    threads = [threading.Thread(target=count) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [100] * 8


# -- a project the API user cannot browse --------------------------------------------------------


def test_forbidden_project_in_jql_is_400(forbidding: JiraSandbox) -> None:
    """Naming GHI is a 400 as if it did not exist; a query without it never shows GHI."""
    response = _get(forbidding, "/rest/api/3/search/jql", params={"jql": "project in (ABC, GHI)"})
    assert response.status_code == 400
    assert response.json()["errorMessages"] == [
        "The value 'GHI' does not exist for the field 'project'."
    ]
    everything = _get(
        forbidding,
        "/rest/api/3/search/jql",
        params={"jql": 'created >= "2020/01/01"', "fields": "key", "maxResults": 5000},
    ).json()
    keys = [i["key"] for i in everything["issues"]]
    assert len(keys) == 200 and not any(k.startswith("GHI") for k in keys)
    count = requests.post(
        f"{forbidding.url}/rest/api/3/search/approximate-count",
        json={"jql": 'created >= "2020/01/01"'},
        auth=forbidding.basic_auth,
        timeout=10,
    ).json()
    assert count == {"count": 200}
    assert _get(forbidding, "/rest/api/2/issue/GHI-1/changelog").status_code == 404


def test_forbidden_project_permissions_and_board(forbidding: JiraSandbox) -> None:
    """mypermissions says no for GHI, and GHI's board refuses its sprints with a 403."""
    params = {"permissions": "BROWSE_PROJECTS,EDIT_ISSUES,ADD_COMMENTS"}
    ghi = _get(forbidding, "/rest/api/2/mypermissions", params={**params, "projectKey": "GHI"})
    abc = _get(forbidding, "/rest/api/2/mypermissions", params={**params, "projectKey": "ABC"})
    assert {p["havePermission"] for p in ghi.json()["permissions"].values()} == {False}
    assert {p["havePermission"] for p in abc.json()["permissions"].values()} == {True}
    sprints = _get(forbidding, "/rest/agile/1.0/board/3/sprint")
    assert sprints.status_code == 403
    assert sprints.json()["errorMessages"] == ["You don't have permission to view this board."]
    assert _get(forbidding, "/rest/agile/1.0/board/1/sprint").status_code == 200
    assert [p["key"] for p in _get(forbidding, "/rest/api/2/project").json()] == ["ABC", "DEF"]


# -- server (Data Center) mode ------------------------------------------------------------------


def test_server_mode_has_legacy_search_only(
    server_mode: JiraSandbox, connect: Callable[..., jira.JIRA], dataset: JiraDataset
) -> None:
    """Server 9.12: /search pages with total and full changelogs; search/jql is 404."""
    client = connect(server_mode, basic_auth=None, token_auth=server_mode.token)
    assert client.server_info()["versionNumbers"] == [9, 12, 0]
    assert client.server_info()["deploymentType"] == "Server"
    issues = client.search_issues("project = ABC ORDER BY key", maxResults=False)
    assert [i.key for i in issues] == [f"ABC-{n}" for n in range(1, 101)]
    long = next(i for i in dataset.issues if len(i.histories) > 120)
    page = client.search_issues(f"key = {long.key}", json_result=True, expand="changelog")
    assert page["total"] == 1 and page["startAt"] == 0
    changelog = page["issues"][0]["changelog"]
    assert changelog["total"] == len(changelog["histories"]) == len(long.histories)
    big = _get(
        server_mode, "/rest/api/2/search", params={"jql": "project = DEF", "maxResults": 500}
    ).json()
    assert big["maxResults"] == 100 and big["total"] == 100
    assert (
        _get(server_mode, "/rest/api/3/search/jql", params={"jql": "project = ABC"}).status_code
        == 404
    )
    bulk = requests.post(
        f"{server_mode.url}/rest/api/3/changelog/bulkfetch",
        json={"issueIdsOrKeys": ["ABC-1"]},
        auth=server_mode.basic_auth,
        timeout=10,
    )
    assert bulk.status_code == 404
