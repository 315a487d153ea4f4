"""What a theme matches beside labels (Jira components, the Azure DevOps area path) in the
store, and `portfolio_items`, the store's live items as the portfolio logic sees them; on
SQLite and PostgreSQL, with hand-built bundles."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, event, select

from pmo_sync.domain import Census, Stage
from pmo_sync.portfolio.items import PortfolioItem
from pmo_sync.portfolio.stored import portfolio_items
from pmo_sync.store.canonical import prepare_bundle
from pmo_sync.store.engine import alembic_config, make_engine, upgrade
from pmo_sync.store.models import WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.store.results import LoadCounts

from .records import T0, Records

D = timedelta(days=1)
PATH = "Fabrikam\\Phoenix\\Web"


def test_components_and_area_path_are_stored_read_back_and_hashed(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    placed = rec.bundle("1", components=("API", "Billing"), area_path=PATH)
    assert store.load_items(source_id, [placed, rec.bundle("2")], T0) == LoadCounts(inserted=2)
    with engine.connect() as conn:
        rows = conn.execute(
            select(WorkItemRow.key, WorkItemRow.components, WorkItemRow.area_path).order_by(
                WorkItemRow.key
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("PMO-1", ["API", "Billing"], PATH),
        ("PMO-2", [], None),
    ]
    by_key = {item.key: item for item in store.iter_items()}
    assert (by_key["PMO-1"].components, by_key["PMO-1"].area_path) == (("API", "Billing"), PATH)
    assert (by_key["PMO-2"].components, by_key["PMO-2"].area_path) == ((), None)

    base = prepare_bundle(placed).content_hash
    assert prepare_bundle(rec.bundle("1", components=("API",), area_path=PATH)).content_hash != base
    moved = rec.bundle("1", components=("API", "Billing"), area_path="Fabrikam\\Phoenix")
    assert prepare_bundle(moved).content_hash != base
    # A component or a path moved is content: the item is updated, then unchanged again.
    assert store.load_items(source_id, [moved], T0 + D) == LoadCounts(updated=1)
    assert store.load_items(source_id, [moved], T0 + 2 * D) == LoadCounts(unchanged=1)


def test_portfolio_items_gives_every_live_item_in_one_query(
    store: Store, source_id: int, engine: Engine, rec: type[Records]
) -> None:
    ado = store.ensure_source("contoso-ado", "azure_devops", None)
    trello = store.ensure_source("boards", "trello", "https://trello.com")
    store.load_items(
        source_id,
        [
            rec.bundle(
                "1", level="epic", raw_type="Epic", labels=("growth",), components=("API",),
                parent_key="PMO-9", status="To Do", stage=Stage.TODO,
            ),
            rec.bundle("2", parent_key="PMO-1", labels=()),
            rec.bundle("3"),  # deleted below: not in the portfolio
        ],
        T0,
    )  # fmt: skip
    store.apply_census(source_id, Census(frozenset({"1", "2"})), T0 + D)
    store.load_items(
        ado,
        [rec.bundle("7", key="7", raw_type="Feature", level="feature", area_path=PATH, labels=())],
        T0,
    )
    # Board "Team Alpha" has sprints (its id known); "Team Beta" has none; the third card's
    # board the connector could not name: its project is the board's id, its team empty.
    store.load_sprints(trello, [rec.sprint("s1", board_external_id="b-alpha", team="Team Alpha")])
    store.load_sprints(source_id, [rec.sprint("j1", board_external_id="42", team="Core")])
    store.load_items(
        trello,
        [
            rec.bundle("c1", key="aaa", project="Team Alpha", team="Team Alpha", labels=("Q3",),
                       raw_type="card"),
            rec.bundle("c2", key="bbb", project="Team Beta", team="Team Beta", labels=(),
                       raw_type="card"),
            rec.bundle("c3", key="ccc", project="b-gone", team=None, labels=(), raw_type="card"),
        ],
        T0,
    )  # fmt: skip

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        items = portfolio_items(engine)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [s.split()[0] for s in statements if not s.startswith("BEGIN")] == ["SELECT"]

    story = {"level": None, "item_type": "Story", "status": "In Progress"}
    assert items == [
        PortfolioItem(
            "jira-main", "PMO-1", "jira", ("growth",), ("API",), None, None, None, "epic",
            "Epic", "To Do", "todo", "PMO-9",
        ),
        PortfolioItem(
            "jira-main", "PMO-2", "jira", status_category="in_progress", parent_key="PMO-1",
            **story,  # type: ignore[arg-type]
        ),
        PortfolioItem(
            "contoso-ado", "7", "azure_devops", labels=(), area_path=PATH, level="feature",
            item_type="Feature", status="In Progress", status_category="in_progress",
        ),
        # The Jira sprint's board (team Core) is no Trello board: no board on Jira items.
        PortfolioItem(
            "boards", "aaa", "trello", ("Q3",), board="Team Alpha", board_id="b-alpha",
            item_type="card", status="In Progress", status_category="in_progress",
        ),
        PortfolioItem(
            "boards", "bbb", "trello", board="Team Beta", item_type="card",
            status="In Progress", status_category="in_progress",
        ),
        PortfolioItem(
            "boards", "ccc", "trello", board_id="b-gone", item_type="card",
            status="In Progress", status_category="in_progress",
        ),
    ]  # fmt: skip
    assert [i.key for i in portfolio_items(engine, [ado, trello])] == ["7", "aaa", "bbb", "ccc"]
    assert portfolio_items(engine, []) == []


def test_0013_upgrades_a_store_filled_at_0012_keeping_its_rows(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0012")
        source = Store(engine).ensure_source("jira-main", "jira", None)
        items = sa.table(
            "work_items",
            *(sa.column(c) for c in ("id", "source_id", "external_id", "key", "url", "title")),
            *(sa.column(c) for c in ("item_type", "raw_type", "status", "status_category")),
            *(sa.column(c) for c in ("stage", "project", "flagged", "created", "updated")),
            *(sa.column(c) for c in ("content_hash", "synced_at", "level")),
            sa.column("labels", sa.JSON),
        )
        with engine.begin() as conn:
            conn.execute(
                sa.insert(items),
                {
                    "id": 1, "source_id": source, "external_id": "1", "key": "PMO-1",
                    "url": "u", "title": "Item 1", "item_type": "story", "raw_type": "Story",
                    "status": "In Progress", "status_category": "indeterminate",
                    "stage": "in_progress", "project": "PMO", "flagged": False, "created": T0,
                    "updated": T0, "content_hash": "hash at 0012", "synced_at": T0,
                    "level": "story", "labels": ["backend"],
                },
            )  # fmt: skip
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(
                select(
                    WorkItemRow.key,
                    WorkItemRow.level,
                    WorkItemRow.labels,
                    WorkItemRow.content_hash,
                    WorkItemRow.components,
                    WorkItemRow.area_path,
                )
            ).one()
        assert tuple(row) == ("PMO-1", "story", ["backend"], "hash at 0012", [], None)
        # The item reloads once under the new hash (HASH_VERSION 7), then stays unchanged.
        store = Store(engine)
        bundle = Records.bundle("1", components=("API",))
        assert store.load_items(source, [bundle], T0 + D) == LoadCounts(updated=1)
        assert store.load_items(source, [bundle], T0 + 2 * D) == LoadCounts(unchanged=1)
    finally:
        engine.dispose()


def test_0013_downgrades_to_0012(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0012")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("work_items")}
        assert {"components", "area_path"} & columns == set()
        assert {"level", "rank", "labels"} <= columns
    finally:
        engine.dispose()
