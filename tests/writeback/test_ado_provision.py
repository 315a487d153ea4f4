"""`connectors provision` for Azure DevOps: it takes write-back, so provisioning creates the
fields the organisation lacks and says, per field, which work item types an admin must add
it to and how; never "write-back is not available"."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.process import AdoProcess

from .conftest import Invoke, ado_file

FIELDS = {"cycle_time_days": "Custom.CycleTimeDays", "lead_time_days": "Lead time (days)"}


def test_provision_creates_a_missing_field_and_names_the_types_to_add_it_to(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    with AdoSandbox(wiql_cap=100, size=60) as ado:
        ado_file(config_dir, monkeypatch, ado, fields=FIELDS)
        assert invoke("sync").exit_code == 0
        types = ", ".join(sorted({i.type for i in ado.dataset.items()}))
        project = ado.dataset.project.name
        ado.reset_log()
        result = invoke("connectors", "provision", "acme-ado")
        assert result.exit_code == 1
        todo = (
            f"TODO lead_time_days: Custom.LeadTimeDays is not a field of {types} in project "
            f"{project}: Organization settings > Process > Acme Agile > {types} > New field > "
            "Use an existing field > Lead time (days) > Add field"
        )
        assert result.stdout.splitlines() == [
            f"ok   cycle_time_days: Custom.CycleTimeDays is a field of {types}",
            "made lead_time_days: created double field Custom.LeadTimeDays ('Lead time (days)')",
            todo,
        ]
        created = [r for r in ado.requests if r.method == "POST" and r.path.endswith("/fields")]
        assert [r.body["referenceName"] for r in created] == ["Custom.LeadTimeDays"]
        assert ado.api.process.has("Custom.LeadTimeDays")

        ado.reset_log()
        again = invoke("connectors", "provision", "acme-ado")
        assert again.exit_code == 1
        assert again.stdout.splitlines() == [
            f"ok   cycle_time_days: Custom.CycleTimeDays is a field of {types}",
            todo,
        ]
        assert [r for r in ado.requests if r.method == "POST"] == []


def test_provision_without_the_permission_prints_the_steps_and_on_a_system_process_too(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    process = AdoProcess(name="Agile").without_on("Bug", "Custom.CycleTimeDays")
    with AdoSandbox(wiql_cap=100, size=60, process=process) as ado:
        ado_file(config_dir, monkeypatch, ado, fields=FIELDS)
        ado.inject(method="POST", path=r"/_apis/wit/fields$", status=403, times=1)
        result = invoke("connectors", "provision", "acme-ado")  # before a sync: sampled types
        assert result.exit_code == 1
        assert "not available" not in result.stdout + result.stderr
        assert result.stdout.splitlines() == [
            "TODO cycle_time_days: Custom.CycleTimeDays is not a field of Bug in project "
            f"{ado.dataset.project.name}: the project uses the system process Agile, which "
            "cannot be changed: Organization settings > Process > Agile > ... > Create "
            "inherited process, move the project to it (the process > Projects > Change "
            "process), then in it: Bug > New field > Use an existing field > Cycle time "
            "(days) > Add field",
            "TODO lead_time_days: the PAT's user may not create fields (HTTP 403): an admin "
            "creates it: Organization settings > Process > the inherited process > a work "
            "item type > New field > Create a field > name 'Lead time (days)', type Decimal > "
            "Add field, then adds it to every other type written to; put its reference name "
            "in the config",
        ]
        assert not ado.api.process.has("Custom.LeadTimeDays")
