"""Request routing for the sandbox Jira: (method, path, query, body) → status, headers, body.

No sockets here — `server.py` does HTTP, authentication, faults and logging —
so every endpoint can be tested by calling `JiraApi.handle` directly. REST
endpoints answer under both /rest/api/2 and /rest/api/3; Cloud-only endpoints
(search/jql, approximate-count, changelog/bulkfetch) are 404 in server mode and
the legacy /search is 410 in Cloud mode, as on the real products.
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

from pmo_sync.sandbox.generator import JiraDataset
from pmo_sync.sandbox.jql import JqlError, Query, parse
from pmo_sync.sandbox.model import Board, Issue
from pmo_sync.sandbox.render import (
    RECENT_HISTORIES,
    FieldSelection,
    Renderer,
    field_catalog,
    jira_time,
)
from pmo_sync.sandbox.search import run_query
from pmo_sync.sandbox.site import account_id
from pmo_sync.sandbox.timeline import USER_TZ

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

    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(messages)
        self.status = status
        self.messages = messages


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
    ) -> None:
        if deployment not in ("cloud", "server"):
            raise ValueError("deployment is 'cloud' or 'server'")
        self.ds = dataset
        self.deployment = deployment
        self.email = email
        self.display_name = display_name
        self.forbidden = frozenset(forbidden_projects)
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
                return ApiResponse(rej.status, error_body(*rej.messages))
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
            "accountId": account_id("api-user", self.email),
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
        return ApiResponse(200, field_catalog())

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
            out[name] = {
                "id": pid_,
                "key": name,
                "name": label,
                "type": "PROJECT",
                "description": description,
                "havePermission": allowed,
            }
        return ApiResponse(200, {"permissions": out})

    @_route("GET", f"{_API}/project")
    def projects(self, req: Request) -> ApiResponse:
        r = self._renderer(req)
        return ApiResponse(200, [r.project(p) for p in self.ds.projects if self._visible(p.key)])

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
        fields = FieldSelection.parse(req.params("fields"), default="id")
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
        fields = FieldSelection.parse(req.params("fields"), default="*navigable")
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
        fields = FieldSelection.parse(req.params("fields"), default="*all")
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
