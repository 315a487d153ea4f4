"""`connectors check` for Azure DevOps against the sandbox: read side, identity, write access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from connectors.base import CheckReport
from pmo_sync.sandbox.ado import AdoDataset, AdoProcess, AdoSandbox
from pmo_sync.sandbox.ado.process import DEFAULT_FIELDS

TOKEN_VARIABLE = "PMO_SYNC_TEST_ADO_TOKEN"
READ_ONLY_PAT = "read-only-pat"
FIELDS = {"cycle_time_days": "Custom.CycleTimeDays", "forecast_done_p85_date": "Custom.Forecast"}


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture(scope="module")
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(size=40, read_only_pat=READ_ONLY_PAT) as sandbox:
        yield sandbox


def _check(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch, pat: str, **overrides: Any
) -> CheckReport:
    monkeypatch.setenv(TOKEN_VARIABLE, pat)
    data: dict[str, Any] = {
        "name": "sandbox-ado",
        "kind": "azure_devops",
        "organization_url": ado.url,
        "token": f"${{{TOKEN_VARIABLE}}}",
        "project": ado.dataset.project.name,
        "max_retry_wait_seconds": 1,
        "writeback": {"enabled": True, "fields": FIELDS, "comments": True},
    }
    data.update(overrides)
    with AzureDevOpsConnector(AzureDevOpsConfig.model_validate(data)) as connector:
        return connector.check()


def _results(report: CheckReport) -> dict[str, tuple[bool, str]]:
    return {r.name: (r.ok, r.detail) for r in report.results}


def test_a_full_check_names_the_identity_and_probes_write_access_without_writing(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    revisions_before = ado.dataset.watermark()
    ado.reset_log()
    report = _check(ado, monkeypatch, ado.pat)
    results = _results(report)
    assert report.ok, report.results
    team_lines = [n for n in results if n.startswith("team ")]
    assert list(results) == [
        "credentials",
        "identity",
        "project",
        "teams",
        *team_lines,
        "fields",
        "wiql",
        "write access",
    ]
    assert len(team_lines) == len(ado.dataset.teams)
    assert results["identity"] == (
        True,
        "the PAT belongs to pmo-bot@contoso.example: its edits are the bot's",
    )
    # every field the sync reads is there
    assert results["fields"] == (True, f"{len(DEFAULT_FIELDS)} work item fields")
    assert results["write access"][1].startswith("the PAT may edit work items (validated on ")
    # the probe is one validate-only PATCH with both fields, and nothing was stored
    patches = [r for r in ado.requests if r.method == "PATCH"]
    assert len(patches) == 1
    assert patches[0].query.get("validateOnly") == ["true"]
    assert {op["path"] for op in patches[0].body} == {
        "/fields/Custom.CycleTimeDays",
        "/fields/Custom.Forecast",
    }
    assert ado.dataset.watermark() == revisions_before


def test_a_read_only_pat_passes_the_read_checks_and_fails_write_access(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _check(ado, monkeypatch, READ_ONLY_PAT)
    results = _results(report)
    assert not report.ok
    assert results["credentials"][0] and results["wiql"][0]
    ok, detail = results["write access"]
    assert not ok
    assert "Work Items (Read & write) scope" in detail
    assert READ_ONLY_PAT not in detail


def test_a_user_without_edit_rights_is_told_which_permission_to_grant(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ado.inject(method="PATCH", path=r"/_apis/wit/workitems/\d+$", status=403, times=1)
    try:
        results = _results(_check(ado, monkeypatch, ado.pat))
    finally:
        ado.clear_faults()
    ok, detail = results["write access"]
    assert not ok and "'Edit work items in this node'" in detail and "(HTTP 403)" in detail


def test_without_write_back_nothing_is_written_or_probed(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ado.reset_log()
    report = _check(ado, monkeypatch, READ_ONLY_PAT, writeback={"enabled": False})
    assert report.ok, report.results
    assert "write access" not in _results(report)
    assert not [r for r in ado.requests if r.method == "PATCH"]


def test_comments_only_write_back_probes_with_the_items_own_title(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ado.reset_log()
    report = _check(ado, monkeypatch, ado.pat, writeback={"enabled": True, "comments": True})
    assert report.ok, report.results
    patch = next(r for r in ado.requests if r.method == "PATCH")
    item_id = int(patch.path.rsplit("/", 1)[1])
    assert patch.body == [
        {
            "op": "add",
            "path": "/fields/System.Title",
            "value": ado.dataset.item(item_id).fields["System.Title"],
        }
    ]


def test_a_wrong_pat_stops_at_the_credentials(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _results(_check(ado, monkeypatch, "not-the-pat"))
    assert list(results) == ["credentials"]
    ok, detail = results["credentials"]
    assert not ok and "rejected the personal access token" in detail
    assert "not-the-pat" not in detail


def test_a_configured_field_the_organisation_lacks_fails_the_check(
    ado: AdoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for wrong, hint in [
        ("Custom.Points", ""),
        ("Story Points", " ('Story Points' is the name of Microsoft.VSTS.Scheduling.StoryPoints:"
         " `estimate_field` takes the reference name)"),
    ]:  # fmt: skip
        report = _check(ado, monkeypatch, ado.pat, estimate_field=wrong)
        assert not report.ok
        assert _results(report)["estimate_field"] == (
            False,
            f"`estimate_field: {wrong}` of sandbox-ado is not a field of this Azure DevOps "
            f"organisation{hint}: set it to the reference name of a field the process has "
            "(Organization settings > Process > the work item type > its fields), or remove it",
        )
    found = _check(
        ado, monkeypatch, ado.pat, estimate_field="microsoft.vsts.scheduling.effort",
        checklist_field="Custom.Checklist",
    )  # fmt: skip
    assert _results(found)["estimate_field"] == (True, "Microsoft.VSTS.Scheduling.Effort (Effort)")
    assert _results(found)["checklist_field"] == (True, "Custom.Checklist (Checklist)")
    missing = _check(ado, monkeypatch, ado.pat, checklist_field="Custom.Todo")
    assert not missing.ok
    assert _results(missing)["checklist_field"][1].startswith(
        "`checklist_field: Custom.Todo` of sandbox-ado is not a field of this Azure DevOps "
    )


def test_the_fields_a_process_lacks_are_named_and_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    points = ("Microsoft.VSTS.Scheduling.StoryPoints", "Microsoft.VSTS.Scheduling.Effort",
              "Microsoft.VSTS.Scheduling.Size")  # fmt: skip
    process = AdoProcess().without("Microsoft.VSTS.CMMI.Blocked", "System.Parent", *points)
    with AdoSandbox(AdoDataset.generate(size=5), process=process) as lacking:
        report = _check(lacking, monkeypatch, lacking.pat, writeback={"enabled": False})
    results = _results(report)
    assert report.ok, report.results  # a warning: items will have no estimate
    assert results["fields"] == (
        True,
        f"{len(DEFAULT_FIELDS) - 5} work item fields; not in this process, so not read: "
        "System.Parent, "
        "Microsoft.VSTS.CMMI.Blocked, " + ", ".join(points),
    )
    assert results["estimate_field"] == (
        False,
        f"this process has none of {', '.join(points)}: set `estimate_field` to the field "
        "holding estimates, or items have none",
    )


def test_a_server_without_a_field_list_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    process = AdoProcess(lists_fields=False)
    with AdoSandbox(AdoDataset.generate(size=5), process=process) as old:
        report = _check(old, monkeypatch, old.pat, writeback={"enabled": False})
    assert report.ok, report.results
    assert _results(report)["fields"] == (
        False,
        "this Azure DevOps lists no work item fields: the sync asks for every field it reads, "
        "and one the process lacks fails it (TF51535)",
    )
