"""`connectors check` for Azure DevOps: what an admin must know before the first sync or push.

Reach first: nothing answering at `organization_url` is reported once, as `reach`,
and ends the check. Then the read side: the PAT is accepted, whose it is, the
project, the teams and their iterations, the organisation's fields (a configured
`estimate_field` or `checklist_field` it lacks fails the check, as it fails the
sync; the fields pmo-sync would read and the process lacks are named), WIQL.
Write side, only when write-back is enabled: the PAT may edit a work item (each
write-back field's own line, in the organisation and on each work item type
written to, is `connectors.azure_devops.fieldcheck`'s) — probed with a
`validateOnly` PATCH (Azure DevOps validates the change, including the
permission to save it, and stores nothing), so checking never writes.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from connectors.azure_devops.client import AdoClient
from connectors.azure_devops.config import DEFAULT_ESTIMATE_FIELDS, AzureDevOpsConfig
from connectors.azure_devops.fields import (
    configured_fields,
    missing_field_message,
    only_existing,
)
from connectors.azure_devops.push import AdoWriter, authenticated_identity, refused_field
from connectors.azure_devops.streams import REVISION_FIELDS
from connectors.base import CheckReport
from connectors.errors import AuthenticationError, ConnectorError

__all__ = ["check_connector"]

_ANY_ITEM = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project"


def check_connector(client: AdoClient, config: AzureDevOpsConfig) -> CheckReport:
    report = CheckReport()
    try:
        info = client.project_info()
    except AuthenticationError as exc:
        report.add("credentials", False, str(exc))
        return report
    except ConnectorError as exc:  # unreachable, failing, or not an Azure DevOps API: stop here
        report.add("project" if exc.status_code in (403, 404) else "reach", False, str(exc))
        return report
    report.add("credentials", True, f"the PAT is accepted by {client.url}")
    _check_identity(report, client)
    report.add("project", True, f"{info.get('name', config.project)} ({info.get('id', '?')})")
    _check_teams(report, client, config)
    _check_fields(report, client, config)
    sample = _check_wiql(report, client)
    if config.writeback.enabled:
        _check_writeback(report, client, config, sample)
    return report


def _check_identity(report: CheckReport, client: AdoClient) -> None:
    try:
        who = authenticated_identity(client)
    except ConnectorError as exc:
        report.add("identity", False, str(exc), "warning")
    else:
        report.add("identity", True, f"the PAT belongs to {who}: its edits are the bot's")


def _check_teams(report: CheckReport, client: AdoClient, config: AzureDevOpsConfig) -> None:
    try:
        teams = [str(t["name"]) for t in client.teams()]
    except ConnectorError as exc:
        report.add("teams", False, str(exc))
        return
    wanted = config.teams or teams
    missing = sorted({t.lower() for t in wanted} - {t.lower() for t in teams})
    report.add(
        "teams",
        not missing,
        f"missing: {', '.join(missing)} (found {', '.join(teams)})"
        if missing
        else f"{len(wanted)} team(s): {', '.join(wanted)}",
    )
    for team in [t for t in teams if t.lower() in {w.lower() for w in wanted}]:
        try:
            count = len(client.team_iterations(team))
        except ConnectorError as exc:
            report.add(f"team {team} iterations", False, str(exc), "warning")
        else:
            report.add(f"team {team} iterations", True, f"{count} iterations")


def _check_fields(report: CheckReport, client: AdoClient, config: AzureDevOpsConfig) -> None:
    """The organisation's field list: each configured field in it, and what the sync will
    not read because the process lacks it."""
    try:
        fields = client.work_item_fields()
    except ConnectorError as exc:
        report.add("fields", False, str(exc), "warning")
        return
    if fields is None:
        report.add(
            "fields",
            False,
            "this Azure DevOps lists no work item fields: the sync asks for every field it "
            "reads, and one the process lacks fails it (TF51535)",
            "warning",
        )
        return
    known = {ref.casefold(): ref for ref in fields}
    for setting, name in configured_fields(config).items():
        ref = known.get(name.casefold())
        if ref is None:
            report.add(setting, False, missing_field_message(config, setting, name, fields))
        else:
            report.add(setting, True, f"{ref} ({fields[ref]})")
    read = [*REVISION_FIELDS, *([] if config.estimate_field else DEFAULT_ESTIMATE_FIELDS)]
    asked = only_existing(read, fields)
    lacking = [f for f in read if f not in asked]
    report.add(
        "fields",
        True,
        f"{len(fields)} work item fields"
        + (f"; not in this process, so not read: {', '.join(lacking)}" if lacking else ""),
    )
    if not config.estimate_field and all(f in lacking for f in DEFAULT_ESTIMATE_FIELDS):
        report.add(
            "estimate_field",
            False,
            f"this process has none of {', '.join(DEFAULT_ESTIMATE_FIELDS)}: set "
            "`estimate_field` to the field holding estimates, or items have none",
            "warning",
        )


def _check_wiql(report: CheckReport, client: AdoClient) -> int | None:
    """Whether WIQL runs; one work item id to probe write access on, if there is one."""
    try:
        ids = client.work_item_ids(_ANY_ITEM, 1)
    except ConnectorError as exc:
        report.add("wiql", False, str(exc))
        return None
    report.add("wiql", True, "WIQL runs" + ("" if ids else " (no work item yet)"))
    return ids[0] if ids else None


def _check_writeback(
    report: CheckReport, client: AdoClient, config: AzureDevOpsConfig, sample: int | None
) -> None:
    names = list(config.writeback.fields.values())
    with AdoWriter(client) as writer:
        refs: dict[str, str] = {}
        if names:  # each field's own line: `connectors check` adds them (fieldcheck.py)
            with suppress(ConnectorError):
                refs = writer.field_ids(names)
        if sample is None:
            report.add("write access", False, "no work item to try an edit on", "warning")
            return
        probe = _probe_values(config, refs)
        try:
            try:
                writer.validate_fields(sample, probe)
            except ConnectorError as exc:
                if refused_field(exc, probe) is None:
                    raise
                # A field the sample's type lacks is fieldcheck.py's line: the probe is
                # for the permission, asked again with the item's own title.
                writer.validate_fields(sample, {})
        except ConnectorError as exc:
            report.add("write access", False, _write_denied(exc, sample))
        else:
            report.add(
                "write access",
                True,
                f"the PAT may edit work items (validated on {sample}; nothing was saved)",
            )


def _probe_values(config: AzureDevOpsConfig, refs: dict[str, str]) -> dict[str, Any]:
    """A value of the right kind for each write-back field: a date metric gets a date."""
    today = datetime.now(UTC).date().isoformat()
    return {
        ref: (f"{today}T00:00:00Z" if metric.endswith("_date") else 0.0)
        for metric, name in config.writeback.fields.items()
        if (ref := refs.get(name))
    }


def _write_denied(exc: ConnectorError, item_id: int) -> str:
    text = str(exc)
    if exc.status_code == 401 or isinstance(exc, AuthenticationError):
        return (
            f"the PAT may read but not write work items (HTTP 401 on a validate-only edit of "
            f"{item_id}): give it the Work Items (Read & write) scope"
        )
    if exc.status_code == 403 or "TF237111" in text:
        return (
            f"the PAT's user may not edit work item {item_id} (HTTP {exc.status_code}): grant "
            f"'Edit work items in this node' on the teams' area paths. Azure DevOps said: {text}"
        )
    return text
