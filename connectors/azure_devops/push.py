"""`AdoWriter`: the transport for write-back to Azure DevOps (KPI fields, the bot comment).

The same interface as `connectors.jira.push.JiraWriter`, through the `azure-devops`
SDK. No planning happens here: the writer sends exactly the calls it is asked for
(no read to skip a no-op, no dedupe).

- Field values: `update_work_item` (PATCH `application/json-patch+json`, one `add`
  per field, `suppress_notifications=True`). Field ids are reference names
  (`Custom.CycleTimeDays`). Every PATCH that changes a value creates a revision,
  authored by the PAT's identity, that the next sync reads like any other.
- Optimistic locking: `set_fields(..., expected_rev=N)` prepends `{"op": "test",
  "path": "/rev", "value": N}`; a mismatch raises `RevisionConflictError`. The writer
  does not GET the revision itself before each PATCH: that doubles the calls of a
  write-back run and only guards the few milliseconds between the GET and the PATCH.
  The useful revision is the one the plan was made from (the sync already read it);
  `current_rev` is there for a caller that has none.
- Comments (7.1-preview.4): `add_comment`, `update_comment`, `delete_comment`,
  `get_comments`. Azure DevOps comments have no properties: the marker is the body's
  text, and `find_bot_comments` matches the author *and* the marker. A comment also
  bumps the item's revision (System.CommentCount).

Retries. As in Jira: a 429 is retried for every method; a 5xx or a timeout only for
GET/PUT/PATCH/DELETE, never for POST (adding a comment). The reading `AdoClient`
retries POSTs (its POSTs are WIQL and batch reads), so writes go through a second
`AdoClient` built with `WRITE_RETRY_METHODS`, counting in the same `CallStats`. A
PATCH retried after a 5xx the service had in fact applied meets its own revision:
with `expected_rev`, the conflict is checked with one GET and, when the item holds
exactly our values one revision later, counted as done.

Protocol after `WriteOutcomeUnknownError` from `add_comment`: as for Jira, call
`find_bot_comments` before adding again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
from azure.devops.exceptions import AzureDevOpsServiceError
from azure.devops.v7_1.work_item_tracking.models import (
    CommentCreate,
    CommentUpdate,
    JsonPatchOperation,
)
from msrest.exceptions import ClientRequestError

from connectors.azure_devops.client import AdoClient
from connectors.errors import (
    CommentNotFoundError,
    ConnectorError,
    FieldNotFoundError,
    FieldRefusedError,
    IssueNotFoundError,
    RevisionConflictError,
    UnexpectedResponseError,
    WriteOutcomeUnknownError,
)
from connectors.http import never_sent
from connectors.pagination import ContinuationTokenPaginator

__all__ = [
    "COMMENT_PAGE_SIZE",
    "WRITE_RETRY_METHODS",
    "AdoWriter",
    "RevisionConflictError",
    "authenticated_identity",
    "refused_field",
]

# 5xx and timeouts are retried only for these; 429 is retried for every method.
WRITE_RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
COMMENT_PAGE_SIZE = 200  # the service's maximum $top for comments
_CONFLICT_MARKS = ("VS403432", "TestOperationFailed", "TF26071")
_FIELD_NOT_FOUND = re.compile(r"TF51535: Cannot find field ([^\s]+?)\.?(?:\s|$)")
"""What Azure DevOps answers a PATCH naming a field the item's work item type lacks."""


class AdoWriter:
    """Write-back calls for one run, on top of the run's `AdoClient`.

    `checks_revisions`: the push service passes each item's synced revision to
    `set_fields` as `expected_rev`.

    Reads (field list, comment lists, the conflict check) use `client`; writes use a
    second client with the write retry policy, closed by `close()`.
    """

    checks_revisions = True

    def __init__(self, client: AdoClient) -> None:
        self.client = client
        self.stats = client.stats
        self.project = client.project
        self._writes = AdoClient(client.config, client.stats, retry_methods=WRITE_RETRY_METHODS)

    def close(self) -> None:
        self._writes.close()

    def __enter__(self) -> AdoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bot_account_id(self) -> str:
        """The PAT's identity as comment authors and `System.ChangedBy` show it (one call)."""
        return authenticated_identity(self.client)

    # -- fields ------------------------------------------------------------------------------

    def field_ids(self, names: list[str]) -> dict[str, str]:
        """Resolve configured field names (display or reference names) to reference names.

        One `get_work_item_fields(project)`. Where that route is missing (404 or not
        registered, as in the sandbox), reference names (`Custom.X`) are accepted as
        they are and display names raise `FieldNotFoundError`.
        """
        try:
            with self.client.translate_errors("list the work item fields"):
                fields = self.client.wit.get_work_item_fields(self.project)
        except ConnectorError as exc:
            if exc.status_code != 404:
                raise
            fields = None
        found: dict[str, str] = {}
        problems: list[str] = []
        if fields is None:
            for wanted in names:
                if _looks_like_reference(wanted):
                    found[wanted] = wanted
                else:
                    problems.append(f"{wanted!r} is not a reference name")
            if problems:
                raise FieldNotFoundError(
                    f"this Azure DevOps lists no fields, so only reference names work: "
                    f"{'; '.join(problems)}. Put the reference name (Custom.CycleTimeDays, "
                    "shown in Organization settings > Process > the field) in the config."
                )
            return found
        refs = {str(f.reference_name): str(f.name or f.reference_name) for f in fields}
        lowered_refs = {r.casefold(): r for r in refs}
        for wanted in names:
            if wanted.casefold() in lowered_refs:
                found[wanted] = lowered_refs[wanted.casefold()]
                continue
            matches = [r for r, n in refs.items() if n == wanted] or [
                r for r, n in refs.items() if n.casefold() == wanted.casefold()
            ]
            if len(matches) == 1:
                found[wanted] = matches[0]
            elif matches:
                problems.append(
                    f"{len(matches)} fields are named {wanted!r} ({', '.join(matches)}): "
                    "put the reference name of the right one in the config"
                )
            else:
                problems.append(f"no field named {wanted!r}")
        if problems:
            raise FieldNotFoundError(
                f"Azure DevOps fields of project {self.project}: {'; '.join(problems)}. "
                "A missing field must be added to the process of the work item types written "
                "to (Organization settings > Process > inherited process > type > New field)."
            )
        return found

    def current_rev(self, key: str | int) -> int:
        """The item's current revision (one GET with `fields=System.Rev`)."""
        item_id = _item_id(key)
        with self._issue_errors(item_id, f"read the revision of work item {item_id}"):
            item = self.client.wit.get_work_item(item_id, self.project, fields=["System.Rev"])
        return int(item.rev)

    def set_fields(
        self, key: str | int, values: Mapping[str, Any], *, expected_rev: int | None = None
    ) -> None:
        """Set field values in one PATCH, without notifications; `expected_rev` adds `test /rev`.

        Raises `IssueNotFoundError` (deleted item), `RevisionConflictError` (changed
        since `expected_rev`).
        """
        if not values:
            raise ValueError("set_fields needs at least one field")
        item_id = _item_id(key)
        document = [
            JsonPatchOperation(op="add", path=f"/fields/{name}", value=value)
            for name, value in values.items()
        ]
        if expected_rev is not None:
            document.insert(0, JsonPatchOperation(op="test", path="/rev", value=expected_rev))
        noun = "field" if len(values) == 1 else "fields"
        action = f"write {noun} {', '.join(values)} on work item {item_id}"
        try:
            with self._issue_errors(item_id, action, writes=True):
                self._writes.wit.update_work_item(
                    document, item_id, self.project, suppress_notifications=True
                )
        except RevisionConflictError as exc:
            exc.expected_rev = expected_rev if expected_rev is not None else -1
            if expected_rev is None or not self._already_written(item_id, values, exc):
                raise
        except ConnectorError as exc:
            refused = refused_field(exc, values)
            if refused is None:
                raise
            raise FieldRefusedError(
                f"cannot write field {refused} on work item {item_id}: Azure DevOps says its "
                f"work item type has no such field (TF51535). An admin must add it: "
                "Organization settings > Process > the project's inherited process > the "
                f"work item type > New field > Use an existing field > {refused}. pmo-sync "
                "writes nothing to items of that type until then.",
                fields=(refused,),
                reason="not a field of the work item type",
                per_type=True,
                status_code=exc.status_code,
            ) from None

    def validate_fields(self, key: str | int, values: Mapping[str, Any]) -> None:
        """Whether these values could be saved on the item, without saving them.

        A `validateOnly` PATCH: Azure DevOps checks the permission to edit the item,
        the fields and their types, and stores nothing (no revision, no notification).
        With no values, the item's own title is re-set (one GET first), which probes
        the permission alone. Raises what `set_fields` would.
        """
        item_id = _item_id(key)
        if not values:
            with self._issue_errors(item_id, f"read work item {item_id}"):
                item = self.client.wit.get_work_item(item_id, self.project, fields=["System.Title"])
            values = {"System.Title": (item.fields or {}).get("System.Title", "")}
        document = [
            JsonPatchOperation(op="add", path=f"/fields/{name}", value=value)
            for name, value in values.items()
        ]
        with self._issue_errors(item_id, f"validate an edit of work item {item_id}", writes=True):
            self._writes.wit.update_work_item(
                document, item_id, self.project, validate_only=True, suppress_notifications=True
            )

    # -- comments ------------------------------------------------------------------------------

    def add_comment(
        self, key: str | int, body: str, marker_property: Mapping[str, Any] | None = None
    ) -> str:
        """Add the bot comment (POST, never retried on 5xx/timeouts); return its id.

        `marker_property` is ignored: Azure DevOps comments have no properties, the
        marker must be in `body`.
        """
        if not body:
            raise ValueError("a comment body cannot be empty")
        item_id = _item_id(key)
        action = f"add the pmo-sync comment on work item {item_id}"
        hint = "call find_bot_comments before adding it again"
        with self._unretried_post(action, hint), self._issue_errors(item_id, action, writes=True):
            created = self._writes.wit.add_comment(CommentCreate(text=body), self.project, item_id)
        return str(created.id)

    def update_comment(self, key: str | int, comment_id: str | int, body: str) -> None:
        """Replace the bot comment's text (PATCH); `CommentNotFoundError` when it is gone."""
        if not body:
            raise ValueError("a comment body cannot be empty")
        item_id = _item_id(key)
        action = f"edit the pmo-sync comment {comment_id} on work item {item_id}"
        try:
            with self._writes.translate_errors(action):
                self._writes.wit.update_comment(
                    CommentUpdate(text=body), self.project, item_id, int(comment_id)
                )
        except ConnectorError as exc:
            if exc.status_code == 404:
                raise CommentNotFoundError(
                    f"the pmo-sync comment {comment_id} on work item {item_id} no longer "
                    f"exists, or the item is gone (HTTP 404), while trying to {action}",
                    status_code=404,
                ) from None
            raise

    def delete_comment(self, key: str | int, comment_id: str | int) -> None:
        """Delete a comment; one already gone (404, or its item deleted) counts as done."""
        item_id = _item_id(key)
        action = f"delete the pmo-sync comment {comment_id} on work item {item_id}"
        try:
            with self._writes.translate_errors(action):
                self._writes.wit.delete_comment(self.project, item_id, int(comment_id))
        except ConnectorError as exc:
            if exc.status_code != 404:
                raise

    def find_bot_comments(
        self, key: str | int, bot_account_id: str, marker: str
    ) -> list[tuple[str, str]]:
        """(id, text) of the live comments by the bot whose text holds the marker, oldest first.

        `bot_account_id` is the PAT identity's id (GUID), unique name or descriptor; a
        human's comment quoting the marker is ignored.
        """
        item_id = _item_id(key)
        found: list[tuple[str, str]] = []
        action = f"list the comments of work item {item_id}"
        pager = ContinuationTokenPaginator(tracker="Azure DevOps", action=action)
        while pager.has_more():
            with self._issue_errors(item_id, action):
                page = self.client.wit.get_comments(
                    self.project,
                    item_id,
                    top=COMMENT_PAGE_SIZE,
                    continuation_token=pager.token,
                    order="asc",
                )
            for comment in page.comments or []:
                author = comment.created_by
                authors = {
                    getattr(author, "id", None),
                    getattr(author, "unique_name", None),
                    getattr(author, "descriptor", None),
                }
                text = comment.text or ""
                if not comment.is_deleted and bot_account_id in authors and marker in text:
                    found.append((str(comment.id), text))
            pager.advance(page.continuation_token)
        return found

    # -- helpers -------------------------------------------------------------------------------

    def _status(self, writes: bool) -> int | None:
        client = self._writes if writes else self.client
        return getattr(client._status, "code", None)

    @contextmanager
    def _issue_errors(self, item_id: int, action: str, *, writes: bool = False) -> Iterator[None]:
        """`translate_errors`, with a 404 → `IssueNotFoundError`, a failed test → conflict."""
        client = self._writes if writes else self.client
        try:
            with client.translate_errors(action):
                try:
                    yield
                except AzureDevOpsServiceError as exc:
                    conflict = self._conflict(exc, item_id, action, writes)
                    if conflict is not None:
                        raise conflict from None
                    raise
        except ConnectorError as exc:
            if exc.status_code == 404 and not isinstance(exc, RevisionConflictError):
                raise IssueNotFoundError(
                    f"work item {item_id} no longer exists in Azure DevOps, or the PAT's user "
                    f"can no longer read it (HTTP 404), while trying to {action}: nothing was "
                    "written; stop writing back to it",
                    status_code=404,
                ) from None
            raise

    def _conflict(
        self, exc: AzureDevOpsServiceError, item_id: int, action: str, writes: bool
    ) -> RevisionConflictError | None:
        message = f"{exc.message or ''} {exc.type_key or ''}"
        status = self._status(writes)
        if status != 412 and not any(mark in message for mark in _CONFLICT_MARKS):
            return None
        return RevisionConflictError(
            f"work item {item_id} changed since the revision the write was planned from "
            f"(test /rev failed, HTTP {status}) while trying to {action}: nothing was written; "
            f"sync again and re-plan. Azure DevOps said: {(exc.message or '').strip()}",
            work_item_id=item_id,
            expected_rev=-1,
            current_rev=None,
            status_code=status,
        )

    def _already_written(
        self, item_id: int, values: Mapping[str, Any], exc: RevisionConflictError
    ) -> bool:
        """After a conflict: whether the item holds our values one revision on (our own retry)."""
        with self._issue_errors(item_id, f"read work item {item_id} after a revision conflict"):
            item = self.client.wit.get_work_item(
                item_id, self.project, fields=["System.Rev", *values]
            )
        fields = item.fields or {}
        exc.current_rev = int(item.rev)
        ours = all(fields.get(name) == value for name, value in values.items())
        return ours and exc.current_rev == exc.expected_rev + 1

    @contextmanager
    def _unretried_post(self, action: str, hint: str) -> Iterator[None]:
        """Around a POST: a 5xx or a lost answer may hide a success, and says so."""
        try:
            yield
        except IssueNotFoundError:
            raise
        except ConnectorError as exc:
            status = exc.status_code
            if status is not None and status >= 500:
                raise WriteOutcomeUnknownError(
                    f"Azure DevOps answered HTTP {status} while trying to {action}. Not "
                    f"retried: it may have done it before failing to answer; {hint}.",
                    status_code=status,
                ) from None
            if status is None and self._lost_answer(exc):
                raise WriteOutcomeUnknownError(
                    f"the answer was lost while trying to {action}. Not retried: Azure DevOps "
                    f"may have done it; {hint}."
                ) from None
            raise

    def _lost_answer(self, exc: ConnectorError) -> bool:
        inner = exc.__context__
        while inner is not None and not isinstance(inner, ClientRequestError):
            inner = inner.__context__
        transport = getattr(inner, "inner_exception", None)
        if isinstance(transport, requests.exceptions.RequestException):
            return not never_sent(transport)
        return False


def authenticated_identity(client: AdoClient) -> str:
    """Who the PAT belongs to, as its unique name (the email in `System.ChangedBy`).

    One `GET {org}/_apis/connectionData` through the SDK's location client (served by
    the organisation URL itself: no resource-area lookup), with the client's policy.
    The unique name is `authenticatedUser.properties.Account`; an identity without one
    falls back to its id.
    """
    with client.translate_errors("read who the personal access token belongs to"):
        data = client.location.get_connection_data()
    user = getattr(data, "authenticated_user", None)
    properties = getattr(user, "properties", None) or {}
    account = properties.get("Account") if isinstance(properties, Mapping) else None
    if isinstance(account, Mapping):
        account = account.get("$value")
    identity = account or getattr(user, "id", None)
    if not identity:
        raise UnexpectedResponseError(
            "Azure DevOps answered connectionData without the authenticated user"
        )
    return str(identity)


def refused_field(exc: ConnectorError, values: Mapping[str, Any]) -> str | None:
    """The written field a TF51535 names (as `values` spells it), or None for another error."""
    if exc.status_code != 400:
        return None
    match = _FIELD_NOT_FOUND.search(str(exc))
    if match is None:
        return None
    named = match.group(1).casefold()
    return next((name for name in values if name.casefold() == named), None)


def _item_id(key: str | int) -> int:
    try:
        return int(key)
    except (TypeError, ValueError):
        raise ValueError(f"an Azure DevOps work item id is a number, not {key!r}") from None


def _looks_like_reference(name: str) -> bool:
    return "." in name and " " not in name and not name.startswith(".")
