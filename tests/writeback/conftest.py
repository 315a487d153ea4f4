"""The command line against the three sandboxes, for the write-back tests of this directory.

Every test runs in an empty working directory with its own config directory and SQLite
store (`PMO_SYNC_*` variables); `invoke` runs `pmo-sync ARGS` with typer's CliRunner,
fails the test on a crash or on any sandbox secret in its output. The connector files
are written by `jira_file`, `ado_file` and `trello_file`, with write-back on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from typer.testing import Result

from pmo_sync import cli
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello.server import TrelloSandbox

from ..cli_support import cli_state_restored, run_cli

JIRA_TOKEN = "PMO_SYNC_WB_JIRA_TOKEN"
ADO_TOKEN = "PMO_SYNC_WB_ADO_TOKEN"
TRELLO_KEY = "PMO_SYNC_WB_TRELLO_KEY"
TRELLO_TOKEN = "PMO_SYNC_WB_TRELLO_TOKEN"
JIRA_FIELDS = {"cycle_time_days": "Cycle time (days)", "wip_age_days": "WIP age (days)"}
ADO_FIELDS = {"cycle_time_days": "Custom.CycleTimeDays", "wip_age_days": "Custom.WipAgeDays"}
TRELLO_FIELDS = JIRA_FIELDS
SYNC_HEADER = [
    "connector", "status", "items seen", "inserted", "updated", "unchanged", "deleted",
    "API calls", "rate-limit waits", "seconds",
]  # fmt: skip

Invoke = Callable[..., Result]


@pytest.fixture
def config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cold_ado_sdk_cache: None
) -> Iterator[Path]:
    """An empty cwd, a config dir and a SQLite store of the test's own; state restored after."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    directory = tmp_path / "config"
    (directory / "connectors").mkdir(parents=True)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(directory))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("PMO_SYNC_LOG_FORMAT", "json")
    monkeypatch.setattr(cli.out, "width", 160)
    monkeypatch.setattr(cli.err, "width", 160)
    with cli_state_restored():
        yield directory


@pytest.fixture
def invoke(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`invoke(*args, secrets=())`: `pmo-sync ARGS`; fails on a crash or a secret shown."""

    def run(*args: str, secrets: tuple[str, ...] = ()) -> Result:
        return run_cli(args, secrets=secrets)

    return run


def _fields_block(fields: Mapping[str, str], comments: bool) -> str:
    lines = ["writeback:", "  enabled: true", f"  comments: {str(comments).lower()}", "  fields:"]
    return "\n".join([*lines, *(f"    {m}: {n}" for m, n in fields.items()), ""])


def jira_file(
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox: JiraSandbox,
    *,
    name: str = "acme-jira",
    fields: Mapping[str, str] = JIRA_FIELDS,
    comments: bool = True,
) -> None:
    monkeypatch.setenv(JIRA_TOKEN, sandbox.token)
    (config_dir / "connectors" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: jira\nurl: {sandbox.url}\nemail: {sandbox.email}\n"
        f"token: ${{{JIRA_TOKEN}}}\njql: project in (ABC, DEF, GHI)\n"
        + _fields_block(fields, comments),
        encoding="utf-8",
    )


def ado_file(
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox: AdoSandbox,
    *,
    name: str = "acme-ado",
    fields: Mapping[str, str] = ADO_FIELDS,
    comments: bool = True,
) -> None:
    monkeypatch.setenv(ADO_TOKEN, sandbox.pat)
    (config_dir / "connectors" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: azure_devops\norganization_url: {sandbox.url}\n"
        f"token: ${{{ADO_TOKEN}}}\nproject: {sandbox.dataset.project.name}\nwiql_cap: 100\n"
        + _fields_block(fields, comments),
        encoding="utf-8",
    )


def trello_file(
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox: TrelloSandbox,
    *,
    name: str = "acme-trello",
    fields: Mapping[str, str] = TRELLO_FIELDS,
    comments: bool = True,
) -> None:
    monkeypatch.setenv(TRELLO_KEY, sandbox.key)
    monkeypatch.setenv(TRELLO_TOKEN, sandbox.token)
    (config_dir / "connectors" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: trello\nurl: {sandbox.root_url}\n"
        f"api_key: ${{{TRELLO_KEY}}}\ntoken: ${{{TRELLO_TOKEN}}}\n"
        "boards: [Team Alpha, Team Beta]\n"
        "sprints:\n  cadence: {sprint: Sprint 18, starts: 2026-11-16}\n"
        + _fields_block(fields, comments),
        encoding="utf-8",
    )


def sync_rows(text: str) -> list[list[str]]:
    """The sync table's rows without the (timing-dependent) seconds column."""
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == SYNC_HEADER
    rows: list[list[str]] = []
    for line in lines[lines.index("sync") + 1 :]:
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
        elif rows and line.startswith("└"):
            break
    for row in rows:
        assert re.fullmatch(r"\d+\.\d", row[-1]), row
    return [row[:-1] for row in rows]
