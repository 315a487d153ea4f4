"""The Trello dataset: determinism, laziness, the history's profile, and a ground truth that
agrees with the actions it came with."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pmo_sync.sandbox.trello.generator import (
    ARCHIVED_LIST,
    DONE,
    FIELD_POINTS,
    FIELD_SPRINT,
    HEAVY_CARD,
    VENDOR_LIST,
    TrelloDataset,
)


def fingerprint(ds: TrelloDataset) -> list[tuple]:
    return [
        (c.id, c.name, c.list_id, c.closed, tuple((a.id, a.type) for a in c.actions))
        for c in ds.cards(include_deleted=True)
    ]


def test_same_seed_same_workspace() -> None:
    a = TrelloDataset.generate(seed=3, cards_per_board=40)
    b = TrelloDataset.generate(seed=3, cards_per_board=40)
    assert fingerprint(a) == fingerprint(b)
    other = TrelloDataset.generate(seed=4, cards_per_board=40)
    assert fingerprint(other) != fingerprint(a)
    assert [x.name for x in a.boards] == ["Team Alpha", "Team Beta"]
    custom = TrelloDataset.generate(seed=3, cards_per_board=5, boards=("Red", "Green", "Blue"))
    assert [x.name for x in custom.boards] == ["Red", "Green", "Blue"]


def test_large_workspaces_are_simulated_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    """100k cards cost a head table; a card is simulated when asked for: generating simulates
    none and builds no action index, and reading two cards simulates those two."""
    simulated: list[int] = []
    simulate = TrelloDataset._simulate

    def counted(self: TrelloDataset, n: int) -> Any:
        simulated.append(n)
        return simulate(self, n)

    monkeypatch.setattr(TrelloDataset, "_simulate", counted)
    big = TrelloDataset.generate(seed=5, cards_per_board=50_000)
    assert simulated == [] and not big._indexed
    assert len(big.heavy_card.actions) > 1000
    probe = big.card_at(99_999)
    assert probe is not None and big.card(probe.id) is probe
    assert big.card_at(100_001) is None
    assert simulated == [big.heavy_card.n, 99_999] and not big._indexed


def test_history_profile(dataset: TrelloDataset) -> None:
    cards = list(dataset.cards(include_deleted=True))
    assert len(cards) == 300
    actions = [a for c in cards for a in c.actions]
    kinds = Counter((a.type, a.sub if a.type == "updateCard" else None) for a in actions)
    for kind in (
        ("createCard", None), ("copyCard", None), ("updateCard", "idList"),
        ("updateCard", "closed"), ("updateCard", "name"), ("commentCard", None),
        ("updateCustomFieldItem", None), ("addMemberToCard", None), ("deleteCard", None),
        ("moveCardFromBoard", None), ("moveCardToBoard", None),
    ):  # fmt: skip
        assert kinds[kind] > 0, kind
    heavy = dataset.heavy_card
    assert heavy.n == HEAVY_CARD and len(heavy.actions) > 1000 and len(heavy.list_moves) > 1000
    vendor = {b.list_named(VENDOR_LIST).id for b in dataset.boards}
    assert sum(any(m.to_list in vendor for m in c.list_moves) for c in cards) > 5
    archived = {b.list_named(ARCHIVED_LIST).id for b in dataset.boards}
    assert not any(c.list_id in archived for c in cards)
    unarchived = [
        c for c in cards if any(a.sub == "closed" and a.data["old"]["closed"] for a in c.actions)
    ]
    assert unarchived
    assert any(len({v for _, v in c.sprint_changes}) > 2 for c in cards)  # carried over
    # taken out of a sprint (sent back to the backlog; over six months every one of them was
    # planned into a later sprint again before the end)
    assert sum(any(v is None for _, v in c.sprint_changes) for c in cards) == 17
    assert any(len(c.estimate_changes) > 1 for c in cards)  # re-estimated
    assert any(not c.estimate_changes for c in cards)  # never estimated
    assert len({a.creator.id for c in cards for a in c.comments}) > 3
    assert sum(c.deleted for c in cards) > 2 and sum(c.closed for c in cards) > 20
    done = {b.list_named(DONE).id for b in dataset.boards}
    assert any(c.list_id in done for c in cards) and any(c.list_id not in done for c in cards)


def test_ground_truth_agrees_with_the_actions(dataset: TrelloDataset) -> None:
    for card in dataset.cards(include_deleted=True):
        ms = [a.ms for a in card.actions]
        assert ms == sorted(ms) and len(set(ms)) == len(ms)
        assert [a.id for a in card.actions] == sorted(a.id for a in card.actions)
        assert all(int(a.id[:8], 16) == a.ms // 1000 for a in card.actions)
        by_id = {a.id: a for a in card.actions}
        assert card.list_moves[0].from_list is None
        assert card.list_moves[-1].to_list == card.list_id
        for move in card.list_moves:
            assert by_id[move.action_id].date == move.at
        for earlier, later in zip(card.list_moves, card.list_moves[1:], strict=False):
            assert later.from_list == earlier.to_list
        for change in card.field_changes:
            action = by_id[change.action_id]
            assert action.type == "updateCustomFieldItem"
            assert action.data["customField"]["name"] == change.field
        board = dataset.board(card.board_id)
        points = card.items.get(board.field_named(FIELD_POINTS).id)
        assert (float(points.value["number"]) if points else None) == card.estimate
        sprint_field = board.field_named(FIELD_SPRINT)
        sprint = card.items.get(sprint_field.id)
        assert (sprint_field.option(sprint.id_value).text if sprint else None) == card.sprint
        closes = [a for a in card.actions if a.sub == "closed"]
        assert card.closed == (bool(closes) and closes[-1].data["card"]["closed"])
        assert card.deleted == (card.actions[-1].type == "deleteCard")
        assert card.actions[0].type in ("createCard", "copyCard")


def test_sprints_follow_the_calendar(dataset: TrelloDataset) -> None:
    names = [s.name for s in dataset.sprints]
    assert names == [f"Sprint {n}" for n in range(5, 21)]
    current = dataset.sprint_at(dataset.clock.now)
    assert current is not None and current.name == "Sprint 18"
    for card in dataset.cards():
        for at, value in card.sprint_changes:
            if value is not None:  # set to a current or future sprint, never a past one
                sprint = dataset.sprint_named(value)
                assert sprint is not None and at < sprint.end


def test_a_card_simulated_again_after_the_cache_dropped_it_adds_no_action_to_the_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More cards than the LRU holds: reading them all twice re-simulates each, and the
    boards' action logs (what `board_actions` pages through) stay exactly as indexed."""
    from pmo_sync.sandbox.trello import generator

    monkeypatch.setattr(generator, "_LRU_SIZE", 8)
    ds = TrelloDataset.generate(cards_per_board=20)
    ds._ensure_index()
    indexed = {board_id: list(log.ids) for board_id, log in ds._logs.items()}
    for _ in range(2):
        for n in range(1, ds.card_count() + 1):
            assert ds.card_at(n) is not None
    assert {board_id: list(log.ids) for board_id, log in ds._logs.items()} == indexed
    assert all(len(ids) == len(set(ids)) for ids in indexed.values())


def test_checklists_are_written_with_some_cards_and_checked_off_as_they_move_on(
    dataset: TrelloDataset,
) -> None:
    """About a third of the cards that are not bugs have an "Acceptance criteria" checklist,
    a fifth the "Definition of done"; each written a few ms after the card (one
    addChecklistToCard, one createCheckItem an item). Items are checked off by
    updateCheckItemStateOnCard actions as the card moves on: a card in Done has all checked."""
    cards = [c for c in dataset.cards(include_deleted=True) if c.n != HEAVY_CARD]
    with_lists = [c for c in cards if c.checklists]
    names = Counter(x.name for c in with_lists for x in c.checklists)
    assert 0.3 * len(cards) < len(with_lists) < 0.6 * len(cards)
    assert names["Acceptance criteria"] > names["Definition of done"] > 0.1 * len(cards)
    for card in with_lists:
        first = card.actions[0]
        added = [a for a in card.actions if a.type == "addChecklistToCard"]
        created = [a for a in card.actions if a.type == "createCheckItem"]
        assert [a.data["checklist"]["id"] for a in added] == [x.id for x in card.checklists]
        assert [a.data["checkItem"]["id"] for a in created] == [
            i.id for x in card.checklists for i in x.items
        ]
        assert all(0 < a.ms - first.ms < 20 for a in (*added, *created))
        checked = {
            a.data["checkItem"]["id"] for a in card.actions if a.type.startswith("updateCheck")
        }
        assert checked == {i.id for x in card.checklists for i in x.items if i.complete}
        listed = dataset.trello_list(card.list_id)
        if listed is not None and listed.name == DONE and not card.deleted:
            assert all(i.complete for x in card.checklists for i in x.items), card.name


def test_checklists_move_no_other_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checklists draw from a generator of their own and come milliseconds after what they
    follow: without them every other action of every card is the same, at the same time (the
    portfolio's links and release labels too: they come 40 ms after what they follow)."""
    from pmo_sync.sandbox.trello import generator

    def actions(ds: TrelloDataset) -> dict[int, list[tuple[str, int]]]:
        kinds = {"addChecklistToCard", "createCheckItem", "updateCheckItemStateOnCard"}
        return {
            c.n: [(a.type, a.ms) for a in c.actions if a.type not in kinds]
            for c in ds.cards(include_deleted=True)
        }

    with_lists = actions(TrelloDataset.generate(seed=11, cards_per_board=60))
    monkeypatch.setattr(generator, "_CRITERIA_SHARE", 0.0)
    monkeypatch.setattr(generator, "_DONE_SHARE", 0.0)
    assert actions(TrelloDataset.generate(seed=11, cards_per_board=60)) == with_lists
