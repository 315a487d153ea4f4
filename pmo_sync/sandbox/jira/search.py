"""Runs a parsed JQL query against the dataset's index: filter, permission, order.

The fields a sync needs are supported — project, key/issuekey, id, created,
updated, status, statusCategory, issuetype/type — and anything else is refused
with Jira's "does not exist" 400, so a connector cannot silently rely on a
filter the sandbox would ignore.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.index import TYPE_ORDER
from pmo_sync.sandbox.jira.jql import Clause, JqlError, Query, compile_predicate, parse_date
from pmo_sync.sandbox.jira.model import STATUSES
from pmo_sync.sandbox.jira.timeline import USER_TZ, to_epoch

__all__ = ["run_query"]

Row = int
Test = Callable[[Row], bool]
Column = Sequence[int]  # an index column (array) indexed by row

_EQUALITY = ("=", "!=", "in", "not in")
_ORDERING = ("=", "!=", ">", ">=", "<", "<=")
_DATE_FIELDS = {
    "created": "created",
    "createddate": "created",
    "updated": "updated",
    "updateddate": "updated",
}
_ROW_ITSELF = range(2**62)  # a "column" whose value at row r is r (row = id - 10001)
_ORDER_FIELDS = {"created", "createddate", "updated", "updateddate", "key", "issuekey", "id"}


def _unknown_field(name: str) -> JqlError:
    return JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")


def _bad_operator(op: str, name: str) -> JqlError:
    return JqlError(f"The operator '{op.upper()}' is not supported by the '{name}' field.")


def _membership(op: str, wanted: set[int], column: Callable[[Row], int]) -> Test:
    if op in ("=", "in"):
        return lambda r: column(r) in wanted
    return lambda r: column(r) not in wanted


def _compare(op: str, column: Column, value: int) -> Test:
    match op:
        case "=":
            return lambda r: column[r] == value
        case "!=":
            return lambda r: column[r] != value
        case ">":
            return lambda r: column[r] > value
        case ">=":
            return lambda r: column[r] >= value
        case "<":
            return lambda r: column[r] < value
        case _:
            return lambda r: column[r] <= value


class _Compiler:
    """Compiles clauses into row tests over the index columns."""

    def __init__(self, dataset: JiraDataset, visible: set[int], now: datetime) -> None:
        self.ds = dataset
        self.visible = visible
        self.now = now

    def clause(self, c: Clause) -> Test:
        name = c.field
        index = self.ds.index
        if name == "project":
            return self._project(c)
        if name in ("key", "issuekey"):
            return self._key(c)
        if name == "id":
            return self._id(c)
        if name in _DATE_FIELDS:
            if c.op not in _ORDERING:
                raise _bad_operator(c.op, name)
            column = getattr(index, _DATE_FIELDS[name])
            moment = parse_date(c.values[0], name, USER_TZ, self.now)
            return _compare(c.op, column, to_epoch(moment))
        if name == "status":
            return self._lookup(
                c, index.status, {n: [s.name.lower(), s.id] for n, s in enumerate(STATUSES)}
            )
        if name == "statuscategory":
            return self._lookup(
                c,
                index.status,
                {
                    n: [s.category.name.lower(), s.category.key, str(s.category.id)]
                    for n, s in enumerate(STATUSES)
                },
            )
        if name in ("issuetype", "type"):
            return self._lookup(c, index.itype, {n: [t.lower()] for n, t in enumerate(TYPE_ORDER)})
        raise _unknown_field(name)

    def _project(self, c: Clause) -> Test:
        if c.op not in _EQUALITY:
            raise _bad_operator(c.op, "project")
        wanted: set[int] = set()
        for value in c.values:
            found = None
            for n, project in enumerate(self.ds.projects):
                if (
                    value.upper() == project.key
                    or value == project.id
                    or (value.lower() == project.name.lower())
                ):
                    found = n
            if found is None or found not in self.visible:
                raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
            wanted.add(found)
        column = self.ds.index.project
        return _membership(c.op, wanted, column.__getitem__)

    def _key(self, c: Clause) -> Test:
        if c.op not in _EQUALITY:
            raise _bad_operator(c.op, "key")
        rows: set[int] = set()
        for value in c.values:
            row = self.ds.row_of(value)
            if row is None or self.ds.index.project[row] not in self.visible:
                raise JqlError(f"An issue with key '{value}' does not exist for field 'key'.")
            rows.add(row)
        return _membership(c.op, rows, lambda r: r)

    def _id(self, c: Clause) -> Test:
        if c.op in ("in", "not in"):
            try:
                rows = {int(v) - 10001 for v in c.values}
            except ValueError as exc:
                raise JqlError("The value for field 'id' must be a number.") from exc
            return _membership(c.op, rows, lambda r: r)
        if c.op not in _ORDERING:
            raise _bad_operator(c.op, "id")
        try:
            row = int(c.values[0]) - 10001
        except ValueError as exc:
            raise JqlError("The value for field 'id' must be a number.") from exc
        return _compare(c.op, _ROW_ITSELF, row)

    def _lookup(self, c: Clause, column: Column, names: dict[int, list[str]]) -> Test:
        if c.op not in _EQUALITY:
            raise _bad_operator(c.op, c.field)
        wanted: set[int] = set()
        for value in c.values:
            hits = {n for n, aliases in names.items() if value.lower() in aliases}
            if not hits:
                raise JqlError(f"The value '{value}' does not exist for the field '{c.field}'.")
            wanted |= hits
        return _membership(c.op, wanted, column.__getitem__)


def _sort(rows: list[Row], query: Query, dataset: JiraDataset) -> list[Row]:
    index = dataset.index
    for key in reversed(query.order_by):
        name = key.field
        if name not in _ORDER_FIELDS:
            raise _unknown_field(name)
        if name in ("key", "issuekey"):
            projects = dataset.projects
            rows.sort(
                key=lambda r: (projects[index.project[r]].key, index.number[r]),
                reverse=key.descending,
            )
        elif name == "id":
            rows.sort(reverse=key.descending)
        else:
            column = getattr(index, _DATE_FIELDS[name])
            rows.sort(key=column.__getitem__, reverse=key.descending)
    return rows


def run_query(dataset: JiraDataset, query: Query, hidden_projects: Collection[str]) -> list[Row]:
    """Rows of the live, visible issues matching `query`, in its order (id order by default)."""
    with dataset.lock:
        visible = {n for n, p in enumerate(dataset.projects) if p.key not in hidden_projects}
        compiler = _Compiler(dataset, visible, dataset.clock.now)
        test = compile_predicate(query.where, compiler.clause) if query.where else None
        index = dataset.index
        alive, project = index.alive, index.project
        candidates = (r for r in range(len(index)) if alive[r] and project[r] in visible)
        rows = [r for r in candidates if test(r)] if test else list(candidates)
        return _sort(rows, query, dataset)
