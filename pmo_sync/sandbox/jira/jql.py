"""A small JQL subset: parse a query, compile it to a predicate, read its dates.

Supports what a sync tool sends: clauses ``field op value`` with ``=, !=, >, >=,
<, <=, in, not in``, ``AND``/``OR``/``NOT`` and parentheses, and ``ORDER BY f
[ASC|DESC], ...``; keywords are case-insensitive. What a field means is not
decided here: `compile_predicate` takes a function that turns each clause into
a row test, so this module knows nothing about the dataset.

Date values follow Jira: ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``, a bare
date, or a relative period such as ``-15m`` / ``"-4w 2d"``, read in the API
user's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TypeVar

__all__ = [
    "And",
    "Clause",
    "JqlError",
    "Node",
    "Not",
    "Or",
    "OrderKey",
    "Query",
    "compile_predicate",
    "parse",
    "parse_date",
]

T = TypeVar("T")


class JqlError(ValueError):
    """A query Jira would answer with 400; `message` is Jira's wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Clause:
    field: str  # lower-cased
    op: str  # "=", "!=", ">", ">=", "<", "<=", "in", "not in", "~", "!~", "is", "is not"
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderKey:
    field: str  # lower-cased
    descending: bool


@dataclass(frozen=True, slots=True)
class Query:
    where: Node | None
    order_by: tuple[OrderKey, ...]

    @property
    def bounded(self) -> bool:
        """Jira Cloud's search/jql refuses a query with no restriction (only ORDER BY)."""
        return self.where is not None


# -- tokens ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|>=|<=|!~|=|>|<|~)
      | (?P<punct>[(),])
      | (?P<word>[^\s()=,!<>~"']+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "order", "by", "asc", "desc", "is", "empty", "null"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # string | op | punct | word | kw | end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{text[pos]}' is a reserved JQL "
                f"character. (line 1, character {pos + 1})"
            )
        kind = m.lastgroup or "word"
        raw = m.group(kind)
        start = m.start(kind)
        if kind == "string":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "word" and raw.lower() in _KEYWORDS:
            kind, raw = "kw", raw.lower()
        tokens.append(_Tok(kind, raw, start))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


# -- parser ----------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        return self.tok.kind == "kw" and self.tok.text in words

    def fail(self, expected: str) -> JqlError:
        got = self.tok.text if self.tok.kind != "end" else "EOF"
        return JqlError(
            f"Error in the JQL Query: Expecting {expected} but got '{got}'. "
            f"(line 1, character {self.tok.pos + 1})"
        )

    def query(self) -> Query:
        where = None
        if not self.at_kw("order") and self.tok.kind != "end":
            where = self.or_expr()
        order: list[OrderKey] = []
        if self.at_kw("order"):
            self.take()
            if not self.at_kw("by"):
                raise self.fail("'by'")
            self.take()
            while True:
                if self.tok.kind not in ("word", "string"):
                    raise self.fail("a field name")
                name = self.take().text.lower()
                descending = False
                if self.at_kw("asc", "desc"):
                    descending = self.take().text == "desc"
                order.append(OrderKey(name, descending))
                if self.tok.kind == "punct" and self.tok.text == ",":
                    self.take()
                    continue
                break
        if self.tok.kind != "end":
            raise self.fail("either 'OR' or 'AND'" if where else "'ORDER BY'")
        return Query(where, tuple(order))

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.at_kw("or"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while self.at_kw("and"):
            self.take()
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        if self.at_kw("not"):
            self.take()
            return Not(self.unary())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.take()
            node = self.or_expr()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self.fail("')'")
            self.take()
            return node
        return self.clause()

    def clause(self) -> Clause:
        if self.tok.kind not in ("word", "string"):
            raise self.fail("a field name")
        name = self.take().text.lower()
        op = self.operator()
        if op in ("in", "not in"):
            return Clause(name, op, self.value_list())
        if op in ("is", "is not"):
            if not self.at_kw("empty", "null"):
                raise self.fail("'EMPTY'")
            self.take()
            return Clause(name, op, ())
        return Clause(name, op, (self.value(),))

    def operator(self) -> str:
        if self.tok.kind == "op":
            return self.take().text
        if self.at_kw("in"):
            self.take()
            return "in"
        if self.at_kw("not"):
            self.take()
            if not self.at_kw("in"):
                raise self.fail("'IN'")
            self.take()
            return "not in"
        if self.at_kw("is"):
            self.take()
            if self.at_kw("not"):
                self.take()
                return "is not"
            return "is"
        raise self.fail("operator")

    def value(self) -> str:
        if self.tok.kind in ("word", "string"):
            return self.take().text
        if self.tok.kind == "kw" and self.tok.text not in ("and", "or", "order"):
            return self.take().text
        raise self.fail("either a value, 'EMPTY' or a function")

    def value_list(self) -> tuple[str, ...]:
        if not (self.tok.kind == "punct" and self.tok.text == "("):
            raise self.fail("'('")
        self.take()
        values = [self.value()]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.take()
            values.append(self.value())
        if not (self.tok.kind == "punct" and self.tok.text == ")"):
            raise self.fail("')'")
        self.take()
        return tuple(values)


def parse(text: str) -> Query:
    """Parse a JQL string (raises JqlError with Jira's style of message)."""
    return _Parser(text or "").query()


def compile_predicate(
    node: Node, clause: Callable[[Clause], Callable[[T], bool]]
) -> Callable[[T], bool]:
    """Turn a where-tree into one test, asking `clause` to compile each leaf."""
    if isinstance(node, Clause):
        return clause(node)
    if isinstance(node, Not):
        inner = compile_predicate(node.child, clause)
        return lambda row: not inner(row)
    parts = [compile_predicate(child, clause) for child in node.children]
    if isinstance(node, And):
        return lambda row: all(p(row) for p in parts)
    return lambda row: any(p(row) for p in parts)


# -- dates ---------------------------------------------------------------------------

_ABSOLUTE = (
    ("%Y/%m/%d %H:%M", True),
    ("%Y-%m-%d %H:%M", True),
    ("%Y/%m/%d", False),
    ("%Y-%m-%d", False),
)
_PERIOD = re.compile(r"^([+-]?)\s*((?:\d+\s*[wdhm]\s*)+)$", re.IGNORECASE)
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm])", re.IGNORECASE)
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


def parse_date(value: str, field: str, tz: tzinfo, now: datetime) -> datetime:
    """A JQL date value as an aware datetime, read in the user's zone `tz`."""
    text = value.strip()
    for fmt, _ in _ABSOLUTE:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=tz)
    m = _PERIOD.match(text)
    if m:
        seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _PERIOD_PART.findall(m.group(2)))
        return now + timedelta(seconds=-seconds if m.group(1) == "-" else seconds)
    raise JqlError(
        f"Date value '{value}' for field '{field}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
        "format e.g. '-5d', '4w 2d'."
    )
