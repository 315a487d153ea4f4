"""Export work items with their status transitions as JSON Lines or CSV.

The export is what analysts load into a notebook or a spreadsheet, so it is
one flat record per item with the history folded in, timestamps as ISO 8601
UTC with a ``Z`` suffix, and sprints by name wherever the sprint is known.
Each record carries what a person needs to find the item: its source, key,
title, team and URL. Items come in the order people count them: by source,
then project, then number (`ACME-41` before `ACME-101`). Only the keys are
held to sort them; the items stream page by page, so memory stays small
however big the store is.

The portfolio facts (docs/portfolio-facts.md) follow the original columns, so a
spreadsheet built on the older export keeps its column positions: the level, the
parent's key, priority and rank, the four dates as ISO days (``2024-03-15``), the
releases by name, and the item's own links as ``<phrase>:<target key>``
(``blocks:PMO-2``). In CSV, releases and links are joined by ``;`` like sprints.

After them, what a strategic theme matches and the theme itself: Jira's components, the
Azure DevOps area path, the parent chain (the stored ancestors' keys, nearest first, as
`pmo_sync.store.portfolio.parent_chain` walks it) and the theme portfolio.yaml gives the
item (`pmo_sync.portfolio.themes.theme_of`; none when unaligned or without themes). The
chain and the theme need every ancestor, which may sit in another team or page: the
export reads the selected sources' ancestry index once (`portfolio_items`: keys, parents
and the facts themes match, no history or text) and walks it per item, so memory is that
index's, not the items'. Last comes `delivery`, the item's team's delivery method
(`scrum`, `kanban` or `traditional`: the tracker's board, portfolio.yaml's `delivery:` over
it; `pmo_sync.portfolio.delivery`), empty for an item without a team.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal, TextIO

from pmo_sync.common.naturalsort import natural_key
from pmo_sync.portfolio.config import DeliveryMethod, ThemeConfig
from pmo_sync.portfolio.delivery import team_deliveries
from pmo_sync.portfolio.items import ItemRef, PortfolioItem
from pmo_sync.portfolio.stored import portfolio_items
from pmo_sync.portfolio.themes import ancestry, theme_of
from pmo_sync.store.reads import iter_stored_items_by_id, live_item_keys
from pmo_sync.store.repository import Store
from pmo_sync.store.results import StoredItem
from pmo_sync.store.teams import stored_teams

__all__ = ["EXPORT_FIELDS", "ExportFormat", "ancestry_index", "export_items", "item_record"]

ExportFormat = Literal["jsonl", "csv"]

EXPORT_FIELDS = (
    "source",
    "key",
    "title",
    "team",
    "type",
    "status",
    "stage",
    "created",
    "resolved",
    "estimate",
    "sprints",
    "transitions",
    "url",
    "level",
    "parent",
    "priority",
    "rank",
    "start_date",
    "due_date",
    "target_start",
    "target_end",
    "releases",
    "links",
    "components",
    "area_path",
    "parent_chain",
    "theme",
    "delivery",
)
_PAGE = 1000
_JOINED = ("sprints", "releases", "links", "components", "parent_chain")
"""The list columns CSV joins by ``;``."""


def export_items(
    store: Store,
    out: TextIO,
    fmt: ExportFormat,
    source_names: Iterable[str] | None = None,
    team: str | None = None,
    themes: Sequence[ThemeConfig] = (),
    delivery: Mapping[str, DeliveryMethod] | None = None,
) -> int:
    """Write every live item (of `source_names` and `team`, default all) to `out`; the count.

    `delivery` is portfolio.yaml's `delivery:` (team name → method) over what the trackers
    say of each team.

    JSONL: one JSON object per line. CSV: a header, then one row per item,
    with `sprints` (and the other lists) joined by ``;`` and `transitions` as a JSON
    string; open the file with ``newline=""``. Unknown source names raise ValueError
    before anything is written, so a typo never yields a silently empty file. `themes`
    are portfolio.yaml's, in its order (none: every item unaligned).
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
    source_ids = _source_ids(store, source_names)
    # Every item of the sources, the team's or not: an ancestor may be another team's.
    index = ancestry_index(portfolio_items(store.engine, source_ids))
    items = _in_natural_order(store, source_ids, team)
    methods = {
        (t.source, t.team): t.method
        for t in team_deliveries(
            ((t.source, t.name, t.method) for t in stored_teams(store.engine)), delivery or {}
        )
    }

    count = 0
    if fmt == "jsonl":
        for item in items:
            out.write(_json(_record(item, index, themes, methods)) + "\n")
            count += 1
        return count

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for item in items:
        record = _record(item, index, themes, methods)
        for field in _JOINED:
            record[field] = ";".join(record[field])
        record["transitions"] = _json(record["transitions"])
        writer.writerow(["" if record[f] is None else record[f] for f in EXPORT_FIELDS])
        count += 1
    return count


def _in_natural_order(
    store: Store, source_ids: list[int] | None, team: str | None
) -> Iterator[StoredItem]:
    keys = live_item_keys(store.engine, source_ids, team)
    keys.sort(key=lambda k: (k[1], natural_key(k[2])))
    return iter_stored_items_by_id(store.engine, [item_id for item_id, _, _ in keys], _PAGE)


def ancestry_index(items: Iterable[PortfolioItem]) -> dict[ItemRef, PortfolioItem]:
    """Items by (source, key); should a key repeat in a source, the first (as
    `portfolio_items` orders them, by store id) stands for it, as in `parent_chain`."""
    index: dict[ItemRef, PortfolioItem] = {}
    for item in items:
        index.setdefault(item.ref, item)
    return index


def _record(
    item: StoredItem,
    index: Mapping[ItemRef, PortfolioItem],
    themes: Sequence[ThemeConfig],
    methods: Mapping[tuple[str, str], str],
) -> dict[str, Any]:
    delivery = methods.get((item.source, item.team or ""))
    node = index.get((item.source, item.key))
    if node is None:  # stored after the index was read (a sync ran meanwhile): no chain known
        return item_record(item, delivery=delivery)
    chain = [ancestor.key for ancestor in ancestry(node, index)[1:]]
    theme = theme_of(node, index, themes)
    return item_record(item, chain, None if theme is None else theme.name, delivery)


def item_record(
    item: StoredItem,
    parent_chain: Sequence[str] = (),
    theme: str | None = None,
    delivery: str | None = None,
) -> dict[str, Any]:
    """The export record of one item, JSON-ready, with its parent chain, theme and its
    team's delivery method as the caller worked them out.

    Transitions use the status names people see (the tracker's display
    value), falling back to the raw value when the tracker gave no name; a
    release not stored (yet) is given by its external id, as a sprint is.
    """
    return {
        "source": item.source,
        "key": item.key,
        "title": item.title,
        "team": item.team,
        "type": item.item_type,
        "status": item.status,
        "stage": item.stage,
        "created": iso_utc(item.created),
        "resolved": iso_utc(item.resolved),
        "estimate": item.estimate,
        "sprints": [s.name if s.name is not None else s.external_id for s in item.sprints],
        "transitions": [
            {"at": iso_utc(c.at), "from": c.from_name, "to": c.to_name} for c in item.status_changes
        ],
        "url": item.url,
        "level": item.level,
        "parent": item.parent_key,
        "priority": item.priority,
        "rank": item.rank,
        "start_date": _iso_day(item.start_date),
        "due_date": _iso_day(item.due_date),
        "target_start": _iso_day(item.target_start),
        "target_end": _iso_day(item.target_end),
        "releases": [r.name if r.name is not None else r.external_id for r in item.releases],
        "links": [f"{link.link_type}:{link.target_key}" for link in item.links],
        "components": list(item.components),
        "area_path": item.area_path,
        "parent_chain": list(parent_chain),
        "theme": theme,
        "delivery": delivery,
    }


def _iso_day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, which every tool parses as UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _source_ids(store: Store, source_names: Iterable[str] | None) -> list[int] | None:
    if source_names is None:
        return None
    names = list(source_names)
    by_name = {s.name: s.id for s in store.sources()}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise ValueError(f"unknown source(s): {', '.join(unknown)}")
    return [by_name[name] for name in names]
