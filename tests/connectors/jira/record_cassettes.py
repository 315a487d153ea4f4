"""Record the vcrpy cassettes that `test_client_cassettes.py` replays.

Run by hand, from the repository root, whenever the client's calls change:

    python tests/connectors/jira/record_cassettes.py

It starts a small `JiraSandbox` (3 projects x 12 issues), moves ABC-9 back
and forth between In Progress and In Review 22 times with the dataset's
mutation API, an hour apart (3 + 22 = 25 histories, so search/jql's
`expand=changelog` truncates it to the latest 20 and the bulk changelog has
more to give; the generated long issues, such as ABC-8 with 163 histories,
carry 5 KB description edits that would bloat the cassettes), drives
`JiraClient` through each interaction and writes one cassette per interaction
to `cassettes/`. While recording, the
sandbox's `http://127.0.0.1:<port>` becomes `https://acme.atlassian.net` in
every URL and body, the Authorization header is dropped, so are the headers
that name versions or times (`User-Agent`, `Server`, `Date`: re-recording
gives identical files), and `Content-Length` is set to the rewritten body's
length. Bodies stay plain JSON text.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import vcr

from connectors.http import CallStats
from connectors.jira.client import JiraClient
from connectors.jira.config import JiraConfig
from connectors.jira.convert import find_field_ids
from pmo_sync.sandbox.jira.server import JiraSandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/connectors: run as a script
from cassette_recording import public_recorder, record_cassette

CASSETTES = Path(__file__).resolve().parent / "cassettes"
PUBLIC_URL = "https://acme.atlassian.net"
TOKEN_VARIABLE = "PMO_SYNC_RECORD_JIRA_TOKEN"
ISSUES_PER_PROJECT = 12
LONG_ISSUE = "ABC-9"  # 3 generated histories, then 22 transitions: 25
LONG_ISSUE_TRANSITIONS = 22
SEARCH_JQL = "project = ABC AND key in (ABC-9, ABC-10) ORDER BY created ASC, key ASC"
SEARCH_FIELDS = ["status", "created", "updated"]
BULK_ISSUE_IDS = ["10025", "10001"]  # ABC-9 (25 histories) and ABC-1 (5)
CENSUS_JQL = "project in (ABC, DEF, GHI)"
COUNT_JQL = "project = ABC"
SMALL_JQL = "key = ABC-1"
MAX_CASSETTES_BYTES = 100_000


def jira_config(url: str, token_value: str, **overrides: Any) -> JiraConfig:
    """A JiraConfig validated the way a YAML file is (like tests/e2e/conftest.py)."""
    os.environ[TOKEN_VARIABLE] = token_value
    data: dict[str, Any] = {
        "name": "acme-jira",
        "kind": "jira",
        "url": url,
        "email": "pmo-bot@acme.example",
        "token": f"${{{TOKEN_VARIABLE}}}",
        "jql": "project in (ABC, DEF, GHI)",
        "max_retry_wait_seconds": 5,
    }
    data.update(overrides)
    return JiraConfig.model_validate(data)


def _recorder(sandbox_url: str) -> vcr.VCR:
    return public_recorder(CASSETTES, sandbox_url, PUBLIC_URL)


def main() -> int:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    with JiraSandbox(issues_per_project=ISSUES_PER_PROJECT) as sandbox:
        dataset = sandbox.dataset
        for n in range(LONG_ISSUE_TRANSITIONS):
            dataset.clock.advance(hours=1)
            dataset.transition(LONG_ISSUE, ("In Progress", "In Review")[n % 2])
        histories = len(dataset.issue(LONG_ISSUE).histories)
        if histories <= 20:
            raise SystemExit(f"{LONG_ISSUE} has only {histories} histories; it needs > 20")
        recorder = _recorder(sandbox.url)
        # Unrecorded: the field ids the streams would know from the site stream.
        field_ids = find_field_ids(
            JiraClient(jira_config(sandbox.url, sandbox.token), CallStats()).fields(), None
        )

        def client(token: str | None = None) -> JiraClient:
            """A fresh client, seeded like the streams seed it (no `GET /field` per search)."""
            c = JiraClient(jira_config(sandbox.url, token or sandbox.token), CallStats())
            c.seed_field_names(dict(field_ids.clause_names))
            return c

        def myself_and_fields() -> None:
            c = client()
            c.myself()
            c.fields()

        def search_page() -> None:
            next(client().search_pages(SEARCH_JQL, SEARCH_FIELDS, "changelog", 1))

        def bulk_changelog() -> None:
            list(client().bulk_changelogs(BULK_ISSUE_IDS, field_ids.bulk_field_ids()))

        def boards_and_sprints() -> None:
            c = client()
            list(c.boards("ABC"))
            list(c.sprints(1))

        def count_and_census() -> None:
            c = client()
            c.count(COUNT_JQL)
            list(c.issue_ids(CENSUS_JQL))

        def auth_401() -> None:
            client("wrong-token").myself()

        def search_429_then_200() -> None:
            sandbox.inject("GET", r"/search/jql$", status=429, headers={"Retry-After": "1"})
            list(client().search_pages(SMALL_JQL, ["id"], None, 50))
            sandbox.clear_faults()

        def html_signin_page() -> None:
            sandbox.inject("GET", r"/myself$", status=200, content_type="text/html;charset=UTF-8")
            client().myself()
            sandbox.clear_faults()

        record_cassette(recorder, "myself_and_fields.yaml", myself_and_fields)
        record_cassette(recorder, "search_page_with_changelog.yaml", search_page)
        record_cassette(recorder, "bulk_changelog.yaml", bulk_changelog)
        record_cassette(recorder, "boards_and_sprints.yaml", boards_and_sprints)
        record_cassette(recorder, "count_and_census.yaml", count_and_census)
        record_cassette(recorder, "auth_401.yaml", auth_401)
        record_cassette(recorder, "search_429_then_200.yaml", search_429_then_200)
        record_cassette(recorder, "html_signin_page.yaml", html_signin_page)

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
