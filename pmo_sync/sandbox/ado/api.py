"""`AdoApi`: the sandbox Azure DevOps REST routes, transport-free.

`handle(method, path, query, body, base_url)` answers one request already
authenticated by the server. Routes are the ones the `azure-devops` 7.1 SDK
builds from the resource locations served here (`LOCATIONS`, answered to
`OPTIONS {org}/_apis`), matched case-insensitively like the real service:

    OPTIONS {org}/_apis                               resource locations
    GET  _apis/resourceAreas                          resource areas (wit, work, core)
    GET  _apis/connectionData                         the PAT's identity (authenticatedUser)
    POST {project}/{team?}/_apis/wit/wiql             WIQL subset → ids (cap → VS402337)
    POST {project?}/_apis/wit/workitemsbatch          ≤ 200 ids (VS403474), fields, asOf,
                                                      $expand relations (without fields)
    GET  {project?}/_apis/wit/reporting/workitemrevisions   watermark stream
    GET  {project?}/_apis/wit/fields                  the process's fields (`process.AdoProcess`)
    POST {project?}/_apis/wit/fields                  create a field (on no work item type yet)
    GET  {project?}/_apis/wit/workitems/{id}[/updates|/revisions]
    GET  {project?}/_apis/wit/workitems?ids=          ≤ 200 ids
    PATCH {project?}/_apis/wit/workitems/{id}         json-patch; test /rev
    POST {project}/_apis/wit/workitems/${type}        create
    DELETE {project?}/_apis/wit/workitems/{id}        recycle bin
    GET  {project}/_apis/wit/workitemtypes/{type}/states
    GET  {project}/_apis/wit/workitemtypes/{type}/fields the type's fields (TF51535 on a PATCH else)
    GET/POST/PATCH/DELETE {project}/_apis/wit/workItems/{id}/comments[/{commentId}]
    GET  {project}/{team}/_apis/work/teamsettings/iterations   ($timeframe=current)
    GET  {project}/{team}/_apis/work/teamsettings/teamfieldvalues
    GET  _apis/projects[/{p}], _apis/projects/{p}/teams
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, overload
from urllib.parse import quote, unquote

from pmo_sync.sandbox.ado.generator import (
    MAX_DATE,
    PROJECT,
    STATE_CATEGORY,
    STATE_COLOR,
    STATES_BY_TYPE,
    AdoDataset,
    AdoError,
    Comment,
    Person,
    Team,
    WorkItem,
    format_ts,
    parse_ts,
    to_ms,
)
from pmo_sync.sandbox.ado.process import AdoProcess, FieldDef

__all__ = ["JSON_CONTENT_TYPE", "LOCATIONS", "RESOURCE_AREAS", "AdoApi", "ApiResponse"]

JSON_CONTENT_TYPE = "application/json; charset=utf-8; api-version=7.1"
PROCESS_TYPE_ID = "0d8f0d5e-7a3b-4c8e-9a55-3f1c2b6e4a10"
"""The sandbox project's process (`includeCapabilities=true`)."""
MAX_BATCH = 200
DEFAULT_REVISIONS_PAGE = 1000
IDENTITY_FIELDS = frozenset({"System.CreatedBy", "System.ChangedBy", "System.AssignedTo"})

# (id, area, resourceName, routeTemplate, resourceVersion) — ids copied from the SDK's
# v7_1 clients; resourceVersion ≥ the preview number the SDK asks for.
LOCATIONS: tuple[tuple[str, str, str, str, int], ...] = (
    ("e81700f7-3be2-46de-8624-2eb35882fcaa", "Location", "ResourceAreas",
     "_apis/{resource}/{areaId}", 1),
    ("00d9565f-ed9c-4a06-9a50-00e7896ccab4", "Location", "ConnectionData",
     "_apis/{resource}", 1),
    ("1a9c53f7-f243-4447-b110-35ef023636e4", "wit", "wiql",
     "{project}/{team}/_apis/{area}/{resource}/{id}", 2),
    ("908509b6-4248-4475-a1cd-829139ba419f", "wit", "workItemsBatch",
     "{project}/_apis/{area}/{resource}", 1),
    ("f828fe59-dd87-495d-a17c-7a8d6211ca6c", "wit", "workItemRevisions",
     "{project}/_apis/{area}/reporting/{resource}", 2),
    ("6570bf97-d02c-4a91-8d93-3abe9895b1a9", "wit", "updates",
     "{project}/_apis/{area}/workItems/{id}/{resource}/{updateNumber}", 3),
    ("a00c85a5-80fa-4565-99c3-bcd2181434bb", "wit", "revisions",
     "{project}/_apis/{area}/workItems/{id}/{resource}/{revisionNumber}", 3),
    ("72c7ddf8-2cdc-4f60-90cd-ab71c14a399b", "wit", "workItems",
     "{project}/_apis/{area}/{resource}/{id}", 3),
    ("62d3d110-0047-428c-ad3c-4fe872c91c74", "wit", "workItems",
     "{project}/_apis/{area}/{resource}/${type}", 3),
    ("7c9d7a76-4a09-43e8-b5df-bd792f4ac6aa", "wit", "states",
     "{project}/_apis/{area}/workItemTypes/{type}/{resource}", 1),
    ("b51fd764-e5c2-4b9b-aaf7-3395cf4bdd94", "wit", "fields",
     "{project}/_apis/{area}/{resource}/{fieldNameOrRefName}", 3),
    ("bd293ce5-3d25-4192-8e67-e8092e879efb", "wit", "fields",
     "{project}/_apis/{area}/workItemTypes/{type}/{resource}/{field}", 3),
    ("608aac0a-32e1-4493-a863-b9cf4566d257", "wit", "comments",
     "{project}/_apis/{area}/workItems/{workItemId}/{resource}/{commentId}", 4),
    ("c9175577-28a1-4b06-9197-8636af9f64ad", "work", "iterations",
     "{project}/{team}/_apis/{area}/teamsettings/{resource}/{id}", 1),
    ("07ced576-58ed-49e6-9c1e-5cb53ab8bf2a", "work", "teamfieldvalues",
     "{project}/{team}/_apis/{area}/teamsettings/{resource}", 1),
    ("603fe2ac-9723-48b9-88ad-09305aa6c6e1", "core", "projects",
     "_apis/{resource}/{*projectId}", 4),
    ("d30a3dd1-f8ba-442a-b86a-bd0c0c383e59", "core", "teams",
     "_apis/projects/{projectId}/{resource}/{*teamId}", 3),
)  # fmt: skip
# (resource area id as the SDK clients declare it, name)
RESOURCE_AREAS = (
    ("5264459e-e5e0-4bd8-b118-0985e68a4ec5", "wit"),
    ("1d4f49f9-02b9-4e26-b826-2cdb6195f2a9", "work"),
    ("79134c72-4a58-4b42-976c-04e7115f32bf", "core"),
)
_TYPE_KEYS = {
    "VS402337": "WorkItemTrackingQueryResultSizeLimitExceededException",
    "VS403474": "WorkItemTrackingBatchSizeLimitExceededException",
}


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_CONTENT_TYPE


def error_body(message: str, type_key: str = "VssServiceException", code: int = 0) -> dict:
    """The service's WrappedException envelope (what the SDK turns into its exception)."""
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.WorkItemTracking.Server.{type_key}, "
        "Microsoft.TeamFoundation.WorkItemTracking.Server",
        "typeKey": type_key,
        "errorCode": code,
        "eventId": 3000,
    }


def _error(exc: AdoError) -> ApiResponse:
    return ApiResponse(exc.status, error_body(str(exc), _TYPE_KEYS.get(exc.code, exc.type_key)))


def _collection(values: list[Any]) -> dict[str, Any]:
    return {"count": len(values), "value": values}


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return _q(query, name, "false").lower() == "true"


@overload
def _q(query: dict[str, list[str]], name: str, default: str) -> str: ...
@overload
def _q(query: dict[str, list[str]], name: str, default: None = None) -> str | None: ...
def _q(query: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    for key, values in query.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return default


def _int_param(query: dict[str, list[str]], name: str) -> int | None:
    raw = _q(query, name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise AdoError(400, "VS403436", f"Invalid value {raw!r} for parameter {name}.") from None


class AdoApi:
    def __init__(
        self,
        dataset: AdoDataset,
        *,
        wiql_cap: int = 20000,
        max_batch: int = MAX_BATCH,
        identity: Person | None = None,
        process: AdoProcess | None = None,
    ) -> None:
        self.dataset = dataset
        self.wiql_cap = wiql_cap
        self.max_batch = max_batch
        self.identity = identity or dataset.api_identity
        self.process = process or AdoProcess()
        """Which fields exist: what `wit/fields` lists and reads may name (TF51535 else)."""

    # -- dispatch ------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        base_url: str,
    ) -> ApiResponse:
        """`path` is the request path; `base_url` the organisation URL (…/contoso)."""
        self._base = base_url.rstrip("/")
        segments = [unquote(s) for s in path.strip("/").split("/") if s]
        org = self.dataset.org.lower()
        if segments and segments[0].lower() == org:
            segments = segments[1:]
        lower = [s.lower() for s in segments]
        if "_apis" not in lower:
            return ApiResponse(404, error_body("The resource cannot be found."))
        at = lower.index("_apis")
        prefix, rest, rest_l = segments[:at], segments[at + 1 :], lower[at + 1 :]
        try:
            if method == "OPTIONS":
                return ApiResponse(200, _collection(self._locations()))
            if len(prefix) > 2:
                raise AdoError(404, "", "The controller for path was not found.")
            project = self._project(prefix[0]) if prefix else None
            team = prefix[1] if len(prefix) > 1 else None
            return self._route(method, rest, rest_l, query, body, project, team)
        except AdoError as exc:
            return _error(exc)

    def _route(
        self,
        method: str,
        rest: list[str],
        r: list[str],
        query: dict[str, list[str]],
        body: Any,
        project: str | None,
        team: str | None,
    ) -> ApiResponse:
        n = len(r)
        if r[:1] == ["resourceareas"]:
            return ApiResponse(200, _collection(self._resource_areas()))
        if r == ["connectiondata"] and method == "GET":
            return ApiResponse(200, self._connection_data())
        if r[:1] == ["projects"] and method == "GET":
            if n == 1:
                return ApiResponse(200, _collection([self._project_json()]))
            self._project(rest[1])
            if n == 2:
                project_json = self._project_json()
                if _flag(query, "includeCapabilities"):
                    project_json["capabilities"] = {
                        "processTemplate": {"templateName": self.process.name,
                                            "templateTypeId": PROCESS_TYPE_ID},
                        "versioncontrol": {"sourceControlType": "Git"},
                    }  # fmt: skip
                return ApiResponse(200, project_json)
            if r[2] == "teams":
                teams = self.dataset.teams
                if n == 4:
                    teams = tuple(t for t in teams if t == self._team(rest[3]))
                    return ApiResponse(200, self._team_json(teams[0]))
                return ApiResponse(200, _collection([self._team_json(t) for t in teams]))
        if r[:3] == ["work", "teamsettings", "iterations"] and method == "GET":
            return self._iterations(project, team, query, rest[3] if n > 3 else None)
        if r == ["work", "teamsettings", "teamfieldvalues"] and method == "GET":
            return self._team_field_values(project, team)
        if r[:1] != ["wit"]:
            raise AdoError(404, "", "The controller for path was not found.")
        if r[1:] == ["wiql"] and method == "POST":
            return self._wiql(body, query, project, team)
        if r[1:] == ["workitemsbatch"] and method == "POST":
            return self._batch(body or {})
        if r[1:] == ["reporting", "workitemrevisions"] and method in ("GET", "POST"):
            return self._reporting(query, body if method == "POST" else None)
        if r[1:] == ["fields"] and method == "GET":
            return ApiResponse(200, _collection(self.process.field_json(self._base)))
        if r[1:] == ["fields"] and method == "POST":
            return self._create_field(body)
        if n == 4 and r[1] == "workitemtypes" and r[3] == "states" and method == "GET":
            return self._states(rest[2])
        if n == 4 and r[1] == "workitemtypes" and r[3] == "fields" and method == "GET":
            return self._type_fields(rest[2], project)
        if r[1:2] == ["workitems"]:
            if n == 2 and method == "GET":
                return self._get_many(query)
            if n == 3 and rest[2].startswith("$") and method == "POST":
                return self._create(rest[2][1:], body, project)
            item_id = self._item_id(rest[2]) if n > 2 else None
            if item_id is not None:
                if n == 3:
                    if method == "GET":
                        return self._get_one(item_id, query)
                    if method == "PATCH":
                        return self._patch(item_id, body, query)
                    if method == "DELETE":
                        return self._delete(item_id)
                if r[3] == "updates" and method == "GET":
                    return self._updates(item_id, query, rest[4] if n > 4 else None)
                if r[3] == "revisions" and method == "GET":
                    return self._revisions(item_id, query, rest[4] if n > 4 else None)
                if r[3] == "comments":
                    comment_id = self._item_id(rest[4]) if n > 4 else None
                    return self._comments(method, item_id, comment_id, body, query)
        raise AdoError(404, "", f"No route for {method} {'/'.join(rest)}.")

    # -- discovery and core ------------------------------------------------------------------

    def _locations(self) -> list[dict[str, Any]]:
        return [
            {
                "id": lid,
                "area": area,
                "resourceName": resource,
                "routeTemplate": template,
                "resourceVersion": version,
                "minVersion": 1.0,
                "maxVersion": 7.1,
                "releasedVersion": "7.0",
            }
            for lid, area, resource, template, version in LOCATIONS
        ]

    def _connection_data(self) -> dict[str, Any]:
        """Who the PAT belongs to: the identity that authors every write (as the real service)."""
        me = self.identity
        ref = self._identity(me.ref)
        user = {
            "id": me.id,
            "descriptor": ref["descriptor"],
            "subjectDescriptor": ref["descriptor"],
            "providerDisplayName": me.display_name,
            "isActive": True,
            "properties": {"Account": {"$type": "System.String", "$value": me.unique_name}},
            "resourceVersion": 2,
            "metaTypeId": 0,
        }
        return {
            "authenticatedUser": user,
            "authorizedUser": user,
            "instanceId": self.dataset.project.id,
            "locationServiceData": {"serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7"},
        }

    def _resource_areas(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": n, "locationUrl": self._base + "/"} for i, n in RESOURCE_AREAS]

    def _project(self, name_or_id: str) -> str:
        p = self.dataset.project
        if name_or_id.lower() not in (p.name.lower(), p.id):
            raise AdoError(
                404, "TF200016", f"The following project does not exist: {name_or_id}. "
                "Verify that the name of the project is correct and that the project exists "
                "on the specified Azure DevOps Server.", "ProjectDoesNotExistWithNameException",
            )  # fmt: skip
        return p.name

    def _team(self, name_or_id: str | None) -> Team:
        team = self.dataset.team(name_or_id) if name_or_id else self.dataset.teams[0]
        if team is None:
            raise AdoError(404, "", f"The team with id {name_or_id} does not exist.",
                           "TeamNotFoundException")  # fmt: skip
        return team

    def _project_json(self) -> dict[str, Any]:
        p = self.dataset.project
        return {
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "url": f"{self._base}/_apis/projects/{p.id}",
            "state": "wellFormed",
            "revision": 11,
            "visibility": "private",
            "lastUpdateTime": format_ts(to_ms(self.dataset.generated_at)),
        }

    def _team_json(self, team: Team) -> dict[str, Any]:
        p = self.dataset.project
        return {
            "id": team.id,
            "name": team.name,
            "url": f"{self._base}/_apis/projects/{p.id}/teams/{team.id}",
            "description": f"The {team.name} team",
            "identityUrl": f"{self._base}/_apis/Identities/{team.id}",
            "projectName": p.name,
            "projectId": p.id,
        }

    def _team_field_values(self, project: str | None, team_name: str | None) -> ApiResponse:
        """The team's area paths (with their children): what its backlog and boards show."""
        if project is None:
            raise AdoError(404, "", "A project is required.")
        team = self._team(team_name)
        field_url = f"{self._base}/_apis/wit/fields/System.AreaPath"
        team_url = f"{self._base}/{self.dataset.project.id}/{team.id}"
        return ApiResponse(200, {
            "defaultValue": team.area_path,
            "field": {"referenceName": "System.AreaPath", "url": field_url},
            "values": [{"value": path, "includeChildren": True} for path in team.area_paths],
            "url": f"{team_url}/_apis/work/teamsettings/teamfieldvalues",
        })  # fmt: skip

    def _iterations(
        self,
        project: str | None,
        team_name: str | None,
        query: dict[str, list[str]],
        iteration_id: str | None,
    ) -> ApiResponse:
        if project is None:
            raise AdoError(404, "", "A project is required.")
        team = self._team(team_name)
        now = self.dataset.clock.now
        timeframe = (_q(query, "$timeframe") or "").lower()
        values = []
        for it in team.iterations:
            frame = it.time_frame(now)
            if timeframe and frame != timeframe:
                continue
            if iteration_id and iteration_id.lower() != it.id:
                continue
            url = (
                f"{self._base}/{self.dataset.project.id}/{team.id}"
                f"/_apis/work/teamsettings/iterations/{it.id}"
            )
            values.append({
                "id": it.id,
                "name": it.name,
                "path": it.path,
                "attributes": {
                    "startDate": it.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "finishDate": it.finish.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "timeFrame": frame,
                },
                "url": url,
            })  # fmt: skip
        if iteration_id:
            if not values:
                raise AdoError(404, "", f"Iteration {iteration_id} is not a team iteration.")
            return ApiResponse(200, values[0])
        return ApiResponse(200, _collection(values))

    # -- work items ----------------------------------------------------------------------------

    def _item_id(self, raw: str) -> int:
        try:
            return int(raw)
        except ValueError:
            raise AdoError(400, "", f"Invalid id {raw!r}.") from None

    def _live(self, item_id: int) -> WorkItem:
        item = self.dataset.find(item_id)
        if item is None or item.deleted:
            raise AdoError(
                404, "VS402323",
                f"TF401232: Work item {item_id} does not exist, or you do not have "
                "permissions to read it.", "WorkItemUnauthorizedAccessException",
            )  # fmt: skip
        return item

    def _identity(self, ref: str) -> dict[str, Any]:
        name, _, rest = ref.partition(" <")
        unique = rest.rstrip(">")
        person = next((p for p in self.dataset.people if p.unique_name == unique), None)
        if person is None and unique == self.identity.unique_name:
            person = self.identity
        pid = person.id if person else "00000000-0000-0000-0000-000000000000"
        return {
            "displayName": name,
            "url": f"{self._base}/_apis/Identities/{pid}",
            "id": pid,
            "uniqueName": unique,
            "imageUrl": f"{self._base}/_api/_common/identityImage?id={pid}",
            "descriptor": f"aad.{pid.replace('-', '')[:24]}",
        }

    def _render_fields(
        self, fields: dict[str, Any], wanted: list[str] | None, identity_refs: bool = True
    ) -> dict[str, Any]:
        out = {}
        names = fields if wanted is None else [w for w in wanted if w in fields]
        lookup = {k.lower(): k for k in fields}
        if wanted is not None:
            names = [lookup[w.lower()] for w in wanted if w.lower() in lookup]
        for name in names:
            value = fields[name]
            if identity_refs and name in IDENTITY_FIELDS and isinstance(value, str):
                value = self._identity(value)
            out[name] = value
        return out

    def _item_json(
        self, item: WorkItem, rev: int | None = None, wanted: list[str] | None = None
    ) -> dict[str, Any]:
        revision = item.revision(rev) if rev else item.revisions[-1]
        url = f"{self._base}/_apis/wit/workItems/{item.id}"
        fields = {k: v for k, v in revision.fields.items() if k != "System.Id" or wanted}
        body: dict[str, Any] = {
            "id": item.id,
            "rev": revision.rev,
            "fields": self._render_fields(fields, wanted),
            "url": url if rev is None else f"{url}/revisions/{rev}",
        }
        if wanted is None:
            body["_links"] = {
                "self": {"href": url},
                "workItemUpdates": {"href": f"{url}/updates"},
                "workItemRevisions": {"href": f"{url}/revisions"},
                "workItemComments": {"href": f"{url}/comments"},
            }
        return body

    def _fields_param(self, raw: Any) -> list[str] | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            raw = [f for f in raw.split(",") if f]
        return [str(f).strip() for f in raw] or None

    def _as_of_rev(self, item: WorkItem, as_of: str | None) -> int | None:
        if not as_of:
            return None
        revision = item.as_of(parse_ts(as_of))
        if revision is None:
            raise AdoError(404, "VS402323", f"Work item {item.id} did not exist at {as_of}.")
        return revision.rev

    def _batch(self, body: dict[str, Any]) -> ApiResponse:
        ids = body.get("ids") or []
        if len(ids) > self.max_batch:
            raise AdoError(
                400, "VS403474",
                f"The maximum number of work items in a batch request is {self.max_batch}. "
                f"The request contains {len(ids)}.",
            )  # fmt: skip
        wanted = self._fields_param(body.get("fields"))
        expand = str(body.get("$expand") or "none").lower()
        if expand != "none" and wanted:
            raise AdoError(
                400, "", "The expand parameter can not be used with the fields parameter."
            )
        self.process.require(wanted)
        policy = (body.get("errorPolicy") or "fail").lower()
        values: list[Any] = []
        for raw in ids:
            try:
                item = self._live(int(raw))
                found = self._item_json(item, self._as_of_rev(item, body.get("asOf")), wanted)
                if expand in ("relations", "all") and item.links:
                    found["relations"] = [self._relation_json(*link) for link in item.links]
                values.append(found)
            except AdoError:
                if policy != "omit":
                    raise
                values.append(None)
        return ApiResponse(200, _collection(values))

    def _relation_json(self, rel: str, target_id: int) -> dict[str, Any]:
        """A relation as `$expand=relations` gives it (WorkItemRelation)."""
        names = {"Forward": "Successor", "Reverse": "Predecessor"}
        end = rel.rsplit("-", 1)[-1]
        name = names.get(end, "Related") if "Dependency" in rel or "Related" in rel else rel
        return {
            "rel": rel,
            "url": f"{self._base}/_apis/wit/workItems/{target_id}",
            "attributes": {"isLocked": False, "name": name},
        }

    def _get_many(self, query: dict[str, list[str]]) -> ApiResponse:
        raw = _q(query, "ids") or ""
        ids = [int(i) for i in raw.split(",") if i.strip()]
        if len(ids) > self.max_batch:
            raise AdoError(
                400, "VS403474", f"The maximum number of work items is {self.max_batch}."
            )
        return self._batch({
            "ids": ids,
            "fields": _q(query, "fields"),
            "asOf": _q(query, "asOf"),
            "errorPolicy": _q(query, "errorPolicy"),
        })  # fmt: skip

    def _get_one(self, item_id: int, query: dict[str, list[str]]) -> ApiResponse:
        item = self._live(item_id)
        wanted = self._fields_param(_q(query, "fields"))
        self.process.require(wanted)
        return ApiResponse(
            200, self._item_json(item, self._as_of_rev(item, _q(query, "asOf")), wanted)
        )

    def _updates(
        self, item_id: int, query: dict[str, list[str]], number: str | None
    ) -> ApiResponse:
        item = self._live(item_id)
        updates = []
        previous: dict[str, Any] = {}
        for r in item.revisions:
            changed = {}
            for name in sorted(set(previous) | set(r.fields)):
                old, new = previous.get(name), r.fields.get(name)
                if old == new:
                    continue
                entry: dict[str, Any] = {}
                if name in previous:
                    entry["oldValue"] = self._render_fields({name: old}, None)[name]
                if name in r.fields:
                    entry["newValue"] = self._render_fields({name: new}, None)[name]
                changed[name] = entry
            revised = item.revised_ms(r.rev)
            updates.append({
                "id": r.rev,
                "workItemId": item.id,
                "rev": r.rev,
                "revisedBy": self._identity(r.fields["System.ChangedBy"]),
                "revisedDate": format_ts(revised) if revised else MAX_DATE,
                "fields": changed,
                "url": f"{self._base}/_apis/wit/workItems/{item.id}/updates/{r.rev}",
            })  # fmt: skip
            previous = r.fields
        if number is not None:
            n = self._item_id(number)
            if not 1 <= n <= len(updates):
                raise AdoError(404, "", f"Update {n} of work item {item_id} does not exist.")
            return ApiResponse(200, updates[n - 1])
        skip = _int_param(query, "$skip") or 0
        top = _int_param(query, "$top")
        page = updates[skip:] if top is None else updates[skip : skip + top]
        return ApiResponse(200, _collection(page))

    def _revisions(
        self, item_id: int, query: dict[str, list[str]], number: str | None
    ) -> ApiResponse:
        item = self._live(item_id)
        if number is not None:
            n = self._item_id(number)
            if not 1 <= n <= item.rev:
                raise AdoError(404, "", f"Revision {n} of work item {item_id} does not exist.")
            return ApiResponse(200, self._item_json(item, n))
        skip = _int_param(query, "$skip") or 0
        top = _int_param(query, "$top") or 200
        revs = range(1 + skip, min(item.rev, skip + top) + 1)
        return ApiResponse(200, _collection([self._item_json(item, n) for n in revs]))

    def _reporting(self, query: dict[str, list[str]], body: dict[str, Any] | None) -> ApiResponse:
        ds = self.dataset
        token = _q(query, "continuationToken")
        after = 0
        if token:
            try:
                after = int(token.split(";")[0])
            except ValueError:
                raise AdoError(400, "VS402384", f"Invalid continuation token {token!r}.") from None
        start = _q(query, "startDateTime")
        if start and token:
            raise AdoError(400, "", "startDateTime cannot be combined with continuationToken.")
        page_size = _int_param(query, "$maxPageSize") or DEFAULT_REVISIONS_PAGE
        page_size = max(1, min(page_size, DEFAULT_REVISIONS_PAGE))
        include_deleted = _flag(query, "includeDeleted")
        identity_refs = _flag(query, "includeIdentityRef")
        latest_only = _flag(query, "includeLatestOnly")
        wanted = self._fields_param(_q(query, "fields"))
        types = self._fields_param(_q(query, "types"))
        if body:
            wanted = self._fields_param(body.get("fields")) or wanted
            types = self._fields_param(body.get("types")) or types
            identity_refs = identity_refs or bool(body.get("includeIdentityRef"))
            include_deleted = include_deleted or bool(body.get("includeDeleted"))
            latest_only = latest_only or bool(body.get("includeLatestOnly"))
        self.process.require(wanted)
        start_ms = to_ms(parse_ts(start)) if start else None
        values: list[dict[str, Any]] = []
        position = after
        while len(values) < page_size:
            chunk = ds.log_slice(position, page_size - len(values))
            if not chunk:
                break
            for watermark, item_id, rev in chunk:
                position = watermark
                item = ds.item(item_id)
                if item.deleted and not include_deleted:
                    continue
                revision = item.revision(rev)
                if start_ms is not None and revision.changed_ms < start_ms:
                    continue
                if latest_only and rev != item.rev:
                    continue
                if types and revision.fields["System.WorkItemType"] not in types:
                    continue
                fields = dict(revision.fields)
                revised = item.revised_ms(rev)
                fields["System.RevisedDate"] = format_ts(revised) if revised else MAX_DATE
                values.append({
                    "id": item_id,
                    "rev": rev,
                    "fields": self._render_fields(fields, wanted, identity_refs),
                })  # fmt: skip
        is_last = position >= ds.watermark()
        next_token = str(position)
        link = f"{self._base}/_apis/wit/reporting/workItemRevisions?continuationToken={next_token}"
        return ApiResponse(200, {
            "values": values,
            "nextLink": link + "&api-version=7.1-preview.2",
            "continuationToken": next_token,
            "isLastBatch": is_last,
        })  # fmt: skip

    def _states(self, type_name: str) -> ApiResponse:
        match = next((t for t in STATES_BY_TYPE if t.lower() == type_name.lower()), None)
        if match is None:
            raise AdoError(404, "VS402323", f"Work item type {type_name} does not exist.",
                           "WorkItemTypeNotFoundException")  # fmt: skip
        return ApiResponse(200, _collection([
            {"name": s, "color": STATE_COLOR[s], "category": STATE_CATEGORY[s]}
            for s in STATES_BY_TYPE[match]
        ]))  # fmt: skip

    def _create_field(self, body: Any) -> ApiResponse:
        """`POST _apis/wit/fields`: a field of the organisation, on no work item type yet
        (`process.AdoProcess.created`). TF51020 for a reference name or name in use."""
        if not isinstance(body, dict) or not body.get("referenceName") or not body.get("name"):
            raise AdoError(400, "", "A field needs a name and a referenceName.")
        ref, name = str(body["referenceName"]), str(body["name"])
        taken = [f for f in self.process.fields
                 if f.reference_name.casefold() == ref.casefold() or f.name == name]  # fmt: skip
        if taken:
            raise AdoError(400, "TF51020", f"The field {taken[0].reference_name} already exists.")
        kind = str(body.get("type") or "string")
        self.process = self.process.created(FieldDef(ref, name, kind))
        return ApiResponse(200, self.process.field_json(self._base)[-1])

    def _type_fields(self, type_name: str, project: str | None) -> ApiResponse:
        """The work item type's fields (the route needs a project, as Azure DevOps's)."""
        if project is None:
            raise AdoError(404, "", "The controller for path was not found.")
        match = next((t for t in STATES_BY_TYPE if t.lower() == type_name.lower()), None)
        if match is None:
            raise AdoError(404, "VS402323", f"Work item type {type_name} does not exist.",
                           "WorkItemTypeNotFoundException")  # fmt: skip
        return ApiResponse(200, _collection(self.process.type_field_json(match, self._base)))

    # -- writes ----------------------------------------------------------------------------------

    def _patch_changes(self, body: Any) -> tuple[dict[str, Any], int | None, str | None]:
        if not isinstance(body, list):
            raise AdoError(
                400, "", "You must pass a valid patch document in the body of the request."
            )
        changes: dict[str, Any] = {}
        expect_rev = None
        history = None
        for op in body:
            kind = str(op.get("op", "")).lower()
            path = str(op.get("path", ""))
            value = op.get("value")
            if kind == "test":
                if path.lower() != "/rev":
                    raise AdoError(400, "", f"Test operations are supported on /rev only: {path}")
                expect_rev = int(value)
                continue
            if not path.lower().startswith("/fields/"):
                raise AdoError(400, "", f"Unsupported patch path {path!r}.")
            name = path[len("/fields/") :]
            if kind in ("add", "replace"):
                if name == "System.History":
                    history = str(value)
                else:
                    changes[name] = value
            elif kind == "remove":
                changes[name] = None
            else:
                raise AdoError(400, "", f"Unsupported patch operation {kind!r}.")
        return changes, expect_rev, history

    def _patch(self, item_id: int, body: Any, query: dict[str, list[str]]) -> ApiResponse:
        live = self._live(item_id)
        changes, expect_rev, history = self._patch_changes(body)
        self.process.require_on(live.type, changes)
        if _flag(query, "validateOnly"):
            item = self._live(item_id)
            if expect_rev is not None and expect_rev != item.rev:
                raise AdoError(400, "VS403432", "The test operation on /rev failed.")
            return ApiResponse(200, self._item_json(item))
        with self.dataset.lock:
            self.dataset.update(item_id, changes, by=self.identity, expect_rev=expect_rev)
            if history:
                self.dataset.add_comment(item_id, history, by=self.identity)
            return ApiResponse(200, self._item_json(self.dataset.item(item_id)))

    def _create(self, type_name: str, body: Any, project: str | None) -> ApiResponse:
        if project is None:
            raise AdoError(400, "", "A project is required to create a work item.")
        changes, _, history = self._patch_changes(body)
        title = changes.pop("System.Title", None)
        if not title:
            raise AdoError(400, "TF401320", "Rule Error for field Title. Error code: Required.")
        match = next((t for t in STATES_BY_TYPE if t.lower() == type_name.lower()), type_name)
        area = changes.get("System.AreaPath")
        team = area.split("\\")[-1] if isinstance(area, str) and "\\" in area else None
        item = self.dataset.create(match, title, team=team, fields=changes, by=self.identity)
        if history:
            self.dataset.add_comment(item.id, history, by=self.identity)
        return ApiResponse(200, self._item_json(self.dataset.item(item.id)))

    def _delete(self, item_id: int) -> ApiResponse:
        item = self.dataset.delete(item_id, by=self.identity)
        return ApiResponse(200, {
            "id": item.id,
            "code": 200,
            "deletedBy": self.identity.ref,
            "deletedDate": format_ts(item.deleted_ms or 0),
            "name": item.fields.get("System.Title"),
            "project": PROJECT,
            "type": item.type,
            "url": f"{self._base}/_apis/wit/recycleBin/{item.id}",
        })  # fmt: skip

    def _comment_json(self, c: Comment) -> dict[str, Any]:
        return {
            "workItemId": c.work_item_id,
            "id": c.id,
            "version": c.version,
            "text": c.text,
            "renderedText": c.text,
            "format": "html",
            "createdBy": self._identity(c.created_by.ref),
            "createdDate": format_ts(c.created_ms),
            "modifiedBy": self._identity(c.modified_by.ref),
            "modifiedDate": format_ts(c.modified_ms),
            "isDeleted": c.deleted,
            "url": f"{self._base}/{self.dataset.project.id}/_apis/wit/workItems/"
            f"{c.work_item_id}/comments/{c.id}",
        }

    def _comments(
        self,
        method: str,
        item_id: int,
        comment_id: int | None,
        body: Any,
        query: dict[str, list[str]],
    ) -> ApiResponse:
        ds = self.dataset
        text = (body or {}).get("text") if isinstance(body, dict) else None
        if comment_id is None:
            if method == "POST":
                if not text:
                    raise AdoError(400, "", "The comment text is required.")
                return ApiResponse(
                    200, self._comment_json(ds.add_comment(item_id, text, by=self.identity))
                )
            if method == "GET":
                comments = ds.comments(item_id, include_deleted=_flag(query, "includeDeleted"))
                ids = _q(query, "ids")
                if ids:
                    wanted = {int(i) for i in ids.split(",") if i}
                    comments = [c for c in comments if c.id in wanted]
                if (_q(query, "order") or "").lower() == "desc":
                    comments = comments[::-1]
                top = _int_param(query, "$top")
                page = comments[:top] if top else comments
                return ApiResponse(200, {
                    "totalCount": len(comments),
                    "count": len(page),
                    "comments": [self._comment_json(c) for c in page],
                })  # fmt: skip
        else:
            if method == "GET":
                c = ds.comment(item_id, comment_id)
                if c.deleted and not _flag(query, "includeDeleted"):
                    raise AdoError(404, "TF401463", f"Comment {comment_id} was deleted.")
                return ApiResponse(200, self._comment_json(c))
            if method == "PATCH":
                if not text:
                    raise AdoError(400, "", "The comment text is required.")
                c = ds.update_comment(item_id, comment_id, text, by=self.identity)
                return ApiResponse(200, self._comment_json(c))
            if method == "DELETE":
                ds.delete_comment(item_id, comment_id, by=self.identity)
                return ApiResponse(204, None)
        raise AdoError(405, "", f"{method} is not supported on comments.")

    # -- WIQL ----------------------------------------------------------------------------------

    def _wiql(
        self, body: Any, query: dict[str, list[str]], project: str | None, team: str | None
    ) -> ApiResponse:
        text = (body or {}).get("query") if isinstance(body, dict) else None
        if not text:
            raise AdoError(400, "VS402336", "The query text is required.")
        time_precision = _flag(query, "timePrecision")
        parsed = parse_wiql(text, time_precision, self.dataset.clock.now, project or PROJECT)
        ids = self._run(parsed)
        top = _int_param(query, "$top")
        if top is not None:
            ids = ids[:top]
        elif len(ids) > self.wiql_cap:
            raise AdoError(
                400, "VS402337",
                f"VS402337: The number of work items returned exceeds the size limit of "
                f"{self.wiql_cap}. Change the query to return fewer items.",
            )  # fmt: skip
        columns = [
            {
                "referenceName": c,
                "name": c.split(".")[-1],
                "url": f"{self._base}/_apis/wit/fields/{c}",
            }
            for c in parsed.columns
        ]
        return ApiResponse(200, {
            "queryType": "flat",
            "queryResultType": "workItem",
            "asOf": format_ts(to_ms(self.dataset.clock.now)),
            "columns": columns,
            "sortColumns": [
                {"field": {"referenceName": f, "name": f.split(".")[-1],
                           "url": f"{self._base}/_apis/wit/fields/{f}"}, "descending": d}
                for f, d in parsed.order
            ],
            "workItems": [{"id": i, "url": f"{self._base}/_apis/wit/workItems/{i}"} for i in ids],
        })  # fmt: skip

    def _run(self, parsed: WiqlQuery) -> list[int]:
        ds = self.dataset
        cheap = {"system.id", "system.changeddate", "system.teamproject"}
        need_item = any(c.field.lower() not in cheap for c in parsed.conditions) or any(
            f.lower() not in cheap for f, _ in parsed.order
        )
        rows: list[tuple[int, Any]] = []
        for item_id in ds.ids():
            if need_item:
                fields = ds.item(item_id).fields
            else:
                fields = {
                    "System.Id": item_id,
                    "System.TeamProject": PROJECT,
                    "_changed_ms": ds.changed_ms(item_id),
                }
            if all(c.matches(fields) for c in parsed.conditions):
                rows.append((item_id, fields))
        for name, descending in reversed(parsed.order or [("System.Id", False)]):
            rows.sort(key=_row_sort_key(name), reverse=descending)
        return [item_id for item_id, _ in rows]


# -- a small WIQL subset ------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<field>\[[^\]]+\])|(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<op><>|>=|<=|=|<|>|\(|\)|,|\+|-)|(?P<word>@?[A-Za-z_][A-Za-z0-9_.]*))",
)
_DATE_FIELDS = {
    "system.changeddate", "system.createddate", "system.authorizeddate",
    "microsoft.vsts.common.statechangedate",
}  # fmt: skip


def _field_value(fields: dict[str, Any], name: str) -> Any:
    low = name.lower()
    if low == "system.changeddate" and "_changed_ms" in fields:
        return fields["_changed_ms"]
    for key, value in fields.items():
        if key.lower() == low:
            if low in _DATE_FIELDS and isinstance(value, str):
                return to_ms(parse_ts(value))
            return value
    return None


def _row_sort_key(name: str) -> Callable[[tuple[int, Any]], tuple[int, Any]]:
    """The sort key of an (id, fields) row by one field."""
    return lambda row: _sort_key(row[1], name)


def _sort_key(fields: dict[str, Any], name: str) -> tuple[int, Any]:
    value = _field_value(fields, name)
    if value is None:
        return (0, 0)
    return (1, value.lower() if isinstance(value, str) else value)


@dataclass
class Condition:
    field: str
    op: str
    values: list[Any]
    day_precision: bool = False

    def matches(self, fields: dict[str, Any]) -> bool:
        actual = _field_value(fields, self.field)
        if self.field.lower() in _DATE_FIELDS and self.day_precision and actual is not None:
            actual = to_ms(datetime.fromtimestamp(actual / 1000, UTC).replace(
                hour=0, minute=0, second=0, microsecond=0))  # fmt: skip
        if isinstance(actual, str):
            actual = actual.lower()
        values = [v.lower() if isinstance(v, str) else v for v in self.values]
        op = self.op
        if op == "in":
            return actual in values
        if op == "not in":
            return actual not in values
        if op == "under":
            return actual is not None and (
                actual == values[0] or actual.startswith(values[0] + "\\")
            )
        if op == "not under":
            return not (
                actual is not None and (actual == values[0] or actual.startswith(values[0] + "\\"))
            )
        target = values[0]
        if op == "=":
            return actual == target
        if op == "<>":
            return actual != target
        if actual is None or target is None:
            return False
        try:
            return {
                ">": actual > target, ">=": actual >= target,
                "<": actual < target, "<=": actual <= target,
            }[op]  # fmt: skip
        except TypeError:
            return False


@dataclass
class WiqlQuery:
    columns: list[str]
    conditions: list[Condition]
    order: list[tuple[str, bool]]


def _bad(message: str) -> AdoError:
    return AdoError(400, "VS402336", f"Error parsing query: {message}", "WiqlSyntaxException")


def parse_wiql(text: str, time_precision: bool, now: datetime, project: str) -> WiqlQuery:
    """SELECT [f], ... FROM WorkItems [WHERE cond AND cond ...] [ORDER BY [f] [ASC|DESC], ...]

    Conditions: `[Field] op value` with =, <>, >, >=, <, <=, IN (...), NOT IN, UNDER;
    values are 'strings', numbers, @project, @today [± n], @me. Only AND joins.
    Date literals carrying a time need timePrecision=true (VS402340 otherwise).
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _bad(f"unexpected input at position {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    i = 0

    def peek(k: int = 0) -> tuple[str, str]:
        return tokens[i + k] if i + k < len(tokens) else ("", "")

    def word(expected: str) -> bool:
        kind, value = peek()
        return kind == "word" and value.lower() == expected

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise _bad("unexpected end of query")
        i += 1
        return tokens[i - 1]

    if not word("select"):
        raise _bad("expected SELECT")
    take()
    columns = []
    while True:
        kind, value = take()
        if kind != "field":
            raise _bad(f"expected a [field], got {value!r}")
        columns.append(value[1:-1])
        if peek()[1] != ",":
            break
        take()
    if not word("from"):
        raise _bad("expected FROM")
    take()
    kind, value = take()
    if value.lower() != "workitems":
        raise _bad("only FROM WorkItems is supported")
    conditions: list[Condition] = []
    if word("where"):
        take()
        while True:
            kind, value = take()
            if kind != "field":
                raise _bad(f"expected a [field], got {value!r}")
            name = value[1:-1]
            op = take()[1].lower()
            if op == "not":
                op = "not " + take()[1].lower()
            if op not in ("=", "<>", ">", ">=", "<", "<=", "in", "not in", "under", "not under"):
                raise _bad(f"unsupported operator {op!r}")
            values: list[Any] = []
            day = False
            if op.endswith("in"):
                if take()[1] != "(":
                    raise _bad("expected ( after IN")
                while True:
                    v, d = _value(take(), peek, take, name, time_precision, now, project)
                    values.append(v)
                    day = day or d
                    sep = take()[1]
                    if sep == ")":
                        break
                    if sep != ",":
                        raise _bad("expected , or )")
            else:
                v, day = _value(take(), peek, take, name, time_precision, now, project)
                values.append(v)
            conditions.append(Condition(name, op, values, day))
            if word("and"):
                take()
                continue
            if word("or"):
                raise _bad("OR is not supported by the sandbox")
            break
    order: list[tuple[str, bool]] = []
    if word("order"):
        take()
        if not word("by"):
            raise _bad("expected BY")
        take()
        while True:
            kind, value = take()
            if kind != "field":
                raise _bad("expected a [field] in ORDER BY")
            descending = False
            if word("asc") or word("desc"):
                descending = take()[1].lower() == "desc"
            order.append((value[1:-1], descending))
            if peek()[1] != ",":
                break
            take()
    if i != len(tokens):
        raise _bad(f"unexpected {peek()[1]!r}")
    return WiqlQuery(columns, conditions, order)


def _value(
    token: tuple[str, str],
    peek: Callable[[], tuple[str, str]],
    take: Callable[[], tuple[str, str]],
    field_name: str,
    time_precision: bool,
    now: datetime,
    project: str,
) -> tuple[Any, bool]:
    kind, value = token
    is_date = field_name.lower() in _DATE_FIELDS
    if kind == "word" and value.lower() == "@project":
        return project, False
    if kind == "word" and value.lower() == "@today":
        offset = 0
        if peek()[1] in ("+", "-"):
            sign = -1 if take()[1] == "-" else 1
            offset = sign * int(take()[1])
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return to_ms(midnight + timedelta(days=offset)), not time_precision
    if kind == "num":
        return (float(value) if "." in value else int(value)), False
    if kind == "str":
        literal = value[1:-1].replace("''", "'")
        if not is_date:
            return literal, False
        has_time = bool(re.search(r"\d[T ]\d", literal))
        if has_time and not time_precision:
            raise AdoError(
                400, "VS402340",
                f"The specified value '{literal}' for field {field_name} contains a time; "
                "you cannot supply a time with the date when running a query using date "
                "precision. Use timePrecision=true.",
            )  # fmt: skip
        try:
            if has_time:
                return to_ms(parse_ts(literal)), False
            day = date.fromisoformat(literal[:10])
        except ValueError:
            raise _bad(f"invalid date {literal!r}") from None
        return to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC)), not time_precision
    if kind == "word" and value.lower() in ("true", "false"):
        return value.lower() == "true", False
    raise _bad(f"unexpected value {value!r}")


def quote_path(value: str) -> str:
    return quote(value, safe="")
