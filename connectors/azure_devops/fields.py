"""Which work item fields to ask Azure DevOps for: only those its organisation has.

An organisation's process may lack a field pmo-sync reads (`Microsoft.VSTS.CMMI.Blocked`
outside CMMI, `System.Parent` before Azure DevOps Server 2019, an estimate field of
another process): asking the reporting revision stream for it answers TF51535 and the
whole sync fails. So the metadata stream reads the organisation's field list
(`AdoClient.work_item_fields`, one call) with the rest of the metadata, caches it in
its bookmark, and the work items stream asks only for what exists (`fields_to_read`):

- the platform's `System.*` fields are always asked: every process has them, and the
  stream cannot work without them (only `System.Parent` is newer, and is checked);
- any other field it reads (Blocked, closed date, acceptance criteria, the default
  estimate fields Story Points, Effort and Size) is asked only when the list has it;
- a field the config names (`estimate_field`, `checklist_field`) that the list lacks is an
  error naming it (`FieldNotFoundError`): the config asks for what the organisation has not.

Where the server lists no fields, everything is asked, as before. Reference names are
matched case-insensitively, as Azure DevOps matches them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.errors import FieldNotFoundError

__all__ = [
    "always_there",
    "configured_fields",
    "fields_to_read",
    "missing_field_message",
    "only_existing",
]


def always_there(name: str) -> bool:
    """Whether every Azure DevOps organisation has the field (the platform's own)."""
    return name.startswith("System.") and name != "System.Parent"


def configured_fields(config: AzureDevOpsConfig) -> dict[str, str]:
    """The fields the config names for reading: setting -> reference name."""
    named = {"estimate_field": config.estimate_field, "checklist_field": config.checklist_field}
    return {setting: ref for setting, ref in named.items() if ref}


def missing_field_message(
    config: AzureDevOpsConfig, setting: str, name: str, existing: Collection[str]
) -> str:
    """What to say of a configured field the organisation does not have. `existing` may be
    the field list with names (reference name -> name): a display name is then recognised."""
    named = (
        [ref for ref, shown in existing.items() if shown.casefold() == name.casefold()]
        if isinstance(existing, Mapping)
        else []
    )
    hint = (
        f" ({name!r} is the name of {named[0]}: `{setting}` takes the reference name)"
        if len(named) == 1
        else ""
    )
    return (
        f"`{setting}: {name}` of {config.name} is not a field of this Azure DevOps "
        f"organisation{hint}: set it to the reference name of a field the process has "
        "(Organization settings > Process > the work item type > its fields), or remove it"
    )


def only_existing(wanted: Sequence[str], existing: Collection[str]) -> list[str]:
    """`wanted` without the fields the organisation lacks (`existing`: its reference names);
    the platform's own are kept whatever the list says."""
    known = {ref.casefold() for ref in existing}
    return [name for name in wanted if always_there(name) or name.casefold() in known]


def fields_to_read(
    wanted: Sequence[str], existing: Collection[str] | None, config: AzureDevOpsConfig
) -> list[str]:
    """`wanted` without the fields the organisation lacks (`existing`: its reference names,
    None when unknown); `FieldNotFoundError` naming each configured field it lacks."""
    if existing is None:
        return list(wanted)
    known = {ref.casefold() for ref in existing}
    problems = [
        missing_field_message(config, setting, name, existing)
        for setting, name in configured_fields(config).items()
        if name.casefold() not in known
    ]
    if problems:
        raise FieldNotFoundError("; ".join(problems))
    return only_existing(wanted, existing)
