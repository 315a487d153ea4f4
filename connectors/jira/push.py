"""`JiraWriter`: the transport for write-back (KPI fields, the one bot comment per issue).

No planning happens here: a planner compares the desired state with the ledger
and calls these methods; the writer sends exactly the calls it is asked for
(it never reads before writing to skip a no-op, and never dedupes).

Calls go through the `jira` library wherever it has one:

- field values: `jira.resources.Issue.update(fields=..., notify=False)` on an
  `Issue` built from the key alone (no `GET /issue` first); comments:
  `JIRA.add_comment`, `Comment.update(body=..., notify=False)` and
  `Comment.delete()` on a `Comment` built from (key, id); listing:
  `JIRA.comments`, `JIRA.editmeta`, `JIRA.fields`.
- `Resource.update` ends with `self._load(self.self)`, a GET of the whole
  resource to refresh a Python object we throw away. `_IssueRef` and
  `_CommentRef` turn that reload off: it would double the calls of a write-back
  run, and a reload failing after a successful PUT would report the write as
  failed.
- The library has no call for comment properties or for `POST /field`: those
  go through the library's own `_session` and `_get_url` (same auth, same HTTP
  policy, same error type).
- `JIRA.add_comment` cannot send `properties` (only Service Desk's internal
  flag), so the marker property is set by a second, idempotent call:
  `PUT /comment/{id}/properties/{key}`.

Retries. A 429 means Jira did not process the request: every method is retried
(`RecordingRetry`). A 5xx or a timeout may come *after* Jira did the work, so
only idempotent writes are retried on them: PUT (the same value or body again)
and DELETE. A POST (add a comment, create a field) is never retried on a 5xx or
a timeout. The reading client's session retries POSTs (its POSTs are searches),
so writes go through a second `jira.JIRA` built by the same `JiraClient` code,
whose session carries the write policy (`WRITE_RETRY_METHODS`); both count
their calls in the same `CallStats`.

Protocol after a failed POST. `add_comment` raising `WriteOutcomeUnknownError`
(a 5xx, a timeout, a dropped connection) means the comment may exist. Before
adding again the caller calls `find_bot_comments(key, bot_account_id, marker)`:
if it lists a comment, that is the one (keep its id; it may lack the marker
property, see `set_comment_property`); if it lists several (an earlier lost
response already made a duplicate), keep the oldest and `delete_comment` the
others; if none, add it again. Any other `ConnectorError` from `add_comment`
(a 4xx, a 429 after every retry, a refused connection) means nothing was
created. `create_custom_field` follows the same rule with `field_ids([name])`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote

import requests
from jira import JIRA, JIRAError
from jira.resources import Comment, Issue

from connectors.errors import (
    CommentNotFoundError,
    ConnectorError,
    FieldNotFoundError,
    FieldRefusedError,
    IssueNotFoundError,
    MarkerPropertyError,
    PermissionDeniedError,
    WriteOutcomeUnknownError,
)
from connectors.http import never_sent
from connectors.jira.client import JiraClient

__all__ = [
    "COMMENT_PAGE_SIZE",
    "WRITE_RETRY_METHODS",
    "FieldNotOnScreenError",
    "JiraWriter",
    "resolve_field_names",
]

# 5xx and timeouts are retried only for these; 429 is retried for every method.
WRITE_RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
COMMENT_PAGE_SIZE = 100
NOT_ON_SCREEN_TEXT = "not on the appropriate screen"

_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
# short type -> (type key, searcher key, what an admin picks in "Create custom field")
_FIELD_TYPES: dict[str, tuple[str, str, str]] = {
    "number": (f"{_CUSTOM}float", f"{_CUSTOM}exactnumber", "Number Field"),
    "date": (f"{_CUSTOM}datepicker", f"{_CUSTOM}daterange", "Date Picker"),
    "string": (f"{_CUSTOM}textfield", f"{_CUSTOM}textsearcher", "Text Field (single line)"),
}
_FIELD_TYPES["text"] = _FIELD_TYPES["string"]


# -- errors ------------------------------------------------------------------------------


class FieldNotOnScreenError(FieldRefusedError):
    """Jira refused a field because it is not on the issue's edit screen (HTTP 400).

    A project's edit screen is what refuses it: the push stops writing the field to the
    project (`FieldRefusedError`). `names` maps each refused field id to its name.
    """

    def __init__(
        self, message: str, *, issue_key: str, project_key: str | None, fields: dict[str, str]
    ) -> None:
        super().__init__(message, fields=tuple(fields), reason="not on the edit screen")
        self.issue_key = issue_key
        self.project_key = project_key
        self.names = fields  # field id -> name, for every refused field


# -- library resources without the reload ---------------------------------------------------


class _NoReload:
    """Drops the GET `Resource.update` makes after its PUT (see the module docstring)."""

    def _load(
        self,
        url: str,
        headers: Any = None,
        params: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        return None


class _IssueRef(_NoReload, Issue):
    """An `Issue` known by its key only: enough for `Issue.update`, which reads no field."""


class _CommentRef(_NoReload, Comment):
    """A `Comment` known by (issue key, comment id): enough for `update` and `delete`."""


# -- the writer --------------------------------------------------------------------------------


class JiraWriter:
    """Write-back calls for one run, on top of the run's `JiraClient`.

    Reads (field list, editmeta, comment lists) use `client.jira`; writes use a
    second library client with the write retry policy, built on first use and
    closed by `close()` (the caller's client is left open).

    `checks_revisions` is False: a Jira issue has no revision a write can test.
    """

    checks_revisions = False

    def __init__(self, client: JiraClient) -> None:
        self.client = client
        self.stats = client.stats
        self._writes = JiraClient(client.config, client.stats, retry_methods=WRITE_RETRY_METHODS)
        self._field_names: dict[str, str] = {}  # field id -> name, from the last GET /field

    def close(self) -> None:
        self._writes.close()

    def __enter__(self) -> JiraWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _jira(self) -> JIRA:
        """The library client writes go through."""
        return self._writes.jira

    # -- fields ------------------------------------------------------------------------------

    def field_ids(self, names: list[str]) -> dict[str, str]:
        """Resolve configured field names (or ids) to ids, with one `GET /field`.

        The config names fields as people see them ("Cycle time (days)"); the API
        wants ids. Exact name first, then case-insensitive (Jira treats names that
        way in JQL); a name that matches nothing, or several fields, raises
        `FieldNotFoundError` naming every such field at once.
        """
        with self.client.translate_errors("list the fields (GET /field)"):
            fields = self.client.jira.fields()
        self._field_names = {str(f["id"]): str(f.get("name") or f["id"]) for f in fields}
        found, problems = resolve_field_names(self._field_names, names)
        if problems:
            raise FieldNotFoundError(
                f"Jira fields visible to {self._who()}: {'; '.join(problems.values())}. "
                "Field names are matched as Jira shows them; ids (customfield_NNNNN) work too. "
                "A missing field must be created (create_custom_field, or a Jira admin: "
                "Jira settings > Issues > Custom fields) and its context must include the "
                "projects written to."
            )
        return found

    def editable_fields(self, key: str) -> set[str]:
        """Ids of the fields the API user may set on an issue (`GET /issue/{key}/editmeta`).

        Lets a caller check a project's edit screen once before a run instead of
        learning it from one refused PUT per issue. Includes "comment", as Jira lists it.
        """
        with self._issue_errors(key, f"read the edit screen of {key} (editmeta)"):
            meta = self.client.jira.editmeta(key)
        return set(meta.get("fields", {}))

    def set_fields(
        self, key: str, values: Mapping[str, Any], *, expected_rev: int | None = None
    ) -> None:
        """Set field values on an issue in one `PUT /issue/{key}` (204), without notifying.

        Jira writes a changelog history only when a value really changes; the same
        value again is a 204 with no history, so repeating after a lost answer is
        harmless (and the policy retries 5xx on PUT). `notifyUsers=false` needs
        Administer Projects; without it Jira ignores the flag rather than failing.
        `expected_rev` must be None: Jira has no revision to test (`checks_revisions`).
        """
        if not values:
            raise ValueError("set_fields needs at least one field")
        if expected_rev is not None:
            raise ValueError("a Jira issue has no revision to test: expected_rev must be None")
        labels = ", ".join(self._field_label(fid) for fid in values)
        noun = "field" if len(values) == 1 else "fields"
        action = f"write {noun} {labels} on {key}"
        issue = _IssueRef(
            self._jira._options,
            self._jira._session,
            raw={"key": key, "self": self._jira._get_url(f"issue/{key}")},
        )
        with self._issue_errors(key, action):
            try:
                issue.update(fields=dict(values), notify=False)
            except JIRAError as exc:
                off_screen = self._off_screen(exc)
                if off_screen:
                    raise self._not_on_screen(key, off_screen) from None
                raise

    def create_custom_field(self, name: str, type: str, description: str = "") -> str:
        """Create a custom field (`POST /field`, Administer Jira) and return its id.

        `type` is "number", "date", "string"/"text", or a full Jira type key. The
        new field is on no edit screen: writes fail with `FieldNotOnScreenError`
        until an admin adds it. Never retried on 5xx/timeouts (a second field with
        the same name would appear): on `WriteOutcomeUnknownError`, check with
        `field_ids([name])` first.
        """
        type_key, searcher, label = _FIELD_TYPES.get(type, (type, "", type))
        body: dict[str, Any] = {"name": name, "type": type_key, "description": description}
        if searcher:
            body["searcherKey"] = searcher
        jira = self._jira
        action = f"create the custom field {name!r} ({label})"
        hint = f"call field_ids([{name!r}]) before creating it again"
        try:
            with self._unretried_post(action, hint):
                answer = jira._session.post(jira._get_url("field"), data=json.dumps(body))
                created = answer.json()
        except PermissionDeniedError as exc:
            raise PermissionDeniedError(
                f"{self._who()} may not create custom fields (HTTP 403: it needs the "
                "Administer Jira global permission). Ask a Jira admin to create it by hand: "
                "Jira settings > Issues > Custom fields > Create custom field > "
                f"{label} > name {name!r} > on the screens step, tick the edit screens of "
                "the projects pmo-sync writes to > Update. Then put the name (or its id, "
                "customfield_NNNNN) in the pmo-sync config.",
                status_code=exc.status_code,
            ) from None
        field_id = str(created["id"])
        self._field_names[field_id] = str(created.get("name") or name)
        return field_id

    # -- comments ------------------------------------------------------------------------------

    def add_comment(self, key: str, body: str, marker_property: Mapping[str, Any]) -> str:
        """Add the bot comment and tag it with its marker property; return the comment id.

        Two calls: `JIRA.add_comment` (POST, never retried on 5xx/timeouts: a lost
        answer may hide a created comment, see the module docstring) and
        `PUT /comment/{id}/properties/{key}` (idempotent, retried).
        `marker_property` is {"key": "pmo-sync", "value": {...}}.
        """
        prop_key = marker_property.get("key")
        if not isinstance(prop_key, str) or not prop_key or "value" not in marker_property:
            raise ValueError("marker_property needs a non-empty 'key' and a 'value'")
        hint = "call find_bot_comments before adding it again"
        with self._unretried_post(f"add the pmo-sync comment on {key}", hint):
            try:
                created = self._jira.add_comment(key, body)
            except JIRAError as exc:
                if exc.status_code == 404:
                    raise self._issue_gone(key, f"add the pmo-sync comment on {key}") from None
                raise
        comment_id = str(created.id)
        try:
            self.set_comment_property(comment_id, prop_key, marker_property["value"])
        except ConnectorError as exc:
            raise MarkerPropertyError(
                f"comment {comment_id} was added on {key}, but tagging it with property "
                f"{prop_key!r} failed: {exc}. Record the comment id and set the property "
                "again (set_comment_property).",
                comment_id=comment_id,
                status_code=exc.status_code,
            ) from None
        return comment_id

    def set_comment_property(self, comment_id: str, key: str, value: Any) -> None:
        """Create or replace a comment property (`PUT /comment/{id}/properties/{key}`).

        The library has no call for it: the library's session and URL builder are used.
        """
        jira = self._jira
        url = jira._get_url(f"comment/{comment_id}/properties/{quote(key, safe='')}")
        action = f"tag comment {comment_id} with property {key!r}"
        with self.client.translate_errors(action):
            try:
                jira._session.put(url, data=json.dumps(value))
            except JIRAError as exc:
                if exc.status_code == 404:
                    raise CommentNotFoundError(
                        f"comment {comment_id} no longer exists (HTTP 404) while trying to "
                        f"{action}",
                        status_code=404,
                    ) from None
                raise

    def update_comment(self, key: str, comment_id: str, body: str) -> None:
        """Replace the bot comment's body in place (`Comment.update`, PUT, without notifying).

        Raises `CommentNotFoundError` when the comment or its issue is gone: the
        caller then finds (`find_bot_comments`) or re-adds the comment.
        """
        if not body:
            raise ValueError("a comment body cannot be empty")
        comment = self._comment_ref(key, comment_id)
        action = f"edit the pmo-sync comment {comment_id} on {key}"
        with self.client.translate_errors(action):
            try:
                comment.update(body=body, notify=False)
            except JIRAError as exc:
                if exc.status_code == 404:
                    raise CommentNotFoundError(
                        f"the pmo-sync comment {comment_id} on {key} no longer exists, or the "
                        f"issue is gone (HTTP 404) while trying to {action}: "
                        f"{(exc.text or '').strip()}",
                        status_code=404,
                    ) from None
                raise

    def delete_comment(self, key: str, comment_id: str) -> None:
        """Delete a comment (`Comment.delete`); one already gone (404) is not an error.

        Deleting is the goal, so a comment someone removed, or an issue deleted
        with its comments, counts as done.
        """
        comment = self._comment_ref(key, comment_id)
        with self.client.translate_errors(f"delete the pmo-sync comment {comment_id} on {key}"):
            try:
                comment.delete()
            except JIRAError as exc:
                if exc.status_code != 404:
                    raise

    def bot_account_id(self) -> str | None:
        """The API user's account id (`/myself`): the author of every write-back."""
        me = self.client.myself()
        return me.get("accountId") or me.get("name")

    def find_bot_comments(
        self, key: str, bot_account_id: str, marker: str
    ) -> list[tuple[str, str]]:
        """(id, body text) of the comments the bot wrote whose body holds the visible marker.

        Oldest first, every page read (`JIRA.comments`). Recovers a comment id the
        ledger lost or a duplicate a lost answer made; a human's comment quoting
        the marker is ignored because its author is not the bot. `bot_account_id`
        is the accountId (Cloud) or the user name or key (Server/DC).
        """
        found: list[tuple[str, str]] = []
        start = 0
        while True:
            with self._issue_errors(key, f"list the comments of {key}"):
                page = self.client.jira.comments(key, start_at=start, max_results=COMMENT_PAGE_SIZE)
            for comment in page:
                raw = comment.raw or {}
                author = raw.get("author") or {}
                authors = {author.get("accountId"), author.get("name"), author.get("key")}
                text = _body_text(raw.get("body"))
                if bot_account_id in authors and marker in text:
                    found.append((str(raw["id"]), text))
            if len(page) < COMMENT_PAGE_SIZE:
                return found
            start += len(page)

    # -- helpers -------------------------------------------------------------------------------

    def _comment_ref(self, key: str, comment_id: str) -> _CommentRef:
        jira = self._jira
        url = jira._get_url(f"issue/{key}/comment/{comment_id}")
        return _CommentRef(jira._options, jira._session, raw={"id": comment_id, "self": url})

    def _who(self) -> str:
        return self.client.config.email or "the token's account"

    def _field_label(self, field_id: str) -> str:
        name = self._field_names.get(field_id)
        return f"{name!r}" if name and name != field_id else f"{field_id!r}"

    @contextmanager
    def _issue_errors(self, key: str, action: str) -> Iterator[None]:
        """`translate_errors`, with a 404 on the issue turned into `IssueNotFoundError`."""
        with self.client.translate_errors(action):
            try:
                yield
            except JIRAError as exc:
                if exc.status_code == 404:
                    raise self._issue_gone(key, action) from None
                raise

    def _issue_gone(self, key: str, action: str) -> IssueNotFoundError:
        return IssueNotFoundError(
            f"issue {key} no longer exists in Jira, or {self._who()} can no longer browse it "
            f"(HTTP 404), while trying to {action}: nothing was written; stop writing back "
            "to it",
            status_code=404,
        )

    @contextmanager
    def _unretried_post(self, action: str, hint: str) -> Iterator[None]:
        """`translate_errors` for a POST: a failure that may hide a success is said so."""
        with self.client.translate_errors(action):
            try:
                yield
            except JIRAError as exc:
                status = exc.status_code
                if status is not None and status >= 500:
                    raise WriteOutcomeUnknownError(
                        f"Jira answered HTTP {status} while trying to {action}. Not retried: "
                        f"Jira may have done it before failing to answer; {hint}.",
                        status_code=status,
                    ) from None
                raise
            except requests.exceptions.RequestException as exc:
                if not never_sent(exc):
                    raise WriteOutcomeUnknownError(
                        f"the answer was lost ({type(exc).__name__}) while trying to {action}. "
                        f"Not retried: Jira may have done it; {hint}."
                    ) from None
                raise

    def _off_screen(self, exc: JIRAError) -> list[str]:
        """Ids of the fields a 400 refused as not on the edit screen."""
        if exc.status_code != 400 or exc.response is None:
            return []
        try:
            errors = exc.response.json().get("errors") or {}
        except ValueError:
            return []
        return [fid for fid, text in errors.items() if NOT_ON_SCREEN_TEXT in str(text)]

    def _not_on_screen(self, key: str, field_ids: list[str]) -> FieldNotOnScreenError:
        if any(fid not in self._field_names for fid in field_ids):
            # Names make the message actionable; an error path, so one GET is fine.
            with suppress(ConnectorError):
                self._field_names.update(
                    {str(f["id"]): str(f.get("name") or f["id"]) for f in self.client.fields()}
                )
        names = {fid: self._field_names.get(fid, fid) for fid in field_ids}
        project = _project_of(key)
        where = f"project {project}" if project else f"the project of {key}"
        shown = ", ".join(
            f"{name!r} ({fid})" if name != fid else repr(fid) for fid, name in names.items()
        )
        noun = "field" if len(names) == 1 else "fields"
        return FieldNotOnScreenError(
            f"cannot write {noun} {shown} on {key}: Jira says it is not on the edit screen of "
            f"{where} (HTTP 400). A Jira admin must add it: Project settings > Screens shows "
            f"the edit screen of {where}; Jira settings > Issues > Screens > that screen > "
            f"Configure > add {shown}. Also check that the field's context includes {where}. "
            "pmo-sync writes nothing to that project until then.",
            issue_key=key,
            project_key=project,
            fields=names,
        )


def resolve_field_names(
    field_names: Mapping[str, str], wanted: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Configured names (or ids) -> field ids, and name -> what is wrong for the others.

    `field_names` is the field list, id -> name. Exact id or name first, then the name
    case-insensitively (as JQL matches names); a name matching no field, or several, is
    a problem.
    """
    found: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name in wanted:
        if name in field_names:
            found[name] = name
            continue
        ids = [fid for fid, shown in field_names.items() if shown == name]
        if not ids:
            folded = name.casefold()
            ids = [fid for fid, shown in field_names.items() if shown.casefold() == folded]
        if len(ids) == 1:
            found[name] = ids[0]
        elif ids:
            problems[name] = (
                f"{len(ids)} fields are named {name!r} ({', '.join(ids)}): "
                "put the id of the right one in the config"
            )
        else:
            problems[name] = f"no field named {name!r}"
    return found, problems


def _project_of(key: str) -> str | None:
    project, sep, number = key.rpartition("-")
    return project if sep and project and number.isdigit() else None


def _body_text(body: Any) -> str:
    """A comment body as text: v2 bodies are text, v3 bodies are ADF documents."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for child in node.get("content") or []:
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(body)
    return "\n".join(parts)
