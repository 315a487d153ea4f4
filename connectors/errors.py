"""Errors a connector raises, each saying what went wrong and what to do about it.

The sync engine catches `ConnectorError` per connector, records its message in
the run and goes on with the other connectors; anything else is a bug.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CommentNotFoundError",
    "ConnectorError",
    "FieldNotFoundError",
    "FieldRefusedError",
    "IssueNotFoundError",
    "MarkerPropertyError",
    "PermissionDeniedError",
    "RevisionConflictError",
    "TrackerUnavailableError",
    "TrackerUnreachableError",
    "UnexpectedResponseError",
    "WriteOutcomeUnknownError",
]


class ConnectorError(Exception):
    """A tracker call failed in a way the admin can act on."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(ConnectorError):
    """The tracker rejected the credentials (401, or a sign-in page)."""


class PermissionDeniedError(ConnectorError):
    """The credentials are valid but lack a permission (403)."""


class UnexpectedResponseError(ConnectorError):
    """The tracker answered something that is not the API's JSON (an HTML page, a bad shape)."""


class TrackerUnavailableError(ConnectorError):
    """The tracker kept failing (5xx, 429, timeouts) after every retry."""


class TrackerUnreachableError(TrackerUnavailableError):
    """Nothing answered at the tracker's URL: connection refused, host not found, no route,
    no connection within the timeout, a TLS or proxy failure. No request reached the tracker,
    and trying again at once would end the same, so it is never retried: the run stops at
    the first call, and `connectors check` labels it `reach`."""


# -- write-back -----------------------------------------------------------------------------


class FieldNotFoundError(ConnectorError):
    """A configured field name matches no field (or several) of the tracker's field list."""


class FieldRefusedError(ConnectorError):
    """The tracker refused a field for the item's place, not for the item: every item of the
    same project (`per_type`: of the same project and type; Trello: board) would be refused
    the same way, until an admin puts the field there.

    Jira: not on the edit screen of the project; Azure DevOps: not a field of the work item
    type (TF51535); Trello: no such custom field on the card's board. Nothing was written.
    The push stops writing these fields there for the rest of the run (one line, the items
    skipped counted) instead of failing every item alike; the ledger keeps them owed.
    """

    def __init__(
        self,
        message: str,
        *,
        fields: tuple[str, ...],
        reason: str,
        per_type: bool = False,
        status_code: int | None = 400,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.fields = fields
        """The refused fields, as `set_fields` was given them (ids from `field_ids`)."""
        self.reason = reason
        """Why, in a few words: "not on the edit screen"."""
        self.per_type = per_type


class IssueNotFoundError(ConnectorError):
    """The issue or work item is gone (deleted) or out of the API user's sight (HTTP 404)."""


class CommentNotFoundError(ConnectorError):
    """The comment (or its issue) is gone (HTTP 404): the ledger's comment id is stale."""


class WriteOutcomeUnknownError(TrackerUnavailableError):
    """A POST failed after it may have been carried out (5xx, timeout, dropped connection).

    Not retried; the caller checks what exists before sending it again (its
    writer's `find_bot_comments`).
    """


class MarkerPropertyError(ConnectorError):
    """The comment was created but its marker property could not be set.

    `comment_id` is the new comment: record it, and set the property again
    later (Jira: `JiraWriter.set_comment_property`).
    """

    def __init__(self, message: str, *, comment_id: str, status_code: int | None) -> None:
        super().__init__(message, status_code=status_code)
        self.comment_id = comment_id


class RevisionConflictError(ConnectorError):
    """The item changed since the version the write was planned from (Azure DevOps: the
    JSON Patch `test /rev` failed); nothing was written. Sync, re-plan, write again."""

    def __init__(
        self,
        message: str,
        *,
        work_item_id: int | str,
        expected_rev: int,
        current_rev: int | None,
        status_code: int | None = 412,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.work_item_id = work_item_id
        self.expected_rev = expected_rev
        self.current_rev = current_rev
