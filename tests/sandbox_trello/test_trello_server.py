"""The HTTP layer: key/token authentication, Trello's rate limits, fault injection, stalls
and the request log (the last three inherited from the shared harness)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.server import KEY_LIMIT_EXCEEDED, TOKEN_LIMIT_EXCEEDED


class FakeClock:
    """Seconds for the rate limiter, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(sandbox: TrelloSandbox, path: str, **params: str) -> requests.Response:
    return requests.get(f"{sandbox.url}{path}", params=params, timeout=10)


# -- authentication ---------------------------------------------------------------------------


def test_wrong_key_or_token_is_a_plain_text_401(sandbox: TrelloSandbox) -> None:
    cases = [
        ({"key": "nope", "token": sandbox.token}, "invalid key"),
        ({"token": sandbox.token}, "invalid key"),
        ({"key": sandbox.key, "token": "nope"}, "invalid token"),
        ({"key": sandbox.key}, "unauthorized permission requested"),
    ]
    for params, message in cases:
        response = get(sandbox, "/members/me", **params)
        assert (response.status_code, response.text) == (401, message)
        assert response.headers["Content-Type"].startswith("text/plain")
    assert get(sandbox, "/members/me", **sandbox.auth).status_code == 200


def test_oauth_header_and_per_member_tokens(sandbox: TrelloSandbox) -> None:
    header = f'OAuth oauth_consumer_key="{sandbox.key}", oauth_token="{sandbox.token}"'
    headers = {"Authorization": header}
    response = requests.get(f"{sandbox.url}/members/me", headers=headers, timeout=10)
    assert response.json()["username"] == "pmobot"
    person = sandbox.dataset.people[3]
    me = get(sandbox, "/members/me", key=sandbox.key, token=sandbox.token_for(person)).json()
    assert (me["id"], me["fullName"]) == (person.id, person.full_name)


def test_unknown_routes_and_methods(sandbox: TrelloSandbox) -> None:
    response = get(sandbox, "/nothing/here", **sandbox.auth)
    assert (response.status_code, response.text) == (404, "Cannot GET /1/nothing/here")
    response = requests.patch(f"{sandbox.url}/members/me", params=sandbox.auth, timeout=10)
    assert response.status_code == 404


# -- rate limits ------------------------------------------------------------------------------


def test_token_and_key_limits_answer_429_and_recover_after_the_window(
    dataset: TrelloDataset,
) -> None:
    clock = FakeClock()
    with TrelloSandbox(dataset, token_limit=3, key_limit=5, rate_clock=clock) as sb:
        other = sb.token_for(dataset.people[0])
        first = get(sb, "/members/me", **sb.auth)
        assert first.headers["x-rate-limit-api-token-max"] == "3"
        assert first.headers["x-rate-limit-api-token-interval-ms"] == "10000"
        assert first.headers["x-rate-limit-api-token-remaining"] == "2"
        assert first.headers["x-rate-limit-api-key-remaining"] == "4"
        assert [get(sb, "/members/me", **sb.auth).status_code for _ in range(2)] == [200, 200]
        refused = get(sb, "/members/me", **sb.auth)
        assert refused.status_code == 429
        assert refused.json() == {"message": "Rate limit exceeded", "error": TOKEN_LIMIT_EXCEEDED}
        assert refused.headers["x-rate-limit-api-token-remaining"] == "0"
        assert "Retry-After" not in refused.headers  # Trello promises none: pace yourself
        # another token of the same key has its own 3... until the key's 5 are used up
        statuses = [get(sb, "/members/me", key=sb.key, token=other).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert get(sb, "/members/me", key=sb.key, token=other).json()["error"] == KEY_LIMIT_EXCEEDED
        clock.now += 9.9
        assert get(sb, "/members/me", **sb.auth).status_code == 429  # a sliding window
        clock.now += 0.2
        recovered = get(sb, "/members/me", **sb.auth)
        assert recovered.status_code == 200
        assert recovered.headers["x-rate-limit-api-token-remaining"] == "2"
        assert [r.status for r in sb.requests].count(429) == 4


def test_limits_default_to_trellos_and_a_small_real_window_recovers(
    dataset: TrelloDataset,
) -> None:
    with TrelloSandbox(dataset) as sb:
        assert (sb.limiter.token_limit, sb.limiter.key_limit) == (100, 300)
        session = requests.Session()
        statuses = [
            session.get(f"{sb.url}/members/me", params=sb.auth, timeout=10).status_code
            for _ in range(101)
        ]
        assert statuses.count(200) == 100 and statuses[-1] == 429
    with TrelloSandbox(dataset, token_limit=2, rate_window_seconds=0.5) as sb:
        statuses = [get(sb, "/members/me", **sb.auth).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        time.sleep(0.55)
        assert get(sb, "/members/me", **sb.auth).status_code == 200


# -- faults, stalls, the request log --------------------------------------------------------


def test_injected_faults(fresh: TrelloSandbox, fresh_client) -> None:
    board = fresh.dataset.boards[0].id
    fault = fresh.inject("GET", r"/boards/[^/]+/actions$", status=429)
    refused = fresh_client.get(f"/boards/{board}/actions")
    assert refused.status_code == 429
    assert refused.json() == {"message": "Rate limit exceeded", "error": TOKEN_LIMIT_EXCEEDED}
    assert refused.headers["x-rate-limit-api-token-remaining"] == "0"
    assert fresh_client.get(f"/boards/{board}/actions").status_code == 200
    assert fault.fired == 1
    fresh.inject("GET", r"/members/me$", status=500)
    failed = fresh_client.get("/members/me")
    assert (failed.status_code, failed.text) == (500, "Internal Server Error")
    assert failed.headers["Content-Type"].startswith("text/plain")
    # applied: the comment is stored, then the answer is lost
    card = next(fresh.dataset.cards(board)).id
    fresh.inject("POST", r"/actions/comments$", status=504, applied=True)
    lost = fresh_client.request("POST", f"/cards/{card}/actions/comments", text="Once")
    assert lost.status_code == 504
    comments = fresh_client.json(f"/cards/{card}/actions", filter="commentCard")
    assert comments[0]["data"]["text"] == "Once"
    write = fresh.writes[-1]
    assert (write.method, write.status) == ("POST", 504)
    assert write.path == f"/1/cards/{card}/actions/comments"
    assert write.query["text"] == ["Once"]


def test_hold_stalls_a_request_until_released(fresh: TrelloSandbox, fresh_client) -> None:
    board = fresh.dataset.boards[1].id
    stall = fresh.hold("GET", r"/actions$")
    answers: list[int] = []
    worker = threading.Thread(
        target=lambda: answers.append(fresh_client.get(f"/boards/{board}/actions").status_code)
    )
    worker.start()
    assert stall.arrived.wait(5)
    time.sleep(0.1)
    assert worker.is_alive() and not answers
    assert fresh_client.get("/members/me").status_code == 200  # other routes still answer
    stall.release()
    worker.join(5)
    assert answers == [200]


def test_form_encoded_bodies_and_the_write_log(fresh: TrelloSandbox) -> None:
    card = next(fresh.dataset.cards(fresh.dataset.boards[0]))
    response = requests.post(
        f"{fresh.url}/cards/{card.id}/actions/comments",
        data={"key": fresh.key, "token": fresh.token, "text": "From a form"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["text"] == "From a form"
    assert [(w.method, w.status, w.is_write) for w in fresh.writes] == [("POST", 200, True)]
    bad = requests.put(
        f"{fresh.url}/cards/{card.id}",
        params=fresh.auth,
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert (bad.status_code, bad.text) == (400, "Invalid JSON")


@pytest.mark.parametrize("path", ["/boards/{board}/actions", "/cards/{card}/actions"])
def test_before_since_reject_garbage(sandbox: TrelloSandbox, path: str) -> None:
    ds = sandbox.dataset
    target = path.format(board=ds.boards[0].id, card=ds.heavy_card.id)
    response = get(sandbox, target, since="not-a-date", **sandbox.auth)
    assert (response.status_code, response.text) == (400, "invalid value for since")
