"""The harness's dropped connections, slow answers and chaos as Trello shows them: a form-encoded
comment dropped after it was carried out is stored, a slow board read times a short client out,
chaos's 429 is Trello's (its rate-limit headers and body) and its HTML page Trello's log-in
page, though Trello's own error bodies are plain text (the generic behaviour:
tests/sandbox/test_sandbox_fault_kinds.py)."""

from __future__ import annotations

import pytest
import requests

from pmo_sync.sandbox.harness import DROPPED
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.server import TOKEN_LIMIT_EXCEEDED


def test_a_comment_dropped_after_it_was_carried_out_is_stored(fresh: TrelloSandbox) -> None:
    card = next(fresh.dataset.cards(fresh.dataset.boards[0]))
    before = len(card.comments)
    fresh.inject("POST", r"/actions/comments$", drop=True, applied=True)
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{fresh.url}/cards/{card.id}/actions/comments",
            data={"key": fresh.key, "token": fresh.token, "text": "Answer lost"},
            timeout=5,
        )
    comments = fresh.dataset.card(card.id).comments
    assert len(comments) == before + 1
    assert (
        comments[-1].data.get("text") == "Answer lost" and comments[-1].creator == fresh.dataset.bot
    )
    assert [(w.method, w.status, w.body["text"]) for w in fresh.writes] == [
        ("POST", DROPPED, "Answer lost")
    ]


def test_a_slow_board_read_times_a_short_client_out(fresh: TrelloSandbox, fresh_client) -> None:
    board = fresh.dataset.boards[0].id
    fresh.inject("GET", r"/boards/[^/]+/actions$", delay=1.5)
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{fresh.url}/boards/{board}/actions", params=fresh.auth, timeout=0.5)
    assert fresh_client.get(f"/boards/{board}/actions").status_code == 200


def test_chaos_speaks_trello(fresh: TrelloSandbox, fresh_client) -> None:
    chaos = fresh.chaos(rate=1, seed=3, kinds=("429", "html"), path=r"/members/me$")
    seen = set()
    for _ in range(6):
        answer = fresh_client.get("/members/me")
        if answer.status_code == 429:
            seen.add("429")
            body = answer.json()
            assert body == {"message": "Rate limit exceeded", "error": TOKEN_LIMIT_EXCEEDED}
            assert answer.headers["x-rate-limit-api-token-remaining"] == "0"
        else:
            seen.add("html")
            assert answer.status_code == 200
            assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "Log in to Trello" in answer.text
    assert seen == {"429", "html"} and chaos.total == 6
