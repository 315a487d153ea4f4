"""Every call pmo-sync makes to Trello's REST API, over plain `requests`.

Not py-trello: it fetches 50 actions per call with no way to page further
(`list_movements()` silently truncates long histories), raises on any non-200
and never retries, and hard-codes api.trello.com, so no sandbox or proxy can
stand in for Trello. Trello's REST API is small enough to speak directly.

The client owns

- one `requests.Session` with the shared HTTP policy (`install_http_policy`:
  timeouts, per-request retries of 429/5xx honouring `Retry-After`, call
  counting, HTML-page detection); after a 429 without `Retry-After` (Trello
  sends none) the retry waits a rate-limit window instead of retrying at once;
- the `RatePacer`, which keeps the client under Trello's 100 requests / 10 s
  per token and 300 / 10 s per key before Trello has to refuse anything;
- authentication: `key` and `token` as query parameters, as Trello expects.
  Both are registered with the log redactor, and no error message carries a
  URL's query string, so neither appears in a log line or an exception;
- paging board and card actions newest to oldest with `before`, 1000 at a time
  (`connectors.pagination.BeforePaginator`, which refuses a page served twice);
- turning Trello's answers into `ConnectorError`s that say what to do.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import requests
from urllib3.util.retry import Retry

from connectors.errors import (
    AuthenticationError,
    CommentNotFoundError,
    ConnectorError,
    IssueNotFoundError,
    PermissionDeniedError,
    TrackerUnavailableError,
    UnexpectedResponseError,
    WriteOutcomeUnknownError,
)
from connectors.http import CallStats, RecordingRetry, install_http_policy, transport_error
from connectors.pagination import BeforePaginator
from connectors.trello.config import TrelloConfig
from connectors.trello.pacing import RatePacer
from pmo_sync.common.redaction import redact_text, register_secret

__all__ = [
    "ACTIONS_PAGE_SIZE",
    "CUSTOM_FIELD_TYPES",
    "PacedRetry",
    "TrelloClient",
    "TrelloNotFoundError",
]

ACTIONS_PAGE_SIZE = 1000
"""Trello's largest `limit` for action lists (the default is 50)."""
LABELS_LIMIT = 1000
CUSTOM_FIELD_TYPES = ("number", "text", "date", "checkbox", "list")
CARD_DETAILS: Mapping[str, Any] = {
    "customFieldItems": "true",
    "attachments": "true",
    "attachment_fields": "name,url",
    "checklists": "all",
    "checklist_fields": "name,pos",
}
"""What a card is read with, beside its own fields (`start`, `due` and `pos` among them): its
custom field values, its attachments' `name` and `url` (a card link names its parent, or a
dependency when its name says so) and its checklists with their items (`checklists`,
a nested resource of the card: `id`, `name`, `pos` and `checkItems` with `name`, `pos` and
`state`), all in the same answer."""
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Trello's PUTs set a value and its DELETEs remove one: sending either twice ends the same
(a second DELETE answers 404, which the caller reads as "already gone"). POSTs create, so a
POST is never re-sent after it may have reached Trello."""
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_SHORT_LINK = re.compile(r"^[0-9A-Za-z]{8}$")


class TrelloNotFoundError(ConnectorError):
    """A board, list, custom field or action is gone or out of the token's sight (HTTP 404).

    Cards and comments raise `IssueNotFoundError` and `CommentNotFoundError` instead.
    """


class PacedRetry(RecordingRetry):
    """`RecordingRetry` that, after a 429 without `Retry-After`, waits the pacer's window.

    urllib3 would otherwise retry the first 429 at once and the next ones after
    seconds of exponential back-off, while Trello's windows are 10 s long.
    """

    def __init__(self, *args: Any, pacer: RatePacer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def new(self, **kw: Any) -> PacedRetry:
        kw.setdefault("pacer", self.pacer)
        return super().new(**kw)  # type: ignore[return-value]

    @classmethod
    def like(cls, base: RecordingRetry, pacer: RatePacer) -> PacedRetry:
        """A copy of `base` (same counters, limits and stats) that consults `pacer`."""
        names = [n for n in inspect.signature(Retry.__init__).parameters if n != "self"]
        params = {name: getattr(base, name) for name in names if hasattr(base, name)}
        return cls(**params, stats=base.stats, pacer=pacer)

    def get_retry_after(self, response: Any) -> float | None:
        given = super().get_retry_after(response)
        if given is not None or response.status != 429 or self.pacer is None:
            return given
        return self.pacer.backoff_after_refusal(response.headers, cap=self.backoff_max)


def _when(since: str | datetime) -> str:
    if isinstance(since, datetime):
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        at = since.astimezone(UTC)
        return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"
    return since


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class TrelloClient:
    """A run-scoped Trello client: counts its calls and rate-limit waits in `stats`.

    `pacer` replaces the default one (Trello's limits); tests pass lower limits.
    """

    def __init__(
        self, config: TrelloConfig, stats: CallStats, *, pacer: RatePacer | None = None
    ) -> None:
        self.config = config
        self.stats = stats
        self.base_url = config.api_url
        self._key = config.api_key.get_secret_value()
        self._token = config.token.get_secret_value()
        register_secret(self._key)
        register_secret(self._token)
        self.pacer = pacer or RatePacer(self._key, self._token, stats)
        self.session = requests.Session()
        install_http_policy(
            self.session,
            stats,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
            max_retry_wait=config.max_retry_wait_seconds,
            retry_methods=RETRY_METHODS,
        )
        # install_http_policy mounts one adapter for http:// and https://
        adapter = self.session.get_adapter(self.base_url)
        adapter.max_retries = PacedRetry.like(adapter.max_retries, self.pacer)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> TrelloClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        action: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        missing: type[ConnectorError] = TrelloNotFoundError,
    ) -> Any:
        """Send one paced request; the JSON answer, or a `ConnectorError` saying what to do."""
        query = {**(params or {}), "key": self._key, "token": self._token}
        try:
            with self.pacer.slot():
                response = self.session.request(
                    method, f"{self.base_url}{path}", params=query, json=body
                )
        except ConnectorError:
            raise  # reject_html: an HTML page instead of JSON
        except requests.exceptions.RequestException as exc:
            self._transport_error(exc, method, action)
        self.pacer.observe(response.headers)
        if response.status_code >= 400:
            raise self._status_error(response, method, action, missing)
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponseError(
                f"Trello answered {method} {path} (to {action}) with HTTP "
                f"{response.status_code} and something that is not JSON: "
                f"{redact_text(response.text[:200])!r}",
                status_code=response.status_code,
            ) from None

    def _get_list(
        self,
        path: str,
        action: str,
        *,
        missing: type[ConnectorError] = TrelloNotFoundError,
        **params: Any,
    ) -> list[dict[str, Any]]:
        answer = self._request("GET", path, action, params=params, missing=missing)
        if not isinstance(answer, list):
            raise UnexpectedResponseError(
                f"Trello answered GET {path} (to {action}) with a JSON "
                f"{type(answer).__name__} where a list was expected"
            )
        return answer

    def _transport_error(
        self, exc: requests.exceptions.RequestException, method: str, action: str
    ) -> NoReturn:
        """One line for a request that got no HTTP answer (`connectors.http.transport_error`);
        a POST that may have reached Trello is a `WriteOutcomeUnknownError`."""
        raise transport_error(
            exc,
            tracker="Trello",
            url=str(self.config.url),  # as the admin wrote it, without the API's /1
            action=action,
            timeout=self.config.timeout_seconds,
            max_retries=self.config.max_retries if method in RETRY_METHODS else 0,
            may_have_written=method not in RETRY_METHODS,
        ) from None

    def _status_error(
        self,
        response: requests.Response,
        method: str,
        action: str,
        missing: type[ConnectorError],
    ) -> ConnectorError:
        status = response.status_code
        text, code = self._error_text(response)
        if status == 401 and "invalid key" in text.lower():
            return AuthenticationError(
                f"Trello rejected the API key (HTTP 401 invalid key) while trying to {action}: "
                "check api_key — the key of the Power-Up (trello.com/power-ups/admin), "
                "not the token",
                status_code=401,
            )
        if status == 401 and "invalid token" in text.lower():
            return AuthenticationError(
                f"Trello rejected the token (HTTP 401 invalid token) while trying to {action}: "
                "check token — it may have expired or been revoked, or been made for "
                "another API key",
                status_code=401,
            )
        if status in (401, 403):
            return PermissionDeniedError(
                f"the token's member may not {action} (HTTP {status}: {text}): the member "
                "must be on the board, and the token must grant read (and, to write back, "
                "write) access",
                status_code=status,
            )
        if status == 404:
            return missing(
                f"Trello found nothing to {action} (HTTP 404: {text}): it was deleted, or "
                "the token's member cannot see it",
                status_code=404,
            )
        if status == 429:
            which = {
                "API_TOKEN_LIMIT_EXCEEDED": "the token's limit (100 requests per 10 s)",
                "API_KEY_LIMIT_EXCEEDED": "the API key's limit (300 requests per 10 s)",
            }.get(code or "", "a rate limit")
            return TrackerUnavailableError(
                f"Trello kept refusing to {action} over {which} after "
                f"{self.config.max_retries} retries: another process may be using the same "
                "key or token",
                status_code=429,
            )
        if status >= 500:
            message = f"Trello kept failing to {action} (HTTP {status}: {text})"
            if method in RETRY_METHODS:
                return TrackerUnavailableError(
                    f"{message} after {self.config.max_retries} retries", status_code=status
                )
            return WriteOutcomeUnknownError(
                f"{message}; it may have been carried out: check before sending it again",
                status_code=status,
            )
        return ConnectorError(
            f"Trello refused to {action} (HTTP {status}): {text}", status_code=status
        )

    @staticmethod
    def _error_text(response: requests.Response) -> tuple[str, str | None]:
        """Trello's error message (plain text, or a JSON `message`) and JSON `error` code."""
        raw = response.text.strip()
        code = None
        if raw.startswith("{"):
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                code = parsed.get("error") if isinstance(parsed.get("error"), str) else None
                raw = str(parsed.get("message") or code or raw)
        return redact_text(raw[:300]) or "no details", code

    # -- members and boards -----------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """The token's member (`id`, `username`, `fullName`, `idBoards`, ...)."""
        return self._request("GET", "/members/me", "read the token's member (/members/me)")

    def boards_of_me(self, filter: str = "all") -> list[dict[str, Any]]:
        """The boards the token's member is on."""
        return self._get_list("/members/me/boards", "list the token's boards", filter=filter)

    def board(self, board_id: str) -> dict[str, Any]:
        return self._request("GET", f"/boards/{board_id}", f"read board {board_id}")

    def resolve_boards(self, names_or_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The boards named by name (exact, else case-insensitive), 24-hex id or short link,
        in the order given. A board the member is not on but can see (an organisation's
        board) is read by id. Raises `TrelloNotFoundError` naming the missing boards and the
        ones the token can see, or `ConnectorError` for a name several boards share."""
        mine = self.boards_of_me()
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for ref in names_or_ids:
            board = self._pick_board(ref, mine)
            if board is None and (_OBJECT_ID.match(ref) or _SHORT_LINK.match(ref)):
                try:
                    board = self.board(ref)
                except (TrelloNotFoundError, PermissionDeniedError):
                    board = None
                except ConnectorError as exc:
                    if exc.status_code != 400:  # 400 invalid id: it was a name after all
                        raise
            if board is None:
                missing.append(ref)
            else:
                found.append(board)
        if missing:
            visible = ", ".join(sorted(repr(b.get("name")) for b in mine)) or "none"
            raise TrelloNotFoundError(
                f"no board {', '.join(repr(m) for m in missing)} for the token's member "
                f"(the boards it can see: {visible}): check `boards` in the config, or add "
                "the member to the board"
            )
        return found

    @staticmethod
    def _pick_board(ref: str, boards: list[dict[str, Any]]) -> dict[str, Any] | None:
        for board in boards:
            if ref.lower() == str(board.get("id", "")).lower() or ref == board.get("shortLink"):
                return board
        for matches in (
            [b for b in boards if b.get("name") == ref],
            [b for b in boards if str(b.get("name", "")).casefold() == ref.casefold()],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                ids = ", ".join(str(b.get("id")) for b in matches)
                raise ConnectorError(
                    f"several boards are named {ref!r} (ids {ids}): name the board by id in "
                    "`boards`"
                )
        return None

    # -- board contents -------------------------------------------------------------------------

    def lists(self, board_id: str, filter: str = "all") -> list[dict[str, Any]]:
        """The board's lists (`all` includes archived ones), in board order."""
        return self._get_list(
            f"/boards/{board_id}/lists", f"list the lists of board {board_id}", filter=filter
        )

    def cards(
        self, board_id: str, filter: str = "all", custom_field_items: bool = True
    ) -> list[dict[str, Any]]:
        """The board's cards (`all` includes archived ones), with their custom field values,
        link attachments (a card link names the card's parent epic) and checklists: all in the
        one listing, no call per card."""
        params = CARD_DETAILS if custom_field_items else {}
        return self._get_list(
            f"/boards/{board_id}/cards/{filter}", f"list the cards of board {board_id}", **params
        )

    def card_boards(self, board_id: str) -> list[dict[str, Any]]:
        """The board's cards (archived too), only `id`, `shortLink` and `idBoard`: where each
        card is, for the writer, at a fraction of a full listing's bytes."""
        return self._get_list(
            f"/boards/{board_id}/cards/all",
            f"list the cards of board {board_id}",
            fields="id,shortLink,idBoard",
        )

    def card(self, card_id: str) -> dict[str, Any]:
        """One card as the board listing gives it (custom field values, link attachments,
        checklists); `IssueNotFoundError` when it is deleted or out of sight."""
        return self._request(
            "GET",
            f"/cards/{card_id}",
            f"read card {card_id}",
            params=CARD_DETAILS,
            missing=IssueNotFoundError,
        )

    def card_board(self, card_id: str) -> dict[str, Any]:
        """One card's `id` and `idBoard` (`IssueNotFoundError`: deleted or out of sight)."""
        return self._request(
            "GET",
            f"/cards/{card_id}",
            f"find the board of card {card_id}",
            params={"fields": "idBoard"},
            missing=IssueNotFoundError,
        )

    def custom_fields(self, board_id: str) -> list[dict[str, Any]]:
        """The board's custom field definitions (empty without the Custom Fields power-up)."""
        return self._get_list(
            f"/boards/{board_id}/customFields", f"list the custom fields of board {board_id}"
        )

    def labels(self, board_id: str) -> list[dict[str, Any]]:
        """The board's labels (all of them: Trello's default limit is 50)."""
        return self._get_list(
            f"/boards/{board_id}/labels", f"list the labels of board {board_id}", limit=LABELS_LIMIT
        )

    def board_actions(
        self,
        board_id: str,
        filters: str | Sequence[str] = "all",
        since: str | datetime | None = None,
        *,
        page_size: int = ACTIONS_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """The board's actions, newest first, paged back with `before` until a short page.

        `filters` are Trello action types (`createCard`, `updateCard:idList`, ...)
        or `all`. With `since` (an action id, excluded, or a date/ISO string)
        only newer actions come: Trello answers the newest page after `since`,
        and the paging goes back down to it. A page whose oldest action was
        already a `before` raises `UnexpectedResponseError` instead of looping.
        """
        return self._actions(
            f"/boards/{board_id}/actions",
            f"read the actions of board {board_id}",
            filters,
            since,
            page_size,
        )

    def card_actions(
        self,
        card_id: str,
        filters: str | Sequence[str] = "all",
        since: str | datetime | None = None,
        *,
        page_size: int = ACTIONS_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """One card's actions on every board it was on, newest first, paged like
        `board_actions` (Trello's default filter here is comments only: always pass
        `filters`). A deleted card raises `IssueNotFoundError`."""
        return self._actions(
            f"/cards/{card_id}/actions",
            f"read the actions of card {card_id}",
            filters,
            since,
            page_size,
            missing=IssueNotFoundError,
        )

    def _actions(
        self,
        path: str,
        action: str,
        filters: str | Sequence[str],
        since: str | datetime | None,
        page_size: int,
        *,
        missing: type[ConnectorError] = TrelloNotFoundError,
    ) -> Iterator[dict[str, Any]]:
        if not 1 <= page_size <= ACTIONS_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {ACTIONS_PAGE_SIZE}")
        kinds = filters if isinstance(filters, str) else ",".join(filters)
        params: dict[str, Any] = {"filter": kinds, "limit": page_size}
        since_id = None
        if since is not None:
            params["since"] = _when(since)
            since_id = params["since"].lower() if _OBJECT_ID.match(params["since"]) else None
        pager = BeforePaginator(page_size, tracker="Trello", action=action)
        while pager.has_more():
            page_params = {**params, "before": pager.before} if pager.before else params
            page = self._get_list(path, action, missing=missing, **page_params)
            for item in page:
                if since_id is not None and str(item.get("id", "")).lower() <= since_id:
                    return  # Trello ignored `since`: everything from here on is older
                yield item
            pager.advance(page)

    # -- writes ----------------------------------------------------------------------------------

    def set_custom_field(
        self,
        card_id: str,
        field_id: str,
        value: float | str | bool | datetime | None,
        *,
        field_type: str = "number",
    ) -> dict[str, Any]:
        """Set (or, with None, clear) a card's custom field; the item Trello answers.

        `field_type` is the field's `type`: `number` (int/float/numeric str),
        `text`, `date` (a datetime or ISO string), `checkbox` (bool) or `list`
        (the option's id).
        """
        body = self._item_body(value, field_type)
        return self._request(
            "PUT",
            f"/cards/{card_id}/customField/{field_id}/item",
            f"set custom field {field_id} on card {card_id}",
            body=body,
            missing=IssueNotFoundError,
        )

    @staticmethod
    def _item_body(value: float | str | bool | datetime | None, field_type: str) -> dict[str, Any]:
        if field_type not in CUSTOM_FIELD_TYPES:
            raise ValueError(f"field_type must be one of {', '.join(CUSTOM_FIELD_TYPES)}")
        if value is None:
            return {"idValue": ""} if field_type == "list" else {"value": ""}
        if field_type == "list":
            return {"idValue": str(value)}
        if field_type == "checkbox":
            return {"value": {"checked": "true" if value else "false"}}
        if field_type == "date":
            return {"value": {"date": _when(value) if isinstance(value, datetime) else value}}
        if field_type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError("a number field takes an int, a float or a numeric string")
            return {
                "value": {"number": _number_text(value) if not isinstance(value, str) else value}
            }
        return {"value": {"text": str(value)}}

    def add_comment(self, card_id: str, text: str) -> str:
        """Comment on a card as the token's member; the new comment's action id."""
        answer = self._request(
            "POST",
            f"/cards/{card_id}/actions/comments",
            f"comment on card {card_id}",
            body={"text": text},
            missing=IssueNotFoundError,
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise UnexpectedResponseError(
                f"Trello created a comment on card {card_id} but answered no action id"
            )
        return answer["id"]

    def update_comment(self, action_id: str, text: str) -> dict[str, Any]:
        """Replace the text of one of the token member's comments; the updated action."""
        return self._request(
            "PUT",
            f"/actions/{action_id}",
            f"edit comment {action_id}",
            body={"text": text},
            missing=CommentNotFoundError,
        )

    def delete_comment(self, action_id: str) -> None:
        """Delete one of the token member's comments (`CommentNotFoundError`: already gone)."""
        self._request(
            "DELETE",
            f"/actions/{action_id}",
            f"delete comment {action_id}",
            missing=CommentNotFoundError,
        )

    def create_custom_field(
        self, board_id: str, name: str, type: str, options: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Add a custom field definition to a board (`options`: a list field's choices)."""
        if type not in CUSTOM_FIELD_TYPES:
            raise ValueError(f"type must be one of {', '.join(CUSTOM_FIELD_TYPES)}")
        body: dict[str, Any] = {
            "idModel": board_id,
            "modelType": "board",
            "name": name,
            "type": type,
            "pos": "bottom",
            "display_cardFront": True,
        }
        if options:
            body["options"] = [{"value": {"text": text}} for text in options]
        return self._request(
            "POST", "/customFields", f"create custom field {name!r} on board {board_id}", body=body
        )

    def set_custom_fields(
        self,
        card_id: str,
        items: Mapping[str, tuple[float | str | bool | datetime | None, str]],
    ) -> Any:
        """Set (or, with None, clear) several of a card's custom fields in one call.

        `items` maps each field's id to (value, the field's `type`), as for
        `set_custom_field`. Trello's "Update Multiple Custom Field items on a
        card" (`PUT /cards/{idCard}/customFields`, body `{"customFieldItems":
        [{"idCustomField": ..., "value": {"number": "3"}}, ...]}`; a cleared
        item sends `"value": ""`). A PUT: sending the same values again ends the
        same, so it is retried like every PUT. Trello documents no answer body
        beyond "200 Success": the JSON answer is returned as it came, None for an
        empty one.
        """
        if not items:
            raise ValueError("set_custom_fields needs at least one item")
        body = {
            "customFieldItems": [
                {"idCustomField": field_id, **self._item_body(value, field_type)}
                for field_id, (value, field_type) in items.items()
            ]
        }
        noun = "custom field" if len(items) == 1 else "custom fields"
        try:
            return self._request(
                "PUT",
                f"/cards/{card_id}/customFields",
                f"set {noun} {', '.join(items)} on card {card_id}",
                body=body,
                missing=IssueNotFoundError,
            )
        except UnexpectedResponseError as exc:
            status = exc.status_code or 0
            if 200 <= status < 300 and str(exc).endswith("not JSON: ''"):
                return None  # an empty 2xx: done (Trello documents no body here)
            raise
