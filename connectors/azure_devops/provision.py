"""`pmo-sync connectors provision` for Azure DevOps: each write-back field, in the organisation
and on each work item type written to.

Azure DevOps takes write-back (fields by PATCH, the bot comment), so provisioning never
says it is unavailable. For each `writeback.fields` metric (sorted by metric):

- a field the organisation lacks is created (`POST _apis/wit/fields`: a `double` field, a
  `dateTime` one for a metric ending in `_date`; the reference name is the configured one
  when it is a reference name, else `Custom.` and the name's letters and digits) and
  reported `made`; refused (HTTP 401 or 403: creating a field needs the organisation's
  "Edit process" permission) it is a `TODO` with the admin's steps to create it by hand;
- a field on every work item type written to is `ok`; one some types lack is a `TODO`
  naming them, with the steps for the project's process: an inherited process takes the
  field on each type (Organization settings > Process > the process > the type > New
  field > Use an existing field), a system process must first be replaced by an
  inherited one. The process API that adds a field to a type (`_apis/work/processes`)
  is not called: on a type not yet customised it first derives the type, which changes
  the project's process, a change an admin makes knowingly.

The types written to are the store's (those of the synced items) or, before any sync,
the types of the project's most recently changed items. A second run finds the created
fields and makes no POST. Creating is a POST and is never retried on a 5xx or a timeout
(a second field would be refused as a duplicate, but a lost answer is reported as such).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from azure.devops.v7_1.work_item_tracking.models import WorkItemField2

from connectors.azure_devops.client import AdoClient
from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.azure_devops.fieldcheck import (
    ProcessInfo,
    add_field_steps,
    project_process,
    resolve_references,
    sample_types,
    type_fields,
)
from connectors.errors import AuthenticationError, ConnectorError, PermissionDeniedError
from connectors.http import CallStats
from connectors.provisioning import ProvisionStep
from pmo_sync.common.writeback_config import METRICS

__all__ = ["ProvisionStep", "field_type", "provision", "reference_for"]

_REFERENCE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")


def field_type(metric: str) -> str:
    """The Azure DevOps field type a metric gets: dates for `*_date` metrics, else double."""
    return "dateTime" if metric.endswith("_date") else "double"


def reference_for(name: str) -> str:
    """The reference name a configured field gets: itself when it is one, else `Custom.`
    and the name's letters and digits ("Cycle time (days)" -> Custom.CycleTimeDays)."""
    if _REFERENCE.match(name):
        return name
    words = re.findall(r"[A-Za-z0-9]+", name)
    return "Custom." + "".join(w[:1].upper() + w[1:] for w in words)


def provision(
    config: AzureDevOpsConfig, types: Collection[str], client: AdoClient | None = None
) -> Iterator[ProvisionStep]:
    """Check, and create in the organisation where missing, each write-back field; say what
    an admin must do for the work item types that lack it. Steps come as they happen."""
    if client is None:
        own = AdoClient(config, CallStats())
        try:
            yield from provision(config, types, own)
        finally:
            own.close()
        return
    try:
        organisation = client.work_item_fields() or {}
        written_to = sorted(types) or sample_types(client)
        process = project_process(client)
    except ConnectorError as exc:
        yield ProvisionStep("fail", "fields", str(exc))
        return
    found, _ = resolve_references(organisation, config.writeback.fields.values())
    for metric, name in sorted(config.writeback.fields.items()):
        ref = found.get(name)
        shown = organisation.get(ref, name) if ref else name
        if ref is None:
            step, ref = _create(client, metric, name, process)
            yield step
            if step.status != "made":
                continue
            shown = METRICS[metric].label if _REFERENCE.match(name) else name
        try:
            lacking = [t for t in written_to if ref.casefold() not in type_fields(client, t)]
        except ConnectorError as exc:
            yield ProvisionStep("fail", metric, str(exc))
            continue
        if not lacking:
            where = ", ".join(written_to) if written_to else "no work item yet"
            yield ProvisionStep("ok", metric, f"{ref} is a field of {where}")
            continue
        yield ProvisionStep(
            "todo",
            metric,
            f"{ref} is not a field of {', '.join(lacking)} in project {client.project}: "
            + add_field_steps(process, lacking, shown),
        )


def _create(
    client: AdoClient, metric: str, name: str, process: ProcessInfo | None
) -> tuple[ProvisionStep, str]:
    """Create the field in the organisation: the step, and its reference name."""
    ref = reference_for(name)
    label = METRICS[metric].label if _REFERENCE.match(name) else name
    kind = field_type(metric)
    body = WorkItemField2(name=label, reference_name=ref, type=kind, usage="workItem")
    try:
        with client.translate_errors(f"create the field {ref} ({kind})"):
            created = client.wit.create_work_item_field(body)
    except (AuthenticationError, PermissionDeniedError) as exc:
        where = process.name if process and not process.system else "the inherited process"
        picked = "Decimal" if kind == "double" else "Date/Time"
        return (
            ProvisionStep(
                "todo",
                metric,
                f"the PAT's user may not create fields (HTTP {exc.status_code}): an admin "
                f"creates it: Organization settings > Process > {where} > a work item type "
                f"> New field > Create a field > name {label!r}, type {picked} > Add field, "
                "then adds it to every other type written to; put its reference name in the "
                "config",
            ),
            ref,
        )
    except ConnectorError as exc:
        return ProvisionStep("fail", metric, str(exc)), ref
    made = str(getattr(created, "reference_name", None) or ref)
    return ProvisionStep("made", metric, f"created {kind} field {made} ({label!r})"), made
