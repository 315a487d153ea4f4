"""Record the vcrpy cassettes that `test_client_cassettes.py` replays.

Run by hand, from the repository root, whenever the client's calls change:

    python tests/connectors/trello/record_cassettes.py

It starts a small `TrelloSandbox` (the seeded dataset, seed 7, with 4 cards a
board: "Team Alpha" and "Team Beta"; every read and write is on Team Beta,
whose history is 27 actions, rather than on Team Alpha, which holds the
generator's 1,000-action heavy card), drives `TrelloClient` through one call a
cassette and writes the cassettes to `cassettes/`, in the order of `main()`:
the reads first, then the writes (at the dataset's fixed clock), then the
errors, the 429 last (after it, the client's pacer holds off
the sandbox's credentials for a whole window).

What makes re-recording give identical files:

- the dataset is generated from its seed, at its fixed `now` (2026-11-20 12:00
  UTC), and its clock never moves: writes happen 1 ms apart after it;
- the sandbox's rate limiter runs on a clock of its own that moves a whole
  window (10 s) before each cassette and never otherwise, so each cassette's
  `x-rate-limit-api-*-remaining` headers count from a fresh window;
- the `Date` and `Server` headers are dropped.

While recording, the sandbox's `http://127.0.0.1:<port>` becomes
`https://api.trello.com` in every URL and body (the sandbox's API base
`http://127.0.0.1:<port>/1` becomes `https://api.trello.com/1`), the `key` and
`token` query parameters are dropped from every URL (Trello takes its
credentials in the query string), so is `User-Agent`, and `Content-Length` is
set to the rewritten body's length. Bodies stay plain JSON text (Trello's
errors: plain text).

The 429 is the sandbox's fault injection: Trello's token-limit body
(`{"message": "Rate limit exceeded", "error": "API_TOKEN_LIMIT_EXCEEDED"}`) and
`x-rate-limit-*` headers, no `Retry-After` (Trello's documentation promises
none). The client waits a window for it, capped here at 1 s
(`max_retry_wait_seconds`) so that recording stays quick; the replay shows the
full 10 s wait with a fake sleep.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import vcr

from connectors.http import CallStats
from connectors.trello.client import TrelloClient
from connectors.trello.config import DEFAULT_URL, TrelloConfig
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/connectors: run as a script
from cassette_recording import public_recorder, record_cassette

CASSETTES = Path(__file__).resolve().parent / "cassettes"
PUBLIC_URL = DEFAULT_URL  # https://api.trello.com; the client adds /1
KEY_VARIABLE = "PMO_SYNC_RECORD_TRELLO_KEY"
TOKEN_VARIABLE = "PMO_SYNC_RECORD_TRELLO_TOKEN"
SEED = 7
CARDS_PER_BOARD = 4
BOARD = "Team Beta"
RESOLVED_NAMES = ["Team Beta", "team alpha"]  # exact, then case-insensitive
PAGED_FILTERS = ["createCard", "updateCard:idList", "updateCard:closed"]  # 11 on Team Beta
PAGE_SIZE = 4  # 4 + 4 + 3: three pages, paged back with `before`
SINCE = datetime(2026, 11, 17, tzinfo=UTC)  # Team Beta's last 5 actions
HISTORY_CARD = "Fix report builder"  # moved from Team Beta to Team Alpha: both boards' actions
WRITE_CARD = "Harden nightly job"  # on Team Beta; Story Points 13
POINTS_FIELD = "Story Points"
POINTS = 5
COMMENT = "[pmo-sync:kpi] Cycle time: 4.5 days"
COMMENT_EDITED = "[pmo-sync:kpi] Cycle time: 5 days"
NEW_FIELD = "Cycle time (days)"
MISSING_BOARD = "6a0000000000000000000000"  # a well-formed id no board has
WRONG_KEY = "wrong-key"
WRONG_TOKEN = "wrong-token"
CREDENTIAL_PARAMETERS = ("key", "token")
MAX_CASSETTES_BYTES = 100_000


def trello_config(url: str, key: str, token: str, **overrides: Any) -> TrelloConfig:
    """A TrelloConfig validated the way a YAML file is (secrets through ${ENV})."""
    os.environ[KEY_VARIABLE] = key
    os.environ[TOKEN_VARIABLE] = token
    data: dict[str, Any] = {
        "name": "acme-trello",
        "kind": "trello",
        "url": url,
        "api_key": f"${{{KEY_VARIABLE}}}",
        "token": f"${{{TOKEN_VARIABLE}}}",
        "boards": ["Team Alpha", "Team Beta"],
        "max_retry_wait_seconds": 1,
    }
    data.update(overrides)
    return TrelloConfig.model_validate(data)


class WindowClock:
    """The sandbox rate limiter's clock: still, but for a whole window before each cassette."""

    def __init__(self, window_seconds: float) -> None:
        self.now = 0.0
        self.window_seconds = window_seconds

    def __call__(self) -> float:
        return self.now

    def next_window(self) -> None:
        self.now += self.window_seconds


def _recorder(sandbox_root: str) -> vcr.VCR:
    return public_recorder(
        CASSETTES, sandbox_root, PUBLIC_URL, filtered_query_parameters=CREDENTIAL_PARAMETERS
    )


def main() -> int:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    dataset = TrelloDataset.generate(seed=SEED, cards_per_board=CARDS_PER_BOARD)
    rate_clock = WindowClock(10.0)
    with TrelloSandbox(dataset, rate_clock=rate_clock) as sandbox:
        recorder = _recorder(sandbox.root_url)
        board = dataset.board(BOARD)
        cards = {card.name: card for card in dataset.cards()}
        history_card, write_card = cards[HISTORY_CARD], cards[WRITE_CARD]
        points = board.field_named(POINTS_FIELD)
        assert points is not None and points.type == "number"
        made: list[TrelloClient] = []
        written: dict[str, str] = {}

        def client(key: str | None = None, token: str | None = None) -> TrelloClient:
            config = trello_config(sandbox.root_url, key or sandbox.key, token or sandbox.token)
            made.append(TrelloClient(config, CallStats()))
            return made[-1]

        def record(name: str, action: Callable[[], Any]) -> None:
            rate_clock.next_window()
            record_cassette(recorder, name, action)

        def me() -> None:
            client().me()

        def boards_of_me() -> None:
            client().boards_of_me()

        def resolve_boards() -> None:
            client().resolve_boards(RESOLVED_NAMES)

        def lists() -> None:
            client().lists(board.id)

        def cards_with_items() -> None:
            client().cards(board.id)

        def custom_fields() -> None:
            client().custom_fields(board.id)

        def labels() -> None:
            client().labels(board.id)

        def board_actions_pages() -> None:
            c = client()
            got = list(c.board_actions(board.id, PAGED_FILTERS, page_size=PAGE_SIZE))
            if c.stats.api_calls < 3 or len(got) % PAGE_SIZE == 0:
                raise SystemExit(f"{len(got)} actions in {c.stats.api_calls} pages: need 3+")

        def board_actions_since() -> None:
            list(client().board_actions(board.id, since=SINCE))

        def card_actions() -> None:
            list(client().card_actions(history_card.id))

        def set_points() -> None:
            client().set_custom_field(write_card.id, points.id, POINTS)

        def clear_points() -> None:
            client().set_custom_field(write_card.id, points.id, None)

        def comment_add() -> None:
            written["comment"] = client().add_comment(write_card.id, COMMENT)

        def comment_update() -> None:
            client().update_comment(written["comment"], COMMENT_EDITED)

        def comment_delete() -> None:
            client().delete_comment(written["comment"])

        def create_field() -> None:
            client().create_custom_field(board.id, NEW_FIELD, "number")

        def invalid_key() -> None:
            client(key=WRONG_KEY).me()

        def invalid_token() -> None:
            client(token=WRONG_TOKEN).me()

        def missing_board() -> None:
            client().board(MISSING_BOARD)

        def me_429_then_200() -> None:
            sandbox.inject("GET", r"/members/me$", status=429)
            client().me()
            sandbox.clear_faults()

        record("me.yaml", me)
        record("boards_of_me.yaml", boards_of_me)
        record("resolve_boards_by_name.yaml", resolve_boards)
        record("lists_all.yaml", lists)
        record("cards_all_with_custom_field_items.yaml", cards_with_items)
        record("custom_fields.yaml", custom_fields)
        record("labels.yaml", labels)
        record("board_actions_three_pages.yaml", board_actions_pages)
        record("board_actions_since.yaml", board_actions_since)
        record("card_actions.yaml", card_actions)
        record("set_custom_field_number.yaml", set_points)
        record("clear_custom_field.yaml", clear_points)
        record("comment_add.yaml", comment_add)
        record("comment_update.yaml", comment_update)
        record("comment_delete.yaml", comment_delete)
        record("create_custom_field.yaml", create_field)
        record("auth_401_invalid_key.yaml", invalid_key)
        record("auth_401_invalid_token.yaml", invalid_token)
        record("board_404.yaml", missing_board)
        record("me_429_then_200.yaml", me_429_then_200)  # last: the pacer holds off after it
        for made_client in made:
            made_client.close()
        print(f"comment {written['comment']} on card {write_card.id}")

    total = sum(p.stat().st_size for p in CASSETTES.glob("*.yaml"))
    print(f"total {total} bytes in {CASSETTES}")
    texts = {p.name: p.read_text() for p in CASSETTES.glob("*.yaml")}
    leaked = [
        name
        for name, text in texts.items()
        if any(s in text for s in ("127.0.0.1", sandbox.key, sandbox.token, WRONG_KEY, WRONG_TOKEN))
    ]
    if leaked:
        print(f"the sandbox host or a credential is still in {leaked}", file=sys.stderr)
        return 1
    if total > MAX_CASSETTES_BYTES:
        print(f"cassettes exceed {MAX_CASSETTES_BYTES} bytes", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
