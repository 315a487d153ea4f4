"""The `pmo-sync` command line, end to end: typer's CliRunner against the sandbox Jira.

Every test runs in an empty working directory with its own config directory
and SQLite store, set through `PMO_SYNC_*` variables. Tokens are recognisable
strings, and `invoke` fails any command whose stdout or stderr shows one of
them, or that crashed instead of exiting with a code.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import Result

from connectors.registry import connector_classes
from pmo_sync import cli
from pmo_sync.export import EXPORT_FIELDS
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.settings import get_settings
from pmo_sync.store.engine import alembic_config, make_engine
from pmo_sync.store.repository import Store

from .cli_support import cli_state_restored, run_cli

TOKEN_VARIABLE = "PMO_SYNC_CLI_TEST_TOKEN"
SECRET = "cli-s3cret-tok-5e1f9a77"  # the sandbox's real token
WRONG_VARIABLE = "PMO_SYNC_CLI_TEST_WRONG_TOKEN"
WRONG_SECRET = "wr0ng-s3cret-tok-c4d2b8e1"  # a token the sandbox refuses
DEMO_TOKEN_VARIABLE = "PMO_SYNC_DEMO_JIRA_TOKEN"
DEMO_SECRET = "sandbox-token"  # the token `pmo-sync demo` gives its sandbox
SECRETS = (SECRET, WRONG_SECRET, DEMO_SECRET)
EMAIL = "pmo-bot@acme.example"
EXPORT_KEYS = [
    "source", "key", "title", "team", "type", "status", "stage",
    "created", "resolved", "estimate", "sprints", "transitions", "url",
    "level", "parent", "priority", "rank", "start_date", "due_date", "target_start",
    "target_end", "releases", "links", "components", "area_path", "parent_chain", "theme",
    "delivery",
]  # fmt: skip
TITLE_OF_DEF_1 = "Data retention"  # the sandbox's first DEF epic
SYNC_HEADER = [
    "connector", "status", "items seen", "inserted", "updated", "unchanged", "deleted",
    "API calls", "rate-limit waits", "seconds",
]  # fmt: skip
REJECTED = (
    f"Jira rejected the credentials of {EMAIL} (HTTP 401) while trying to read the API user "
    "(/myself): check the API token (and the email it belongs to)"
)
CHECK_OK_LINES = [
    "ok   credentials: authenticated as PMO Bot (time zone America/New_York)",
    "ok   deployment: Cloud 1001.0.0-SNAPSHOT",
    "ok   sprint field: Sprint is customfield_10020",
    "ok   story points field: Story point estimate is customfield_10016",
    "ok   project ABC: can browse",
    "ok   project DEF: can browse",
    "ok   project GHI: can browse",
    "ok   jql: 300 issues match 'project in (ABC, DEF, GHI)'",
    "ok   board 1 (Team Alpha): sprints readable",
    "ok   board 2 (Team Beta): sprints readable",
    "ok   board 3 (Team Gamma): sprints readable",
]


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JiraSandbox]:
    """One read-only sandbox (3 x 100 issues) for the module: syncs never change it."""
    with JiraSandbox(token=SECRET) as running:
        yield running


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cwd, a config dir and a SQLite store of the test's own; state restored after."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # also: no stray .env is read
    config_dir = tmp_path / "config"
    (config_dir / "connectors").mkdir(parents=True)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "INFO")  # logs too must not show a token
    monkeypatch.setenv("PMO_SYNC_LOG_FORMAT", "json")
    monkeypatch.setenv(TOKEN_VARIABLE, SECRET)
    monkeypatch.setenv(WRONG_VARIABLE, WRONG_SECRET)
    monkeypatch.setenv(DEMO_TOKEN_VARIABLE, "unset")  # the demo sets it: undone at teardown
    # Lines never wrap in these tests, whatever the terminal pytest runs in (as when piped).
    monkeypatch.setattr(cli.out, "width", 160)
    monkeypatch.setattr(cli.err, "width", 160)
    with cli_state_restored():
        yield config_dir


def invoke(*args: str) -> Result:
    """Run `pmo-sync ARGS`; fail on a crash and on any token in stdout or stderr."""
    return run_cli(args, secrets=SECRETS)


def write_connector(
    config_dir: Path,
    file_name: str,
    name: str,
    url: str,
    *,
    token: str = f"${{{TOKEN_VARIABLE}}}",
    jql: str = "project in (ABC, DEF, GHI)",
    extra: str = "",
) -> Path:
    path = config_dir / "connectors" / file_name
    path.write_text(
        f"name: {name}\nkind: jira\nurl: {url}\nemail: {EMAIL}\ntoken: {token}\n"
        f"jql: {jql}\n{extra}",
        encoding="utf-8",
    )
    return path


def table_rows(text: str, after: str | None = None) -> list[list[str]]:
    """The body rows of the first Rich table in `text` (after the line `after`, if given)."""
    lines = text.splitlines()
    if after is not None:
        lines = lines[lines.index(after) + 1 :]
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
        elif rows and line.startswith("└"):
            break
    return rows


def table_header(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def sync_rows(text: str) -> list[list[str]]:
    """The sync table's rows without the (timing-dependent) seconds column."""
    assert table_header(text) == SYNC_HEADER
    rows = table_rows(text, after="sync")
    for row in rows:
        assert re.fullmatch(r"\d+\.\d", row[-1]), row
    return [row[:-1] for row in rows]


def stored_counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        store = Store(engine)
        return {s.name: store.live_item_count(s.id) for s in store.sources()}
    finally:
        engine.dispose()


def database_url() -> str:
    return get_settings().database_url


# -- connectors validate -------------------------------------------------------------------------


def test_validate_accepts_a_valid_directory(cli_env: Path) -> None:
    write_connector(cli_env, "acme.yaml", "acme-jira", "https://acme.atlassian.net")
    write_connector(
        cli_env, "beta.yml", "beta-jira", "https://beta.atlassian.net",
        extra="schedule:\n  interval_minutes: 30\n",
    )  # fmt: skip
    result = invoke("connectors", "validate")
    assert result.exit_code == 0
    assert result.stdout == (
        f"checked 2 connector files, kpis.yaml (none: the defaults), "
        f"portfolio.yaml (none: the defaults) and policies/ "
        f"(none: no findings) in {cli_env}: all valid\n"
    )
    assert result.stderr == ""


def test_validate_lists_every_error_as_file_field_message(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PMO_SYNC_CLI_TEST_UNSET", raising=False)
    url = "https://acme.atlassian.net"
    missing = write_connector(cli_env, "a.yaml", "a", url, token="${PMO_SYNC_CLI_TEST_UNSET}")
    bad_url = write_connector(cli_env, "b.yaml", "b", "acme.atlassian.net")
    unknown_kind = cli_env / "connectors" / "c.yaml"
    unknown_kind.write_text("name: c\nkind: jirra\n", encoding="utf-8")
    unknown_key = write_connector(cli_env, "d.yaml", "d", url, extra="pagesize: 50\n")
    inline = write_connector(cli_env, "e.yaml", "e", url, token=SECRET)  # never echoed
    result = invoke("connectors", "validate")
    known = ", ".join(sorted(connector_classes()))  # the built-ins, and any plug-in installed
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{missing}: token: environment variable PMO_SYNC_CLI_TEST_UNSET is not set",
        f"{bad_url}: url: Input should be a valid URL, relative URL without a base",
        f"{unknown_kind}: kind: unknown connector kind 'jirra' (known: {known})",
        f"{unknown_key}: pagesize: unknown key (did you mean 'page_size'?)",
        f"{inline}: token: must be a ${{ENV_VAR}} reference (or use the matching *_file key); "
        "secrets are never written inline in config files",
        f"checked 5 connector files, kpis.yaml (none: the defaults), "
        f"portfolio.yaml (none: the defaults) and policies/ "
        f"(none: no findings) in {cli_env}: 5 errors",
    ]


def test_validate_reports_a_missing_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(missing))
    result = invoke("connectors", "validate")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{missing}: (directory): does not exist",
        f"1 error in {missing}",
    ]


# -- connectors list -----------------------------------------------------------------------------


def test_list_shows_name_kind_where_schedule_and_state(cli_env: Path) -> None:
    write_connector(cli_env, "acme.yaml", "acme-jira", "https://acme.atlassian.net")
    write_connector(
        cli_env, "beta.yaml", "beta-jira", "https://beta.atlassian.net/jira",
        extra='schedule:\n  cron: "*/30 6-20 * * 1-5"\n',
    )  # fmt: skip
    result = invoke("connectors", "list")
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert set(lines.pop(2)) == {"─"}  # the rule under the header
    assert lines == [
        f"connector files in {cli_env / 'connectors'}",
        "connector  kind  where                    schedule           state",
        "acme-jira  jira  acme.atlassian.net       by hand            ok",
        "beta-jira  jira  beta.atlassian.net/jira  */30 6-20 * * 1-5  ok",
    ]
    assert result.stderr == ""


def test_list_shows_the_invalid_files_with_their_first_error_and_exits_5(cli_env: Path) -> None:
    write_connector(
        cli_env, "acme.yaml", "acme-jira", "https://acme.atlassian.net",
        extra="schedule:\n  interval_minutes: 15\n",
    )  # fmt: skip
    write_connector(cli_env, "broken.yaml", "broken", "https://x.atlassian.net",
                    extra="boards: [one]\n")  # fmt: skip
    result = invoke("connectors", "list")
    assert result.exit_code == 5
    lines = [line.rstrip() for line in result.stdout.splitlines()[1:]]
    assert set(lines.pop(1)) == {"─"}
    assert lines == [
        "connector  kind  where               schedule      state",
        "acme-jira  jira  acme.atlassian.net  every 15 min  ok",
        "broken     jira  -                   -             invalid: boards[0]: Input should be a "
        "valid integer, unable to parse string as an integer",
    ]
    assert result.stderr == (
        "1 of 2 connector files invalid: sync and serve skip them (`pmo-sync connectors "
        "validate` lists every error)\n"
    )


# -- connectors check ----------------------------------------------------------------------------


def test_check_passes_against_the_sandbox(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    result = invoke("connectors", "check", "sandbox-jira")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == CHECK_OK_LINES
    assert result.stderr == ""


def test_check_with_a_wrong_token_names_the_401(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(
        cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url, token=f"${{{WRONG_VARIABLE}}}"
    )
    result = invoke("connectors", "check", "sandbox-jira")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"FAIL credentials: {REJECTED}"]


def test_check_names_the_project_the_user_cannot_browse(cli_env: Path) -> None:
    with JiraSandbox(token=SECRET, forbidden_projects={"GHI"}) as sandbox:
        write_connector(
            cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url, jql="project in (ABC, GHI)"
        )
        result = invoke("connectors", "check", "sandbox-jira")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        *CHECK_OK_LINES[:5],
        "FAIL project GHI: missing BROWSE_PROJECTS: the API user cannot see this project; "
        "ask a Jira admin to grant Browse Projects",
        "warn project GHI write-back: missing EDIT_ISSUES, ADD_COMMENTS: "
        "KPI fields and comments cannot be written",
        "FAIL jql: Jira refused to count issues (HTTP 400): The value 'GHI' does not exist for "
        "the field 'project'. (no such project, or the API user lacks Browse Projects on it)",
        "ok   board 1 (Team Alpha): sprints readable",
        "FAIL boards GHI: Jira refused to list the boards of project GHI (HTTP 400): "
        "No project could be found with key 'GHI'.",
    ]


def test_check_and_provision_of_one_connector_are_not_stopped_by_another_files_error(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    """One bad file spoils nothing: checking a valid connector beside it reaches its tracker,
    after one line naming what is not run; checking the invalid one is exit 2 with its error."""
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    typo = write_connector(cli_env, "typo.yaml", "typo", sandbox.url, extra="pagesize: 50\n")
    not_run = (
        f"not run: 1 connector file invalid ({typo}); `pmo-sync connectors validate` lists "
        "every error"
    )
    checked = invoke("connectors", "check", "sandbox-jira")
    assert checked.exit_code == 0, checked.stdout
    assert checked.stderr == not_run + "\n"
    assert checked.stdout.startswith("ok   credentials: authenticated as PMO Bot")
    provision = invoke("connectors", "provision", "sandbox-jira")
    assert provision.exit_code == 0
    assert provision.stderr == not_run + "\n"
    assert (
        provision.stdout == "sandbox-jira: no write-back fields configured; nothing to provision\n"
    )
    bad = invoke("connectors", "check", "typo")
    assert bad.exit_code == 2
    assert bad.stderr == f"invalid {typo}: pagesize: unknown key (did you mean 'page_size'?)\n"


def test_check_of_an_unknown_connector_is_a_config_error(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    seen = len(sandbox.requests)
    result = invoke("connectors", "check", "nope")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "no connector named 'nope' (connectors: sandbox-jira)\n"
    assert sandbox.requests[seen:] == []  # nothing reached Jira


@pytest.mark.parametrize("value", ["[blocked]", "[/blocked]"])
def test_check_prints_jira_text_verbatim(cli_env: Path, sandbox: JiraSandbox, value: str) -> None:
    write_connector(
        cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url,
        jql=f"'project = ABC AND status != \"{value}\"'",
    )  # fmt: skip
    result = invoke("connectors", "check", "sandbox-jira")
    assert result.exit_code == 1
    assert (
        f"FAIL jql: Jira refused to count issues (HTTP 400): The value '{value}' does not exist "
        "for the field 'status'." in result.stdout.splitlines()
    )


@pytest.mark.parametrize("value", ["[blocked]", "[/blocked]"])
def test_sync_prints_jira_errors_verbatim(cli_env: Path, sandbox: JiraSandbox, value: str) -> None:
    write_connector(
        cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url,
        jql=f"'project = ABC AND status != \"{value}\"'",
    )  # fmt: skip
    result = invoke("sync")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        f"sandbox-jira: Jira refused to search issues (HTTP 400): The value '{value}' does not "
        "exist for the field 'status'."
    )


# -- sync ----------------------------------------------------------------------------------------


def test_sync_loads_everything_then_nothing_new(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    first = invoke("sync")
    assert first.exit_code == 0
    assert first.stdout.splitlines()[0] == "sync"
    assert sync_rows(first.stdout) == [
        ["sandbox-jira", "success", "300", "300", "0", "0", "0", "16", "0"]
    ]
    seen = len(sandbox.requests)
    again = invoke("sync")
    assert again.exit_code == 0
    assert sync_rows(again.stdout) == [
        ["sandbox-jira", "success", "0", "0", "0", "0", "0", "2", "0"]
    ]
    # nothing changed: site metadata cached, one search (empty window) and one count
    assert [(r.method, r.path, r.status) for r in sandbox.requests[seen:]] == [
        ("GET", "/rest/api/2/search/jql", 200),
        ("POST", "/rest/api/2/search/approximate-count", 200),
    ]
    assert stored_counts(database_url()) == {"sandbox-jira": 300}


def test_sync_goes_on_after_a_failing_connector(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(cli_env, "a-good.yaml", "sandbox-jira", sandbox.url)
    write_connector(
        cli_env, "b-wrong-token.yaml", "wrong-token", sandbox.url,
        token=f"${{{WRONG_VARIABLE}}}",
    )  # fmt: skip
    result = invoke("sync")
    assert result.exit_code == 1
    assert sync_rows(result.stdout) == [
        ["sandbox-jira", "success", "300", "300", "0", "0", "0", "16", "0"],
        ["wrong-token", "failed", "0", "0", "0", "0", "0", "1", "0"],
    ]
    after_table = result.stdout.split("└", 1)[1].splitlines()[1:]
    assert after_table[0] == f"wrong-token: {REJECTED}"
    assert re.fullmatch(  # the KPIs are recomputed from what did sync
        r"KPIs recomputed: \d+ new, 0 changed, 0 unchanged values", after_table[1]
    )
    assert after_table[2:] == ["findings: 0 open (0 new, 0 resolved)"]  # no policies here
    assert stored_counts(database_url()) == {"sandbox-jira": 300, "wrong-token": 0}


def test_sync_connector_option_syncs_only_that_one(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(cli_env, "abc.yaml", "abc", sandbox.url, jql="project = ABC")
    write_connector(cli_env, "def.yaml", "def", sandbox.url, jql="project = DEF")
    result = invoke("sync", "--connector", "def")
    assert result.exit_code == 0
    assert [row[:4] for row in sync_rows(result.stdout)] == [["def", "success", "100", "100"]]
    assert stored_counts(database_url()) == {"def": 100}
    unknown = invoke("sync", "--connector", "nope")
    assert unknown.exit_code == 2
    assert unknown.stdout == ""
    assert unknown.stderr == "no connector named 'nope' (connectors: abc, def)\n"


def test_sync_full_rereads_everything(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    assert invoke("sync").exit_code == 0
    result = invoke("sync", "--full")
    assert result.exit_code == 0
    # every issue read again and recognised unchanged; site metadata refreshed too
    assert sync_rows(result.stdout) == [
        ["sandbox-jira", "success", "300", "0", "0", "300", "0", "17", "0"]
    ]
    assert stored_counts(database_url()) == {"sandbox-jira": 300}


# -- export --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synced_store(sandbox: JiraSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SQLite store holding one sync of the sandbox, made once and copied per test."""
    root = tmp_path_factory.mktemp("synced")
    (root / "config" / "connectors").mkdir(parents=True)
    write_connector(root / "config", "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    store = root / "store.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PMO_SYNC_CONFIG_DIR", str(root / "config"))
        patch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{store}")
        patch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
        patch.setenv(TOKEN_VARIABLE, SECRET)
        result = invoke("sync")
    assert result.exit_code == 0, result.stdout
    yield store
    get_settings.cache_clear()


@pytest.fixture
def exported_store(synced_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "store.sqlite3"
    # The backup API reads through the WAL, which the CLI's still-open engine has not
    # checkpointed into the main file (a plain file copy would miss the synced rows).
    with closing(sqlite3.connect(synced_store)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")  # stderr: the summary line alone
    return target


def test_export_jsonl(exported_store: Path, sandbox: JiraSandbox) -> None:
    result = invoke("export", "--format", "jsonl")
    assert result.exit_code == 0
    assert result.stderr == "exported 300 work items\n"
    lines = result.stdout.splitlines()
    assert len(lines) == 300
    records = [json.loads(line) for line in lines]
    for record in records:
        assert list(record) == EXPORT_KEYS
    assert list(EXPORT_FIELDS) == EXPORT_KEYS
    assert {r["source"] for r in records} == {"sandbox-jira"}
    # by project, then number, as people count: ABC-1 .. ABC-9, ABC-10 .. ABC-100, DEF-1 ..
    assert [r["key"] for r in records] == [
        f"{p}-{n}" for p in ("ABC", "DEF", "GHI") for n in range(1, 101)
    ]
    assert records[100] == {
        "source": "sandbox-jira",
        "key": "DEF-1",
        "title": TITLE_OF_DEF_1,
        "team": "Team Beta",
        "type": "epic",
        "status": "Done",
        "stage": "done",
        "created": "2026-05-26T18:57:05Z",
        "resolved": "2026-07-31T21:54:53Z",
        "estimate": None,
        "sprints": [],
        # in progress when its first child started, done when its last child was
        "transitions": [
            {"at": "2026-05-27T17:20:23Z", "from": "To Do", "to": "In Progress"},
            {"at": "2026-07-31T21:54:53Z", "from": "In Progress", "to": "Done"},
        ],
        "url": f"{sandbox.url}/browse/DEF-1",
        # The portfolio facts: the sandbox's epic type is hierarchy level 1, so its level;
        # a generated epic has a rank and (mostly) a due date, no priority, release or link
        "level": "epic",
        "parent": None,
        "priority": None,
        "rank": "0|i00008:",
        "start_date": None,
        "due_date": "2026-06-17",
        "target_start": None,
        "target_end": None,
        "releases": [],
        "links": [],
        # what a theme matches and the theme: its component (the generated theme), no
        # parent, and no portfolio.yaml in this config
        "components": ["Compliance"],
        "area_path": None,
        "parent_chain": [],
        "theme": None,
        # Team Beta's board on the sandbox is a scrum board
        "delivery": "scrum",
    }


def test_export_csv(exported_store: Path, sandbox: JiraSandbox) -> None:
    result = invoke("export", "--format", "csv")
    assert result.exit_code == 0
    assert result.stderr == "exported 300 work items\n"
    assert result.stdout.splitlines()[0] == ",".join(EXPORT_KEYS)
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == EXPORT_KEYS
    assert len(rows) == 301
    assert rows[101] == [
        "sandbox-jira", "DEF-1", TITLE_OF_DEF_1, "Team Beta", "epic", "Done", "done",
        "2026-05-26T18:57:05Z", "2026-07-31T21:54:53Z", "", "",
        '[{"at":"2026-05-27T17:20:23Z","from":"To Do","to":"In Progress"},'
        '{"at":"2026-07-31T21:54:53Z","from":"In Progress","to":"Done"}]',
        f"{sandbox.url}/browse/DEF-1", "epic", "", "", "0|i00008:", "", "2026-06-17", "", "",
        "", "", "Compliance", "", "", "", "scrum",
    ]  # fmt: skip
    assert all(len(row) == len(EXPORT_KEYS) for row in rows)


def test_export_to_a_file(exported_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "items.jsonl"
    target.parent.mkdir()
    result = invoke("export", "--format", "jsonl", "--output", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "exported 300 work items\n"
    assert target.read_text(encoding="utf-8") == invoke("export").stdout


def test_export_refuses_an_unknown_format_and_connector(exported_store: Path) -> None:
    xml = invoke("export", "--format", "xml")
    assert xml.exit_code == 2
    assert xml.stdout == ""
    assert xml.stderr == "--format must be jsonl or csv, not 'xml'\n"
    unknown = invoke("export", "--connector", "nope")
    assert unknown.exit_code == 2
    assert unknown.stdout == ""
    assert unknown.stderr == "no synced connector named 'nope': run `pmo-sync sync` first\n"


def test_export_gives_the_theme_portfolio_yaml_names(exported_store: Path, cli_env: Path) -> None:
    (cli_env / "portfolio.yaml").write_text(
        "themes:\n  Onboarding:\n    target_share: 30\n    match: {keys: [def-1, GHI-100]}\n",
        encoding="utf-8",
    )
    result = invoke("export", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "exported 300 work items\n"
    rows = list(csv.reader(io.StringIO(result.stdout)))
    # The sandbox's issues have parents (epics, their stories, sub-tasks): the chain walks
    # the `parent` column up, and an item is Onboarding's when it or an ancestor is named.
    parent = {row[1]: row[14] for row in rows[1:]}

    def chain(key: str) -> list[str]:
        found: list[str] = []
        while parent[key] in parent and parent[key] not in found:
            key = parent[key]
            found.append(key)
        return found

    for row in rows[1:]:
        named = {row[1], *chain(row[1])} & {"DEF-1", "GHI-100"}
        assert (row[-3], row[-2]) == (";".join(chain(row[1])), "Onboarding" if named else "")
    themed = [(row[1], row[-3]) for row in rows[1:] if row[-2]]
    assert len(themed) == 14  # DEF-1, its 10 children, 2 sub-tasks, GHI-100
    assert themed[0] == ("DEF-1", "")
    assert ("DEF-15", "DEF-9;DEF-1") in themed  # a sub-task: two levels up
    assert themed[-1] == ("GHI-100", "GHI-95")  # a story of the epic GHI-95


def test_export_stops_at_a_broken_portfolio_yaml(exported_store: Path, cli_env: Path) -> None:
    """One line naming the file, the key and the problem, exit 2 (bad config), nothing
    exported."""
    portfolio = cli_env / "portfolio.yaml"
    portfolio.write_text("themes:\n  Growth:\n    match: {lables: [growth]}\n", encoding="utf-8")
    result = invoke("export", "--format", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"{portfolio}: themes.Growth.match.lables: unknown key (did you mean 'labels'?)\n"
    )


# -- db upgrade ----------------------------------------------------------------------------------


def test_db_upgrade_prints_the_revision(tmp_path: Path) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    expected = f"store at revision {head} (sqlite:///{tmp_path / 'store.sqlite3'})\n"
    first = invoke("db", "upgrade")
    assert first.exit_code == 0
    assert first.stdout == expected
    again = invoke("db", "upgrade")  # idempotent
    assert again.exit_code == 0
    assert again.stdout == expected


# -- demo ----------------------------------------------------------------------------------------


DEMO_OUTPUT = Path(__file__).parent / "fixtures" / "demo" / "demo-2026-11-20.txt"


REPORT_LINE = re.compile(r"(?m)^   report: (\S+) \(\d+ pages?\)$")


def demo_report(stdout: str) -> Path:
    """The report file the demo wrote, as its output names it."""
    found = REPORT_LINE.search(stdout)
    assert found is not None, stdout
    return Path(found[1])


def demo_text(stdout: str) -> str:
    """The demo's output without what changes from run to run: the sandboxes' ports, the
    sync's seconds, the report's temporary directory, and the padding Rich leaves at the end
    of a table's lines."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", stdout)
    text = re.sub(r"(?m)(?<=^   report: )\S+/pmo-sync-report-[^/\s]+/", "TMPDIR/", text)
    text = re.sub(
        r"(?m)(?<=success )(.*?)(\d+\.\d)$",
        lambda m: m[1] + "S.S".rjust(len(m[2])),
        text,
    )
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.mark.slow
@pytest.mark.usefixtures("cold_ado_sdk_cache")  # first-run calls, whatever ran before
def test_demo_shows_each_section_and_the_next_steps_and_leaves_nothing_behind() -> None:
    """The whole output, as of the pinned 2026-11-20 (the generators' DEFAULT_NOW), is
    tests/fixtures/demo/demo-2026-11-20.txt. Where its figures come from:
    - sync: Azure DevOps 21 calls (the revisions of 300 planned items are two pages of 1000
      of the reporting stream; the Dependency links of the 300 items, read by default, two
      workitemsbatch calls of 200; Epic's states, a default type), Jira 16 (the versions of
      its three projects among them), Trello 13 (200 cards of which 3 were deleted, the two
      boards' actions in pages of 1000, lists, custom fields and cards of each, the token's
      member and boards);
    - every sandbox generates a portfolio (docs/sandbox-jira.md, sandbox-ado.md,
      sandbox-trello.md): requests worked in rank order through their children, themes,
      due dates that slip, dependencies across teams, releases; the demo's connector files
      carry the Azure DevOps and Trello blocks and its portfolio.yaml the three themes;
    - governance: the 19 rules of config/policies, the portfolio's among them finding
      requests unlikely by their due date or past it, dependencies at risk, work of no
      theme, a theme off its target share, a request long in intake;
    - the portfolio section: the 23 open requests, the least likely by their due date first,
      and the backtest over the three sandboxes' histories (26 weekly replays: the p85 met
      by 81% of 262 forecasts);
    - write-back: each push, then nothing; the example comment is an open request's, with
      its sentence for stakeholders above its finding."""
    cwd = Path.cwd()
    result = invoke("demo", "--today", "2026-11-20")
    assert result.exit_code == 0
    report = demo_report(result.stdout)
    try:
        assert demo_text(result.stdout) == DEMO_OUTPUT.read_text(encoding="utf-8")
        assert list(cwd.iterdir()) == []
        # The report is left in a directory of its own (the store went with the demo's).
        assert report.name == "pmo-sync-report.html"
        assert report.parent.name.startswith("pmo-sync-report-")
        assert [p.name for p in report.parent.iterdir()] == [report.name]
        html = report.read_text(encoding="utf-8")
        pages = re.findall(r'<article class="report-page" id="([^"]+)"', html)
        # the portfolio, the requests, the strategy and one page per open request (the 23
        # of section 5), each team's page (3 Jira, 3 Azure DevOps, 2 Trello) and, for the
        # 8 teams that all run sprints, their sprints page; then the epics and governance
        assert len(re.findall(r"<tr data-team=", html[: html.index('id="requests"')])) == 8
        assert pages[:3] == ["portfolio", "requests", "strategy"] and len(pages) == 44
        assert sum(p.startswith("request_page-") for p in pages) == 23
        assert pages[-2:] == ["epics", "governance"]
        assert sum(p.startswith("team-") for p in pages) == 8
        assert sum(p.startswith("sprints-") for p in pages) == 8
    finally:
        shutil.rmtree(report.parent)


@pytest.mark.slow
@pytest.mark.usefixtures("cold_ado_sdk_cache")
def test_demo_data_ends_at_the_latest_noon_by_default() -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC)
    result = invoke("demo", "--issues-per-project", "5")
    after = datetime.now(UTC)
    assert result.exit_code == 0
    shutil.rmtree(demo_report(result.stdout).parent)  # the report the demo leaves in place
    first = result.stdout.splitlines()[0]
    noons = {
        (datetime.combine(day.date(), datetime.min.time(), UTC) + timedelta(hours=12))
        for day in (before - timedelta(days=1), before, after)
    }
    shown = {f"pmo-sync demo: sandbox trackers with data up to {n:%Y-%m-%d %H:%M} UTC"
             for n in noons if n <= after}  # fmt: skip
    assert first in shown


@pytest.mark.slow
@pytest.mark.usefixtures("cold_ado_sdk_cache")
def test_demo_keep_leaves_its_config_and_store(tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    result = invoke(
        "demo", "--keep", str(keep), "--issues-per-project", "10", "--today", "2026-11-20"
    )
    assert result.exit_code == 0
    lines = demo_text(result.stdout).splitlines()
    sync = lines.index("1. Sync: every item with its full history, into one SQLite store")
    assert lines[sync + 2 : sync + 7] == [
        "connector       status   items  API calls  seconds",
        "─" * 50,
        "sandbox-ado     success     30         19      S.S",  # Epic's states, 1 batch
        "sandbox-jira    success     30         14      S.S",  # + each project's versions
        "sandbox-trello  success     20         11      S.S",
    ]
    assert lines[-2:] == ["", f"kept the demo's config and store in {keep}"]
    report = keep / "pmo-sync-report.html"
    view = lines.index("7. The portfolio view: the teams' KPIs, trends, findings and freshness")
    assert lines[view + 2 : view + 6] == [
        f"   report: {report} (27 pages)",  # 19, the requests, strategy and 6 open requests
        "   the same pages served by a dashboard on the demo's store, in a shell:",
        f"   PMO_SYNC_DATABASE_URL=sqlite:///{keep}/pmo-sync.sqlite3 pmo-sync dashboard",
        "   or `pmo-sync demo --serve`: the demo serves them until Ctrl-C.",
    ]
    assert sorted(str(p.relative_to(keep)) for p in keep.rglob("*")) == [
        "config",
        "config/connectors",
        "config/connectors/sandbox-ado.yaml",
        "config/connectors/sandbox-jira.yaml",
        "config/connectors/sandbox-trello.yaml",
        "config/policies",
        "config/policies/backlog-quality.yaml",
        "config/policies/flow.yaml",
        "config/policies/portfolio.yaml",
        "config/policies/scrum.yaml",
        "config/portfolio.yaml",
        "pmo-sync-report.html",
        "pmo-sync.sqlite3",
    ]
    config = (keep / "config" / "connectors" / "sandbox-jira.yaml").read_text(encoding="utf-8")
    assert f"token: ${{{DEMO_TOKEN_VARIABLE}}}" in config.splitlines()
    assert DEMO_SECRET not in config
    assert stored_counts(f"sqlite:///{keep / 'pmo-sync.sqlite3'}") == {
        "sandbox-ado": 30,
        "sandbox-jira": 30,
        "sandbox-trello": 20,
    }
    trello = (keep / "config" / "connectors" / "sandbox-trello.yaml").read_text(encoding="utf-8")
    assert "token: ${PMO_SYNC_DEMO_TRELLO_TOKEN}" in trello.splitlines()
    assert "api_key: ${PMO_SYNC_DEMO_TRELLO_KEY}" in trello.splitlines()
    assert "sandbox-token" not in trello and "sandbox-key" not in trello
    assert list(Path.cwd().iterdir()) == []


@pytest.mark.slow
@pytest.mark.usefixtures("cold_ado_sdk_cache")
def test_demo_serve_serves_the_dashboard_on_its_store_until_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--serve` keeps the dashboard up on the demo's store (loopback, PMO_SYNC_HTTP_PORT,
    0 here: any free port) until Ctrl-C, stood in for by a reader who gets the portfolio."""
    import urllib.request

    from pmo_sync.demo import run as demo_run

    pages: list[tuple[str, int, str]] = []

    def read_then_stop(url: str) -> None:
        with urllib.request.urlopen(url, timeout=30) as response:
            pages.append((url, response.status, response.read().decode("utf-8")))

    monkeypatch.setattr(demo_run, "_until_interrupted", read_then_stop)
    monkeypatch.setenv("PMO_SYNC_HTTP_PORT", "0")
    keep = tmp_path / "kept"
    result = invoke(
        "demo", "--keep", str(keep), "--serve", "--issues-per-project", "5",
        "--today", "2026-11-20",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [(url, status, html)] = pages
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    assert status == 200
    assert re.findall(r'<tr data-team="([^"]+)">', html) == [
        "Atlas", "Orion", "Phoenix", "Team Alpha", "Team Beta", "Team Delta", "Team Echo",
        "Team Gamma",
    ]  # fmt: skip
    assert result.stdout.splitlines()[-3:] == [
        "",
        f"serving the dashboard on {url} (Ctrl-C stops)",
        "stopped the dashboard",
    ]


# -- kpis ----------------------------------------------------------------------------------------


def test_kpis_json_lists_every_value_with_the_pinned_keys(exported_store: Path) -> None:
    result = invoke("kpis", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert all(list(row) == ["scope", "scope_key", "metric", "window", "value"] for row in rows)
    scopes = {row["scope"] for row in rows}
    # the sandbox's open epics are requests: their forecasts are kept too
    assert scopes == {"item", "team", "sprint", "epic", "request", "portfolio"}
    item_metrics = {row["metric"] for row in rows if row["scope"] == "item"}
    assert {"cycle_time_days", "lead_time_days", "wip_age_days"} <= item_metrics
    teams = {row["scope_key"] for row in rows if row["scope"] == "team"}
    assert teams == {"Team Alpha", "Team Beta", "Team Gamma"}
    dates = [row["value"] for row in rows if row["metric"].endswith("_date") and row["value"]]
    assert dates and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates)


def test_kpis_team_filter_csv_and_errors(exported_store: Path, cli_env: Path) -> None:
    result = invoke("kpis", "--team", "Team Beta", "--format", "csv", "--since", "2026-10-01")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "scope,scope_key,metric,window,value"
    rows = list(csv.reader(lines[1:]))
    assert rows and all(r[0] in ("item", "team", "sprint", "epic", "request") for r in rows)
    assert {r[1] for r in rows if r[0] == "team"} == {"Team Beta"}
    assert any(r[3].startswith("2026-10-01/") for r in rows if r[2] == "done_in_window")
    unknown = invoke("kpis", "--team", "Team Omega")
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines() == [
        f"no governance policies in {cli_env / 'policies'}: no findings are computed "
        '(see "Policies" in config/README.md)',
        "no team 'Team Omega' (teams: Team Alpha, Team Beta, Team Gamma)",
    ]
    assert invoke("kpis", "--since", "yesterday").exit_code == 2
    assert invoke("kpis", "--format", "xml").exit_code == 2


def test_kpis_table_shows_each_team_with_units(exported_store: Path) -> None:
    result = invoke("kpis", "--team", "Team Alpha")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        r"KPIs as of \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \(\d+ values stored\); "
        r"days counted inclusively \(Vacanti\)",
        lines[0],
    )
    assert re.fullmatch(r"Team Alpha — window \d{4}-\d{2}-\d{2}/\d{4}-\d{2}-\d{2}", lines[1])
    assert re.match(r"cycle time +p50 [\d.]+ d +p70 [\d.]+ d +p85 [\d.]+ d +p95 [\d.]+ d", lines[3])
    assert "Team Alpha — last sprints (points)" in lines


# -- governance ----------------------------------------------------------------------------------


def test_validate_reports_policy_errors_as_file_field_message(cli_env: Path) -> None:
    policies = cli_env / "policies"
    policies.mkdir()
    bad = policies / "flow.yaml"
    bad.write_text(
        "rules:\n  - id: stale\n    rule: stale_in_progress\n    params: {days: -1}\n",
        encoding="utf-8",
    )
    result = invoke("connectors", "validate")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"{bad}: rules[0].params.days: ")


def test_sync_evaluates_policies_and_findings_lists_them(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    policies = cli_env / "policies"
    policies.mkdir()
    (policies / "scrum.yaml").write_text(
        "rules:\n  - id: estimate-committed\n    rule: missing_estimate\n    severity: critical\n",
        encoding="utf-8",
    )
    result = invoke("sync")
    assert result.exit_code == 0, result.stderr
    summary = [line for line in result.stdout.splitlines() if line.startswith("findings: ")]
    assert len(summary) == 1
    opened = int(summary[0].split()[1])
    assert opened > 0 and summary[0].endswith(f"({opened} new, 0 resolved)")

    listed = invoke("findings", "--format", "json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert len(rows) == opened
    assert {r["rule_id"] for r in rows} == {"estimate-committed"}
    assert {r["severity"] for r in rows} == {"critical"}
    assert all(r["message"].startswith(r["scope_key"] + " has no estimate") for r in rows)
    team = rows[0]["team"]
    table = invoke("findings", "--team", team)
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].startswith(f"{team} — ")

    (policies / "scrum.yaml").write_text("rules: []\n", encoding="utf-8")
    again = invoke("sync")
    assert f"findings: 0 open (0 new, {opened} resolved)" in again.stdout.splitlines()
    assert json.loads(invoke("findings", "--format", "json").stdout) == []


# -- write-back ----------------------------------------------------------------------------------


def _writeback_connector(cli_env: Path, url: str) -> None:
    write_connector(
        cli_env, "sandbox-jira.yaml", "sandbox-jira", url,
        extra="writeback:\n  enabled: true\n  fields:\n"
        "    cycle_time_days: Cycle time (days)\n    wip_age_days: WIP age (days)\n",
    )  # fmt: skip


def test_provision_creates_missing_fields_and_says_what_an_admin_must_do(cli_env: Path) -> None:
    with JiraSandbox(token=SECRET) as sandbox:
        _writeback_connector(cli_env, sandbox.url)
        result = invoke("connectors", "provision", "sandbox-jira")
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert [line.split(":")[0] for line in lines] == [
            "made cycle_time_days",
            "made wip_age_days",
        ]
        assert "must add it to the edit screens of ABC, DEF, GHI" in lines[0]
        names = {f.name for f in sandbox.dataset.custom_fields}
        assert {"Cycle time (days)", "WIP age (days)"} <= names
        again = invoke("connectors", "provision", "sandbox-jira")
        assert [line.split(" ")[0] for line in again.stdout.splitlines()] == ["ok", "ok"]


def test_provision_without_admin_prints_the_manual_steps(cli_env: Path) -> None:
    with JiraSandbox(token=SECRET, admin=False) as sandbox:
        _writeback_connector(cli_env, sandbox.url)
        result = invoke("connectors", "provision", "sandbox-jira")
        assert result.exit_code == 1
        first = result.stdout.splitlines()[0]
        assert first.startswith("TODO cycle_time_days: ")
        assert "Ask a Jira admin to create it by hand" in first


@pytest.mark.slow
def test_push_dry_run_prints_the_changes_then_push_makes_them(cli_env: Path) -> None:
    with JiraSandbox(token=SECRET) as sandbox:
        _writeback_connector(cli_env, sandbox.url)
        for name in ("Cycle time (days)", "WIP age (days)"):
            field_id = sandbox.dataset.create_custom_field(name, "number")
            for project in ("ABC", "DEF", "GHI"):
                sandbox.dataset.add_field_to_screen(field_id, project)
        assert invoke("sync").exit_code == 0
        preview = invoke("push", "--dry-run")
        assert preview.exit_code == 0, preview.stderr
        lines = preview.stdout.splitlines()
        planned = int(re.fullmatch(r"sandbox-jira: would make (\d+) change\(s\)", lines[-1])[1])
        assert planned > 0
        assert any(re.match(r"[A-Z]+-\d+: set Cycle time \(days\)", line) for line in lines)
        assert sandbox.writes == []
        pushed = invoke("push")
        assert pushed.exit_code == 0, pushed.stderr
        assert re.fullmatch(
            rf"sandbox-jira: made {planned} change\(s\), 0 failed, \d+ API calls",
            pushed.stdout.splitlines()[-1],
        )
        again = invoke("push")
        assert (
            again.stdout.splitlines()[-1] == "sandbox-jira: made 0 change(s), 0 failed, 0 API calls"
        )


def test_push_with_an_issue_deleted_since_the_sync_makes_the_rest_and_exits_0(
    cli_env: Path,
) -> None:
    with JiraSandbox(token=SECRET, issues_per_project=5) as sandbox:
        _writeback_connector(cli_env, sandbox.url)
        for name in ("Cycle time (days)", "WIP age (days)"):
            field_id = sandbox.dataset.create_custom_field(name, "number")
            for project in ("ABC", "DEF", "GHI"):
                sandbox.dataset.add_field_to_screen(field_id, project)
        assert invoke("sync").exit_code == 0
        preview = invoke("push", "--dry-run").stdout.splitlines()
        planned = int(re.fullmatch(r"sandbox-jira: would make (\d+) change\(s\)", preview[-1])[1])
        # An item with fields to set and no comment (open requests get one, with their
        # sentence): its one write is the one refused.
        setting = [m[1] for line in preview if (m := re.match(r"([A-Z]+-\d+): set ", line))]
        commented = {
            m[1] for line in preview if (m := re.match(r"([A-Z]+-\d+): \w+ comment", line))
        }
        key = next(k for k in setting if k not in commented)
        of_key = sum(1 for line in preview if line.startswith(f"{key}: "))
        sandbox.dataset.delete_issue(key)  # after the sync: the store still has it
        sandbox.reset_log()
        pushed = invoke("push")
        assert pushed.exit_code == 0, pushed.stderr
        assert "sandbox-jira: " not in pushed.stderr  # no error line (the log is JSON)
        calls = len(sandbox.requests)
        assert pushed.stdout.splitlines()[-1] == (
            f"sandbox-jira: made {planned - of_key} change(s), 0 failed, 1 gone (deleted in the "
            f"tracker since the sync: the next sync marks them deleted), {calls} API calls"
        )
        refused = [w for w in sandbox.writes if w.status == 404]
        assert [w.path for w in refused] == [f"/rest/api/2/issue/{key}"]  # one try, no more


# -- sandbox ---------------------------------------------------------------------------------


def test_sandbox_serve_runs_the_azure_devops_sandbox_until_sigterm(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("pmo-sync")), "sandbox", "serve"]
    process = subprocess.Popen(
        [*command, "--tracker", "azure_devops", "--port", str(port), "--issues-per-project", "2",
         "--today", "2026-11-20"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PMO_SYNC_CACHE_DIR": str(tmp_path)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{port}/contoso"
        banner = [process.stdout.readline().rstrip("\n") for _ in range(14)]
        assert banner == [  # once, when it listens: what a connector file for it needs
            f"sandbox Azure DevOps on {url} (Ctrl-C stops it)",
            "  data      seed 7, 6 work items, 2-week sprints, up to 2026-11-20 12:00 UTC",
            "  org       contoso, project Fabrikam, teams Phoenix, Atlas, Orion",
            "  login     personal access token sandbox-pat, any user name (fake, only this)",
            "a connector file for it, config/connectors/sandbox-ado.yaml:",
            "  name: sandbox-ado",
            "  kind: azure_devops",
            f"  organization_url: {url}",
            "  token: ${SANDBOX_ADO_PAT}",
            "  project: Fabrikam",
            "then:",
            "  export SANDBOX_ADO_PAT=sandbox-pat",
            "  pmo-sync connectors check sandbox-ado",
            "  pmo-sync sync",
        ]
        auth = base64.b64encode(b":sandbox-pat").decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/contoso/_apis/projects",
            headers={"Authorization": f"Basic {auth}"},
        )
        for _ in range(50):
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    projects = json.loads(answer.read())
                break
            except OSError:
                time.sleep(0.1)
        assert [p["name"] for p in projects["value"]] == ["Fabrikam"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert process.stdout.read() == ""  # the banner came once, nothing after it
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(10)


def test_sandbox_serve_refuses_an_unknown_tracker() -> None:
    result = invoke("sandbox", "serve", "--tracker", "asana")
    assert result.exit_code == 2
    assert result.stderr.strip() == "--tracker must be jira, azure_devops or trello, not 'asana'"
