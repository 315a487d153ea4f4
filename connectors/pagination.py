"""Paginators: one small object per API paging style.

Each knows whether another page exists and what to ask for next, and refuses
to go round in circles: a tracker that hands back a token (or an offset, or a
`before`) it already gave would otherwise make a crawl loop forever. The loop
raises `UnexpectedResponseError` naming the repeated value.

The caller owns the requests: it asks for the page the paginator names, hands
the answer to `advance`, and asks again while `has_more()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.errors import UnexpectedResponseError

__all__ = [
    "BeforePaginator",
    "ContinuationTokenPaginator",
    "NextPageTokenPaginator",
    "StartAtPaginator",
]

_LOOP = "stopping to avoid an endless crawl"


def _while(action: str | None) -> str:
    return f" while trying to {action}" if action else ""


class NextPageTokenPaginator:
    """Jira Cloud `search/jql` and `changelog/bulkfetch`: `nextPageToken`, absent at the end."""

    def __init__(self) -> None:
        self.token: str | None = None
        self._seen: set[str] = set()
        self._finished = False
        self.pages = 0

    def has_more(self) -> bool:
        return not self._finished

    def advance(self, response: dict[str, Any]) -> None:
        self.pages += 1
        token = response.get("nextPageToken")
        if not token or response.get("isLast") is True:
            self._finished = True
            self.token = None
            return
        if token in self._seen:
            raise UnexpectedResponseError(
                f"the tracker returned page token {token!r} twice; {_LOOP}"
            )
        self._seen.add(token)
        self.token = token


class StartAtPaginator:
    """Jira `startAt`/`maxResults` paging (agile API, issue changelog, legacy search).

    The last page is known from `isLast` when present, else from `total`, else
    from a short page.
    """

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.start_at = 0
        self._finished = False
        self.pages = 0

    def has_more(self) -> bool:
        return not self._finished

    def advance(self, response: dict[str, Any], items_on_page: int) -> None:
        self.pages += 1
        next_start = int(response.get("startAt", self.start_at)) + items_on_page
        self._finished = self._is_last(response, items_on_page, next_start)
        if not self._finished and next_start <= self.start_at:
            raise UnexpectedResponseError(
                f"the tracker returned offset {next_start} after {self.start_at}; {_LOOP}"
            )
        self.start_at = next_start

    def _is_last(self, response: dict[str, Any], items_on_page: int, next_start: int) -> bool:
        is_last = response.get("isLast")
        if items_on_page == 0 or is_last is True:
            return True
        if is_last is not None:
            return False
        total = response.get("total")
        if total is not None:
            return next_start >= int(total)
        return items_on_page < self.page_size


class ContinuationTokenPaginator:
    """Azure DevOps `continuationToken` paging (the reporting revisions, comment lists).

    Each page names the token of the next; the last one has none, or says it is the
    last (`isLastBatch` of the reporting revisions, whose last page still carries a
    token: the one to start from next time). `token` is what to send, None for the
    first page of a crawl from the start. A token handed back that was already sent
    (the first one included) raises.
    """

    def __init__(
        self, token: str | None = None, *, tracker: str = "the tracker", action: str | None = None
    ) -> None:
        self.token = token
        self.pages = 0
        self._seen: set[str] = {token} if token else set()
        self._finished = False
        self._tracker, self._action = tracker, action

    def has_more(self) -> bool:
        return not self._finished

    def advance(self, next_token: str | None, *, last: bool = False) -> None:
        """After a page: its token for the next page (None or empty: none), and whether it
        said it was the last."""
        self.pages += 1
        if last or not next_token:
            self._finished = True
            return
        if next_token in self._seen:
            raise UnexpectedResponseError(
                f"{self._tracker} returned continuation token {next_token!r} twice"
                f"{_while(self._action)}; {_LOOP}"
            )
        self._seen.add(next_token)
        self.token = next_token


class BeforePaginator:
    """Trello action lists: newest first, paged back with `before` = the id of the oldest
    action of the page, until a page shorter than `page_size`.

    `before` is what to send, None for the first page. A page ending on an action that
    was already a `before` (the same page again) raises, as does a full page whose
    last action has no id (there would be nothing to page back from).
    """

    def __init__(
        self, page_size: int, *, tracker: str = "the tracker", action: str | None = None
    ) -> None:
        self.page_size = page_size
        self.before: str | None = None
        self.pages = 0
        self._seen: set[str] = set()
        self._finished = False
        self._tracker, self._action = tracker, action

    def has_more(self) -> bool:
        return not self._finished

    def advance(self, page: Sequence[Mapping[str, Any]]) -> None:
        self.pages += 1
        if len(page) < self.page_size:
            self._finished = True
            return
        oldest = page[-1].get("id")
        if not isinstance(oldest, str) or not oldest:
            raise UnexpectedResponseError(
                f"{self._tracker} answered an action without an id{_while(self._action)}"
            )
        if oldest in self._seen:
            raise UnexpectedResponseError(
                f"{self._tracker} answered the same page again (before={oldest})"
                f"{_while(self._action)}; {_LOOP}"
            )
        self._seen.add(oldest)
        self.before = oldest
