"""The scripted portfolio (`pmo_sync.sandbox.portfolio`) read back from a store, in the script's
neutral terms, so a test compares one tracker's store with the script's truth (`expected`)
with one `==`, and the parity test compares three trackers' stores with each other.

`read_portfolio` turns stored rows into `PortfolioFacts`: items by label (the tracker's keys
mapped back), dates as day offsets from the portfolio's first day, priorities as 1-4 through
the tracker's own names, dependencies as (blocker, waiting) pairs whatever side of the link
the tracker stores (Jira and Azure DevOps keep it on both items, Trello on the waiting card
only): an `outward` link means the item blocks its target, an `inward` one that it waits on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, select

from pmo_sync.domain import ChangeField, LinkDirection
from pmo_sync.sandbox.portfolio import TEAMS, PortfolioTruth, Team
from pmo_sync.store.models import ItemLinkRow, ItemReleaseRow, ReleaseRow, WorkItemRow
from pmo_sync.store.portfolio import date_history, parent_chain

History = tuple[tuple[int | None, int | None], ...]


@dataclass(frozen=True, slots=True)
class ItemFacts:
    team: str
    level: str | None
    parents: tuple[str, ...]
    """The parent chain as labels, nearest first."""
    start: int | None
    due: int | None
    start_history: History
    due_history: History
    priority: int | None
    releases: frozenset[str]


@dataclass(frozen=True, slots=True)
class PortfolioFacts:
    items: dict[str, ItemFacts]
    links: frozenset[tuple[str, str]]
    """Every dependency between the script's items as (blocker, waiting)."""
    backlog: dict[Team, tuple[str, ...]]
    """Each team's backlog (the truth's to-do items) sorted by the stored rank."""
    releases: dict[str, tuple[int | None, bool]]
    """Release name → (its release date as a day offset, released)."""


def expected(truth: PortfolioTruth) -> PortfolioFacts:
    """What `read_portfolio` must give for a store that holds `truth`."""
    items = {
        label: ItemFacts(
            team=TEAMS[item.team],
            level=item.level,
            parents=tuple(item.ancestors(truth.items)),
            start=item.start,
            due=item.due,
            start_history=item.start_history,
            due_history=item.due_history,
            priority=item.priority,
            releases=item.releases,
        )
        for label, item in truth.items.items()
    }
    return PortfolioFacts(
        items=items,
        links=frozenset(truth.links()),
        backlog={team: truth.backlog_order(team) for team in TEAMS},
        releases={r.name: (r.release_day, r.released is not None) for r in truth.releases},
    )


def read_portfolio(
    engine: Engine,
    source_id: int,
    keys: Mapping[str, str],
    start: date,
    priority_of: Callable[[str | None], int | None],
    truth: PortfolioTruth,
) -> PortfolioFacts:
    """The store's portfolio facts for the script's items (`keys`: label → the tracker's key).

    `priority_of` turns the tracker's stored priority into the script's 1-4; `truth` says
    which items form each team's backlog (their order is what the store's rank gives).
    """
    label_of = {key: label for label, key in keys.items()}

    def offset(value: date | None) -> int | None:
        return None if value is None else (value - start).days

    with engine.connect() as conn:
        rows = {
            row.key: row
            for row in conn.execute(
                select(WorkItemRow).where(
                    WorkItemRow.source_id == source_id, WorkItemRow.key.in_(list(label_of))
                )
            )
        }
        item_releases: dict[str, set[str]] = {}
        for key, name in conn.execute(
            select(WorkItemRow.key, ReleaseRow.name)
            .join(ItemReleaseRow, ItemReleaseRow.item_id == WorkItemRow.id)
            .join(
                ReleaseRow,
                (ReleaseRow.source_id == WorkItemRow.source_id)
                & (ReleaseRow.external_id == ItemReleaseRow.release_external_id),
            )
            .where(WorkItemRow.source_id == source_id)
        ):
            item_releases.setdefault(key, set()).add(name)
        links: set[tuple[str, str]] = set()
        for key, direction, target in conn.execute(
            select(WorkItemRow.key, ItemLinkRow.direction, ItemLinkRow.target_key)
            .join(ItemLinkRow, ItemLinkRow.item_id == WorkItemRow.id)
            .where(WorkItemRow.source_id == source_id)
        ):
            if key in label_of and target in label_of:
                pair = (label_of[key], label_of[target])
                links.add(pair if direction == LinkDirection.OUTWARD.value else pair[::-1])
        releases = {
            row.name: (offset(row.release_date), row.released)
            for row in conn.execute(select(ReleaseRow).where(ReleaseRow.source_id == source_id))
        }

    def history(key: str, field: ChangeField) -> History:
        return tuple(
            (offset(change.from_date), offset(change.to_date))
            for change in date_history(engine, source_id, key)
            if change.field == field
        )

    items: dict[str, ItemFacts] = {}
    for key, row in rows.items():
        label = label_of[key]
        items[label] = ItemFacts(
            team=row.team,
            level=row.level,
            parents=tuple(label_of.get(c.key, c.key) for c in parent_chain(engine, source_id, key)),
            start=offset(row.start_date),
            due=offset(row.due_date),
            start_history=history(key, ChangeField.START_DATE),
            due_history=history(key, ChangeField.DUE_DATE),
            priority=priority_of(row.priority),
            releases=frozenset(item_releases.get(key, ())),
        )
    backlog = {
        team: tuple(
            sorted(
                truth.backlog_order(team),
                key=lambda label: (rows[keys[label]].rank is None, rows[keys[label]].rank or ""),
            )
        )
        for team in TEAMS
    }
    script_releases = {r.name for r in truth.releases}
    return PortfolioFacts(
        items=items,
        links=frozenset(links),
        backlog=backlog,
        releases={name: value for name, value in releases.items() if name in script_releases},
    )
