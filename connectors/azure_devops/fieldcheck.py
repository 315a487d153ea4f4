"""Whether Azure DevOps will take each write-back field on every work item type written to.

A configured field must be a field of the organisation (`GET _apis/wit/fields`, one call)
and of each work item type pmo-sync writes to: a PATCH naming a field the item's type
lacks answers TF51535, and an inherited process adds a custom field to one type at a
time. So each type written to is asked for its fields once
(`GET {project}/_apis/wit/workitemtypes/{type}/fields`): one call per type. The types are
the store's (`types`: those of the synced items); before the first sync, the types of up
to `SAMPLE_ITEMS` work items of the project (one WIQL, one batch read).

The project's process (`GET _apis/projects/{id}?includeCapabilities=true`) names where an
admin adds the field: Organization settings > Process > that process > the type > New
field. A system process (Agile, Scrum, CMMI, Basic) cannot be changed: an inherited one
must be made first, and the project moved to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from connectors.azure_devops.client import AdoClient
from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.base import CheckResult
from connectors.errors import ConnectorError

__all__ = [
    "SAMPLE_ITEMS",
    "SYSTEM_PROCESSES",
    "ProcessInfo",
    "add_field_steps",
    "check_writeback_fields",
    "project_process",
    "resolve_references",
    "sample_types",
    "type_fields",
]

SAMPLE_ITEMS = 200
"""Work items read for their type when the store has none (one batch read)."""
SYSTEM_PROCESSES = frozenset({"Agile", "Scrum", "CMMI", "Basic"})
"""Azure DevOps' own processes: locked, every change needs an inherited process."""
_ANY_ITEMS = (
    "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
    "ORDER BY [System.ChangedDate] DESC"
)


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """The project's process: its name, and whether Azure DevOps lets an admin change it."""

    name: str
    system: bool


def project_process(client: AdoClient) -> ProcessInfo | None:
    """The project's process, from its capabilities (None when the service does not say)."""
    with client.translate_errors(f"read the process of project {client.project}"):
        project = client.core.get_project(client.project, include_capabilities=True)
    template = ((project.capabilities or {}).get("processTemplate")) or {}
    name = template.get("templateName")
    if not name:
        return None
    return ProcessInfo(str(name), str(name) in SYSTEM_PROCESSES)


def type_fields(client: AdoClient, work_item_type: str) -> set[str]:
    """The reference names of a work item type's fields, casefolded (one call)."""
    with client.translate_errors(f"list the fields of work item type {work_item_type}"):
        found = client.wit.get_work_item_type_fields_with_references(client.project, work_item_type)
    return {str(f.reference_name).casefold() for f in found or []}


def resolve_references(
    organisation: Mapping[str, str], names: Collection[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Configured names (reference or display names) -> reference names, and name -> what is
    wrong for the others, against the organisation's field list (reference -> name)."""
    by_ref = {ref.casefold(): ref for ref in organisation}
    found: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name in names:
        if name.casefold() in by_ref:
            found[name] = by_ref[name.casefold()]
            continue
        named = [r for r, shown in organisation.items() if shown.casefold() == name.casefold()]
        if len(named) == 1:
            found[name] = named[0]
        elif named:
            problems[name] = (
                f"{len(named)} fields are named {name!r} ({', '.join(named)}): put the "
                "reference name of the right one in the config"
            )
        else:
            problems[name] = f"no field {name!r} in the organisation"
    return found, problems


def add_field_steps(process: ProcessInfo | None, types: Collection[str], shown: str) -> str:
    """What an admin does to put field `shown` on `types`, for the project's process."""
    kinds = ", ".join(sorted(types))
    if process is None:
        return (
            "Organization settings > Process > the project's inherited process > "
            f"{kinds} > New field > Use an existing field > {shown} > Add field"
        )
    if process.system:
        return (
            f"the project uses the system process {process.name}, which cannot be changed: "
            f"Organization settings > Process > {process.name} > ... > Create inherited "
            "process, move the project to it (the process > Projects > Change process), "
            f"then in it: {kinds} > New field > Use an existing field > {shown} > Add field"
        )
    return (
        f"Organization settings > Process > {process.name} > {kinds} > New field > Use an "
        f"existing field > {shown} > Add field"
    )


def check_writeback_fields(
    client: AdoClient, config: AzureDevOpsConfig, types: Collection[str]
) -> list[CheckResult]:
    """One result per configured write-back field: a field of the organisation and of every
    work item type written to, or what is missing where and the admin's steps."""
    names = list(config.writeback.fields.values())
    if not names:
        return []
    try:
        organisation = client.work_item_fields()
        written_to = sorted(types) or sample_types(client)
        process = project_process(client)
        fields_of = {t: type_fields(client, t) for t in written_to}
    except ConnectorError as exc:
        return [CheckResult("write-back fields", False, str(exc))]
    if organisation is None:  # a server without the field list: reference names as given
        organisation = {name: name for name in names}
    found, problems = resolve_references(organisation, names)
    results: list[CheckResult] = []
    for name in names:
        title = f"write-back field {name!r}"
        if name in problems:
            results.append(
                CheckResult(
                    title,
                    False,
                    f"{problems[name]}: run `pmo-sync connectors provision {config.name}`",
                )
            )
            continue
        ref = found[name]
        lacking = [t for t in written_to if ref.casefold() not in fields_of[t]]
        if not lacking:
            where = ", ".join(written_to) if written_to else "no work item yet"
            results.append(CheckResult(title, True, f"{ref}, a field of {where}"))
            continue
        results.append(
            CheckResult(
                title,
                False,
                f"{ref} is not a field of {', '.join(lacking)} in project {client.project}: "
                + add_field_steps(process, lacking, organisation.get(ref, ref)),
            )
        )
    return results


def sample_types(client: AdoClient) -> list[str]:
    """The types of the project's most recently changed work items (before a first sync)."""
    ids = client.work_item_ids(_ANY_ITEMS, SAMPLE_ITEMS)
    if not ids:
        return []
    items = client.work_items_batch(ids[:SAMPLE_ITEMS], ["System.WorkItemType"])
    return sorted({str((i["fields"] or {}).get("System.WorkItemType")) for i in items})
