"""Paginators know when to stop and refuse to loop."""

from __future__ import annotations

import pytest

from connectors.errors import UnexpectedResponseError
from connectors.pagination import NextPageTokenPaginator, StartAtPaginator


def test_token_paginator_follows_tokens_until_absent() -> None:
    pager = NextPageTokenPaginator()
    pager.advance({"issues": [1], "nextPageToken": "a"})
    assert (pager.has_more(), pager.token) == (True, "a")
    pager.advance({"issues": [2], "nextPageToken": "b", "isLast": False})
    pager.advance({"issues": [3], "isLast": True})
    assert (pager.has_more(), pager.token, pager.pages) == (False, None, 3)


def test_token_paginator_refuses_a_repeated_token() -> None:
    pager = NextPageTokenPaginator()
    pager.advance({"nextPageToken": "a"})
    with pytest.raises(UnexpectedResponseError, match="page token 'a' twice"):
        pager.advance({"nextPageToken": "a"})


@pytest.mark.parametrize(
    ("response", "items", "finished"),
    [
        ({"startAt": 0, "isLast": True}, 50, True),
        ({"startAt": 0, "isLast": False}, 50, False),
        ({"startAt": 0, "total": 100}, 50, False),
        ({"startAt": 50, "total": 100}, 50, True),
        ({"startAt": 0}, 49, True),  # short page, no total, no isLast
        ({"startAt": 0}, 50, False),
        ({"startAt": 0, "isLast": False}, 0, True),  # an empty page ends the crawl
    ],
)
def test_start_at_paginator_knows_the_last_page(response: dict, items: int, finished: bool) -> None:
    pager = StartAtPaginator(page_size=50)
    pager.start_at = response["startAt"]
    pager.advance(response, items)
    assert pager.has_more() is not finished
    assert pager.start_at == response["startAt"] + items


def test_start_at_paginator_refuses_to_go_backwards() -> None:
    pager = StartAtPaginator(page_size=50)
    pager.advance({"startAt": 0, "isLast": False}, 50)
    with pytest.raises(UnexpectedResponseError, match="offset 50 after 50"):
        pager.advance({"startAt": 0, "isLast": False}, 50)
