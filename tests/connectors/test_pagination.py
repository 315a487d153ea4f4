"""Paginators know when to stop and refuse to loop."""

from __future__ import annotations

import pytest

from connectors.errors import UnexpectedResponseError
from connectors.pagination import (
    BeforePaginator,
    ContinuationTokenPaginator,
    NextPageTokenPaginator,
    StartAtPaginator,
)


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


# -- Azure DevOps: continuationToken ----------------------------------------------------------


def test_continuation_token_paginator_follows_tokens_to_the_last_batch() -> None:
    pager = ContinuationTokenPaginator("41")
    assert (pager.has_more(), pager.token) == (True, "41")
    pager.advance("79")
    assert (pager.has_more(), pager.token) == (True, "79")
    pager.advance("80", last=True)  # the last batch still names a token: the next run's
    assert (pager.has_more(), pager.token, pager.pages) == (False, "79", 2)


@pytest.mark.parametrize("end", [None, ""])
def test_continuation_token_paginator_ends_on_a_page_without_a_token(end: str | None) -> None:
    pager = ContinuationTokenPaginator()
    assert (pager.has_more(), pager.token) == (True, None)  # from the start
    pager.advance("a")
    pager.advance(end)
    assert (pager.has_more(), pager.pages) == (False, 2)


def test_continuation_token_paginator_refuses_a_token_it_sent() -> None:
    pager = ContinuationTokenPaginator("41", tracker="Azure DevOps", action="read the revisions")
    pager.advance("79")
    pager.advance("80")
    with pytest.raises(UnexpectedResponseError) as raised:
        pager.advance("79")
    assert str(raised.value) == (
        "Azure DevOps returned continuation token '79' twice while trying to read the "
        "revisions; stopping to avoid an endless crawl"
    )


def test_continuation_token_paginator_refuses_the_token_it_started_from() -> None:
    pager = ContinuationTokenPaginator("41")
    with pytest.raises(UnexpectedResponseError) as raised:
        pager.advance("41")
    assert str(raised.value) == (
        "the tracker returned continuation token '41' twice; stopping to avoid an endless crawl"
    )
    ended = ContinuationTokenPaginator("41")
    ended.advance("41", last=True)  # the last batch: nothing is asked again
    assert not ended.has_more()


# -- Trello: before -----------------------------------------------------------------------------


def _actions(*ids: str) -> list[dict[str, str]]:
    return [{"id": i, "type": "updateCard"} for i in ids]


def test_before_paginator_pages_back_from_the_oldest_action_to_a_short_page() -> None:
    pager = BeforePaginator(page_size=3)
    assert (pager.has_more(), pager.before) == (True, None)
    pager.advance(_actions("9", "8", "7"))
    assert (pager.has_more(), pager.before) == (True, "7")
    pager.advance(_actions("6", "5", "4"))
    assert (pager.has_more(), pager.before) == (True, "4")
    pager.advance(_actions("3"))
    assert (pager.has_more(), pager.before, pager.pages) == (False, "4", 3)


def test_before_paginator_ends_on_an_empty_page() -> None:
    pager = BeforePaginator(page_size=2)
    pager.advance(_actions("4", "3"))
    pager.advance([])
    assert (pager.has_more(), pager.pages) == (False, 2)


def test_before_paginator_refuses_the_same_page_again() -> None:
    pager = BeforePaginator(page_size=2, tracker="Trello", action="read the actions of board b1")
    pager.advance(_actions("4", "3"))
    pager.advance(_actions("2", "1"))
    with pytest.raises(UnexpectedResponseError) as raised:
        pager.advance(_actions("5", "3"))  # ends where an earlier page ended
    assert str(raised.value) == (
        "Trello answered the same page again (before=3) while trying to read the actions of "
        "board b1; stopping to avoid an endless crawl"
    )


@pytest.mark.parametrize("last", [{"type": "createCard"}, {"id": ""}, {"id": 7}])
def test_before_paginator_refuses_a_full_page_ending_without_an_id(last: dict) -> None:
    pager = BeforePaginator(page_size=2)
    with pytest.raises(UnexpectedResponseError) as raised:
        pager.advance([{"id": "9"}, last])
    assert str(raised.value) == "the tracker answered an action without an id"
