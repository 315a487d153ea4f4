"""The portfolio the Trello generator makes (seed 7, the demo's 100 cards a board), checked
against the dataset's own ground truth: who is a request, an initiative, a request's child or
unplanned work (`role`, `children_numbers`), what each card's history says it did
(`started_ms`, `finished_ms`), the "Depends on" pairs (`dependencies`) and the boards' releases.

What is proven: a request's card moves as its children do (to Doing with the first one started,
to Done the same day to four days after the last one is done, never while one is open); the
team works its requests in rank order (the rank is the card's place: creation order); the
themes, links and releases are on the cards the way the player's conventions put them, so the
connector reads them; the counts are exact for the seed.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from itertools import combinations

import pytest

from pmo_sync.sandbox.trello import TrelloDataset
from pmo_sync.sandbox.trello.generator import (
    DOING,
    DONE,
    EPIC_LABEL,
    INITIATIVE_LABEL,
    ROLE_CHILD,
    ROLE_INITIATIVE,
    ROLE_PLAIN,
    ROLE_REQUEST,
    THEMES,
    TODO,
    Card,
    from_ms,
)
from pmo_sync.sandbox.trello.portfolio import generated_portfolio_block

HOUR = 3_600_000
DAY = 24 * HOUR


@pytest.fixture(scope="module")
def data() -> TrelloDataset:
    return TrelloDataset.generate(seed=7, cards_per_board=100)


@pytest.fixture(scope="module")
def cards(data: TrelloDataset) -> dict[int, Card]:
    return {c.n: c for c in data.cards(include_deleted=True)}


def _labels(data: TrelloDataset, card: Card) -> set[str]:
    board = data.board(card.board_id)
    return {x.name for x in board.labels if x.id in card.label_ids}


def _list(data: TrelloDataset, card: Card) -> str:
    found = data.trello_list(card.list_id)
    assert found is not None
    return found.name


def _parent_links(card: Card) -> list[str]:
    return [a["url"] for a in card.attachments if a["name"] == a["url"]]


def _url(data: TrelloDataset, n: int) -> str:
    card = data.card_at(n)
    assert card is not None
    return f"https://trello.com/c/{card.short_link}"


def test_who_is_what_for_seed_7(data: TrelloDataset, cards: dict[int, Card]) -> None:
    roles = Counter(data.role(n) for n in cards)
    assert roles == {ROLE_CHILD: 150, ROLE_REQUEST: 24, ROLE_PLAIN: 21, ROLE_INITIATIVE: 5}
    requests = data.request_numbers()
    assert len(requests) == 24
    assert len(data.request_numbers(initiatives=True)) == 29
    themes = Counter(data.theme_of(n) for n in requests)
    assert themes == {"Growth": 8, "Reliability": 9, "Compliance": 2, None: 5}
    sizes = sorted(len(data.children_numbers(n)) for n in requests)
    assert sizes == [0, 0, 0, 3, 3, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 9, 9, 10, 11, 12, 15]
    done = [n for n in requests if data.finished_ms(cards[n]) is not None]
    assert len(done) == 18
    # every child's parent is a request; every request's parent, when it has one, an initiative
    for n in cards:
        parent = data.parent_number(n)
        if data.role(n) == ROLE_CHILD:
            assert parent is not None and data.role(parent) == ROLE_REQUEST
            assert n in data.children_numbers(parent)
        elif data.role(n) == ROLE_REQUEST and parent is not None:
            assert data.role(parent) == ROLE_INITIATIVE
        else:
            assert parent is None, n
    under_initiatives = [n for n in requests if data.parent_number(n)]
    assert len(under_initiatives) == 10


def test_cards_carry_their_level_theme_and_parent_as_the_connector_reads_them(
    data: TrelloDataset, cards: dict[int, Card]
) -> None:
    for n, card in cards.items():
        labels = _labels(data, card)
        role = data.role(n)
        theme = data.theme_of(n)
        if role == ROLE_REQUEST:
            assert labels == {EPIC_LABEL} | ({theme} if theme else set()), n
        elif role == ROLE_INITIATIVE:
            assert labels == {INITIATIVE_LABEL} | ({theme} if theme else set()), n
        else:  # work: no level, no theme of its own (it is its request's)
            assert not labels & {EPIC_LABEL, INITIATIVE_LABEL, *THEMES}, n
        parent = data.parent_number(n)
        assert _parent_links(card) == ([_url(data, parent)] if parent else []), n


def test_a_request_moves_as_its_children_do(data: TrelloDataset, cards: dict[int, Card]) -> None:
    """To Doing 5 to 90 minutes after its first child started; to Done 1 hour to 4 days and
    6 hours after its last child was done (or deleted unstarted: no longer work); open, in
    Doing or To Do, while a child is not done."""
    end = round(data.generated_at.timestamp() * 1000) - HOUR
    lags = []
    for n in data.request_numbers():
        card = cards[n]
        kids = [cards[m] for m in data.children_numbers(n)]
        kids = [k for k in kids if not (k.deleted and data.started_ms(k) is None)]
        moves = [(to_ms, _name(data, to)) for to_ms, to in _moves(card)]
        assert moves[0][1] == TODO
        starts = [s for s in (data.started_ms(k) for k in kids) if s is not None]
        finishes = [data.finished_ms(k) for k in kids]
        if not starts:
            assert [m[1] for m in moves] == [TODO], n
            continue
        assert moves[1][1] == DOING
        assert min(starts) < moves[1][0] <= min(starts) + 90 * 60_000 + 1000, n
        if any(f is None for f in finishes):
            assert [m[1] for m in moves] == [TODO, DOING], n
            continue
        last = max(f for f in finishes if f is not None)
        if last + 4 * DAY + 6 * HOUR < end:
            assert [m[1] for m in moves] == [TODO, DOING, DONE], n
            lag = moves[-1][0] - last
            assert HOUR <= lag <= 4 * DAY + 6 * HOUR, n
            lags.append(lag // DAY)
    assert Counter(lags) == {0: 16, 1: 1, 3: 1}


def _moves(card: Card) -> list[tuple[int, str]]:
    return [(round(m.at.timestamp() * 1000), m.to_list) for m in card.list_moves]


def _name(data: TrelloDataset, list_id: str) -> str:
    found = data.trello_list(list_id)
    assert found is not None
    return found.name


def test_children_are_worked_in_the_rank_order_of_their_requests(
    data: TrelloDataset, cards: dict[int, Card]
) -> None:
    """A request ranks by its card's place (creation order: each new one goes last). Of every
    two children of two requests of a board, the higher request's starts first but for a few:
    the team works the next request's children now and then."""
    by_pos = sorted(data.request_numbers(), key=lambda n: cards[n].pos)
    assert by_pos == sorted(data.request_numbers())
    counted: dict[str, tuple[int, int]] = {}
    for board in data.boards:
        ranked = [n for n in by_pos if cards[n].board_id == board.id]
        pairs = in_order = 0
        for high, low in combinations(ranked, 2):
            for a in data.children_numbers(high):
                for b in data.children_numbers(low):
                    first, second = data.started_ms(cards[a]), data.started_ms(cards[b])
                    if first is None or second is None or board.id != cards[a].board_id:
                        continue
                    if cards[b].board_id != board.id:
                        continue
                    pairs += 1
                    in_order += first < second
        counted[board.name] = (in_order, pairs)
    assert counted == {"Team Alpha": (2431, 2491), "Team Beta": (1846, 1875)}


def test_three_to_five_requests_are_open_at_once(
    data: TrelloDataset, cards: dict[int, Card]
) -> None:
    """Counted at noon each day from the window's second month on (the first starts with the
    three requests the team plans at once): mostly four, two on a few days, never more than
    five (the team plans two requests beyond the one it breaks down)."""
    now = round(data.generated_at.timestamp() * 1000)
    spans = [(cards[n].created_ms, data.finished_ms(cards[n])) for n in data.request_numbers()]
    found = {}
    for board in data.boards:
        mine = [
            s
            for n, s in zip(data.request_numbers(), spans, strict=True)
            if cards[n].board_id == board.id
        ]
        counts = Counter(
            sum(1 for made, done in mine if made <= day and (done is None or done > day))
            for day in range(now - 150 * DAY, now, DAY)
        )
        found[board.name] = dict(sorted(counts.items()))
    assert found == {
        "Team Alpha": {2: 6, 3: 22, 4: 92, 5: 30},
        "Team Beta": {3: 46, 4: 83, 5: 21},
    }


def test_due_dates_are_set_when_a_request_is_made_and_some_slip(
    data: TrelloDataset, cards: dict[int, Card]
) -> None:
    slips: Counter[int] = Counter()
    for n in data.request_numbers():
        card = cards[n]
        dues = [a for a in card.actions if "due" in (a.data.get("old") or {})]
        assert dues[0].data["old"]["due"] is None
        assert 0 < dues[0].ms - card.created_ms <= 31 * 60_000
        moved = [(a.data["old"]["due"], a.data["card"]["due"]) for a in dues[1:]]
        for before, after in moved:
            assert after > before  # always later, by one to two weeks
            days = (from_ms(_ms(after)) - from_ms(_ms(before))).days
            assert 7 <= days <= 14
        slips[len(moved)] += 1
    assert slips == {0: 15, 1: 5, 2: 4}
    initiatives = [
        n for n in data.request_numbers(initiatives=True) if data.role(n) == ROLE_INITIATIVE
    ]
    assert all(cards[n].due is None for n in initiatives)


def _ms(text: str) -> int:
    from pmo_sync.sandbox.trello.generator import parse_date

    return parse_date(text)


def test_dependencies_cross_boards_and_most_blockers_finish_first(
    data: TrelloDataset, cards: dict[int, Card]
) -> None:
    pairs = data.dependencies()
    assert pairs == [(48, 20), (164, 148), (195, 179), (197, 192)]
    still_open = []
    for waiting, blocker in pairs:
        w, b = cards[waiting], cards[blocker]
        assert w.board_id != b.board_id
        links = [a for a in w.attachments if a["name"].startswith("Depends on: ")]
        assert [(a["name"], a["url"]) for a in links] == [
            (f"Depends on: {_url(data, blocker)}", _url(data, blocker))
        ]
        done = data.finished_ms(b)
        if done is None:
            still_open.append(waiting)
            continue
        started = data.started_ms(w)
        assert started is None or done < started, (waiting, blocker)
    assert still_open == [195, 197]


def test_done_work_ships_in_the_boards_releases(
    data: TrelloDataset, cards: dict[int, Card]
) -> None:
    releases = data.releases
    assert [r.name for r in releases] == [
        *(f"Alpha 1.{k}" for k in range(9)),
        *(f"Beta 1.{k}" for k in range(9)),
    ]
    late = [
        (r.name, from_ms(r.planned_ms).date(), from_ms(r.released_ms).date())
        for r in releases
        if r.released_ms is not None and r.released_ms != r.planned_ms
    ]
    assert late == [
        ("Beta 1.0", date(2026, 6, 9), date(2026, 6, 15)),
        ("Beta 1.5", date(2026, 9, 25), date(2026, 9, 28)),
        ("Beta 1.7", date(2026, 11, 6), date(2026, 11, 9)),
    ]
    assert [r.name for r in releases if r.released_ms is None] == ["Alpha 1.8", "Beta 1.8"]
    shipped: Counter[str] = Counter()
    unreleased_done = 0
    for n, card in cards.items():
        labels = {x for x in _labels(data, card) if x.startswith("Release ")}
        done = data.finished_ms(card) if not card.deleted else None
        if data.role(n) not in (ROLE_CHILD, ROLE_PLAIN) or done is None or n == 1:
            assert not labels, n
            continue
        if not labels:
            unreleased_done += 1
            continue
        (label,) = labels
        release = next(r for r in releases if r.label == label)
        board_releases = [r for r in releases if r.board_id == release.board_id]
        first = next(r for r in board_releases if r.cut_ms >= done)
        assert release == first, n
        shipped[release.name] += 1
    assert (sum(shipped.values()), unreleased_done) == (139, 15)  # 90% ship, as drawn
    assert dict(sorted(shipped.items())) == {
        "Alpha 1.1": 3, "Alpha 1.2": 6, "Alpha 1.3": 17, "Alpha 1.4": 10, "Alpha 1.5": 9,
        "Alpha 1.6": 10, "Alpha 1.7": 13, "Alpha 1.8": 8,
        "Beta 1.0": 4, "Beta 1.1": 8, "Beta 1.2": 9, "Beta 1.3": 4, "Beta 1.4": 10,
        "Beta 1.5": 8, "Beta 1.6": 8, "Beta 1.7": 8, "Beta 1.8": 4,
    }  # fmt: skip


def test_the_connector_block_names_the_conventions_and_dates_the_releases(
    data: TrelloDataset,
) -> None:
    block = generated_portfolio_block(data)
    assert block["levels"] == {"Initiative": "initiative", "Epic": "epic"}
    assert block["dependencies"] == {"attachment_prefix": "Depends on"}
    assert block["releases"]["label"] == "Release {name}"
    dates = block["releases"]["dates"]
    assert len(dates) == 18
    assert dates["Beta 1.0"] == {"planned": "2026-06-09", "released": "2026-06-15"}
    assert dates["Alpha 1.8"] == {"planned": "2026-11-23"}
    plain = TrelloDataset.generate(seed=7, cards_per_board=100, portfolio=False)
    assert generated_portfolio_block(plain) == {}


def test_without_the_portfolio_every_card_is_plain_work() -> None:
    plain = TrelloDataset.generate(seed=7, cards_per_board=30, portfolio=False)
    assert plain.request_numbers(initiatives=True) == ()
    assert plain.releases == () and plain.dependencies() == []
    for card in plain.cards(include_deleted=True):
        assert card.attachments == [] and card.due is None
        assert len(plain.board(card.board_id).labels) == 6


def test_the_same_seed_gives_the_same_portfolio() -> None:
    def facts(ds: TrelloDataset) -> list[tuple[object, ...]]:
        return [
            (c.n, ds.role(c.n), ds.parent_number(c.n), c.due, tuple(c.label_ids), c.list_id)
            for c in ds.cards(include_deleted=True)
        ]

    a = TrelloDataset.generate(seed=3, cards_per_board=60)
    b = TrelloDataset.generate(seed=3, cards_per_board=60)
    assert facts(a) == facts(b) and a.dependencies() == b.dependencies()
    assert facts(TrelloDataset.generate(seed=4, cards_per_board=60)) != facts(a)
