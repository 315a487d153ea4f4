"""`TrelloWriter`: the transport for write-back to Trello (KPI custom fields, the bot comment).

The same interface as `connectors.jira.push.JiraWriter` and
`connectors.azure_devops.push.AdoWriter`, over the run's `TrelloClient`. No
planning happens here: the writer sends exactly the writes it is asked for (no
read of the current value to skip a no-op, no dedupe).

Per-board fields. A Trello custom field belongs to one board: every configured
board has its own "Cycle time (days)", with its own id and its own type. So
`field_ids` cannot answer one id per name; it checks that every configured board
has each name and hands the names back (names -> names), and `set_fields`
resolves the names per card, on the card's board. For that the writer reads,
once per run and on first use:

- the configured boards (`resolve_boards`: 1 call, `GET /members/me/boards`);
- each board's custom field definitions (`GET /boards/{id}/customFields`: B calls);
- each board's cards, ids only (`GET /boards/{id}/cards/all?fields=id,shortLink,
  idBoard`: B calls), to know which board each card is on. A card not listed
  (created or moved in since) costs one `GET /cards/{key}?fields=idBoard`.

Then each card costs one call: `PUT /cards/{key}/customFields` ("Update Multiple
Custom Field items on a card") when several fields change, the single-item
`PUT /cards/{key}/customField/{id}/item` when one does. A push of F fields on N
cards of B boards makes 1 + 2B + N calls, not N x F. A card moved to another
configured board after its board was cached is found again on the PUT's refusal
(one `GET /cards/{key}?fields=idBoard`, then the PUT on the new board); a
deleted card answers 404 to both and raises `IssueNotFoundError`.

Values by the field's own type on the card's board: number fields take numbers
(None clears), date fields ISO dates or datetimes (a bare date is written at
12:00 UTC, so it shows as that day in every time zone from UTC-11 to UTC+11;
midnight UTC would show as the day before across the Americas), text fields
text. Dropdown (list) and checkbox fields cannot hold a KPI: `field_ids`
refuses them.

Comments. Trello comments are `commentCard` actions: adding one is
`POST /cards/{key}/actions/comments` (the answer's id is the comment id),
editing `PUT /actions/{id}`, deleting `DELETE /actions/{id}`. They have no
properties: the marker is in the text, and `find_bot_comments` matches the
author *and* the marker, so a person quoting the marker is never taken for the bot.

Retries (the client's policy). A 429 means Trello did not process the request:
every method is retried after the pacer's window. A 5xx or a timeout may come
after Trello did the work, so only idempotent calls are retried on them: GET,
PUT (the same values again) and DELETE (a second one answers 404, read as
"already gone"). A POST (adding a comment) is never retried on a 5xx or a
timeout: it raises `WriteOutcomeUnknownError`, and the caller calls
`find_bot_comments` before adding again (the protocol of the Jira writer). The
client is the connector's: one `CallStats`, one pacer; `close()` leaves it open.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from connectors.errors import (
    CommentNotFoundError,
    ConnectorError,
    FieldNotFoundError,
    FieldRefusedError,
    IssueNotFoundError,
    PermissionDeniedError,
    WriteOutcomeUnknownError,
)
from connectors.trello.client import TrelloClient
from connectors.trello.config import TrelloConfig

__all__ = ["WRITABLE_TYPES", "TrelloWriter", "match_field"]

WRITABLE_TYPES = ("number", "date", "text")
"""The custom field types a KPI can be written to."""
DATE_TIME_OF_DAY = "T12:00:00.000Z"
"""Where a bare date lands (see the module docstring)."""
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_RELOCATE_STATUSES = frozenset({400, 403, 404})
"""A PUT refused with one of these may mean the card left the board its fields came from."""


def match_field(fields: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    """A board's custom fields named `name`: exact matches, else case-insensitive ones.

    Several means the name is ambiguous on that board (Trello allows duplicates).
    """
    exact = [f for f in fields if f.get("name") == name]
    if exact:
        return exact
    folded = name.casefold()
    return [f for f in fields if str(f.get("name", "")).casefold() == folded]


class TrelloWriter:
    """Write-back calls for one run, on top of the run's `TrelloClient`.

    `checks_revisions` is False: Trello cards have no revision to test.
    Board, field and card-location reads are cached for the writer's life.
    """

    checks_revisions = False

    def __init__(self, client: TrelloClient, config: TrelloConfig) -> None:
        self.client = client
        self.config = config
        self.stats = client.stats
        self._bot: str | None = None
        self._boards: list[dict[str, Any]] | None = None
        self._fields: dict[str, list[dict[str, Any]]] | None = None  # board id -> definitions
        self._located = False  # whether the boards' card lists were read
        self._card_board: dict[str, str] = {}  # card id and shortLink -> board id

    def close(self) -> None:
        """Nothing of the writer's own to close: the client is the connector's."""

    def __enter__(self) -> TrelloWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bot_account_id(self) -> str:
        """The token's member id (`GET /members/me`, once): the author of every write-back."""
        if self._bot is None:
            self._bot = str(self.client.me()["id"])
        return self._bot

    # -- boards and fields -----------------------------------------------------------------

    def boards(self) -> list[dict[str, Any]]:
        """The configured boards, resolved once (`resolve_boards`)."""
        if self._boards is None:
            self._boards = self.client.resolve_boards(self.config.boards)
        return self._boards

    def board_fields(self) -> dict[str, list[dict[str, Any]]]:
        """Each configured board's custom field definitions, by board id (1 call per board)."""
        if self._fields is None:
            self._fields = {
                str(board["id"]): self.client.custom_fields(str(board["id"]))
                for board in self.boards()
            }
        return self._fields

    def field_ids(self, names: list[str]) -> dict[str, str]:
        """Check that some configured board has a writable custom field of each name.

        Returns names -> names: a Trello field's id differs from board to board,
        so `set_fields` takes names and resolves them on each card's board. A name no
        board can take raises `FieldNotFoundError` naming, per board, what is wrong (no
        such field, twice, a dropdown or checkbox); a name some boards lack is refused
        on their cards only (`FieldRefusedError` from `set_fields`), so the others are
        written.
        """
        fields = self.board_fields()
        problems: list[str] = []
        for name in names:
            missing: list[str] = []
            wrong: list[str] = []
            for board in self.boards():
                board_id = str(board["id"])
                label = f"{board.get('name', board_id)!r}"
                problem = _field_problem(fields[board_id], name, label)
                if problem == "missing":
                    missing.append(label)
                elif problem is not None:
                    wrong.append(problem)
            if len(missing) + len(wrong) < len(self.boards()):
                continue  # usable somewhere
            problems += wrong
            if missing:
                noun = "board" if len(missing) == 1 else "boards"
                problems.append(f"no custom field {name!r} on {noun} {', '.join(missing)}")
        if problems:
            raise FieldNotFoundError(
                f"Trello custom fields of {self.config.name}: {'; '.join(problems)}. A Trello "
                "custom field belongs to one board, so each board in `boards` needs its own. "
                f"Run `pmo-sync connectors provision {self.config.name}` to create the missing "
                "ones (the Custom Fields power-up must be on for the board)."
            )
        return {name: name for name in names}

    # -- field values -----------------------------------------------------------------------

    def set_fields(
        self, key: str, values: Mapping[str, Any], *, expected_rev: int | None = None
    ) -> None:
        """Set the named custom fields on a card in one PUT (a None value clears its field).

        Names are resolved on the card's board; see the module docstring for the
        calls. Raises `IssueNotFoundError` for a deleted card, `FieldNotFoundError`
        for a name its board lacks, `ConnectorError` for a value its field's type
        cannot hold or a card now on a board pmo-sync does not sync. `expected_rev`
        must be None: a card has no revision to test (`checks_revisions`).
        """
        if not values:
            raise ValueError("set_fields needs at least one field")
        if expected_rev is not None:
            raise ValueError("a Trello card has no revision to test: expected_rev must be None")
        board_id, fresh = self._board_of(key)
        try:
            self._put(key, board_id, values)
        except ConnectorError as exc:
            if exc.status_code not in _RELOCATE_STATUSES:
                raise
            moved_to = board_id if fresh else self._locate(key)  # 404: the card is gone
            if moved_to != board_id:
                self._put(key, moved_to, values)
                return
            if exc.status_code == 404:
                raise
            raise self._board_refused(key, board_id, values, exc) from None

    def _board_refused(
        self, key: str, board_id: str, values: Mapping[str, Any], exc: ConnectorError
    ) -> FieldRefusedError:
        """A 400 or 403 on a card still on its board: the board refuses its custom fields
        (the power-up turned off, a field deleted since it was read, the token's member
        no longer allowed to edit the board), for every card of it."""
        label = f"{self._board_by_id(board_id).get('name', board_id)!r}"
        return FieldRefusedError(
            f"Trello refused custom fields {', '.join(repr(n) for n in values)} on card {key} "
            f"of board {label} (HTTP {exc.status_code}): {exc}. Check that the board's Custom "
            "Fields power-up is on and the token's member may edit the board, then run "
            f"`pmo-sync connectors check {self.config.name}`",
            fields=tuple(values),
            reason=f"Trello refused its custom fields, HTTP {exc.status_code}",
            status_code=exc.status_code,
        )

    def _put(self, key: str, board_id: str, values: Mapping[str, Any]) -> None:
        board = self._board_by_id(board_id)
        label = f"{board.get('name', board_id)!r}"
        fields = self.board_fields()[board_id]
        items: dict[str, tuple[Any, str]] = {}
        refused = {n: p for n in values if (p := _field_problem(fields, n, label)) is not None}
        if refused:
            raise FieldRefusedError(
                f"cannot write {', '.join(repr(n) for n in refused)} on card {key}: board "
                f"{label} has "
                + "; ".join(
                    f"no custom field {n!r}" if p == "missing" else p for n, p in refused.items()
                )
                + f". Run `pmo-sync connectors provision {self.config.name}` (the board needs "
                "the Custom Fields power-up)",
                fields=tuple(refused),
                reason="not a custom field of the board",
                status_code=None,
            )
        for name, value in values.items():
            the_field = match_field(fields, name)[0]
            field_type = str(the_field.get("type"))
            items[str(the_field["id"])] = (
                _value_for(value, field_type, name, label),
                field_type,
            )
        if len(items) == 1:
            [(field_id, (value, field_type))] = items.items()
            self.client.set_custom_field(key, field_id, value, field_type=field_type)
        else:
            self.client.set_custom_fields(key, items)

    def _board_of(self, key: str) -> tuple[str, bool]:
        """(the card's board id, whether it was just read for this card)."""
        if not self._located:
            for board in self.boards():
                board_id = str(board["id"])
                cards = self.client.card_boards(board_id)
                for card in cards:
                    where = str(card.get("idBoard") or board_id)
                    for ref in (card.get("id"), card.get("shortLink")):
                        if isinstance(ref, str):
                            self._card_board[ref] = where
            self._located = True
        known = self._card_board.get(key.lower() if _OBJECT_ID.match(key) else key)
        if known is not None and known in self.board_fields():
            return known, False
        return self._locate(key), True

    def _locate(self, key: str) -> str:
        """The card's board now (`GET /cards/{key}?fields=idBoard`), which must be configured."""
        try:
            card = self.client.card_board(key)
        except IssueNotFoundError:
            raise IssueNotFoundError(
                f"card {key} no longer exists in Trello, or the token's member can no longer "
                "see it (HTTP 404): nothing was written; stop writing back to it",
                status_code=404,
            ) from None
        board_id = str(card.get("idBoard", "")) if isinstance(card, dict) else ""
        if isinstance(card, dict):
            for ref in (card.get("id"), key):
                if isinstance(ref, str):
                    self._card_board[ref] = board_id
        if board_id not in self.board_fields():
            raise ConnectorError(
                f"card {key} is now on board {board_id or 'unknown'}, which is not in `boards` "
                f"of {self.config.name}: nothing was written to it"
            )
        return board_id

    def _board_by_id(self, board_id: str) -> dict[str, Any]:
        return next(b for b in self.boards() if str(b["id"]) == board_id)

    # -- comments ---------------------------------------------------------------------------

    def add_comment(
        self, key: str, body: str, marker_property: Mapping[str, Any] | None = None
    ) -> str:
        """Add the bot comment (POST, never retried on 5xx/timeouts); return its action id.

        `marker_property` is ignored: Trello comments have no properties, the
        marker must be in `body`.
        """
        if not body:
            raise ValueError("a comment body cannot be empty")
        try:
            return self.client.add_comment(key, body)
        except WriteOutcomeUnknownError as exc:
            raise WriteOutcomeUnknownError(
                f"{exc}. Not retried: call find_bot_comments before adding it again",
                status_code=exc.status_code,
            ) from None

    def update_comment(self, key: str, comment_id: str, body: str) -> None:
        """Replace the bot comment's text in place (`PUT /actions/{id}`).

        Raises `CommentNotFoundError` when the comment (or its card) is gone:
        the caller then finds (`find_bot_comments`) or re-adds it.
        """
        if not body:
            raise ValueError("a comment body cannot be empty")
        try:
            self.client.update_comment(comment_id, body)
        except CommentNotFoundError:
            raise CommentNotFoundError(
                f"the pmo-sync comment {comment_id} on card {key} no longer exists, or the "
                "card is gone (HTTP 404)",
                status_code=404,
            ) from None
        except PermissionDeniedError as exc:
            raise PermissionDeniedError(
                f"cannot edit comment {comment_id} on card {key}: Trello lets only a "
                f"comment's author edit it, and the token's member may not ({exc})",
                status_code=exc.status_code,
            ) from None

    def delete_comment(self, key: str, comment_id: str) -> None:
        """Delete a comment (`DELETE /actions/{id}`); one already gone (404) counts as done."""
        try:
            self.client.delete_comment(comment_id)
        except CommentNotFoundError:
            return

    def find_bot_comments(
        self, key: str, bot_account_id: str, marker: str
    ) -> list[tuple[str, str]]:
        """(id, text) of the card's comments by the bot whose text holds the marker, oldest first.

        Every page of the card's `commentCard` actions. `bot_account_id` is the
        member's id or username; a comment by anyone else is ignored even when it
        quotes the marker. A deleted card raises `IssueNotFoundError`.
        """
        found: list[tuple[str, str]] = []
        for action in self.client.card_actions(key, filters="commentCard"):
            creator = action.get("memberCreator") or {}
            authors = {action.get("idMemberCreator"), creator.get("id"), creator.get("username")}
            text = (action.get("data") or {}).get("text") or ""
            if bot_account_id in authors and marker in text:
                found.append((str(action["id"]), str(text)))
        found.reverse()  # Trello lists newest first
        return found


def _field_problem(fields: Sequence[Mapping[str, Any]], name: str, board: str) -> str | None:
    """Why a board cannot take a KPI in field `name`: "missing", what is wrong, or None."""
    found = match_field(fields, name)
    if not found:
        return "missing"
    if len(found) > 1:
        ids = ", ".join(str(f.get("id")) for f in found)
        return (
            f"board {board} has {len(found)} custom fields named {name!r} ({ids}): "
            "rename or delete all but one"
        )
    if found[0].get("type") not in WRITABLE_TYPES:
        return (
            f"{name!r} on board {board} is a {found[0].get('type')} field; a KPI "
            f"needs a {', '.join(WRITABLE_TYPES[:-1])} or {WRITABLE_TYPES[-1]} field"
        )
    return None


def _value_for(value: Any, field_type: str, name: str, board: str) -> Any:
    """`value` as a field of `field_type` takes it; `ConnectorError` when it cannot hold it."""
    if value is None:
        return None

    def refuse() -> ConnectorError:
        return ConnectorError(
            f"custom field {name!r} on board {board} is a {field_type} field and cannot hold "
            f"{value!r}: change its type in Trello or map the metric to another field"
        )

    if field_type == "number":
        if isinstance(value, bool):
            raise refuse()
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise refuse()
            return value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise refuse() from None
            if not math.isfinite(number):
                raise refuse()
            return value
        raise refuse()
    if field_type == "date":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise refuse()
            return value
        if isinstance(value, date):
            return value.isoformat() + DATE_TIME_OF_DAY
        if isinstance(value, str):
            if _BARE_DATE.match(value):
                return value + DATE_TIME_OF_DAY
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise refuse() from None
            return value
        raise refuse()
    if field_type == "text":
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    raise refuse()
