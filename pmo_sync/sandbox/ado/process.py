"""The sandbox organisation's process: which work item fields exist in it.

`GET _apis/wit/fields` lists them (`AdoProcess.field_json`), and a read that names a
field the process lacks (the reporting revision stream, a batch or single work item
read) answers what Azure DevOps answers: HTTP 400, `TF51535: Cannot find field
{name}.` in the service's error envelope (`AdoProcess.require`).

The default process is the Agile one as pmo-sync meets it: the platform's `System.*`
fields, the Agile and Scrum scheduling fields, CMMI's Blocked, and the KPI fields an
admin adds for write-back (`Custom.*`). A different organisation is one call away:

    AdoSandbox(process=AdoProcess().without("Microsoft.VSTS.CMMI.Blocked"))

`lists_fields=False` is a server without the field list: the route answers 404.

A work item type has every field of the process but those an inherited process left
off it (`without_on`): `GET {project}/_apis/wit/workitemtypes/{type}/fields` lists the
type's (`type_field_json`), and a PATCH naming a field its item's type lacks answers
TF51535 as Azure DevOps does (`require_on`). Other writes are not checked against the
process (a PATCH of any `Custom.*` field is accepted, as before).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from pmo_sync.sandbox.ado.generator import STATES_BY_TYPE, AdoError

__all__ = ["DEFAULT_FIELDS", "FIELD_NOT_FOUND", "AdoProcess", "FieldDef"]

FIELD_NOT_FOUND = "TF51535"
_FIELD_NOT_FOUND_TYPE = "WorkItemTrackingFieldDefinitionNotFoundException"


@dataclass(frozen=True, slots=True)
class FieldDef:
    reference_name: str
    name: str
    type: str
    """As the API names it: string, integer, double, dateTime, html, plainText, treePath,
    boolean, identity, history."""
    read_only: bool = False


def _fields(*rows: tuple[str, str, str] | tuple[str, str, str, bool]) -> tuple[FieldDef, ...]:
    return tuple(FieldDef(*row) for row in rows)


DEFAULT_FIELDS = _fields(
    ("System.Id", "ID", "integer", True),
    ("System.Rev", "Rev", "integer", True),
    ("System.WorkItemType", "Work Item Type", "string", True),
    ("System.State", "State", "string"),
    ("System.Reason", "Reason", "string"),
    ("System.Title", "Title", "string"),
    ("System.Description", "Description", "html"),
    ("System.AreaPath", "Area Path", "treePath"),
    ("System.AreaId", "Area ID", "integer"),
    ("System.IterationPath", "Iteration Path", "treePath"),
    ("System.IterationId", "Iteration ID", "integer"),
    ("System.TeamProject", "Team Project", "string", True),
    ("System.NodeName", "Node Name", "string", True),
    ("System.CreatedDate", "Created Date", "dateTime", True),
    ("System.CreatedBy", "Created By", "identity", True),
    ("System.ChangedDate", "Changed Date", "dateTime", True),
    ("System.ChangedBy", "Changed By", "identity", True),
    ("System.AuthorizedDate", "Authorized Date", "dateTime", True),
    ("System.AuthorizedAs", "Authorized As", "identity", True),
    ("System.RevisedDate", "Revised Date", "dateTime", True),
    ("System.AssignedTo", "Assigned To", "identity"),
    ("System.Tags", "Tags", "plainText"),
    ("System.Parent", "Parent", "integer"),
    ("System.IsDeleted", "Is Deleted", "boolean", True),
    ("System.CommentCount", "Comment Count", "integer", True),
    ("System.History", "History", "history"),
    ("System.Watermark", "Watermark", "integer", True),
    ("System.BoardColumn", "Board Column", "string", True),
    ("System.BoardColumnDone", "Board Column Done", "boolean", True),
    ("System.BoardLane", "Board Lane", "string", True),
    ("Microsoft.VSTS.Common.Priority", "Priority", "integer"),
    ("Microsoft.VSTS.Common.StateChangeDate", "State Change Date", "dateTime", True),
    ("Microsoft.VSTS.Common.ActivatedDate", "Activated Date", "dateTime", True),
    ("Microsoft.VSTS.Common.ActivatedBy", "Activated By", "identity", True),
    ("Microsoft.VSTS.Common.ResolvedDate", "Resolved Date", "dateTime", True),
    ("Microsoft.VSTS.Common.ResolvedBy", "Resolved By", "identity", True),
    ("Microsoft.VSTS.Common.ClosedDate", "Closed Date", "dateTime", True),
    ("Microsoft.VSTS.Common.ClosedBy", "Closed By", "identity", True),
    ("Microsoft.VSTS.Common.AcceptanceCriteria", "Acceptance Criteria", "html"),
    ("Microsoft.VSTS.Common.ValueArea", "Value Area", "string"),
    ("Microsoft.VSTS.Common.Severity", "Severity", "string"),
    ("Microsoft.VSTS.Common.StackRank", "Stack Rank", "double"),
    ("Microsoft.VSTS.Common.BacklogPriority", "Backlog Priority", "double"),
    ("Microsoft.VSTS.Common.Risk", "Risk", "string"),
    ("Microsoft.VSTS.Scheduling.StoryPoints", "Story Points", "double"),
    ("Microsoft.VSTS.Scheduling.Effort", "Effort", "double"),
    ("Microsoft.VSTS.Scheduling.Size", "Size", "double"),
    ("Microsoft.VSTS.Scheduling.OriginalEstimate", "Original Estimate", "double"),
    ("Microsoft.VSTS.Scheduling.RemainingWork", "Remaining Work", "double"),
    ("Microsoft.VSTS.Scheduling.CompletedWork", "Completed Work", "double"),
    ("Microsoft.VSTS.Scheduling.StartDate", "Start Date", "dateTime"),
    ("Microsoft.VSTS.Scheduling.TargetDate", "Target Date", "dateTime"),
    ("Microsoft.VSTS.Scheduling.FinishDate", "Finish Date", "dateTime"),
    ("Microsoft.VSTS.CMMI.Blocked", "Blocked", "string"),
    ("Custom.CycleTimeDays", "Cycle time (days)", "double"),
    ("Custom.WipAgeDays", "WIP age (days)", "double"),
    ("Custom.TeamCycleTimeP85Days", "Team cycle time P85 (days)", "double"),
    ("Custom.Forecast", "Forecast (P85)", "dateTime"),
    ("Custom.Checklist", "Checklist", "html"),
)
"""The fields of the default process, as `GET _apis/wit/fields` lists them."""


@dataclass(frozen=True, slots=True)
class AdoProcess:
    """The organisation's fields; `without` and `replace(lists_fields=False)` vary it."""

    fields: tuple[FieldDef, ...] = DEFAULT_FIELDS
    name: str = "Acme Agile"
    """The project's process, as its capabilities name it: an inherited process by default;
    "Agile" (a system process, locked) says custom fields cannot be added to it."""
    lists_fields: bool = True
    """False: no field list (the route answers 404), as an older server."""
    type_lacks: frozenset[tuple[str, str]] = frozenset()
    """(work item type, reference name), casefolded: a field of the process left off a type."""

    def without_on(self, work_item_type: str, *reference_names: str) -> AdoProcess:
        """This process with the named fields left off one work item type (an inherited
        process's admin removing them from the type's layout and fields)."""
        for name in reference_names:
            if not self.has(name):
                raise ValueError(f"the process has no field {name!r}")
        lacks = {(work_item_type.casefold(), r.casefold()) for r in reference_names}
        return replace(self, type_lacks=self.type_lacks | lacks)

    def created(self, new: FieldDef) -> AdoProcess:
        """This process with a field just created in the organisation: a field of no work
        item type until an admin adds it to one (Azure DevOps creates it so)."""
        lacks = {(t.casefold(), new.reference_name.casefold()) for t in STATES_BY_TYPE}
        return replace(self, fields=(*self.fields, new), type_lacks=self.type_lacks | lacks)

    def on_type(self, work_item_type: str, reference_name: str) -> bool:
        """Whether the field is in the process and on the work item type."""
        lacking = (work_item_type.casefold(), reference_name.casefold()) in self.type_lacks
        return self.has(reference_name) and not lacking

    def require_on(self, work_item_type: str, reference_names: Iterable[str]) -> None:
        """TF51535 for the first named field the type lacks (only those left off it)."""
        for name in reference_names:
            if (work_item_type.casefold(), name.casefold()) in self.type_lacks:
                raise AdoError(
                    400, FIELD_NOT_FOUND, f"Cannot find field {name}.", _FIELD_NOT_FOUND_TYPE
                )

    def without(self, *reference_names: str) -> AdoProcess:
        """This process lacking the named fields (matched case-insensitively)."""
        gone = {r.casefold() for r in reference_names}
        unknown = gone - {f.reference_name.casefold() for f in self.fields}
        if unknown:
            raise ValueError(f"the process has no field {sorted(unknown)}")
        kept = tuple(f for f in self.fields if f.reference_name.casefold() not in gone)
        return replace(self, fields=kept)

    def has(self, reference_name: str) -> bool:
        wanted = reference_name.casefold()
        return any(f.reference_name.casefold() == wanted for f in self.fields)

    def require(self, reference_names: Iterable[str] | None) -> None:
        """TF51535 for the first named field the process lacks, as Azure DevOps answers."""
        for name in reference_names or ():
            if not self.has(name):
                raise AdoError(
                    400, FIELD_NOT_FOUND, f"Cannot find field {name}.", _FIELD_NOT_FOUND_TYPE
                )

    def field_json(self, base_url: str) -> list[dict[str, Any]]:
        """The field list's `value`, one object per field (WorkItemField2, 7.1)."""
        if not self.lists_fields:
            raise AdoError(404, "", "The resource cannot be found.")
        return [
            {
                "name": f.name,
                "referenceName": f.reference_name,
                "description": "",
                "type": f.type,
                "usage": "workItem",
                "readOnly": f.read_only,
                "canSortBy": f.type not in ("html", "history", "plainText"),
                "isQueryable": True,
                "supportedOperations": [],
                "isIdentity": f.type == "identity",
                "isPicklist": False,
                "isPicklistSuggested": False,
                "isLocked": f.reference_name.startswith("System."),
                "url": f"{base_url}/_apis/wit/fields/{f.reference_name}",
            }
            for f in self.fields
        ]

    def type_field_json(self, work_item_type: str, base_url: str) -> list[dict[str, Any]]:
        """`GET {project}/_apis/wit/workitemtypes/{type}/fields`'s `value`
        (WorkItemTypeFieldWithReferences, 7.1): the type's fields."""
        return [
            {
                "name": f.name,
                "referenceName": f.reference_name,
                "alwaysRequired": f.reference_name == "System.Title",
                "defaultValue": None,
                "helpText": "",
                "url": f"{base_url}/_apis/wit/fields/{f.reference_name}",
            }
            for f in self.fields
            if self.on_type(work_item_type, f.reference_name)
        ]
