"""`portfolio_items(..., facts=...)`: a theme read fetches only the facts its themes match
on, the rest left empty; on SQLite and PostgreSQL, with hand-built bundles."""

from __future__ import annotations

from sqlalchemy import Engine, event

from pmo_sync.portfolio.items import PortfolioItem
from pmo_sync.portfolio.stored import portfolio_items
from pmo_sync.store.repository import Store

from .records import T0, Records

PATH = "Fabrikam\\Phoenix\\Web"


def _statements(engine: Engine, facts: frozenset[str]) -> tuple[list[PortfolioItem], list[str]]:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        items = portfolio_items(engine, None, facts)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return items, [s for s in statements if not s.startswith("BEGIN")]


def test_only_the_facts_asked_for_are_read(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    trello = store.ensure_source("boards", "trello", "https://trello.com")
    store.load_items(
        source_id,
        [rec.bundle("1", labels=("growth",), components=("API",), area_path=PATH)],
        T0,
    )
    store.load_sprints(trello, [rec.sprint("s1", board_external_id="b-alpha", team="Team Alpha")])
    store.load_items(
        trello,
        [
            rec.bundle("c1", key="aaa", project="Team Alpha", team="Team Alpha", labels=("Q3",),
                       raw_type="card"),
            rec.bundle("c3", key="ccc", project="b-gone", team=None, labels=(), raw_type="card"),
        ],
        T0,
    )  # fmt: skip
    whole = portfolio_items(engine)
    assert [(i.labels, i.components, i.area_path, i.board, i.board_id) for i in whole] == [
        (("growth",), ("API",), PATH, None, None),
        (("Q3",), (), None, "Team Alpha", "b-alpha"),
        ((), (), None, None, "b-gone"),
    ]

    # Labels only: no components, no path, and no join to the sprints (one SELECT, of
    # work_items and sources only); a card's board is still its project, its id unknown
    # unless the project holds it.
    items, statements = _statements(engine, frozenset({"labels"}))
    assert len(statements) == 1 and "sprints" not in statements[0]
    assert [(i.labels, i.components, i.area_path, i.board, i.board_id) for i in items] == [
        (("growth",), (), None, None, None),
        (("Q3",), (), None, "Team Alpha", None),
        ((), (), None, None, "b-gone"),
    ]
    # Nothing but what every item has: key, parent, kind, level, type, status, stage.
    items, statements = _statements(engine, frozenset())
    assert [(i.labels, i.components, i.area_path) for i in items] == [((), (), None)] * 3
    assert [i.ref for i in items] == [i.ref for i in whole]
    assert [(i.level, i.item_type, i.status, i.status_category, i.parent_key) for i in items] == [
        (i.level, i.item_type, i.status, i.status_category, i.parent_key) for i in whole
    ]
    # The board asked for: the sprints joined, the ids read as in the whole read.
    items, statements = _statements(engine, frozenset({"board", "area_path"}))
    assert len(statements) == 1 and "sprints" in statements[0]
    assert [(i.labels, i.area_path, i.board, i.board_id) for i in items] == [
        ((), PATH, None, None),
        ((), None, "Team Alpha", "b-alpha"),
        ((), None, None, "b-gone"),
    ]
