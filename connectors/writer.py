"""The write-back transport: what `Connector.writer()` returns (KPI fields, one bot comment).

A writer sends exactly the calls it is asked for: no planning, no read before a write
to skip a no-op, no dedupe. The push (`pmo_sync.writeback.service`) plans against its
ledger and calls these methods; the three built-in writers are
`connectors.jira.push.JiraWriter`, `connectors.azure_devops.push.AdoWriter` and
`connectors.trello.push.TrelloWriter`.

Errors (`connectors.errors`). Every method may raise a `ConnectorError`; the push reads
its subclass:

- `AuthenticationError` (credentials refused: wrong for every item, the push stops),
  `PermissionDeniedError` (the account may not do it), `TrackerUnavailableError` (the
  tracker kept failing after the client's retries), `UnexpectedResponseError` (not the
  API's JSON), or a plain `ConnectorError` (a refusal the message explains);
- `IssueNotFoundError` from `set_fields`, `add_comment` and `find_bot_comments`: the item
  is deleted or out of the account's sight (404); nothing was written, and the push
  forgets the item (`update_comment` says `CommentNotFoundError`, `delete_comment` counts
  it done);
- the others are named on the methods that raise them.

Retries. A 429 is retried on every call by the writer's client; a 5xx, a timeout or a
dropped connection only on calls that end the same when sent twice (reads, PUT, PATCH,
DELETE). A POST that creates (`add_comment`) is never sent twice: its lost answer is
`WriteOutcomeUnknownError`, after which the caller calls `find_bot_comments` before
adding again (one comment found: that is it; several: keep the oldest, delete the
others; none: add it again).

Keys and ids are text: an issue key (Jira), a work item id (Azure DevOps, which also
takes an `int`), a card id or short link (Trello); a comment id is the tracker's own
(Trello: the `commentCard` action's id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["Writer"]


@runtime_checkable
class Writer(Protocol):
    """One run's write-back calls to one tracker; `close()` when the run is over.

    `isinstance(obj, Writer)` checks that every member is there (not their signatures:
    a type checker does that, e.g. on each connector's `writer()`).
    """

    checks_revisions: bool
    """Whether `set_fields` can refuse a write to an item changed since a revision
    (`expected_rev`). True: the push passes each item's revision as last synced, so a
    value computed from an older state is never written over a person's change (Azure
    DevOps). False: the tracker has no revision to test (Jira, Trello); the push never
    passes `expected_rev`."""

    def field_ids(self, names: list[str]) -> dict[str, str]:
        """Resolve the configured field names (as people see them, or the tracker's ids)
        to what `set_fields` takes: name -> id, one entry per name.

        One read of the tracker's field list per call (Trello: each board's, once per
        writer; its ids differ per board, so it answers names -> names and `set_fields`
        resolves them on each card's board). Raises `FieldNotFoundError` naming every
        name that matches no field, or several, at once.
        """
        ...

    def set_fields(
        self, key: str, values: Mapping[str, Any], *, expected_rev: int | None = None
    ) -> None:
        """Write field values (ids from `field_ids` -> value; None clears) on one item, in
        one write, without notifying anyone. The same values again end the same.

        `expected_rev` (only where `checks_revisions`): the item's revision the values
        were computed from; if the item has changed since, nothing is written and
        `RevisionConflictError` is raised (a writer without revisions raises ValueError
        when given one). Also raises `IssueNotFoundError`, `FieldNotFoundError` (Trello:
        a name the card's board lacks), a `ConnectorError` for a value the field cannot
        hold or a field the tracker refuses (Jira: `FieldNotOnScreenError`), and
        ValueError for no values.
        """
        ...

    def add_comment(self, key: str, body: str, marker_property: Mapping[str, Any]) -> str:
        """Add the bot comment and return its id. `body` holds the visible marker.

        `marker_property` is {"key": ..., "value": {...}}: Jira tags the comment with it
        as a comment property (a second call); trackers without comment properties
        ignore it. Never retried after it may have reached the tracker:
        `WriteOutcomeUnknownError` means the comment may exist (see the module
        docstring). `MarkerPropertyError` (Jira): the comment was created (its
        `comment_id`) but not tagged. Also `IssueNotFoundError`; ValueError for an empty
        body.
        """
        ...

    def update_comment(self, key: str, comment_id: str, body: str) -> None:
        """Replace the bot comment's text in place, without notifying.

        `CommentNotFoundError` when the comment (or its item) is gone: the caller finds
        (`find_bot_comments`) or adds it again. ValueError for an empty body.
        """
        ...

    def delete_comment(self, key: str, comment_id: str) -> None:
        """Delete a comment; one already gone (404, or its item deleted) counts as done."""
        ...

    def find_bot_comments(
        self, key: str, bot_account_id: str, marker: str
    ) -> list[tuple[str, str]]:
        """(id, text) of the item's comments written by `bot_account_id` whose text holds
        `marker`, oldest first, every page read.

        A person's comment quoting the marker is not the bot's: both the author and the
        marker must match. Recovers a comment id the ledger lost, or the duplicates a
        lost answer made. Raises `IssueNotFoundError` for a deleted item.
        """
        ...

    def bot_account_id(self) -> str | None:
        """The account every write is made as (one call, on first use): the author
        `find_bot_comments` matches. None when the tracker does not say (Jira Server
        without a user name)."""
        ...

    def close(self) -> None:
        """Release what the writer opened itself (the connector's client stays open)."""
        ...
