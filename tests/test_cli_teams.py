"""`pmo-sync` with two trackers that both have a "Team Alpha": kept apart, said once, mappable.

The sandbox Jira (boards Team Alpha, Team Beta, Team Gamma: 100 issues each)
and a sandbox Trello whose boards are Team Alpha (108 cards after moves and
copies) and Team Beta (89), synced by the CLI into one SQLite store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import Result

from pmo_sync import cli
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import TrelloDataset

from .cli_support import cli_state_restored, run_cli

JIRA_TOKEN = "PMO_SYNC_CLI_TEAMS_JIRA_TOKEN"
TRELLO_KEY, TRELLO_TOKEN = "PMO_SYNC_CLI_TEAMS_TRELLO_KEY", "PMO_SYNC_CLI_TEAMS_TRELLO_TOKEN"
JIRA_SECRET = "teams-jira-s3cret-7f1c"
TRELLO_SECRET = "teams-trello-s3cret-2b9d"
SHARED = [
    "team 'Team Alpha' is in acme-jira and acme-trello: kept apart as 'Team Alpha (acme-jira)' "
    "and 'Team Alpha (acme-trello)'; to make them one team, add under teams: in kpis.yaml: "
    "Team Alpha: [{source: acme-jira, team: Team Alpha}, {source: acme-trello, team: Team Alpha}]"
    " (or give each a name of its own the same way)",
    "team 'Team Beta' is in acme-jira and acme-trello: kept apart as 'Team Beta (acme-jira)' "
    "and 'Team Beta (acme-trello)'; to make them one team, add under teams: in kpis.yaml: "
    "Team Beta: [{source: acme-jira, team: Team Beta}, {source: acme-trello, team: Team Beta}]"
    " (or give each a name of its own the same way)",
]
TEAMS_APART = (
    "Team Alpha (acme-jira), Team Alpha (acme-trello), Team Beta (acme-jira), "
    "Team Beta (acme-trello), Team Gamma"
)


def write_connectors(config_dir: Path, jira: JiraSandbox, trello: TrelloSandbox) -> None:
    connectors = config_dir / "connectors"
    connectors.mkdir(parents=True, exist_ok=True)
    (connectors / "acme-jira.yaml").write_text(
        f"name: acme-jira\nkind: jira\nurl: {jira.url}\nemail: {jira.email}\n"
        f"token: ${{{JIRA_TOKEN}}}\njql: project in (ABC, DEF, GHI)\n",
        encoding="utf-8",
    )
    (connectors / "acme-trello.yaml").write_text(
        f"name: acme-trello\nkind: trello\nurl: {trello.root_url}\n"
        f"api_key: ${{{TRELLO_KEY}}}\ntoken: ${{{TRELLO_TOKEN}}}\n"
        "boards: [Team Alpha, Team Beta]\n"
        "sprints: {cadence: {sprint: Sprint 18, starts: 2026-11-16, days: 14}}\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def trackers() -> Iterator[tuple[JiraSandbox, TrelloSandbox]]:
    """Read-only sandboxes for the module: the syncs never change them."""
    data = TrelloDataset.generate(cards_per_board=100, boards=("Team Alpha", "Team Beta"))
    with (
        JiraSandbox(token=JIRA_SECRET) as jira,
        TrelloSandbox(data, token=TRELLO_SECRET) as trello,
    ):
        yield jira, trello


@pytest.fixture(autouse=True)
def cli_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trackers: tuple[JiraSandbox, TrelloSandbox]
) -> Iterator[Path]:
    """An empty cwd, a config dir with both connectors, the test's own store; state restored."""
    jira, trello = trackers
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    config_dir = tmp_path / "config"
    write_connectors(config_dir, jira, trello)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")  # stderr: the command's own lines
    monkeypatch.setenv("PMO_SYNC_LOG_FORMAT", "json")
    monkeypatch.setenv(JIRA_TOKEN, JIRA_SECRET)
    monkeypatch.setenv(TRELLO_KEY, trello.key)
    monkeypatch.setenv(TRELLO_TOKEN, TRELLO_SECRET)
    monkeypatch.setattr(cli.out, "width", 160)
    monkeypatch.setattr(cli.err, "width", 160)
    with cli_state_restored():
        yield config_dir


def notices(stderr: str) -> list[str]:
    """stderr's lines but the one saying this config has no policies (it has none on purpose)."""
    lines = stderr.splitlines()
    no_policies = [line for line in lines if line.startswith("no governance policies in ")]
    assert len(no_policies) <= 1
    return [line for line in lines if line not in no_policies]


def invoke(*args: str) -> Result:
    """Run `pmo-sync ARGS`; fail on a crash and on a token in stdout or stderr."""
    return run_cli(args, secrets=(JIRA_SECRET, TRELLO_SECRET))


@pytest.fixture(scope="module")
def synced(
    trackers: tuple[JiraSandbox, TrelloSandbox], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A store holding one `pmo-sync sync` of both trackers, made once and copied per test."""
    root = tmp_path_factory.mktemp("synced")
    write_connectors(root / "config", *trackers)
    store = root / "store.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PMO_SYNC_CONFIG_DIR", str(root / "config"))
        patch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{store}")
        patch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
        patch.setenv(JIRA_TOKEN, JIRA_SECRET)
        patch.setenv(TRELLO_KEY, trackers[1].key)
        patch.setenv(TRELLO_TOKEN, TRELLO_SECRET)
        result = invoke("sync")
    assert result.exit_code == 0, result.stderr
    return store


@pytest.fixture
def store(synced: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store.sqlite3"
    with closing(sqlite3.connect(synced)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return target


def team_items(stdout: str) -> dict[str, float]:
    return {
        row["scope_key"]: row["value"]
        for row in json.loads(stdout)
        if row["scope"] == "team" and row["metric"] == "items"
    }


@pytest.mark.slow  # two first syncs
def test_sync_keeps_the_two_team_alphas_apart_and_says_so_once(cli_env: Path) -> None:
    result = invoke("sync")
    assert result.exit_code == 0, result.stderr
    assert notices(result.stderr) == SHARED
    kpis = invoke("kpis", "--format", "json")
    assert kpis.exit_code == 0
    assert notices(kpis.stderr) == SHARED
    assert team_items(kpis.stdout) == {
        "Team Alpha (acme-jira)": 100,
        "Team Alpha (acme-trello)": 108,
        "Team Beta (acme-jira)": 100,
        "Team Beta (acme-trello)": 89,
        "Team Gamma": 100,
    }


@pytest.mark.usefixtures("store")
def test_push_says_it_once_too() -> None:
    result = invoke("push")
    assert result.exit_code == 0, result.stderr
    assert notices(result.stderr) == SHARED
    assert result.stdout.splitlines() == [
        "acme-jira: write-back not enabled",
        "acme-trello: write-back not enabled",
    ]


@pytest.mark.usefixtures("store")
def test_the_team_filters_take_the_shown_name_and_list_them_on_error() -> None:
    wrong = invoke("kpis", "--team", "Team Alpha")
    assert wrong.exit_code == 2
    assert notices(wrong.stderr) == [*SHARED, f"no team 'Team Alpha' (teams: {TEAMS_APART})"]
    right = invoke("kpis", "--team", "Team Alpha (acme-trello)", "--format", "json")
    assert right.exit_code == 0
    rows = json.loads(right.stdout)
    assert team_items(right.stdout) == {"Team Alpha (acme-trello)": 108}
    assert {row["scope_key"] for row in rows if row["scope"] == "sprint"} >= {
        "Sprint 18 (Team Alpha (acme-trello))"
    }
    wrong = invoke("findings", "--team", "Team Alpha")
    assert wrong.exit_code == 2
    assert wrong.stderr == f"no team 'Team Alpha' (teams: {TEAMS_APART})\n"
    right = invoke("findings", "--team", "Team Gamma")
    assert (right.exit_code, right.stdout) == (0, "no open findings\n")


@pytest.mark.usefixtures("store")
def test_teams_lists_each_teams_delivery_method_and_what_says_it(cli_env: Path) -> None:
    """Jira's boards are scrum boards, Trello's connector has a sprint convention; then
    portfolio.yaml names Gamma a traditional project and Trello's Beta a kanban team (a
    name any case, in every source that has it: Jira's Team Beta too)."""
    before = invoke("teams", "--format", "json")
    assert before.exit_code == 0, before.stderr
    assert json.loads(before.stdout) == [
        {"connector": "acme-jira", "team": name, "delivery": "scrum", "from": "board"}
        for name in ("Team Alpha", "Team Beta", "Team Gamma")
    ] + [
        {"connector": "acme-trello", "team": name, "delivery": "scrum", "from": "board"}
        for name in ("Team Alpha", "Team Beta")
    ]
    (cli_env / "portfolio.yaml").write_text(
        "delivery:\n  Team Gamma: traditional\n  team beta: kanban\n  Team Deltta: scrum\n",
        encoding="utf-8",
    )
    table = invoke("teams")
    assert table.exit_code == 0, table.stderr
    assert table.stderr == (
        "portfolio.yaml: delivery.Team Deltta: no synced team 'Team Deltta' "
        "(closest: 'Team Beta')\n"
    )
    assert [line.rstrip() for line in table.stdout.splitlines()] == [
        "connector    team        delivery     from",
        "─────────────────────────────────────────────────────",
        "acme-jira    Team Alpha  scrum        board",
        "acme-jira    Team Beta   kanban       portfolio.yaml",
        "acme-jira    Team Gamma  traditional  portfolio.yaml",
        "acme-trello  Team Alpha  scrum        board",
        "acme-trello  Team Beta   kanban       portfolio.yaml",
    ]
    exported = invoke("export", "--team", "Team Gamma")
    assert {json.loads(line)["delivery"] for line in exported.stdout.splitlines()} == {
        "traditional"
    }


@pytest.mark.usefixtures("store")
def test_teams_with_an_invalid_portfolio_yaml_is_its_error(cli_env: Path) -> None:
    (cli_env / "portfolio.yaml").write_text("delivery:\n  Team Gamma: waterfall\n")
    result = invoke("teams")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"{cli_env / 'portfolio.yaml'}: delivery.Team Gamma: Input should be 'scrum', "
        "'kanban' or 'traditional'\n"
    )


def test_findings_team_before_any_sync_says_nothing_was_synced() -> None:
    """`findings` reads the store without creating it: with nothing synced there is no
    team to check `--team` against, and the one line says what to run (exit 0)."""
    result = invoke("findings", "--team", "Team Alpha")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.endswith("nothing has been synced there yet; run `pmo-sync sync`, "
                                  "or check PMO_SYNC_DATABASE_URL\n")  # fmt: skip
    assert "\n" not in result.stderr[:-1]


@pytest.mark.usefixtures("store")
def test_the_yaml_of_the_notice_merges_them(cli_env: Path) -> None:
    suggested = SHARED[0].split("add under teams: in kpis.yaml: ")[1].split(" (or give")[0]
    (cli_env / "kpis.yaml").write_text(
        f"teams:\n  {suggested}\n  Jira Beta:\n    - source: acme-jira\n      team: Team Beta\n",
        encoding="utf-8",
    )
    result = invoke("kpis", "--format", "json")
    assert result.exit_code == 0
    assert notices(result.stderr) == []
    assert team_items(result.stdout) == {
        "Team Alpha": 208,
        "Jira Beta": 100,
        "Team Beta": 89,
        "Team Gamma": 100,
    }


@pytest.mark.usefixtures("store")
def test_a_team_name_that_matches_no_synced_team_is_a_warning_naming_the_closest(
    cli_env: Path,
) -> None:
    (cli_env / "kpis.yaml").write_text(
        "teams:\n  Platform:\n    - {source: acme-jira, team: Team Alpah}\n"
        "    - {source: acme-trello, team: Team Alpha}\n"
        "workflows:\n  Team Gama:\n    stages:\n"
        "      - {name: To Do, statuses: [To Do], category: todo}\n"
        "      - {name: Doing, statuses: [In Progress], category: in_progress}\n"
        "      - {name: Done, statuses: [Done], category: done}\n",
        encoding="utf-8",
    )
    result = invoke("kpis", "--team", "Platform", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert notices(result.stderr) == [
        SHARED[1],
        "kpis.yaml: teams.Platform[0].team: no synced team 'Team Alpah' in acme-jira "
        "(closest: 'Team Alpha')",
        "kpis.yaml: workflows.Team Gama: no synced team 'Team Gama' (closest: 'Team Gamma')",
    ]
    assert team_items(result.stdout) == {"Platform": 108}


def test_every_kpis_yaml_error_at_once_with_its_key_path(cli_env: Path) -> None:
    path = cli_env / "kpis.yaml"
    path.write_text(
        "velocity_window: 0\n"
        "teams:\n  Platform:\n    - {source: acme-jira, team: Team Alpha}\n"
        "    - {source: contoso-ado, team: Fabrikam\\Platform}\n"
        "  Mobile:\n    - {source: acme-jira, team: Team Alpha}\n"
        "workflows:\n  Team Gamma:\n    stages:\n"
        "      - {name: To Do, statuses: [To Do], category: todo}\n"
        "      - {name: Doing, statuses: [In Progress], category: in_progress}\n"
        "      - {name: Done, statuses: [Done, To Do], category: done}\n",
        encoding="utf-8",
    )
    expected = [
        f"{path}: velocity_window: Input should be greater than or equal to 1",
        f"{path}: teams.Platform[1].source: no connector named 'contoso-ado' "
        "(connectors: acme-jira, acme-trello)",
        f"{path}: teams.Mobile[0]: acme-jira's team 'Team Alpha' is already in teams.Platform[0]",
        f"{path}: workflows.Team Gamma.stages[2].statuses[1]: status 'To Do' is already in "
        "stage 'To Do'",
    ]
    kpis = invoke("kpis")
    assert kpis.exit_code == 2
    assert kpis.stderr.splitlines() == expected
    validate = invoke("connectors", "validate")
    assert validate.exit_code == 2
    assert validate.stderr.splitlines() == [
        *expected,
        f"checked 2 connector files, kpis.yaml, portfolio.yaml (none: the defaults) and policies/ "
        f"(none: no findings) in {cli_env}: "
        "4 errors",
    ]
