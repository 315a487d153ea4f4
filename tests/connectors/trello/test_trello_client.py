"""`TrelloClient` against the sandbox Trello: boards, paging, writes, actionable errors."""

from __future__ import annotations

import io
import logging
import math
import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import structlog

from connectors.errors import (
    AuthenticationError,
    CommentNotFoundError,
    ConnectorError,
    IssueNotFoundError,
    PermissionDeniedError,
    TrackerUnavailableError,
    TrackerUnreachableError,
    UnexpectedResponseError,
    WriteOutcomeUnknownError,
)
from connectors.http import CallStats
from connectors.trello import TrelloClient, TrelloNotFoundError
from pmo_sync.common.redaction import clear_secrets
from pmo_sync.logging import configure_logging
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.generator import FIELD_POINTS, FIELD_SPRINT

NO_SUCH_ID = "5f0000000000000000000000"
MakeClient = Callable[..., TrelloClient]  # the make_client fixture (conftest.py)


def action_requests(sandbox: TrelloSandbox) -> list:
    return [r for r in sandbox.requests if r.path.endswith("/actions")]


def truth_ids(dataset: TrelloDataset, board_id: str, **kwargs: object) -> list[str]:
    return [a.id for a in dataset.board_actions(board_id, limit=10**9, **kwargs)]  # type: ignore[arg-type]


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    clear_secrets()


# -- boards ---------------------------------------------------------------------------------------


def test_me_and_boards_by_name_id_and_short_link(
    sandbox: TrelloSandbox, dataset: TrelloDataset, make_client: MakeClient
) -> None:
    client = make_client(sandbox)
    assert client.me()["username"] == dataset.bot.username
    alpha, beta = dataset.boards
    found = client.resolve_boards(["team beta", alpha.id, beta.short_link, "Team Alpha"])
    assert [b["id"] for b in found] == [beta.id, alpha.id, beta.id, alpha.id]
    assert {b["name"] for b in client.boards_of_me()} == {"Team Alpha", "Team Beta"}


def test_a_missing_board_is_named_with_the_ones_the_token_can_see(
    sandbox: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(sandbox)
    with pytest.raises(TrelloNotFoundError) as caught:
        client.resolve_boards(["Team Alpha", "Team Gamma", NO_SUCH_ID])
    message = str(caught.value)
    assert f"no board 'Team Gamma', '{NO_SUCH_ID}' for the token's member" in message
    assert "(the boards it can see: 'Team Alpha', 'Team Beta')" in message


def test_board_contents(
    sandbox: TrelloSandbox, dataset: TrelloDataset, make_client: MakeClient
) -> None:
    client = make_client(sandbox)
    board = dataset.boards[0]
    lists = client.lists(board.id)
    assert [x["name"] for x in lists] == [x.name for x in sorted(board.lists, key=lambda x: x.pos)]
    assert any(x["closed"] for x in lists)  # the archived list comes with filter=all
    assert [x["name"] for x in client.lists(board.id, filter="open")] == [
        x["name"] for x in lists if not x["closed"]
    ]
    cards = client.cards(board.id)
    assert {c["id"] for c in cards} == {c.id for c in dataset.cards(board)}
    assert all("customFieldItems" in c for c in cards)
    assert "customFieldItems" not in client.cards(board.id, custom_field_items=False)[0]
    assert {f["name"] for f in client.custom_fields(board.id)} >= {FIELD_POINTS, FIELD_SPRINT}
    assert {x["id"] for x in client.labels(board.id)} == {x.id for x in board.labels}


# -- paging actions --------------------------------------------------------------------------------


def test_paging_a_whole_history_reads_every_action_in_ceil_n_over_1000_calls(
    sandbox: TrelloSandbox, dataset: TrelloDataset, make_client: MakeClient
) -> None:
    client = make_client(sandbox)
    heavy = dataset.heavy_card
    for board in dataset.boards:
        sandbox.reset_log()
        got = list(client.board_actions(board.id))
        truth = truth_ids(dataset, board.id)
        assert [a["id"] for a in got] == truth
        calls = action_requests(sandbox)
        assert len(calls) == math.ceil(len(truth) / 1000) > 1
        assert all(r.query["limit"] == ["1000"] and r.query["filter"] == ["all"] for r in calls)
        assert [r.query.get("before", [None])[0] for r in calls] == [None] + [
            truth[1000 * k - 1] for k in range(1, len(calls))
        ]
        if board.id == heavy.board_id:
            on_heavy = [a for a in got if a["data"].get("card", {}).get("id") == heavy.id]
            assert len(on_heavy) > 1000
            assert [a["id"] for a in on_heavy] == [
                a.id for a in reversed(heavy.live_actions) if a.board_id == board.id
            ]


def test_since_reads_only_newer_actions(
    sandbox: TrelloSandbox, dataset: TrelloDataset, make_client: MakeClient
) -> None:
    client = make_client(sandbox)
    board = dataset.boards[0]
    truth = truth_ids(dataset, board.id)
    sandbox.reset_log()
    got = [a["id"] for a in client.board_actions(board.id, since=truth[1500])]
    assert got == truth[:1500]
    assert len(action_requests(sandbox)) == 2
    assert all(r.query["since"] == [truth[1500]] for r in action_requests(sandbox))

    cutoff = dataset.find_action(truth[10]).date  # type: ignore[union-attr]
    newer = [a["id"] for a in client.board_actions(board.id, since=cutoff)]
    assert newer == truth[:11]  # a date keeps actions from that millisecond on
    later = cutoff + timedelta(milliseconds=1)
    assert [a["id"] for a in client.board_actions(board.id, since=later)] == [
        i
        for i in truth[:11]
        if dataset.find_action(i).date >= later  # type: ignore[union-attr]
    ]


def test_filters(sandbox: TrelloSandbox, dataset: TrelloDataset, make_client: MakeClient) -> None:
    client = make_client(sandbox)
    board = dataset.boards[1]
    got = list(client.board_actions(board.id, ["createCard", "updateCard:idList"]))
    expected = [
        a.id
        for a in dataset.board_actions(board.id, limit=10**9)
        if a.type == "createCard" or (a.type == "updateCard" and a.sub == "idList")
    ]
    assert [a["id"] for a in got] == expected


def test_a_page_that_repeats_stops_the_paging(
    fresh: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(fresh)
    board = fresh.dataset.boards[0]
    same = [{"id": "6a0000000000000000000002"}, {"id": "6a0000000000000000000001"}]
    fresh.inject("GET", r"/actions$", status=200, body=same, times=5)
    with pytest.raises(UnexpectedResponseError, match=r"same page again \(before=6a0+1\)"):
        list(client.board_actions(board.id, page_size=2))
    assert len(action_requests(fresh)) == 2


# -- rate limits and retries -----------------------------------------------------------------------


def test_a_429_without_retry_after_waits_then_retries(
    fresh: TrelloSandbox, make_client: MakeClient
) -> None:
    stats = CallStats()
    client = make_client(fresh, stats, max_retry_wait_seconds=0.3)
    fresh.inject("GET", r"/members/me$", status=429)
    started = time.monotonic()
    assert client.me()["id"] == fresh.member.id
    assert time.monotonic() - started >= 0.3
    assert [r.status for r in fresh.requests] == [429, 200]
    assert stats.api_calls == 2 and stats.retries == 1
    assert stats.rate_limit_waits == 1 and stats.rate_limit_wait_seconds >= 0.3


def test_429s_that_never_stop_say_which_limit(
    fresh: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(fresh, max_retries=1, max_retry_wait_seconds=0.05)
    fresh.inject("GET", r"/members/me$", status=429, times=5)
    with pytest.raises(TrackerUnavailableError, match=r"over the token's limit \(100 requests"):
        client.me()


def test_a_5xx_is_retried_and_a_post_is_not(fresh: TrelloSandbox, make_client: MakeClient) -> None:
    client = make_client(fresh, max_retry_wait_seconds=0.05)
    fresh.inject("GET", r"/members/me$", status=502)
    assert client.me()["id"] == fresh.member.id
    card = next(fresh.dataset.cards(fresh.dataset.boards[0]))
    fresh.inject("POST", r"/comments$", status=500, applied=True)
    with pytest.raises(WriteOutcomeUnknownError, match="may have been carried out"):
        client.add_comment(card.id, "lost answer")
    assert len([r for r in fresh.writes if r.method == "POST"]) == 1


# -- errors ----------------------------------------------------------------------------------------


def test_wrong_key_and_wrong_token_give_distinct_errors_without_the_secret(
    sandbox: TrelloSandbox, make_client: MakeClient
) -> None:
    bad_key = make_client(sandbox, key="wrong-key-0123456789")
    with pytest.raises(AuthenticationError) as key_error:
        bad_key.me()
    bad_token = make_client(sandbox, token="wrong-token-0123456789")
    with pytest.raises(AuthenticationError) as token_error:
        bad_token.me()
    key_text, token_text = str(key_error.value), str(token_error.value)
    assert "rejected the API key (HTTP 401 invalid key)" in key_text
    assert "check api_key" in key_text
    assert "rejected the token (HTTP 401 invalid token)" in token_text
    assert "check token" in token_text
    for text in (key_text, token_text):
        assert "0123456789" not in text
        assert sandbox.key not in text and sandbox.token not in text
    assert key_error.value.status_code == token_error.value.status_code == 401


def test_a_board_the_member_may_not_read(fresh: TrelloSandbox, make_client: MakeClient) -> None:
    client = make_client(fresh)
    board = fresh.dataset.boards[0]
    fresh.inject("GET", r"/lists$", status=401, body="unauthorized permission requested")
    with pytest.raises(PermissionDeniedError, match=f"may not list the lists of board {board.id}"):
        client.lists(board.id)


def test_not_found_errors_the_caller_can_tell_apart(
    fresh: TrelloSandbox, make_client: MakeClient
) -> None:
    client = make_client(fresh)
    ds = fresh.dataset
    with pytest.raises(TrelloNotFoundError, match="HTTP 404"):
        client.lists(NO_SUCH_ID)
    card = next(ds.cards(ds.boards[0]))
    comment_id = client.add_comment(card.id, "to be deleted")
    client.delete_comment(comment_id)
    with pytest.raises(CommentNotFoundError):
        client.update_comment(comment_id, "too late")
    with pytest.raises(CommentNotFoundError):
        client.delete_comment(comment_id)
    ds.delete_card(card.id)
    with pytest.raises(IssueNotFoundError):
        client.add_comment(card.id, "card is gone")
    points = ds.boards[0].field_named(FIELD_POINTS)
    assert points is not None
    with pytest.raises(IssueNotFoundError):
        client.set_custom_field(card.id, points.id, 3)


def test_other_refusals_quote_trello(fresh: TrelloSandbox, make_client: MakeClient) -> None:
    client = make_client(fresh)
    with pytest.raises(
        ConnectorError, match=r"refused to read board nope \(HTTP 400\): invalid id"
    ):
        client.board("nope")


def test_html_and_non_json_answers(fresh: TrelloSandbox, make_client: MakeClient) -> None:
    client = make_client(fresh)
    fresh.inject("GET", r"/members/me$", status=200, content_type="text/html; charset=utf-8")
    with pytest.raises(UnexpectedResponseError, match=r"HTML page \('Log in to Trello'\)"):
        client.me()
    fresh.inject("GET", r"/members/me$", status=200, body="not json", content_type="text/plain")
    with pytest.raises(UnexpectedResponseError, match="not JSON: 'not json'"):
        client.me()
    fresh.inject("GET", r"/lists$", status=200, body={"lists": []})
    with pytest.raises(UnexpectedResponseError, match="JSON dict where a list was expected"):
        client.lists(fresh.dataset.boards[0].id)


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_timeout_names_the_url_but_no_secret(
    fresh: TrelloSandbox, make_client: MakeClient, silent_url: str
) -> None:
    stats = CallStats()
    client = make_client(
        fresh, stats, url=silent_url, timeout_seconds=0.2, max_retries=1, max_retry_wait_seconds=0
    )
    with pytest.raises(TrackerUnavailableError) as caught:
        client.me()
    text = str(caught.value)
    assert text == (
        f"Trello at {silent_url} did not answer while trying to read the token's member "
        "(/members/me) (timed out after 0.2 s; tried 2 times): try again later, or raise "
        "timeout_seconds if the tracker is only slow"
    )
    assert fresh.key not in text and fresh.token not in text
    assert stats.api_calls == 2 and stats.retries == 1


def test_a_post_that_times_out_may_have_happened(
    fresh: TrelloSandbox, make_client: MakeClient, silent_url: str
) -> None:
    client = make_client(fresh, url=silent_url, timeout_seconds=0.2)
    with pytest.raises(WriteOutcomeUnknownError) as caught:
        client.add_comment(NO_SUCH_ID, "slow")
    assert str(caught.value) == (
        f"Trello at {silent_url} did not answer while trying to comment on card {NO_SUCH_ID} "
        "(timed out after 0.2 s): it may have been carried out; check before sending it again"
    )


def test_connection_refused(fresh: TrelloSandbox, make_client: MakeClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stats = CallStats()
    client = make_client(fresh, stats, url=f"http://127.0.0.1:{port}", max_retries=3)
    with pytest.raises(TrackerUnreachableError) as caught:
        client.me()
    assert str(caught.value) == (
        f"cannot reach Trello at http://127.0.0.1:{port} (connection refused): is the url "
        "right and the tracker up?"
    )
    assert (stats.api_calls, stats.retries) == (1, 0)  # nothing reached: not retried


def test_key_and_token_never_reach_the_logs(
    fresh: TrelloSandbox, make_client: MakeClient, isolated_logging: None
) -> None:
    out = io.StringIO()
    configure_logging("json", "DEBUG", stream=out)
    client = make_client(fresh, max_retry_wait_seconds=0.05)
    fresh.inject("GET", r"/members/me$", status=503)
    client.me()
    logged = out.getvalue()
    assert "/1/members/me?" in logged  # urllib3 logged the request line ...
    assert fresh.key not in logged and fresh.token not in logged  # ... masked


# -- writes ----------------------------------------------------------------------------------------


def test_writes_land_in_the_dataset(fresh: TrelloSandbox, make_client: MakeClient) -> None:
    client = make_client(fresh)
    ds = fresh.dataset
    board = ds.boards[0]
    card = next(c for c in ds.cards(board) if not c.closed)
    points = board.field_named(FIELD_POINTS)
    sprint = board.field_named(FIELD_SPRINT)
    assert points is not None and sprint is not None

    item = client.set_custom_field(card.id, points.id, 13.0)
    assert item["value"] == {"number": "13"}
    assert ds.card(card.id).estimate == 13
    client.set_custom_field(card.id, points.id, None)
    assert ds.card(card.id).estimate is None
    option = sprint.options[-1]
    client.set_custom_field(card.id, sprint.id, option.id, field_type="list")
    assert ds.card(card.id).sprint == option.text

    comment_id = client.add_comment(card.id, "[pmo-sync] cycle time 3 d")
    action = ds.find_action(comment_id)
    assert action is not None and action.creator.id == fresh.member.id
    assert action.data["text"] == "[pmo-sync] cycle time 3 d"
    edited = client.update_comment(comment_id, "[pmo-sync] cycle time 4 d")
    assert edited["data"]["text"] == "[pmo-sync] cycle time 4 d"
    assert ds.find_action(comment_id).data["text"] == "[pmo-sync] cycle time 4 d"  # type: ignore[union-attr]
    client.delete_comment(comment_id)
    assert ds.find_action(comment_id).deleted  # type: ignore[union-attr]

    created = client.create_custom_field(board.id, "Cycle time (days)", "number")
    assert created["name"] == "Cycle time (days)" and created["type"] == "number"
    assert board.field_named(created["id"]) is not None
    listed = client.create_custom_field(board.id, "Health", "list", options=["green", "red"])
    assert [o["value"]["text"] for o in listed["options"]] == ["green", "red"]
    assert [(w.method, w.status) for w in fresh.writes] == [
        ("PUT", 200), ("PUT", 200), ("PUT", 200), ("POST", 200), ("PUT", 200),
        ("DELETE", 200), ("POST", 200), ("POST", 200),
    ]  # fmt: skip
