"""sortable_rank: numbers become strings that sort as the numbers do."""

from __future__ import annotations

import random
import sys
from decimal import Decimal

import pytest

from pmo_sync.common.rank import sortable_rank


@pytest.mark.parametrize(
    ("number", "rank"),
    [
        (0, "b"),
        (0.0, "b"),
        (-0.0, "b"),
        (1, "c100011"),
        (1.0, "c100011"),
        (Decimal("1.00"), "c100011"),
        (0.5, "c100005"),
        (65535.0, "c1000565535"),  # a Trello card's `pos`
        (1000, "c100041"),
        (0.001, "c099981"),  # 0.1 * 10^-2
        (-1, "a099998z"),
        (-0.12, "a1000087z"),
        (-0.123, "a10000876z"),
        (10**30, "c100311"),
    ],
)
def test_worked_out_ranks(number: int | float | Decimal, rank: str) -> None:
    assert sortable_rank(number) == rank


def test_ranks_sort_as_their_numbers() -> None:
    numbers: list[int | float] = [
        -sys.float_info.max, -10**300, -1e20, -65535.5, -1000, -1.5, -1, -0.123, -0.12,
        -5e-324, 0, 5e-324, 1e-9, 0.001, 0.12, 0.123, 0.5, 1, 1.5, 2, 10, 16383.75, 65535,
        99999.99, 1e20, 10**300, sys.float_info.max,
    ]  # fmt: skip
    shuffled = numbers[:]
    random.Random(16).shuffle(shuffled)
    assert sorted(shuffled, key=sortable_rank) == numbers
    assert sorted(sortable_rank(n) for n in numbers) == [sortable_rank(n) for n in numbers]
    # Only letters and digits, so a language-aware collation cannot reorder them.
    assert all(sortable_rank(n).isalnum() for n in numbers)


def test_many_random_numbers_sort_alike() -> None:
    rng = random.Random(7)
    numbers = {rng.uniform(-1e6, 1e6) for _ in range(2000)} | {
        rng.randint(-(10**40), 10**40) for _ in range(500)
    }
    ordered = sorted(numbers)
    assert sorted(numbers, key=sortable_rank) == ordered


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), float("-inf"), True, Decimal("1e10000")]
)
def test_what_has_no_rank_is_refused(bad: float | Decimal) -> None:
    with pytest.raises(ValueError):
        sortable_rank(bad)
