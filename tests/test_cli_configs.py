"""One bad connector file spoils nothing; an empty config says what to do; nothing is silent.

The CLI end to end (typer's CliRunner, the sandbox Jira), with `test_cli`'s
fixtures: every test has its own config directory, store and environment.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from pmo_sync import cli
from pmo_sync.sandbox.jira.server import JiraSandbox

from .test_cli import (
    cli_env,
    database_url,
    exported_store,
    invoke,
    sandbox,
    stored_counts,
    sync_rows,
    synced_store,
    write_connector,
)

FIXTURES = (cli_env, sandbox, synced_store, exported_store)
"""test_cli's fixtures, imported so pytest finds them here: the config dir, the sandbox, a
store holding one sync of it (copied per test)."""

UNSET = "PMO_SYNC_CLI_TEST_NEVER_SET"
VALIDATE_HINT = "`pmo-sync connectors validate` lists every error"
NO_POLICIES = (
    'no governance policies in {}: no findings are computed (see "Policies" in config/README.md)'
)


@pytest.fixture(autouse=True)
def _quiet(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """stderr holds the command's own lines only (the JSON log is tested in test_cli)."""
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    monkeypatch.delenv(UNSET, raising=False)


def _two_broken(cli_env: Path, url: str) -> tuple[Path, Path]:
    """A file with an unknown key and one whose token variable is not set."""
    typo = write_connector(cli_env, "b-typo.yaml", "typo", url, extra="pagesize: 50\n")
    unset = write_connector(cli_env, "c-unset.yaml", "unset", url, token=f"${{{UNSET}}}")
    return typo, unset


# -- sync ------------------------------------------------------------------------------------------


def test_sync_skips_invalid_files_runs_every_valid_one_and_exits_5(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    write_connector(cli_env, "a-abc.yaml", "abc", sandbox.url, jql="project = ABC")
    typo, unset = _two_broken(cli_env, sandbox.url)
    write_connector(cli_env, "d-def.yaml", "def", sandbox.url, jql="project = DEF")
    result = invoke("sync")
    assert result.exit_code == 5
    assert [row[:4] for row in sync_rows(result.stdout)] == [
        ["abc", "success", "100", "100"],
        ["def", "success", "100", "100"],
    ]
    assert result.stderr.splitlines() == [
        f"invalid {typo}: pagesize: unknown key (did you mean 'page_size'?)",
        f"invalid {unset}: token: environment variable {UNSET} is not set",
        NO_POLICIES.format(cli_env / "policies"),
        f"skipped 2 connector files (invalid): {typo}, {unset}; {VALIDATE_HINT}",
    ]
    assert stored_counts(database_url()) == {"abc": 100, "def": 100}


def test_sync_with_a_skipped_file_and_a_failing_connector_exits_1(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    write_connector(cli_env, "a-abc.yaml", "abc", sandbox.url, jql="project = ABC")
    typo = write_connector(cli_env, "b-typo.yaml", "typo", sandbox.url, extra="pagesize: 50\n")
    write_connector(cli_env, "c-down.yaml", "down", "http://127.0.0.1:9", extra="max_retries: 0\n")
    result = invoke("sync")
    assert result.exit_code == 1
    assert [row[:2] for row in sync_rows(result.stdout)] == [
        ["abc", "success"],
        ["down", "failed"],
    ]
    assert result.stderr.splitlines()[-1] == (
        f"skipped 1 connector file (invalid): {typo}; {VALIDATE_HINT}"
    )


def test_sync_connector_runs_a_valid_one_beside_an_invalid_file_and_exits_0(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    write_connector(cli_env, "a-abc.yaml", "abc", sandbox.url, jql="project = ABC")
    typo, unset = _two_broken(cli_env, sandbox.url)
    result = invoke("sync", "--connector", "abc")
    assert result.exit_code == 0
    assert [row[:4] for row in sync_rows(result.stdout)] == [["abc", "success", "100", "100"]]
    assert result.stderr.splitlines() == [
        f"not run: 2 connector files invalid ({typo}, {unset}); {VALIDATE_HINT}",
        NO_POLICIES.format(cli_env / "policies"),
    ]


def test_sync_connector_naming_the_invalid_file_exits_2_with_its_errors(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    write_connector(cli_env, "a-abc.yaml", "abc", sandbox.url, jql="project = ABC")
    typo, _ = _two_broken(cli_env, sandbox.url)
    seen = len(sandbox.requests)
    result = invoke("sync", "--connector", "typo")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"invalid {typo}: pagesize: unknown key (did you mean 'page_size'?)\n"
    assert sandbox.requests[seen:] == []  # nothing ran


def test_sync_connector_naming_no_file_lists_the_connectors(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    write_connector(cli_env, "a-abc.yaml", "abc", sandbox.url, jql="project = ABC")
    write_connector(cli_env, "d-def.yaml", "def", sandbox.url, jql="project = DEF")
    result = invoke("sync", "--connector", "nope")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "no connector named 'nope' (connectors: abc, def)\n"


def test_sync_with_every_file_invalid_runs_nothing_and_exits_2(
    cli_env: Path, sandbox: JiraSandbox
) -> None:
    typo, unset = _two_broken(cli_env, sandbox.url)
    seen = len(sandbox.requests)
    result = invoke("sync")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"invalid {typo}: pagesize: unknown key (did you mean 'page_size'?)",
        f"invalid {unset}: token: environment variable {UNSET} is not set",
        f"no valid connector file in {cli_env / 'connectors'}: nothing ran",
    ]
    assert sandbox.requests[seen:] == []


def test_an_empty_environment_variable_is_reported_as_set_but_empty(
    cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UNSET, "")
    write_connector(cli_env, "a-abc.yaml", "abc", sandbox.url, jql="project = ABC")
    empty = write_connector(cli_env, "b-empty.yaml", "empty", sandbox.url, token=f"${{{UNSET}}}")
    result = invoke("sync")
    assert result.exit_code == 5
    assert result.stderr.splitlines()[0] == (
        f"invalid {empty}: token: environment variable {UNSET} is set but empty"
    )


# -- push ------------------------------------------------------------------------------------------


def test_push_skips_an_invalid_file_and_exits_5(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(cli_env, "a-abc.yaml", "abc", sandbox.url, jql="project = ABC")
    typo = write_connector(cli_env, "b-typo.yaml", "typo", sandbox.url, extra="pagesize: 50\n")
    result = invoke("push")
    assert result.exit_code == 5
    assert result.stdout == "abc: write-back not enabled\n"
    assert result.stderr.splitlines() == [  # push leaves "no policies" to sync and kpis
        f"invalid {typo}: pagesize: unknown key (did you mean 'page_size'?)",
        f"skipped 1 connector file (invalid): {typo}; {VALIDATE_HINT}",
    ]
    only = invoke("push", "--connector", "abc")
    assert only.exit_code == 0
    assert only.stdout == "abc: write-back not enabled\n"
    broken = invoke("push", "--connector", "typo")
    assert broken.exit_code == 2
    assert broken.stderr == f"invalid {typo}: pagesize: unknown key (did you mean 'page_size'?)\n"


# -- an empty config directory ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [("sync",), ("push",), ("push", "--dry-run"), ("connectors", "list"), ("serve",)]
)
def test_an_empty_config_directory_says_where_the_examples_are(
    cli_env: Path, command: tuple[str, ...]
) -> None:
    result = invoke(*command)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"no connector files in {cli_env / 'connectors'}: copy one from "
        "config/examples/connectors/ (see config/README.md)\n"
    )


# -- connectors list and validate ------------------------------------------------------------------

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config"


def _three_files(cli_env: Path, url: str) -> tuple[Path, Path]:
    write_connector(cli_env, "a-abc.yaml", "abc", url, jql="project = ABC",
                    extra="schedule:\n  interval_minutes: 30\n")  # fmt: skip
    return _two_broken(cli_env, url)


def test_list_json_and_csv_name_every_file_and_its_errors(cli_env: Path) -> None:
    url = "https://acme.atlassian.net"
    typo, unset = _three_files(cli_env, url)
    listed = invoke("connectors", "list", "--format", "json")
    assert listed.exit_code == 5
    assert json.loads(listed.stdout) == [
        {"file": str(cli_env / "connectors" / "a-abc.yaml"), "name": "abc", "kind": "jira",
         "where": f"{url}/", "schedule": "every 30 min", "state": "ok", "errors": []},
        {"file": str(typo), "name": "typo", "kind": "jira", "where": None, "schedule": "-",
         "state": "invalid", "errors": ["pagesize: unknown key (did you mean 'page_size'?)"]},
        {"file": str(unset), "name": "unset", "kind": "jira", "where": None, "schedule": "-",
         "state": "invalid", "errors": [f"token: environment variable {UNSET} is not set"]},
    ]  # fmt: skip
    as_csv = invoke("connectors", "list", "--format", "csv")
    assert as_csv.exit_code == 5
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["file", "name", "kind", "where", "schedule", "state", "errors"],
        [str(cli_env / "connectors" / "a-abc.yaml"), "abc", "jira", f"{url}/", "every 30 min",
         "ok", ""],
        [str(typo), "typo", "jira", "", "-", "invalid",
         "pagesize: unknown key (did you mean 'page_size'?)"],
        [str(unset), "unset", "jira", "", "-", "invalid",
         f"token: environment variable {UNSET} is not set"],
    ]  # fmt: skip
    refused = invoke("connectors", "list", "--format", "xml")
    assert refused.exit_code == 2
    assert refused.stderr == "--format must be table, json or csv, not 'xml'\n"


def test_list_fits_80_columns_and_cuts_no_cell(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.out, "width", 80)
    _three_files(cli_env, "https://acme.atlassian.net")
    result = invoke("connectors", "list")
    assert result.exit_code == 5
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert max(len(line) for line in lines[1:]) <= 80
    assert "…" not in result.stdout
    assert lines[1:3] == [
        "connector  kind  where               schedule      state",
        "─" * 80,
    ]
    assert lines[3:] == [
        "abc        jira  acme.atlassian.net  every 30 min  ok",
        "typo       jira  -                   -             invalid: pagesize: unknown",
        "                                                   key (did you mean",
        "                                                   'page_size'?)",
        "unset      jira  -                   -             invalid: token: environment",
        "                                                   variable",
        f"                                                   {UNSET}",
        "                                                   is not set",
    ]


def test_validate_says_what_it_checked(cli_env: Path) -> None:
    write_connector(cli_env, "a-abc.yaml", "abc", "https://acme.atlassian.net")
    write_connector(cli_env, "b-def.yaml", "def", "https://acme.atlassian.net")
    write_connector(cli_env, "c-ghi.yaml", "ghi", "https://acme.atlassian.net")
    (cli_env / "kpis.yaml").write_text("velocity_window: 4\n", encoding="utf-8")
    shutil.copytree(REPO_CONFIG / "policies", cli_env / "policies")
    result = invoke("connectors", "validate")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"checked 3 connector files, kpis.yaml, portfolio.yaml (none: the defaults) and 4 "
        f"policy files in {cli_env}: all valid\n"
    )
    assert result.stderr == ""


def test_validate_checks_portfolio_yaml_and_names_it(cli_env: Path) -> None:
    write_connector(cli_env, "a-abc.yaml", "acme-jira", "https://acme.atlassian.net")
    portfolio = cli_env / "portfolio.yaml"
    shutil.copy(REPO_CONFIG / "examples" / "portfolio.yaml", portfolio)
    result = invoke("connectors", "validate")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"checked 1 connector file, kpis.yaml (none: the defaults), portfolio.yaml and "
        f"policies/ (none: no findings) in {cli_env}: all valid\n"
    )
    portfolio.write_text(
        "themes:\n"
        "  - {name: Growth, target_share: 80, match: {lables: [growth]}}\n"
        "  - {name: Ops, target_share: 30, sources: [acme-jiraa], match: {labels: [ops]}}\n",
        encoding="utf-8",
    )
    result = invoke("connectors", "validate")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{portfolio}: themes[0].match.lables: unknown key (did you mean 'labels'?)",
        f"{portfolio}: themes[1].sources[0]: no connector named 'acme-jiraa' "
        "(connectors: acme-jira)",
        f"{portfolio}: themes: the target shares add up to 110%: at most 100",
        f"checked 1 connector file, kpis.yaml (none: the defaults), portfolio.yaml and "
        f"policies/ (none: no findings) in {cli_env}: 3 errors",
    ]


def test_validate_of_an_empty_config_directory_says_nothing_would_run(cli_env: Path) -> None:
    result = invoke("connectors", "validate")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"no connector files in {cli_env / 'connectors'}: copy one from "
        "config/examples/connectors/ (see config/README.md)",
        f"checked 0 connector files, kpis.yaml (none: the defaults), "
        f"portfolio.yaml (none: the defaults) and policies/ "
        f"(none: no findings) in {cli_env}: nothing to run",
    ]


def test_validate_still_exits_2_for_one_invalid_file(cli_env: Path) -> None:
    typo, unset = _three_files(cli_env, "https://acme.atlassian.net")
    result = invoke("connectors", "validate")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{typo}: pagesize: unknown key (did you mean 'page_size'?)",
        f"{unset}: token: environment variable {UNSET} is not set",
        f"checked 3 connector files, kpis.yaml (none: the defaults), "
        f"portfolio.yaml (none: the defaults) and policies/ "
        f"(none: no findings) in {cli_env}: 2 errors",
    ]


# -- nothing synced, no policies, an unknown team --------------------------------------------------


@pytest.mark.parametrize(
    "command", [("kpis",), ("findings",), ("export",), ("kpis", "--team", "X")]
)
def test_a_store_with_nothing_synced_says_so(cli_env: Path, command: tuple[str, ...]) -> None:
    assert invoke("db", "upgrade").exit_code == 0  # the tables are there, no sync yet
    result = invoke(*command)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "nothing synced yet: run `pmo-sync sync`\n"


def test_findings_of_an_unknown_team_lists_the_teams_and_exits_2(exported_store: Path) -> None:
    result = invoke("findings", "--team", "Team Omega")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "no team 'Team Omega' (teams: Team Alpha, Team Beta, Team Gamma)\n"


def test_findings_without_policies_says_none_are_computed(
    exported_store: Path, cli_env: Path
) -> None:
    result = invoke("findings", "--team", "Team Beta")
    assert result.exit_code == 0
    assert result.stdout == "no open findings\n"
    assert result.stderr == NO_POLICIES.format(cli_env / "policies") + "\n"


def test_status_of_an_empty_config_directory_says_where_the_examples_are(cli_env: Path) -> None:
    result = invoke("status")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"{cli_env / 'connectors'}: (directory): no connector files: copy one from "
        "config/examples/connectors/ (see config/README.md)\n"
    )
