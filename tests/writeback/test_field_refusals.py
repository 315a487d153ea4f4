"""A field refused for a place stops that field there for the run: one line, the items
skipped counted, the rest written, the ledger keeping what is owed.

Through the command line against the sandboxes: a Jira project whose edit screen lacks a
field, an Azure DevOps work item type without it, a Trello board without it.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.process import AdoProcess
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello.server import TrelloSandbox

from .conftest import Invoke, ado_file, jira_file, trello_file

CYCLE, WIP = "Cycle time (days)", "WIP age (days)"


def _planned(preview: str, prefix: str, field: str | None = None) -> set[str]:
    """Keys of the dry run's field lines starting with `prefix` (that name `field`)."""
    keys = set()
    for line in preview.splitlines():
        match = re.match(r"(\S+): (set|clear) ", line)
        named = field is None or f"[{field}]" in line
        if match and match[1].startswith(prefix) and named:
            keys.add(match[1])
    return keys


def _said(stderr: str) -> list[str]:
    """What the command printed on stderr, without the log's JSON lines."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


def _jira_with_fields(jira: JiraSandbox, screens: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Create each field and put it on the edit screens of the projects named."""
    ids = {}
    for name, projects in screens.items():
        ids[name] = jira.dataset.create_custom_field(name, "number")
        for project in projects:
            jira.dataset.add_field_to_screen(ids[name], project)
    return ids


def test_jira_a_field_off_one_projects_screen_is_skipped_there_with_one_line(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    with JiraSandbox(issues_per_project=60) as jira:
        ids = _jira_with_fields(jira, {CYCLE: ("ABC", "DEF", "GHI"), WIP: ("ABC", "GHI")})
        jira_file(config_dir, monkeypatch, jira, comments=False)
        assert invoke("sync").exit_code == 0
        preview = invoke("push", "--dry-run").stdout
        refused = _planned(preview, "DEF-", WIP)
        cycle_on_def = _planned(preview, "DEF-", CYCLE)
        planned = int(re.findall(r"acme-jira: would make (\d+) change", preview)[0])
        assert len(refused) > 1 and cycle_on_def
        jira.reset_log()

        pushed = invoke("push")
        assert pushed.exit_code == 1
        calls = len(jira.requests)
        assert pushed.stdout.splitlines()[-1] == (
            f"acme-jira: made {planned - len(refused - cycle_on_def)} change(s), 0 failed, "
            f"{len(refused)} skipped (a field refused where they are: see below), "
            f"{calls} API calls"
        )
        assert _said(pushed.stderr) == [
            f"acme-jira: field 'WIP age (days)' cannot be set in project DEF (not on the edit "
            f"screen): skipped {len(refused)} items; run `pmo-sync connectors check acme-jira`"
        ]
        # One refused PUT; every other DEF issue written without the field, at once.
        refusals = [w for w in jira.writes if w.status == 400]
        assert len(refusals) == 1
        data = jira.dataset
        assert all(data.field_value(key, ids[WIP]) is None for key in refused)
        assert all(data.field_value(key, ids[CYCLE]) is not None for key in cycle_on_def)
        written = _planned(preview, "ABC-", WIP) | _planned(preview, "GHI-", WIP)
        assert all(data.field_value(key, ids[WIP]) is not None for key in written)

        # The admin puts the field on the screen: the next push writes what was skipped.
        data.add_field_to_screen(ids[WIP], "DEF")
        again = invoke("push")
        assert again.exit_code == 0, again.stderr
        assert again.stdout.splitlines()[-1].startswith(
            f"acme-jira: made {len(refused)} change(s), 0 failed, "
        )
        assert all(data.field_value(key, ids[WIP]) is not None for key in refused)


def test_ado_a_field_off_one_work_item_type_is_skipped_for_that_type_with_one_line(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    process = AdoProcess().without_on("Bug", "Custom.WipAgeDays")
    # 250 items: the sandbox plans its sprints at their start, so few are in progress at a
    # time; 250 gives several Bugs in progress (whose WIP age is refused) and other types.
    with AdoSandbox(wiql_cap=100, size=250, process=process) as ado:
        ado_file(config_dir, monkeypatch, ado, comments=False)
        assert invoke("sync").exit_code == 0
        preview = invoke("push", "--dry-run").stdout
        bugs = {str(i.id) for i in ado.dataset.items() if i.type == "Bug"}
        wip = _planned(preview, "", "Custom.WipAgeDays")
        refused = wip & bugs
        assert len(refused) > 1 and wip - bugs
        cycle_only = _planned(preview, "", "Custom.CycleTimeDays") - wip
        planned = int(re.findall(r"acme-ado: would make (\d+) change", preview)[0])
        ado.reset_log()

        pushed = invoke("push")
        assert pushed.exit_code == 1
        project = ado.dataset.project.name
        assert _said(pushed.stderr) == [
            f"acme-ado: field 'Custom.WipAgeDays' cannot be set on Bug in project {project} "
            f"(not a field of the work item type): skipped {len(refused)} items; run "
            "`pmo-sync connectors check acme-ado`"
        ]
        both = refused & _planned(preview, "", "Custom.CycleTimeDays")
        assert re.fullmatch(
            rf"acme-ado: made {planned - len(refused - both)} change\(s\), 0 failed, "
            rf"{len(refused)} skipped \(a field refused where they are: see below\), \d+ API calls",
            pushed.stdout.splitlines()[-1],
        )
        patches = [w for w in ado.writes if w.method == "PATCH"]
        assert [w.status for w in patches].count(400) == 1
        assert cycle_only  # written with no refusal
        for item_id in refused:
            assert "Custom.WipAgeDays" not in ado.dataset.item(int(item_id)).fields
        for item_id in wip - bugs:
            assert "Custom.WipAgeDays" in ado.dataset.item(int(item_id)).fields


def test_trello_a_field_missing_on_one_board_is_skipped_there_with_one_line(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(cards_per_board=50, key=f"key-{tag}", token=f"token-{tag}") as trello:
        alpha, beta = trello.dataset.boards
        for board in (alpha, beta):
            trello.dataset.create_custom_field(board, CYCLE, "number")
        trello.dataset.create_custom_field(alpha, WIP, "number")
        trello_file(config_dir, monkeypatch, trello, comments=False)
        assert invoke("sync").exit_code == 0
        preview = invoke("push", "--dry-run").stdout
        on_beta = {c.short_link for c in trello.dataset.cards(beta)}
        wip = _planned(preview, "", WIP)
        refused = wip & on_beta
        assert len(refused) > 1 and wip - on_beta
        planned = int(re.findall(r"acme-trello: would make (\d+) change", preview)[0])
        both = refused & _planned(preview, "", CYCLE)

        pushed = invoke("push")
        assert pushed.exit_code == 1
        assert _said(pushed.stderr) == [
            f"acme-trello: field 'WIP age (days)' cannot be set on board {beta.name} (not a "
            f"custom field of the board): skipped {len(refused)} items; run "
            "`pmo-sync connectors check acme-trello`"
        ]
        assert re.fullmatch(
            rf"acme-trello: made {planned - len(refused - both)} change\(s\), 0 failed, "
            rf"{len(refused)} skipped \(a field refused where they are: see below\), \d+ API calls",
            pushed.stdout.splitlines()[-1],
        )
        field = alpha.field_named(WIP)
        assert field is not None
        written = [c for c in trello.dataset.cards(alpha) if c.short_link in wip]
        assert written and all(field.id in c.items for c in written)
