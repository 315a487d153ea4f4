"""`pmo-sync connectors provision` for Trello: one field per board and metric, against the sandbox.

`provision()` is tested directly, then through the command line with a config
file (the Trello kind is made loadable here, whether or not it is registered).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from connectors.trello import TrelloClient, TrelloConfig
from connectors.trello.provision import ProvisionStep, provision
from pmo_sync import cli
from pmo_sync import config as config_module
from pmo_sync.sandbox.trello import TrelloSandbox

from ...cli_support import cli_state_restored, run_cli

MakeClient = Callable[..., TrelloClient]  # the make_client fixture (conftest.py)
CYCLE = "Cycle time (days)"
FORECAST = "Forecast done (p85)"
WRITEBACK = {
    "enabled": True,
    "fields": {"forecast_done_p85_date": FORECAST, "cycle_time_days": CYCLE},
}
KEY_VARIABLE = "PMO_SYNC_TEST_TRELLO_KEY"
TOKEN_VARIABLE = "PMO_SYNC_TEST_TRELLO_TOKEN"


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(cards_per_board=5, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


def run(client: TrelloClient) -> list[str]:
    return [step.line for step in provision(client.config, client)]


def field_id(sandbox: TrelloSandbox, board: int, name: str) -> str:
    found = sandbox.dataset.boards[board].field_named(name)
    assert found is not None
    return found.id


def test_provision_creates_the_missing_fields_on_every_board_then_finds_them(
    trello: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(trello, writeback=WRITEBACK)
    alpha, beta = trello.dataset.boards
    lines = run(client)
    ids = {(b, n): field_id(trello, b, n) for b in (0, 1) for n in (CYCLE, FORECAST)}
    assert len(set(ids.values())) == 4  # one field per board and metric
    assert lines == [
        f"made cycle_time_days: created number field {CYCLE!r} on board 'Team Alpha' "
        f"({ids[0, CYCLE]})",
        f"made forecast_done_p85_date: created date field {FORECAST!r} on board 'Team Alpha' "
        f"({ids[0, FORECAST]})",
        f"made cycle_time_days: created number field {CYCLE!r} on board 'Team Beta' "
        f"({ids[1, CYCLE]})",
        f"made forecast_done_p85_date: created date field {FORECAST!r} on board 'Team Beta' "
        f"({ids[1, FORECAST]})",
    ]
    assert [(f.name, f.type) for f in alpha.custom_fields[-2:]] == [
        (CYCLE, "number"),
        (FORECAST, "date"),
    ]
    assert [(r.method, r.path) for r in trello.requests] == [
        ("GET", "/1/members/me/boards"),
        ("GET", f"/1/boards/{alpha.id}/customFields"),
        ("POST", "/1/customFields"),
        ("POST", "/1/customFields"),
        ("GET", f"/1/boards/{beta.id}/customFields"),
        ("POST", "/1/customFields"),
        ("POST", "/1/customFields"),
    ]
    assert trello.requests[2].body == {
        "idModel": alpha.id,
        "modelType": "board",
        "name": CYCLE,
        "type": "number",
        "pos": "bottom",
        "display_cardFront": True,
    }

    trello.reset_log()
    assert run(client) == [
        f"ok   cycle_time_days: field {CYCLE!r} exists on board 'Team Alpha' ({ids[0, CYCLE]})",
        f"ok   forecast_done_p85_date: field {FORECAST!r} exists on board 'Team Alpha' "
        f"({ids[0, FORECAST]})",
        f"ok   cycle_time_days: field {CYCLE!r} exists on board 'Team Beta' ({ids[1, CYCLE]})",
        f"ok   forecast_done_p85_date: field {FORECAST!r} exists on board 'Team Beta' "
        f"({ids[1, FORECAST]})",
    ]
    assert trello.writes == []


def test_provision_keeps_an_existing_field_and_creates_only_the_rest(
    trello: TrelloSandbox, make_client: MakeClient
) -> None:
    beta = trello.dataset.boards[1]
    existing = trello.dataset.create_custom_field(beta, "cycle time (DAYS)", "number")
    client = make_client(trello, writeback=WRITEBACK)
    steps = list(provision(client.config, client))
    assert [(s.status, s.subject) for s in steps] == [
        ("made", "cycle_time_days"),
        ("made", "forecast_done_p85_date"),
        ("ok", "cycle_time_days"),  # matched case-insensitively, as the writer matches
        ("made", "forecast_done_p85_date"),
    ]
    assert steps[2].line == (
        f"ok   cycle_time_days: field {CYCLE!r} exists on board 'Team Beta' ({existing.id})"
    )
    assert len([r for r in trello.writes if r.method == "POST"]) == 3


def test_a_refused_create_is_a_todo_with_the_admin_steps(
    trello: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(trello, writeback=WRITEBACK)
    trello.inject("POST", r"/customFields$", status=401, body="unauthorized permission requested")
    # Assumed wording: Trello documents no text for a board whose Custom Fields power-up is off.
    refusal = "Custom Fields Power-Up is not enabled on this board"
    trello.inject("POST", r"/customFields$", status=403, body=refusal, skip=1, times=3)
    steps = list(provision(client.config, client))
    assert [(s.status, s.failed) for s in steps] == [("todo", True)] * 4
    first = steps[0].line
    assert first.startswith(
        f"TODO cycle_time_days: Trello refused to create the number field {CYCLE!r} on board "
        "'Team Alpha': the token's member may not create custom field"
    )
    assert "turn on the Custom Fields power-up" in first
    assert "make the token's member an admin of the board" in first
    assert "run `pmo-sync connectors provision acme-trello` again" in first
    assert refusal in steps[1].line and "type Date" in steps[1].line
    assert [f.name for b in trello.dataset.boards for f in b.custom_fields] == [
        "Story Points", "Sprint", "Story Points", "Sprint",
    ]  # fmt: skip


def test_a_lost_answer_to_a_create_is_a_fail_that_says_to_run_again(
    trello: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(trello, writeback={"enabled": True, "fields": {"cycle_time_days": CYCLE}})
    trello.inject("POST", r"/customFields$", status=502, applied=True)
    first = list(provision(client.config, client))
    assert [s.status for s in first] == ["fail", "made"]
    assert "it may have been carried out" in first[0].message
    assert "run `pmo-sync connectors provision acme-trello` again" in first[0].message
    assert len([r for r in trello.writes if r.method == "POST"]) == 2  # the 502 was not retried
    again = list(provision(client.config, client))
    assert [s.status for s in again] == ["ok", "ok"]  # the lost one did exist


def test_unreadable_boards_fail_once(trello: TrelloSandbox, make_client: MakeClient) -> None:
    client = make_client(trello, writeback=WRITEBACK, boards=["Team Alpha", "Team Gamma"])
    steps = list(provision(client.config, client))
    assert steps == [ProvisionStep("fail", "boards", steps[0].message)]
    assert "no board 'Team Gamma' for the token's member" in steps[0].message


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def cli_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config dir and store of the test's own; the Trello kind loadable from files."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    config_dir = tmp_path / "config"
    (config_dir / "connectors").mkdir(parents=True)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setattr(cli.out, "width", 400)
    monkeypatch.setattr(cli.err, "width", 400)
    installed = config_module.connector_models
    monkeypatch.setattr(
        config_module, "connector_models", lambda: {**installed(), "trello": TrelloConfig}
    )
    with cli_state_restored():
        yield config_dir


def invoke(*args: str) -> Result:
    return run_cli(args)


def write_trello(config_dir: Path, sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, sandbox.key)
    monkeypatch.setenv(TOKEN_VARIABLE, sandbox.token)
    (config_dir / "connectors" / "team-trello.yaml").write_text(
        f"name: team-trello\nkind: trello\nurl: {sandbox.root_url}\n"
        f"api_key: ${{{KEY_VARIABLE}}}\ntoken: ${{{TOKEN_VARIABLE}}}\n"
        "boards: [Team Alpha, Team Beta]\n"
        f"writeback:\n  enabled: true\n  fields:\n    cycle_time_days: {CYCLE}\n",
        encoding="utf-8",
    )


def test_cli_provision_for_trello(
    trello: TrelloSandbox, cli_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_trello(cli_dir, trello, monkeypatch)
    result = invoke("connectors", "provision", "team-trello")
    assert result.exit_code == 0, result.stderr
    made = [field_id(trello, b, CYCLE) for b in (0, 1)]
    assert result.stdout.splitlines() == [
        f"made cycle_time_days: created number field {CYCLE!r} on board 'Team Alpha' ({made[0]})",
        f"made cycle_time_days: created number field {CYCLE!r} on board 'Team Beta' ({made[1]})",
    ]
    again = invoke("connectors", "provision", "team-trello")
    assert again.exit_code == 0
    assert [line[:5] for line in again.stdout.splitlines()] == ["ok   ", "ok   "]
    assert len(trello.writes) == 2
    for output in (result.stdout, result.stderr, again.stdout, again.stderr):
        assert trello.key not in output and trello.token not in output


def test_cli_provision_refused_exits_1_and_a_failure_goes_to_stderr(
    trello: TrelloSandbox, cli_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_trello(cli_dir, trello, monkeypatch)
    trello.inject("POST", r"/customFields$", status=403, body="forbidden")
    trello.inject("POST", r"/customFields$", status=400, body="invalid value for name", skip=1)
    result = invoke("connectors", "provision", "team-trello")
    assert result.exit_code == 1
    [todo] = result.stdout.splitlines()
    assert todo.startswith("TODO cycle_time_days: Trello refused to create the number field")
    [fail] = result.stderr.splitlines()
    assert fail.startswith(
        "FAIL cycle_time_days: Trello refused to create custom field 'Cycle time (days)' on "
        f"board {trello.dataset.boards[1].id} (HTTP 400): invalid value for name"
    )


def test_cli_provision_for_azure_devops_without_fields_has_nothing_to_do(
    cli_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "ado-pat-not-used")
    (cli_dir / "connectors" / "team-ado.yaml").write_text(
        "name: team-ado\nkind: azure_devops\norganization_url: http://127.0.0.1:9/contoso\n"
        f"token: ${{{TOKEN_VARIABLE}}}\nproject: Fabrikam\n",
        encoding="utf-8",
    )
    result = invoke("connectors", "provision", "team-ado")
    assert result.exit_code == 0  # Azure DevOps takes write-back: tests/writeback provisions it
    assert result.stdout.strip() == (
        "team-ado: no write-back fields configured; nothing to provision"
    )
