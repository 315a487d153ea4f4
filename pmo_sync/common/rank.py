"""A backlog position given as a number, turned into a string that sorts the same way.

`WorkItemRecord.rank` is one string per item, so Jira's LexoRank (already a string that
sorts in backlog order) is stored as it is, and the trackers that rank by a number (Azure
DevOps Stack Rank and Backlog Priority, Trello's card `pos`) need their number encoded so
that comparing the strings by code point (Python's `str` order, SQLite's default, PostgreSQL
with ``COLLATE "C"``) compares the numbers: negatives, fractions and values of any size alike.

The encoding, for a finite number written as ``±0.d1d2…dn * 10^e`` (d1 ≠ 0, no trailing
zeros, so ``1``, ``1.0`` and ``1.00`` are one rank):

- zero is ``b``;
- a positive number is ``c``, then ``e + 10000`` in five digits, then ``d1…dn``;
- a negative number is ``a``, then ``10000 - e`` in five digits, then each digit as
  ``9 - d``, then ``z``: a larger magnitude sorts first, and the ``z`` makes ``-0.12`` sort
  after ``-0.123`` (whose complemented digits extend those of ``-0.12``).

Only letters and digits appear, so even a database's language-aware collation keeps the
order. Exponents run from -9999 to 9999: every float, and integers up to 9999 digits.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["sortable_rank"]

_EXPONENT_LIMIT = 9999
_EXPONENT_BIAS = 10000


def sortable_rank(number: int | float | Decimal) -> str:
    """The rank string of `number` (see the module docstring for the encoding).

    A float is read as its shortest repr (``0.1`` is 0.1, not 0.1000000000000000055…), so
    the rank is the number the tracker sent as JSON. NaN, infinities, a bool and an exponent
    beyond ±9999 raise ValueError: they have no place in a backlog, and a connector logs and
    leaves such an item unranked.
    """
    if isinstance(number, bool):
        raise ValueError(f"a rank is a number, not {number!r}")
    value = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    if not value.is_finite():
        raise ValueError(f"a rank must be finite, not {number!r}")
    if value.is_zero():
        return "b"
    sign, digits, _ = value.as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    exponent = value.adjusted() + 1  # value = ±0.<text> * 10^exponent
    if not -_EXPONENT_LIMIT <= exponent <= _EXPONENT_LIMIT:
        raise ValueError(f"rank {number!r} is beyond the encodable range (10^±9999)")
    if sign == 0:
        return f"c{exponent + _EXPONENT_BIAS:05d}{text}"
    complement = "".join(str(9 - int(d)) for d in text)
    return f"a{_EXPONENT_BIAS - exponent:05d}{complement}z"
