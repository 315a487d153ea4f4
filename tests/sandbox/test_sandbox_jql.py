"""The JQL subset: parsing, precedence, dates in the user's zone, and Jira's errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pmo_sync.sandbox.jira.jql import (
    And,
    Clause,
    JqlError,
    Not,
    Or,
    OrderKey,
    compile_predicate,
    parse,
    parse_date,
)
from pmo_sync.sandbox.jira.timeline import USER_TZ

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_project_in_with_order_by() -> None:
    """IN lists, case-insensitive keywords and several sort keys."""
    q = parse('project in (ABC, "DEF") and updated >= "2026/11/01 08:00" order by key DESC, id')
    assert q.where == And(
        (
            Clause("project", "in", ("ABC", "DEF")),
            Clause("updated", ">=", ("2026/11/01 08:00",)),
        )
    )
    assert q.order_by == (OrderKey("key", True), OrderKey("id", False))
    assert q.bounded


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    """a OR b AND c is a OR (b AND c); parentheses and NOT nest as written."""
    a, b, c = (Clause(f, "=", ("1",)) for f in ("a", "b", "c"))
    assert parse("a = 1 OR b = 1 AND c = 1").where == Or((a, And((b, c))))
    assert parse("(a = 1 OR b = 1) AND NOT c = 1").where == And((Or((a, b)), Not(c)))
    assert parse("key not in (ABC-1, ABC-2)").where == Clause("key", "not in", ("ABC-1", "ABC-2"))


def test_order_by_alone_is_unbounded() -> None:
    """Only ORDER BY (or nothing) leaves the query unbounded."""
    assert not parse("ORDER BY created").bounded
    assert not parse("").bounded
    assert parse("ORDER BY created").order_by == (OrderKey("created", False),)


@pytest.mark.parametrize(
    "text",
    [
        "project = ",
        "project in (ABC",
        "project = ABC AND",
        "ORDER created",
        "project ABC",
        "project = ABC ORDER BY",
    ],
)
def test_syntax_errors_read_like_jira(text: str) -> None:
    """Broken queries raise JqlError with Jira's "Error in the JQL Query" wording."""
    with pytest.raises(JqlError, match=r"^Error in the JQL Query: "):
        parse(text)


def test_compile_predicate_combines_clauses() -> None:
    """The caller decides what a clause means; the tree decides how they combine."""
    q = parse("n > 2 AND NOT (n = 4 OR n = 5)")

    def clause(c: Clause):
        value = int(c.values[0])
        return (lambda r: r > value) if c.op == ">" else (lambda r: r == value)

    test = compile_predicate(q.where, clause)
    assert [n for n in range(8) if test(n)] == [3, 6, 7]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026/11/20 22:45", datetime(2026, 11, 21, 3, 45, tzinfo=UTC)),
        ("2026-11-20 22:45", datetime(2026, 11, 21, 3, 45, tzinfo=UTC)),
        ("2026/07/01 09:00", datetime(2026, 7, 1, 13, 0, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, 5, 0, tzinfo=UTC)),
        ("-15m", datetime(2026, 11, 20, 11, 45, tzinfo=UTC)),
        ("-1w 2d", datetime(2026, 11, 11, 12, 0, tzinfo=UTC)),
    ],
)
def test_dates_are_read_in_new_york(value: str, expected: datetime) -> None:
    """Absolute dates are New York wall-clock (EST and EDT); periods count back from now."""
    assert parse_date(value, "updated", USER_TZ, NOW) == expected


def test_invalid_date_names_the_field() -> None:
    """Jira's message lists the accepted formats."""
    with pytest.raises(JqlError, match="Date value '2026/13/45' for field 'updated' is invalid"):
        parse_date("2026/13/45", "updated", USER_TZ, NOW)
