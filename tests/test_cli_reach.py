"""`pmo-sync connectors check`, `sync` and `push` when a tracker cannot be reached, end to end.

For Jira, Azure DevOps and Trello: a url on a free port of 127.0.0.1 (connection
refused) and a host that does not resolve each cost one connection attempt and print
one line, `reach` in a check; a connection dropped mid-sync is retried and the sync
succeeds; a connection dropped on every try fails the sync with one line. urllib3's
`Retrying (...)` warnings never reach the terminal, and `--debug` still logs them.

Connection attempts are counted in `socket.getaddrinfo` (urllib3 resolves once per
connection it opens); `.invalid` hosts fail there at once, as a real resolver does.
The `cli_env` fixture (tests/test_cli.py) gives each test its own config directory
and store.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pmo_sync.sandbox.ado.server import AdoSandbox
from pmo_sync.sandbox.harness import DROPPED, SandboxHarness
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox

from .test_cli import (
    EMAIL,
    SECRET,
    TOKEN_VARIABLE,
    cli_env,  # noqa: F401 - the autouse fixture: a config dir and store of the test's own
    invoke,
    sync_rows,
)

TRELLO_KEY_VARIABLE = "PMO_SYNC_CLI_TEST_TRELLO_KEY"
TRELLO_KEY = "cli-trello-k3y-0b5d71c2"
UNREACHABLE = "is the url right and the tracker up?"
DROPPED_HINT = "try again later; if it keeps happening, a proxy may be cutting connections"
NAMES = {"jira": "acme-jira", "azure_devops": "contoso-ado", "trello": "acme-trello"}
TRACKER = {"jira": "Jira", "azure_devops": "Azure DevOps", "trello": "Trello"}


@pytest.fixture(autouse=True)
def _trello_key_and_cold_ado_cache(
    monkeypatch: pytest.MonkeyPatch, cold_ado_sdk_cache: None
) -> None:
    """Trello's API key (the token is the shared test secret); Azure DevOps's route cache
    empty, so no earlier test's answers for a reused port stand in for a request."""
    monkeypatch.setenv(TRELLO_KEY_VARIABLE, TRELLO_KEY)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (host, port) resolved from now on; `.invalid` hosts fail as unknown names."""
    real = socket.getaddrinfo
    seen: list[tuple[str, int]] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((str(host), int(port)))
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return seen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(config_dir: Path, kind: str, url: str, extra: str = "", **names: str) -> None:
    """A connector file of `kind` for the tracker at `url` (Azure DevOps: the organisation's)."""
    if kind == "jira":
        body = f"url: {url}\nemail: {EMAIL}\njql: {names.get('jql', 'project = ABC')}\n"
    elif kind == "azure_devops":
        body = f"organization_url: {url}\nproject: {names.get('project', 'Fabrikam')}\n"
    else:
        board_names = names.get("boards", "Team Alpha")
        body = f"url: {url}\napi_key: ${{{TRELLO_KEY_VARIABLE}}}\nboards: [{board_names}]\n"
    name = NAMES[kind]
    (config_dir / "connectors" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: {kind}\ntoken: ${{{TOKEN_VARIABLE}}}\n{body}{extra}",
        encoding="utf-8",
    )


KINDS = sorted(NAMES)
ORG_PATH = {"azure_devops": "/contoso"}  # an organisation url names the organisation
PLACES = {
    # how the url fails: (url, the reason in the line, the (host, port) resolved)
    "refused": lambda port: (f"http://127.0.0.1:{port}", "connection refused", ("127.0.0.1", port)),
    "no such host": lambda port: (
        "https://tracker.example.invalid",
        "host not found: tracker.example.invalid",
        ("tracker.example.invalid", 443),
    ),
}


def _no_retry_noise(stderr: str) -> None:
    assert "Retrying" not in stderr
    assert "urllib3" not in stderr
    assert "Traceback" not in stderr
    assert TRELLO_KEY not in stderr


# -- nothing reached: one attempt, one line ----------------------------------------------------


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("kind", KINDS)
def test_check_of_an_unreachable_tracker_is_one_reach_line(
    cli_env: Path,  # noqa: F811
    lookups: list[tuple[str, int]],
    kind: str,
    place: str,
) -> None:
    host, reason, resolved = PLACES[place](free_port())
    url = host + ORG_PATH.get(kind, "")
    write_config(cli_env, kind, url, "max_retries: 3\n")
    result = invoke("connectors", "check", NAMES[kind])
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAIL reach: cannot reach {TRACKER[kind]} at {url} ({reason}): {UNREACHABLE}\n"
    )
    assert result.stderr == ""
    assert lookups.count(resolved) == 1  # one attempt, no retry


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("kind", KINDS)
def test_sync_of_an_unreachable_tracker_is_one_line_and_one_call(
    cli_env: Path,  # noqa: F811
    lookups: list[tuple[str, int]],
    kind: str,
    place: str,
) -> None:
    host, reason, resolved = PLACES[place](free_port())
    url = host + ORG_PATH.get(kind, "")
    write_config(cli_env, kind, url, "max_retries: 3\n")
    name = NAMES[kind]
    result = invoke("sync", "--connector", name)
    assert result.exit_code == 1
    assert sync_rows(result.stdout) == [[name, "failed", "0", "0", "0", "0", "0", "1", "0"]]
    after_table = result.stdout.split("└", 1)[1].splitlines()[1:]
    assert after_table[0] == (
        f"{name}: cannot reach {TRACKER[kind]} at {url} ({reason}): {UNREACHABLE}"
    )
    _no_retry_noise(result.stderr)
    assert lookups.count(resolved) == 1


def test_push_to_an_unreachable_jira_is_one_line(
    cli_env: Path,  # noqa: F811
    lookups: list[tuple[str, int]],
) -> None:
    """Synced while up, then down: the push says so in one line, after one attempt (the
    push's own look-up retries, `pmo_sync.writeback.service`, skip a tracker not reached).
    Its first action is an open epic's comment (its sentence for stakeholders), so the first
    look-up is the API user the comments are posted as."""
    with JiraSandbox(issues_per_project=5, token=SECRET) as sandbox:
        url = sandbox.url
        write_config(
            cli_env, "jira", url,
            "writeback:\n  enabled: true\n  fields:\n    cycle_time_days: Cycle time (days)\n",
            jql="project in (ABC, DEF, GHI)",
        )  # fmt: skip
        assert invoke("sync").exit_code == 0
    port = int(url.rsplit(":", 1)[1])
    before = len(lookups)
    result = invoke("push")
    assert result.exit_code == 1
    assert [p for _, p in lookups[before:]].count(port) == 1  # one attempt, no retry
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]  # no log
    assert lines == [
        "acme-jira: push stopped: could not read the API user (GET /myself): cannot reach "
        f"Jira at {url} (connection refused): {UNREACHABLE}; 5 action(s) left for the next run"
    ]
    _no_retry_noise(result.stderr)


# -- reached, then dropped: retried ------------------------------------------------------------


def _sandbox(kind: str) -> SandboxHarness:
    if kind == "jira":
        return JiraSandbox(issues_per_project=5, token=SECRET)
    if kind == "azure_devops":
        return AdoSandbox(size=20, pat=SECRET)
    return TrelloSandbox(cards_per_board=10, key=TRELLO_KEY, token=SECRET)


@pytest.fixture(params=KINDS)
def running(request: pytest.FixtureRequest, cli_env: Path) -> Iterator[tuple[str, Any, str]]:  # noqa: F811
    """(kind, a small sandbox of that tracker, the url its messages show), configured."""
    kind = str(request.param)
    with _sandbox(kind) as sandbox:
        retrying = "max_retries: 2\nmax_retry_wait_seconds: 0\n"
        if kind == "jira":
            url = sandbox.url
            write_config(cli_env, kind, url, retrying, jql="project in (ABC, DEF, GHI)")
        elif kind == "azure_devops":
            url = sandbox.url
            write_config(cli_env, kind, url, retrying, project=sandbox.dataset.project.name)
        else:
            url = sandbox.root_url  # without the API's /1
            boards = ", ".join(b.name for b in sandbox.dataset.boards)
            write_config(cli_env, kind, url, retrying, boards=boards)
        yield kind, sandbox, url


# A read each sync makes once, and the action its message names.
DROP_AT = {
    "jira": ("GET", r"/search/jql$", "search issues"),
    "azure_devops": ("POST", r"/wit/reporting/workItemRevisions$", "read the work item revisions"),
    "trello": ("GET", r"/members/me/boards$", "list the token's boards"),
}


def test_a_connection_dropped_mid_sync_is_retried_and_the_sync_succeeds(
    running: tuple[str, Any, str],
) -> None:
    kind, sandbox, _ = running
    method, path, _ = DROP_AT[kind]
    sandbox.inject(method, path, drop=True)
    result = invoke("sync")
    assert result.exit_code == 0, result.stdout
    assert [row[:2] for row in sync_rows(result.stdout)] == [[NAMES[kind], "success"]]
    dropped_then = [
        r.status for r in sandbox.requests if r.method == method and re.search(path, r.path)
    ]
    assert dropped_then == [DROPPED, 200]  # the same request, sent again
    _no_retry_noise(result.stderr)


def test_a_connection_dropped_on_every_try_fails_the_sync_with_one_line(
    running: tuple[str, Any, str],
) -> None:
    kind, sandbox, shown = running
    method, path, action = DROP_AT[kind]
    sandbox.inject(method, path, drop=True, times=3)
    result = invoke("sync")
    assert result.exit_code == 1
    name = NAMES[kind]
    after_table = result.stdout.split("└", 1)[1].splitlines()[1:]
    assert after_table[0] == (
        f"{name}: {TRACKER[kind]} at {shown} did not answer while trying to {action} "
        f"(connection dropped mid-answer; tried 3 times): {DROPPED_HINT}"
    )
    _no_retry_noise(result.stderr)


def test_debug_still_logs_the_retries_at_debug_level_without_secrets(
    running: tuple[str, Any, str],
) -> None:
    kind, sandbox, _ = running
    method, path, _ = DROP_AT[kind]
    sandbox.inject(method, path, drop=True)
    result = invoke("--debug", "sync")
    assert result.exit_code == 0
    retries = [
        line
        for line in map(json.loads, result.stderr.splitlines()[1:])
        if line["logger"] == "urllib3.connectionpool" and line["event"].startswith("Retrying (")
    ]
    assert [line["level"] for line in retries] == ["debug"]
    assert result.stderr.startswith("no governance policies in ")  # not JSON: said first
    assert TRELLO_KEY not in result.stderr  # `invoke` checks the token
