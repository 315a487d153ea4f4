"""`connectors check NAME` with write-back on: every configured field, where it is written.

Against the sandboxes, through the command line: a Jira field off one project's edit
screen (one editmeta per project x issue type), an Azure DevOps field left off one work
item type (one call per type), a Trello board without the field or without the Custom
Fields power-up. Each missing one is one line naming the field, where and the fix; the
check exits 1; `push --dry-run` warns with the same lines.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.process import AdoProcess
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello.server import TrelloSandbox

from .conftest import Invoke, ado_file, jira_file, trello_file

CYCLE, WIP = "Cycle time (days)", "WIP age (days)"


def _field_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if "write-back field" in line]


def _jira(jira: JiraSandbox) -> tuple[str, str]:
    """Cycle time on every project's screen, WIP age off DEF's."""
    cycle = jira.dataset.create_custom_field(CYCLE, "number")
    wip = jira.dataset.create_custom_field(WIP, "number")
    for project in ("ABC", "DEF", "GHI"):
        jira.dataset.add_field_to_screen(cycle, project)
    for project in ("ABC", "GHI"):
        jira.dataset.add_field_to_screen(wip, project)
    return cycle, wip


@pytest.mark.parametrize("synced", [True, False], ids=["after-a-sync", "before-any-sync"])
def test_jira_names_the_project_and_types_whose_edit_screen_lacks_a_field(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke, synced: bool
) -> None:
    with JiraSandbox(issues_per_project=20) as jira:
        cycle, wip = _jira(jira)
        jira_file(config_dir, monkeypatch, jira)
        if synced:
            assert invoke("sync").exit_code == 0
        jira.reset_log()
        result = invoke("connectors", "check", "acme-jira")
        assert result.exit_code == 1, result.stdout + result.stderr
        places = {(i.project_key, i.issue_type.name) for i in jira.dataset.issues}
        def_types = ", ".join(sorted(t for p, t in places if p == "DEF"))
        assert _field_lines(result.stdout) == [
            f"ok   write-back field 'Cycle time (days)': {cycle}, on the edit screens of "
            "ABC, DEF, GHI",
            f"FAIL write-back field 'WIP age (days)': {wip} is not on the edit screen of "
            f"project DEF ({def_types}): a Jira admin adds it: Project settings > Screens "
            "names the screen; Jira settings > Issues > Screens > that screen > Configure > "
            "add 'WIP age (days)' (and the field's context must include the project)",
        ]
        editmeta = [r.path for r in jira.requests if r.path.endswith("/editmeta")]
        assert len(editmeta) == len(places)  # one per project x type, not one per issue

        if not synced:
            return
        preview = invoke("push", "--dry-run")
        assert preview.exit_code == 0
        assert [line for line in preview.stderr.splitlines() if not line.startswith("{")] == [
            f"acme-jira: FAIL write-back field 'WIP age (days)': {wip} is not on the edit "
            f"screen of project DEF ({def_types}): a Jira admin adds it: Project settings > "
            "Screens names the screen; Jira settings > Issues > Screens > that screen > "
            "Configure > add 'WIP age (days)' (and the field's context must include the "
            "project)"
        ]
        assert [w for w in jira.writes if w.method != "GET"] == []


def test_jira_names_a_field_jira_lacks_and_the_provision_command(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    with JiraSandbox(issues_per_project=5) as jira:
        cycle = jira.dataset.create_custom_field(CYCLE, "number")
        for project in ("ABC", "DEF", "GHI"):
            jira.dataset.add_field_to_screen(cycle, project)
        jira_file(config_dir, monkeypatch, jira)
        result = invoke("connectors", "check", "acme-jira")
        assert result.exit_code == 1
        assert _field_lines(result.stdout) == [
            "FAIL write-back field 'WIP age (days)': no field named 'WIP age (days)' in Jira: "
            "run `pmo-sync connectors provision acme-jira` (or a Jira admin: Jira settings > "
            "Issues > Custom fields > Create custom field)",
            f"ok   write-back field 'Cycle time (days)': {cycle}, on the edit screens of "
            "ABC, DEF, GHI",
        ]


def test_ado_names_the_work_item_type_without_the_field_and_the_process_steps(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    process = AdoProcess().without_on("Bug", "Custom.WipAgeDays")
    with AdoSandbox(wiql_cap=100, size=60, process=process) as ado:
        ado_file(config_dir, monkeypatch, ado)
        assert invoke("sync").exit_code == 0
        types = sorted({i.type for i in ado.dataset.items()})
        ado.reset_log()
        result = invoke("connectors", "check", "acme-ado")
        assert result.exit_code == 1, result.stdout
        project = ado.dataset.project.name
        assert _field_lines(result.stdout) == [
            "ok   write-back field 'Custom.CycleTimeDays': Custom.CycleTimeDays, a field of "
            + ", ".join(types),
            f"FAIL write-back field 'Custom.WipAgeDays': Custom.WipAgeDays is not a field of "
            f"Bug in project {project}: Organization settings > Process > Acme Agile > Bug > "
            "New field > Use an existing field > WIP age (days) > Add field",
        ]
        asked = [r.path for r in ado.requests if r.path.lower().endswith("/fields")]
        assert len([p for p in asked if "workitemtypes" in p.lower()]) == len(types)


def test_ado_on_a_system_process_says_an_inherited_one_is_needed_first(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    process = AdoProcess(name="Agile").without_on("Task", "Custom.CycleTimeDays")
    with AdoSandbox(wiql_cap=100, size=60, process=process) as ado:
        ado_file(config_dir, monkeypatch, ado, fields={"cycle_time_days": "Custom.CycleTimeDays"})
        result = invoke("connectors", "check", "acme-ado")  # before a sync: sampled types
        assert result.exit_code == 1, result.stdout
        assert _field_lines(result.stdout) == [
            "FAIL write-back field 'Custom.CycleTimeDays': Custom.CycleTimeDays is not a field "
            f"of Task in project {ado.dataset.project.name}: the project uses the system "
            "process Agile, which cannot be changed: Organization settings > Process > Agile "
            "> ... > Create inherited process, move the project to it (the process > "
            "Projects > Change process), then in it: Task > New field > Use an existing field "
            "> Cycle time (days) > Add field"
        ]


def test_trello_names_the_board_without_the_field_or_the_power_up(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(cards_per_board=10, key=f"key-{tag}", token=f"token-{tag}") as trello:
        alpha, beta = trello.dataset.boards
        for board in (alpha, beta):
            trello.dataset.create_custom_field(board, CYCLE, "number")
        wip = trello.dataset.create_custom_field(alpha, WIP, "number")
        trello.api.custom_fields_off.add(beta.id)
        trello_file(config_dir, monkeypatch, trello)
        result = invoke("connectors", "check", "acme-trello")
        assert result.exit_code == 1, result.stdout
        lines = [
            line for line in result.stdout.splitlines() if "write-back" in line or "power" in line
        ]
        a, b = (board.field_named(CYCLE) for board in (alpha, beta))
        assert a is not None and b is not None
        assert lines == [
            f"ok   write-back field 'Cycle time (days)' on {alpha.name}: a number field ({a.id})",
            f"ok   write-back field 'WIP age (days)' on {alpha.name}: a number field ({wip.id})",
            f"FAIL Custom Fields power-up on {beta.name}: off: a board admin turns it on (board "
            "menu > Power-Ups > Custom Fields > Add), or no custom field is shown or written",
            f"ok   write-back field 'Cycle time (days)' on {beta.name}: a number field ({b.id})",
            f"FAIL write-back field 'WIP age (days)' on {beta.name}: no such custom field: run "
            "`pmo-sync connectors provision acme-trello`",
        ]
