"""The scripted portfolio's Trello player (`pmo_sync.sandbox.trello.portfolio`), read straight
from the dataset: the conventions it writes are the ones the connector file names, each edit
is a team member's, and a Rank step leaves the To Do list in the step's order."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pmo_sync.sandbox.portfolio import ACT_ONE, ALL_STEPS, play
from pmo_sync.sandbox.trello import TrelloDataset
from pmo_sync.sandbox.trello.generator import TODO
from pmo_sync.sandbox.trello.portfolio import (
    TrelloPortfolioPlayer,
    portfolio_block,
    priority_of,
)

START = datetime(2030, 1, 7, tzinfo=UTC)
BOARDS = ("Team Alpha", "Team Beta", "Team Gamma")


def played(steps: tuple) -> tuple[TrelloDataset, TrelloPortfolioPlayer]:
    data = TrelloDataset.generate(seed=16, cards_per_board=2, now=START, boards=BOARDS)
    player = TrelloPortfolioPlayer(data, START)
    play(player, START, steps)
    return data, player


def labels(data: TrelloDataset, player: TrelloPortfolioPlayer, label: str) -> set[str]:
    card = data.card(player.ids[label])
    return {x.name for x in data.board(card.board_id).labels if x.id in card.label_ids}


def todo_order(data: TrelloDataset, player: TrelloPortfolioPlayer, board: str) -> list[str]:
    """The script's cards in the board's To Do list, top first."""
    label_of = {card_id: label for label, card_id in player.ids.items()}
    todo = data.board(board).list_named(TODO)
    assert todo is not None
    cards = [c for c in data.cards(board) if c.list_id == todo.id and c.id in label_of]
    return [label_of[c.id] for c in sorted(cards, key=lambda c: c.pos)]


def test_act_one_writes_the_conventions_on_each_teams_board() -> None:
    data, player = played(ACT_ONE)
    assert labels(data, player, "I1") == {"Initiative", "growth"}
    assert labels(data, player, "E4") == {"Epic"}
    assert labels(data, player, "A1") == {"Priority: Highest", "Release 2030.1"}
    assert labels(data, player, "B3") == {"Priority: Low", "Release 2030.2"}
    a3 = data.card(player.ids["A3"])
    assert [(a["name"], a["url"]) for a in a3.attachments] == [
        (f"https://trello.com/c/{player.keys['E2']}", f"https://trello.com/c/{player.keys['E2']}"),
        (
            f"Depends on: https://trello.com/c/{player.keys['B1']}",
            f"https://trello.com/c/{player.keys['B1']}",
        ),
    ]
    assert (a3.board_id, data.card(player.ids["E2"]).board_id) == (
        data.board("Team Alpha").id,
        data.board("Team Beta").id,
    )
    g1 = data.card(player.ids["G1"])
    assert (g1.start, g1.due) == ("2030-01-09T09:00:00.000Z", "2030-02-14T17:00:00.000Z")
    # ranked cards are dragged to the top of To Do, above the cards nobody ranked
    assert todo_order(data, player, "Team Alpha") == ["A2", "A4", "I1", "E1"]
    assert todo_order(data, player, "Team Beta") == ["B4", "B1", "I2", "E2", "E3"]
    team = {m.id for board in data.boards for m in board.team}
    authors = {a.creator.id for card in player.ids.values() for a in data.card(card).actions}
    assert authors <= team and data.bot.id not in authors


def test_act_two_reranks_the_backlogs_and_replaces_releases() -> None:
    data, player = played(ALL_STEPS)
    assert todo_order(data, player, "Team Alpha") == ["A4", "A5", "A2", "I1", "E1"]
    assert todo_order(data, player, "Team Beta") == ["B1", "B4", "I2", "E2", "E3"]
    assert todo_order(data, player, "Team Gamma") == ["G3", "E4"]  # G1 done, G2 started
    assert labels(data, player, "A4") == {"Release 2030.3"}


def test_the_connector_block_and_the_priorities_read_back() -> None:
    block = portfolio_block(START.date())
    assert block["releases"]["dates"] == {
        "2030.1": {"planned": "2030-01-27", "released": "2030-01-26"},
        "2030.2": {"planned": "2030-02-01", "released": "2030-02-07"},
        "2030.3": {"planned": "2030-03-08"},
    }
    assert block["levels"] == {"Initiative": "initiative", "Epic": "epic"}
    assert [priority_of(x) for x in ("Highest", "high", " Medium ", "Low", "P1", None)] == [
        1, 2, 3, 4, None, None,
    ]  # fmt: skip
    assert date.fromisoformat(block["releases"]["dates"]["2030.3"]["planned"]) == date(2030, 3, 8)
