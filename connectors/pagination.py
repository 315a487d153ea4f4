"""Paginators: one small object per API paging style.

Each knows whether another page exists and what to ask for next, and refuses
to go round in circles: a tracker that hands back a token (or an offset) it
already gave would otherwise make a crawl loop forever.
"""

from __future__ import annotations

from typing import Any

from connectors.errors import UnexpectedResponseError

__all__ = ["NextPageTokenPaginator", "StartAtPaginator"]


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
                f"the tracker returned page token {token!r} twice; "
                "stopping to avoid an endless crawl"
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
                f"the tracker returned offset {next_start} after {self.start_at}; "
                "stopping to avoid an endless crawl"
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
