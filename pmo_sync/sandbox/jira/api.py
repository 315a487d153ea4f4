"""Request routing for the sandbox Jira: (method, path, query, body) → status, headers, body.

No sockets here — `server.py` does HTTP, authentication, faults and logging —
so every endpoint can be tested by calling `JiraApi.handle` directly. REST
endpoints answer under both /rest/api/2 and /rest/api/3; Cloud-only endpoints
(search/jql, approximate-count, changelog/bulkfetch) are 404 in server mode and
the legacy /search is 410 in Cloud mode, as on the real products.

Write-back: PUT /issue/{key} (fields on the project's edit screen only, one
changelog history authored by the API user per real change, nothing for a
same-value write), GET /issue/{key}/editmeta, comments (v2 plain text, v3 ADF;
stored as written) with their properties, and for an admin POST /field and
POST /screens/addToDefault/{fieldId}.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pmo_sync.sandbox.jira.adf import doc_text, is_doc
from pmo_sync.sandbox.jira.fields import FieldValueError, coerce, type_for
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.jql import JqlError, Query, parse
from pmo_sync.sandbox.jira.model import FIELD_POINTS, Board, Comment, Issue, User
from pmo_sync.sandbox.jira.render import (
    RECENT_HISTORIES,
    FieldSelection,
    Renderer,
    custom_field_entry,
    field_catalog,
    jira_time,
)
from pmo_sync.sandbox.jira.search import run_query
from pmo_sync.sandbox.jira.site import account_id
from pmo_sync.sandbox.jira.timeline import USER_TZ

__all__ = ["JSON_CONTENT_TYPE", "ApiResponse", "JiraApi", "Request", "error_body"]

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
BAD_TOKEN = "The provided nextPageToken is invalid or does not belong to this query."
NO_ISSUE = "Issue does not exist or you do not have permission to see it."
ADMIN_REQUIRED = (
    "You are not authorised to perform this action. Administrator privileges are required."
)
NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
EMPTY_COMMENT = "Comment body can not be empty!"
BAD_COMMENT = "Comment body is not valid!"
PROPERTY_VALUE_LIMIT = 32768
_PERMISSIONS = {
    "BROWSE_PROJECTS": (
        "10",
        "Browse Projects",
        "Ability to browse projects and the issues within them.",
    ),
    "EDIT_ISSUES": ("12", "Edit Issues", "Ability to edit issues."),
    "ADD_COMMENTS": ("15", "Add Comments", "Ability to comment on issues."),
    "EDIT_OWN_COMMENTS": (
        "35",
        "Edit Own Comments",
        "Ability to edit own comments made on issues.",
    ),
    "TRANSITION_ISSUES": ("46", "Transition Issues", "Ability to transition issues."),
    "SCHEDULE_ISSUES": ("28", "Schedule Issues", "Ability to set or edit an issue's due date."),
    "ADMINISTER": ("0", "Administer Jira", "Create and administer projects, fields, screens."),
}


def error_body(*messages: str, errors: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Jira's error envelope."""
    return {"errorMessages": list(messages), "errors": dict(errors or {})}


@dataclass
class ApiResponse:
    status: int
    body: Any  # JSON-able, or str/bytes with a non-JSON content type
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_CONTENT_TYPE


@dataclass
class Request:
    """One parsed request as the handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    base_url: str
    match: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: Any = None) -> Any:
        """A single parameter, from the JSON body for POST and the query string otherwise."""
        if self.method == "POST" and isinstance(self.body, dict):
            value = self.body.get(name)
            return default if value is None else value
        values = self.query.get(name)
        return values[-1] if values else default

    def params(self, name: str) -> list[str] | None:
        """A parameter that may repeat (or be a JSON list); None when absent."""
        if self.method == "POST" and isinstance(self.body, dict):
            value = self.body.get(name)
            if value is None:
                return None
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return self.query.get(name)

    def int_param(self, name: str, default: int) -> int:
        value = self.param(name, default)
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise _Reject(400, f"The value '{value}' of '{name}' is not a number.") from exc


class _Reject(Exception):
    """Raised by a handler to answer with an error envelope."""

    def __init__(
        self, status: int, *messages: str, errors: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(messages)
        self.status = status
        self.messages = messages
        self.errors = errors


Handler = Callable[["JiraApi", Request], ApiResponse]
_ROUTES: list[tuple[frozenset[str], re.Pattern[str], str]] = []


def _route(methods: str, pattern: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        _ROUTES.append((frozenset(methods.split("|")), re.compile(f"^{pattern}/?$"), fn.__name__))
        return fn

    return register


_API = r"/rest/api/(?P<v>[23])"
_AGILE = r"/rest/agile/1\.0"


def _token(fingerprint: str, *position: int) -> str:
    raw = json.dumps([fingerprint, *position]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str, fingerprint: str, size: int) -> list[int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        if decoded[0] != fingerprint or len(decoded) != size + 1:
            raise ValueError("foreign token")
        return [int(x) for x in decoded[1:]]
    except (ValueError, TypeError, IndexError, json.JSONDecodeError) as exc:
        raise _Reject(400, BAD_TOKEN) from exc


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class JiraApi:
    """The sandbox Jira's endpoints over a `JiraDataset`."""

    def __init__(
        self,
        dataset: JiraDataset,
        *,
        deployment: str = "cloud",
        email: str = "pmo-bot@acme.example",
        display_name: str = "PMO Bot",
        forbidden_projects: Collection[str] = frozenset(),
        admin: bool = True,
    ) -> None:
        if deployment not in ("cloud", "server"):
            raise ValueError("deployment is 'cloud' or 'server'")
        self.ds = dataset
        self.deployment = deployment
        self.email = email
        self.display_name = display_name
        self.forbidden = frozenset(forbidden_projects)
        self.admin = admin
        self.api_user = User(account_id("api-user", email), display_name, email)
        self._results: OrderedDict[tuple, list[int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        body: Any,
        base_url: str,
    ) -> ApiResponse:
        """Answer one request; never raises for a client's mistake (that is a 4xx)."""
        method = method.upper()
        allowed: set[str] = set()
        for methods, pattern, name in _ROUTES:
            m = pattern.match(path)
            if not m:
                continue
            if method not in methods:
                allowed |= methods
                continue
            req = Request(method, path, dict(query), body, base_url, m.groupdict())
            try:
                return getattr(self, name)(req)
            except _Reject as rej:
                return ApiResponse(rej.status, error_body(*rej.messages, errors=rej.errors))
            except JqlError as exc:
                return ApiResponse(400, error_body(exc.message))
        if allowed:
            return ApiResponse(
                405,
                error_body(f"Method {method} is not allowed here."),
                {"Allow": ", ".join(sorted(allowed))},
            )
        return ApiResponse(404, error_body(f"null for uri: {base_url}{path}"))

    # -- helpers ---------------------------------------------------------------------

    def _renderer(self, req: Request) -> Renderer:
        return Renderer(self.ds, req.base_url, req.match.get("v", "2"), self.deployment)

    def _visible(self, project_key: str) -> bool:
        return project_key not in self.forbidden

    def _require_cloud(self, req: Request) -> None:
        if not self.cloud:
            raise _Reject(404, f"null for uri: {req.base_url}{req.path}")

    def _query(self, jql_text: str, *, bounded: bool) -> tuple[Query, list[int]]:
        query = parse(jql_text)
        if bounded and not query.bounded:
            raise _Reject(400, UNBOUNDED)
        # Relative dates ("-1h") move with the clock, so it is part of the key.
        key = (jql_text, self.forbidden, self.ds.version, self.ds.clock.now)
        with self._lock:
            rows = self._results.get(key)
            if rows is not None:
                self._results.move_to_end(key)
                return query, rows
        rows = run_query(self.ds, query, self.forbidden)
        with self._lock:
            self._results[key] = rows
            while len(self._results) > 32:
                self._results.popitem(last=False)
        return query, rows

    def _issue(self, key_or_id: str) -> Issue:
        issue = self.ds.find(key_or_id)
        if issue is None or not self._visible(issue.project_key):
            raise _Reject(404, NO_ISSUE)
        return issue

    @staticmethod
    def _expand(req: Request) -> set[str]:
        raw = req.params("expand") or []
        return {e.strip() for part in raw for e in part.split(",") if e.strip()}

    @staticmethod
    def _query_expand(req: Request) -> set[str]:
        """`expand` from the query string only (write endpoints have a JSON body)."""
        raw = req.query.get("expand") or []
        return {e.strip() for part in raw for e in part.split(",") if e.strip()}

    def _custom_ids(self) -> list[str]:
        return [f.id for f in self.ds.custom_fields]

    def _require_admin(self) -> None:
        if not self.admin:
            raise _Reject(403, ADMIN_REQUIRED)

    # -- platform: about the site and the user ----------------------------------------

    @_route("GET", f"{_API}/serverInfo")
    def server_info(self, req: Request) -> ApiResponse:
        cloud = self.cloud
        return ApiResponse(
            200,
            {
                "baseUrl": req.base_url,
                "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.0",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 0],
                "deploymentType": "Cloud" if cloud else "Server",
                "buildNumber": 100001 if cloud else 9120000,
                "buildDate": "2026-01-01T00:00:00.000+0000",
                "serverTime": jira_time(self.ds.clock.now),
                "scmInfo": "sandbox",
                "serverTitle": "Sandbox Jira",
            },
        )

    @_route("GET", f"{_API}/myself")
    def myself(self, req: Request) -> ApiResponse:
        body: dict[str, Any] = {
            "self": f"{self._renderer(req).api}/myself",
            "accountId": self.api_user.account_id,
            "accountType": "atlassian",
            "emailAddress": self.email,
            "displayName": self.display_name,
            "active": True,
            "timeZone": USER_TZ.key,
            "locale": "en_US",
        }
        if not self.cloud:
            body["name"] = body["key"] = self.email.split("@")[0]
        return ApiResponse(200, body)

    @_route("GET", f"{_API}/field")
    def fields(self, req: Request) -> ApiResponse:
        return ApiResponse(200, field_catalog(self.ds.custom_fields))

    @_route("GET", f"{_API}/status")
    def statuses(self, req: Request) -> ApiResponse:
        r = self._renderer(req)
        return ApiResponse(200, [r.status(s) for s in self.ds.statuses])

    @_route("GET", f"{_API}/mypermissions")
    def my_permissions(self, req: Request) -> ApiResponse:
        key = req.param("projectKey")
        pid = req.param("projectId")
        allowed = True
        if key is not None or pid is not None:
            project = next(
                (p for p in self.ds.projects if p.key == key or (pid and p.id == str(pid))), None
            )
            if project is None:
                raise _Reject(404, f"No project could be found with key '{key or pid}'.")
            allowed = self._visible(project.key)
        wanted = [p.strip() for p in str(req.param("permissions", "")).split(",") if p.strip()]
        for name in wanted:
            if name not in _PERMISSIONS:
                raise _Reject(400, f"Unrecognized permission '{name}'.")
        out = {}
        for name in wanted or list(_PERMISSIONS):
            pid_, label, description = _PERMISSIONS[name]
            is_global = name == "ADMINISTER"
            out[name] = {
                "id": pid_,
                "key": name,
                "name": label,
                "type": "GLOBAL" if is_global else "PROJECT",
                "description": description,
                "havePermission": self.admin if is_global else allowed,
            }
        return ApiResponse(200, {"permissions": out})

    @_route("GET", f"{_API}/project")
    def projects(self, req: Request) -> ApiResponse:
        r = self._renderer(req)
        return ApiResponse(200, [r.project(p) for p in self.ds.projects if self._visible(p.key)])

    @_route("GET", f"{_API}/project/(?P<key>[^/]+)/versions")
    def project_versions(self, req: Request) -> ApiResponse:
        """Every version of a project, not paged (Jira's `GET /project/{key}/versions`)."""
        wanted = str(req.match["key"])
        for p in self.ds.projects:
            if wanted in (p.key, p.id) and self._visible(p.key):
                r = self._renderer(req)
                return ApiResponse(
                    200, [r.version(v, listed=True) for v in self.ds.versions(p.key)]
                )
        raise _Reject(404, f"No project could be found with key '{wanted}'.")

    @_route("GET", f"{_API}/project/(?P<key>[^/]+)")
    def project(self, req: Request) -> ApiResponse:
        wanted = req.match["key"]
        for p in self.ds.projects:
            if wanted in (p.key, p.id) and self._visible(p.key):
                return ApiResponse(200, self._renderer(req).project(p))
        raise _Reject(404, f"No project could be found with key '{wanted}'.")

    # -- search --------------------------------------------------------------------

    @_route("GET|POST", f"{_API}/search/jql")
    def search_jql(self, req: Request) -> ApiResponse:
        self._require_cloud(req)
        jql_text = str(req.param("jql", "") or "")
        fields = FieldSelection.parse(req.params("fields"), "id", self._custom_ids())
        cap = 5000 if fields.ids_only else 100
        size = req.int_param("maxResults", 50)
        size = min(cap, size if size > 0 else 50)
        _, rows = self._query(jql_text, bounded=True)
        fingerprint = _fingerprint("search", jql_text)
        token = req.param("nextPageToken")
        start = _untoken(str(token), fingerprint, 1)[0] if token else 0
        page = rows[start : start + size]
        recent = RECENT_HISTORIES if "changelog" in self._expand(req) else False
        r = self._renderer(req)
        if fields.ids_only and recent is False:  # a census: answer from the index alone
            issues = [r.issue_ref(str(10001 + row), self.ds.key_at(row), fields) for row in page]
        else:
            issues = [
                r.issue(self.ds.issue_at(row), fields, changelog_recent=recent) for row in page
            ]
        body: dict[str, Any] = {"issues": issues}
        end = start + len(page)
        if end < len(rows):
            body["nextPageToken"] = _token(fingerprint, end)
        body["isLast"] = end >= len(rows)
        return ApiResponse(200, body)

    @_route("POST", f"{_API}/search/approximate-count")
    def approximate_count(self, req: Request) -> ApiResponse:
        self._require_cloud(req)
        _, rows = self._query(str(req.param("jql", "") or ""), bounded=True)
        return ApiResponse(200, {"count": len(rows)})

    @_route("GET|POST", f"{_API}/search")
    def legacy_search(self, req: Request) -> ApiResponse:
        if self.cloud:
            return ApiResponse(410, error_body(SEARCH_REMOVED))
        fields = FieldSelection.parse(req.params("fields"), "*navigable", self._custom_ids())
        start = max(0, req.int_param("startAt", 0))
        size = req.int_param("maxResults", 50)
        size = min(100, size if size >= 0 else 50)
        _, rows = self._query(str(req.param("jql", "") or ""), bounded=False)
        full = None if "changelog" in self._expand(req) else False
        r = self._renderer(req)
        page = rows[start : start + size]
        return ApiResponse(
            200,
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(rows),
                "issues": [
                    r.issue(self.ds.issue_at(row), fields, changelog_recent=full) for row in page
                ],
            },
        )

    # -- issues and changelogs ------------------------------------------------------------

    @_route("GET", f"{_API}/issue/(?P<key>[^/]+)")
    def issue(self, req: Request) -> ApiResponse:
        issue = self._issue(req.match["key"])
        fields = FieldSelection.parse(req.params("fields"), "*all", self._custom_ids())
        changelog: int | bool | None = False
        if "changelog" in self._expand(req):
            changelog = 100 if self.cloud else None
        return ApiResponse(
            200, self._renderer(req).issue(issue, fields, changelog_recent=changelog)
        )

    @_route("GET", f"{_API}/issue/(?P<key>[^/]+)/changelog")
    def changelog(self, req: Request) -> ApiResponse:
        issue = self._issue(req.match["key"])
        start = max(0, req.int_param("startAt", 0))
        size = req.int_param("maxResults", 100)
        size = min(100, size if size > 0 else 100)
        total = len(issue.histories)
        values = issue.histories[start : start + size]
        r = self._renderer(req)
        url = f"{r.api}/issue/{req.match['key']}/changelog"
        body: dict[str, Any] = {"self": f"{url}?startAt={start}&maxResults={size}"}
        is_last = start + len(values) >= total
        if not is_last:
            body["nextPage"] = f"{url}?&startAt={start + size}&maxResults={size}"
        body.update(
            {
                "maxResults": size,
                "startAt": start,
                "total": total,
                "isLast": is_last,
                "values": [r.history(h) for h in values],
            }
        )
        return ApiResponse(200, body)

    @_route("POST", f"{_API}/changelog/bulkfetch")
    def bulkfetch(self, req: Request) -> ApiResponse:
        self._require_cloud(req)
        body = req.body if isinstance(req.body, dict) else {}
        wanted = body.get("issueIdsOrKeys")
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= 1000:
            raise _Reject(400, "issueIdsOrKeys must list between 1 and 1000 issues.")
        field_ids = body.get("fieldIds")
        if field_ids is not None and (not isinstance(field_ids, list) or len(field_ids) > 10):
            raise _Reject(400, "fieldIds must list at most 10 fields.")
        size = body.get("maxResults") or 1000
        if not isinstance(size, int) or size < 1:
            raise _Reject(400, "maxResults must be a positive number.")
        size = min(size, 10000)
        fingerprint = _fingerprint("bulkfetch", [str(w) for w in wanted], field_ids)
        token = body.get("nextPageToken")
        issue_pos, history_pos = _untoken(str(token), fingerprint, 2) if token else (0, 0)
        r = self._renderer(req)
        wanted_fields = set(field_ids) if field_ids else None
        logs: list[dict[str, Any]] = []
        budget = size
        seen: set[str] = set()
        pos = issue_pos
        next_token = None
        while pos < len(wanted):
            issue = self.ds.find(str(wanted[pos]))
            if issue is None or not self._visible(issue.project_key) or issue.id in seen:
                pos, history_pos = pos + 1, 0
                continue
            seen.add(issue.id)
            rendered = [r.history(h, millis=True, field_ids=wanted_fields) for h in issue.histories]
            histories = [h for h in rendered if h is not None]
            chunk = histories[history_pos : history_pos + budget]
            if chunk:
                logs.append({"issueId": issue.id, "changeHistories": chunk})
            budget -= len(chunk)
            if history_pos + len(chunk) < len(histories):
                next_token = _token(fingerprint, pos, history_pos + len(chunk))
                break
            pos, history_pos = pos + 1, 0
            if budget == 0 and pos < len(wanted):
                next_token = _token(fingerprint, pos, 0)
                break
        out: dict[str, Any] = {"issueChangeLogs": logs}
        if next_token:
            out["nextPageToken"] = next_token
        return ApiResponse(200, out)

    # -- write-back: fields, edit metadata, issue edits ----------------------------------

    @_route("POST", f"{_API}/field")
    def create_field(self, req: Request) -> ApiResponse:
        self._require_admin()
        body = req.body if isinstance(req.body, dict) else {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _Reject(400, errors={"name": "The custom field name must be specified."})
        kind = body.get("type")
        try:
            type_for(str(kind))
        except KeyError as exc:
            raise _Reject(
                400, errors={"type": f"The custom field type '{kind}' is not supported."}
            ) from exc
        searcher = body.get("searcherKey")
        field_id = self.ds.create_custom_field(
            name,
            str(kind),
            searcher_key=str(searcher) if searcher else None,
            description=str(body.get("description") or ""),
        )
        created = self.ds.custom_field(field_id)
        assert created is not None
        return ApiResponse(201, custom_field_entry(created))

    @_route("POST", f"{_API}/screens/addToDefault/(?P<field>[^/]+)")
    def add_to_default_screen(self, req: Request) -> ApiResponse:
        """In the sandbox every project uses the default screen: the field goes on all."""
        self._require_admin()
        field_id = unquote(req.match["field"])
        if self.ds.custom_field(field_id) is None:
            raise _Reject(404, f"The field '{field_id}' does not exist.")
        for project in self.ds.projects:
            self.ds.add_field_to_screen(field_id, project.key)
        return ApiResponse(200, {})

    @_route("GET", f"{_API}/issue/(?P<key>[^/]+)/editmeta")
    def editmeta(self, req: Request) -> ApiResponse:
        issue = self._issue(req.match["key"])
        fields = self.ds.screen_fields(issue.project_key)
        return ApiResponse(200, self._renderer(req).editmeta(issue, fields))

    @_route("PUT", f"{_API}/issue/(?P<key>[^/]+)")
    def edit_issue(self, req: Request) -> ApiResponse:
        issue = self._issue(req.match["key"])
        body = req.body
        if not isinstance(body, dict):
            raise _Reject(400, "The request body is missing or is not a JSON object.")
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise _Reject(400, "'fields' and 'update' must be JSON objects.")
        on_screen = set(self.ds.screen_fields(issue.project_key))
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for fid, raw in fields.items():
            if fid not in on_screen:
                errors[fid] = NOT_ON_SCREEN.format(fid)
            elif fid in update:
                errors[fid] = f"Field '{fid}' cannot be set in both 'fields' and 'update'."
            else:
                try:
                    values[fid] = self._field_input(req, fid, raw)
                except FieldValueError as exc:
                    errors[fid] = exc.message
        new_comments: list[str | dict[str, Any]] = []
        for fid, ops in update.items():
            if fid == "comment":  # {"comment": [{"add": {"body": ...}}]}: comments, not fields
                new_comments = self._comment_ops(req, ops)
                continue
            if fid not in on_screen:
                errors[fid] = NOT_ON_SCREEN.format(fid)
                continue
            try:
                values[fid] = self._apply_update_ops(req, issue, fid, ops)
            except FieldValueError as exc:
                errors[fid] = exc.message
        if errors:
            raise _Reject(400, errors=errors)
        if values:
            self.ds.update_fields(issue.id, values, author=self.api_user)
        for text in new_comments:
            self.ds.add_comment(issue.id, text, author=self.api_user)
        if str(req.query.get("returnIssue", ["false"])[-1]).lower() == "true":
            fields_sel = FieldSelection.parse(None, "*all", self._custom_ids())
            return ApiResponse(200, self._renderer(req).issue(self.ds.issue(issue.id), fields_sel))
        return ApiResponse(204, None)

    def _comment_ops(self, req: Request, ops: Any) -> list[str | dict[str, Any]]:
        """The bodies of `update.comment` add operations (the only verb supported here)."""
        bodies: list[str | dict[str, Any]] = []
        for op in ops if isinstance(ops, list) else [None]:
            add = op.get("add") if isinstance(op, dict) and len(op) == 1 else None
            if not isinstance(add, dict):
                raise _Reject(400, errors={"comment": "Only 'add' is supported for comments."})
            bodies.append(self._comment_body(req, add.get("body")))
        return bodies

    def _apply_update_ops(self, req: Request, issue: Issue, fid: str, ops: Any) -> Any:
        if not isinstance(ops, list):
            raise FieldValueError(f"The operations for field '{fid}' must be a list.")
        current = self.ds.field_value(issue.id, fid)
        for op in ops:
            if not isinstance(op, dict) or len(op) != 1:
                raise FieldValueError(f"Each operation on field '{fid}' needs exactly one verb.")
            ((verb, arg),) = op.items()
            if verb == "set":
                current = self._field_input(req, fid, arg)
            elif fid == "labels" and verb in ("add", "remove"):
                label = self._label(arg)
                labels = [lb for lb in current if lb != label]
                current = [*labels, label] if verb == "add" else labels
            else:
                raise FieldValueError(f"Field '{fid}' does not support operation '{verb}'.")
        return current

    @staticmethod
    def _label(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise FieldValueError("Labels must be non-empty strings.")
        if " " in value:
            raise FieldValueError(f"The label '{value}' contains spaces which is invalid.")
        return value

    def _field_input(self, req: Request, fid: str, raw: Any) -> Any:
        """A JSON value for a field as the Python value `JiraDataset.update_fields` takes."""
        cf = self.ds.custom_field(fid)
        if cf is not None:
            return coerce(cf, raw)
        v3 = req.match.get("v") == "3"
        match fid:
            case "summary":
                if not isinstance(raw, str) or not raw.strip():
                    raise FieldValueError("You must specify a summary of the issue.")
                if "\n" in raw:
                    raise FieldValueError(
                        "The summary is invalid because it contains newline characters."
                    )
                return raw
            case "description":
                if raw is None:
                    return ""
                if v3:
                    if not is_doc(raw):
                        raise FieldValueError(
                            "Operation value must be an Atlassian Document "
                            "(see the Atlassian Document Format)"
                        )
                    return doc_text(raw)
                if not isinstance(raw, str):
                    raise FieldValueError("Operation value must be a string")
                return raw
            case "labels":
                if not isinstance(raw, list):
                    raise FieldValueError("Operation value must be a list of labels")
                return list(dict.fromkeys(self._label(lb) for lb in raw))
            case "assignee":
                if raw is None:
                    return None
                wanted = raw.get("accountId") or raw.get("name") if isinstance(raw, dict) else None
                for user in [*self.ds.users, self.api_user]:
                    if wanted in (user.account_id, user.email.split("@")[0]):
                        return user
                raise FieldValueError(f"User '{wanted}' cannot be assigned issues.")
            case _ if fid == FIELD_POINTS:
                if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
                    raise FieldValueError("Operation value must be a number")
                return raw
        raise FieldValueError(NOT_ON_SCREEN.format(fid))

    # -- write-back: comments ------------------------------------------------------------

    def _comment_body(self, req: Request, value: Any) -> str | dict[str, Any]:
        """A comment body as written, checked as Jira checks it: v2 text, v3 ADF."""
        if value is None or value == "":
            raise _Reject(400, errors={"comment": EMPTY_COMMENT})
        if req.match.get("v") == "3":
            if not is_doc(value):
                raise _Reject(400, errors={"comment": BAD_COMMENT})
            if not doc_text(value).strip():
                raise _Reject(400, errors={"comment": EMPTY_COMMENT})
            return value
        if not isinstance(value, str):
            raise _Reject(400, errors={"comment": BAD_COMMENT})
        if not value.strip():
            raise _Reject(400, errors={"comment": EMPTY_COMMENT})
        return value

    @staticmethod
    def _comment_extras(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(properties, visibility) of a comment create/update body."""
        raw_props = body.get("properties") or []
        if not isinstance(raw_props, list):
            raise _Reject(400, "'properties' must be a list of {key, value} objects.")
        properties: dict[str, Any] = {}
        for prop in raw_props:
            if not isinstance(prop, dict) or not isinstance(prop.get("key"), str):
                raise _Reject(400, "Each comment property needs a key and a value.")
            properties[prop["key"]] = prop.get("value")
        visibility = body.get("visibility")
        if visibility is not None and not isinstance(visibility, dict):
            raise _Reject(400, "'visibility' must be an object.")
        return properties, visibility

    def _issue_comment(self, req: Request) -> tuple[Issue, Comment]:
        issue = self._issue(req.match["key"])
        cid = req.match["cid"]
        try:
            comment = self.ds.comment(cid)
        except KeyError:
            comment = None
        if comment is None or comment.issue_id != issue.id:
            raise _Reject(404, f"Can not find a comment for key: {cid}.")
        return issue, comment

    @_route("GET", f"{_API}/issue/(?P<key>[^/]+)/comment")
    def comments(self, req: Request) -> ApiResponse:
        issue = self._issue(req.match["key"])
        start = max(0, req.int_param("startAt", 0))
        size = req.int_param("maxResults", 100)
        size = min(5000, size if size > 0 else 100)
        order = req.param("orderBy")
        if order not in (None, "created", "+created", "-created"):
            raise _Reject(400, f"Invalid orderBy value: {order}. Only 'created' is supported.")
        every = self.ds.comments(issue.id)
        if order == "-created":
            every.reverse()
        r = self._renderer(req)
        with_props = "properties" in self._expand(req)
        shown = [r.comment(issue.id, c, properties=with_props) for c in every[start : start + size]]
        return ApiResponse(
            200, {"startAt": start, "maxResults": size, "total": len(every), "comments": shown}
        )

    @_route("POST", f"{_API}/issue/(?P<key>[^/]+)/comment")
    def add_comment(self, req: Request) -> ApiResponse:
        issue = self._issue(req.match["key"])
        body = req.body if isinstance(req.body, dict) else {}
        text = self._comment_body(req, body.get("body"))
        properties, visibility = self._comment_extras(body)
        comment = self.ds.add_comment(
            issue.id, text, author=self.api_user, properties=properties, visibility=visibility
        )
        with_props = "properties" in self._query_expand(req)
        return ApiResponse(
            201, self._renderer(req).comment(issue.id, comment, properties=with_props)
        )

    @_route("GET", f"{_API}/issue/(?P<key>[^/]+)/comment/(?P<cid>[^/]+)")
    def get_comment(self, req: Request) -> ApiResponse:
        issue, comment = self._issue_comment(req)
        with_props = "properties" in self._expand(req)
        return ApiResponse(
            200, self._renderer(req).comment(issue.id, comment, properties=with_props)
        )

    @_route("PUT", f"{_API}/issue/(?P<key>[^/]+)/comment/(?P<cid>[^/]+)")
    def edit_comment(self, req: Request) -> ApiResponse:
        issue, comment = self._issue_comment(req)
        body = req.body if isinstance(req.body, dict) else {}
        text = self._comment_body(req, body["body"]) if "body" in body else None
        properties, visibility = self._comment_extras(body)
        updated = self.ds.update_comment(
            comment.id,
            text,
            author=self.api_user,
            properties=properties,
            visibility=visibility,
        )
        with_props = "properties" in self._query_expand(req)
        return ApiResponse(
            200, self._renderer(req).comment(issue.id, updated, properties=with_props)
        )

    @_route("DELETE", f"{_API}/issue/(?P<key>[^/]+)/comment/(?P<cid>[^/]+)")
    def delete_comment(self, req: Request) -> ApiResponse:
        _, comment = self._issue_comment(req)
        self.ds.delete_comment(comment.id)
        return ApiResponse(204, None)

    # -- write-back: comment properties ------------------------------------------------

    def _property_comment(self, req: Request) -> Comment:
        cid = req.match["cid"]
        try:
            comment = self.ds.comment(cid)
            visible = self._visible(self.ds.comment_issue(cid).project_key)
        except KeyError:
            visible = False
        if not visible:
            raise _Reject(404, f"The comment with id '{cid}' does not exist.")
        return comment

    @_route("GET", f"{_API}/comment/(?P<cid>[^/]+)/properties")
    def comment_property_keys(self, req: Request) -> ApiResponse:
        comment = self._property_comment(req)
        url = f"{self._renderer(req).api}/comment/{comment.id}/properties"
        keys = [{"self": f"{url}/{k}", "key": k} for k in comment.properties]
        return ApiResponse(200, {"keys": keys})

    @_route("GET", f"{_API}/comment/(?P<cid>[^/]+)/properties/(?P<prop>[^/]+)")
    def comment_property(self, req: Request) -> ApiResponse:
        comment = self._property_comment(req)
        key = unquote(req.match["prop"])
        if key not in comment.properties:
            raise _Reject(404, f"The property with key '{key}' does not exist.")
        return ApiResponse(200, {"key": key, "value": comment.properties[key]})

    @_route("PUT", f"{_API}/comment/(?P<cid>[^/]+)/properties/(?P<prop>[^/]+)")
    def set_comment_property(self, req: Request) -> ApiResponse:
        comment = self._property_comment(req)
        key = unquote(req.match["prop"])
        if len(key) > 255:
            raise _Reject(400, "The property key cannot be longer than 255 characters.")
        if req.body is None:
            raise _Reject(400, "The property value cannot be empty.")
        if len(json.dumps(req.body)) > PROPERTY_VALUE_LIMIT:
            raise _Reject(
                400, f"The property value cannot be longer than {PROPERTY_VALUE_LIMIT} characters."
            )
        created = self.ds.set_comment_property(comment.id, key, req.body)
        return ApiResponse(201 if created else 200, None)

    @_route("DELETE", f"{_API}/comment/(?P<cid>[^/]+)/properties/(?P<prop>[^/]+)")
    def delete_comment_property(self, req: Request) -> ApiResponse:
        comment = self._property_comment(req)
        key = unquote(req.match["prop"])
        try:
            self.ds.delete_comment_property(comment.id, key)
        except KeyError as exc:
            raise _Reject(404, f"The property with key '{key}' does not exist.") from exc
        return ApiResponse(204, None)

    # -- agile ----------------------------------------------------------------------------

    @staticmethod
    def _page(req: Request, values: list[Any], cap: int) -> dict[str, Any]:
        start = max(0, req.int_param("startAt", 0))
        size = req.int_param("maxResults", 50)
        size = min(cap, size if size > 0 else cap)
        shown = values[start : start + size]
        return {
            "maxResults": size,
            "startAt": start,
            "total": len(values),
            "isLast": start + len(shown) >= len(values),
            "values": shown,
        }

    @_route("GET", f"{_AGILE}/board")
    def boards(self, req: Request) -> ApiResponse:
        boards = list(self.ds.boards)
        project = req.param("projectKeyOrId")
        if project:
            match = [p for p in self.ds.projects if str(project) in (p.key, p.id)]
            if not match or not self._visible(match[0].key):
                raise _Reject(400, f"No project could be found with key '{project}'.")
            boards = [b for b in boards if b.project_key == match[0].key]
        kind = req.param("type")
        if kind:
            kinds = set(str(kind).split(","))
            boards = [b for b in boards if b.type in kinds]
        name = req.param("name")
        if name:
            boards = [b for b in boards if str(name).lower() in b.name.lower()]
        r = self._renderer(req)
        return ApiResponse(200, self._page(req, [r.board(b) for b in boards], 50))

    def _board(self, board_id: str) -> Board:
        try:
            board = self.ds.board(int(board_id))
        except StopIteration as exc:
            raise _Reject(
                404, "Board does not exist or you do not have permission to see it."
            ) from exc
        if not self._visible(board.project_key):
            raise _Reject(403, "You don't have permission to view this board.")
        return board

    @_route("GET", f"{_AGILE}/board/(?P<board>\\d+)")
    def board(self, req: Request) -> ApiResponse:
        return ApiResponse(200, self._renderer(req).board(self._board(req.match["board"])))

    @_route("GET", f"{_AGILE}/board/(?P<board>\\d+)/sprint")
    def board_sprints(self, req: Request) -> ApiResponse:
        board = self._board(req.match["board"])
        if board.type != "scrum":
            raise _Reject(400, "The board does not support sprints")
        sprints = self.ds.board_sprints(board.id)
        state = req.param("state")
        if state:
            states = {s.strip() for s in str(state).split(",")}
            sprints = [s for s in sprints if s.state in states]
        r = self._renderer(req)
        return ApiResponse(200, self._page(req, [r.agile_sprint(s) for s in sprints], 50))

    @_route("GET", f"{_AGILE}/sprint/(?P<sprint>\\d+)")
    def sprint(self, req: Request) -> ApiResponse:
        try:
            sprint = self.ds.sprint(int(req.match["sprint"]))
        except KeyError as exc:
            raise _Reject(
                404, "Sprint does not exist or you do not have permission to see it."
            ) from exc
        self._board(str(sprint.board_id))
        return ApiResponse(200, self._renderer(req).agile_sprint(sprint))
