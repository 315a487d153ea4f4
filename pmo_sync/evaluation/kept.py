"""What a long-running service keeps between KPI refreshes, so a refresh reads what changed.

A refresh needs every live item's history and details. Reading them is half of a refresh at
100,000 items (a query per page for the items, their changes and their sprint stays, and the
conversion of every row), though between two service cycles a handful changed. `KeptInputs`
holds what the last refresh read, keyed by item id with the item's content hash and its
`updated` stamp: the next refresh reads those three columns of every live item (one narrow
query), reads in full only the items whose hash or stamp moved or that are new, drops those
gone, and hands the KPI engine the same list, in the same id order, a full read gives.

Why the hash and the stamp are enough: the content hash (`pmo_sync.store.canonical`) covers
every column, change, sprint stay, link and release of an item but the two bookkeeping columns
every write moves (`updated`, `revision`); the refresh reads `updated` (the governance rules'
"last touched") and never `revision`. What an item's history is also depends on what is not
in its row: the team it is shown as (kpis.yaml's `teams:` and the synced team pairs) and its
source's name. Those are the kept inputs' basis; when it moves, everything is read again.

The store stays the truth: a process that keeps nothing (a CLI command) reads everything, and
a service that restarts starts empty. Only one refresh at a time may use a `KeptInputs` (the
service runs its cycles one after another).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from pmo_sync.evaluation.inputs import (
    ItemDetails,
    TeamOf,
    iter_item_inputs,
    iter_item_rows,
    read_item_stamps,
)
from pmo_sync.kpi.compute import RunMemo
from pmo_sync.kpi.items import ItemMetrics
from pmo_sync.kpi.model import ItemHistory
from pmo_sync.store.kpis import KeptValues
from pmo_sync.store.models import SourceRow

__all__ = ["InputsRead", "KeptInputs", "KeptState", "read_inputs"]

Inputs = list[tuple[ItemHistory, ItemDetails | None]]


@dataclass(frozen=True, slots=True)
class _Kept:
    content_hash: str
    updated: datetime
    history: ItemHistory
    details: ItemDetails | None


@dataclass(frozen=True, slots=True)
class _Basis:
    """What an item's history is made of beyond its row: its team as shown, its source's name."""

    teams: frozenset[tuple[tuple[str, str], str]]
    sources: frozenset[tuple[int, str]]


@dataclass(slots=True)
class KeptInputs:
    """The item inputs the last refresh read (see the module docstring); empty at first."""

    items: dict[int, _Kept] = field(default_factory=dict)
    basis: _Basis | None = None
    details: bool = False
    """Whether the kept inputs carry details (a refresh without rules reads none)."""

    def clear(self) -> None:
        self.items = {}
        self.basis = None


@dataclass(slots=True)
class KeptState:
    """Everything a service keeps between its refreshes (one per store, used under the
    service's KPI lock)."""

    inputs: KeptInputs = field(default_factory=KeptInputs)
    run: RunMemo = field(default_factory=RunMemo)
    """Each item's flow metrics and each settled sprint's, taken again where nothing they
    depend on changed (`kpi.compute.RunMemo`)."""
    values: KeptValues = field(default_factory=KeptValues)
    """A digest per scope of the values last saved: only moved scopes are read and written
    (`store.kpis.KeptValues`)."""
    saved_items: dict[str, ItemMetrics] = field(default_factory=dict)
    """Each item's metrics as last saved, by scope key: the very same metrics object again
    means the same values, which the next save need not even build."""


@dataclass(frozen=True, slots=True)
class InputsRead:
    """The inputs in id order, and how many were read from the store rather than kept."""

    inputs: Inputs
    read: int
    kept: int


def _source_names(engine: Engine) -> frozenset[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(SourceRow.__table__.c.id, SourceRow.__table__.c.name))
        return frozenset((int(row[0]), str(row[1])) for row in rows)


def read_inputs(
    engine: Engine,
    kept: KeptInputs | None,
    *,
    details: bool,
    team_of: TeamOf,
    shown: Mapping[tuple[str, str], str],
) -> InputsRead:
    """Every live item's history (and details), as `iter_item_inputs` reads them, reading from
    the store only what `kept` does not hold as it is now; `kept` is brought up to date.

    `shown` is the team identities' mapping `team_of` applies (`TeamIdentities.shown`)."""
    if kept is None:
        everything = list(iter_item_inputs(engine, details=details, team_of=team_of))
        return InputsRead(everything, len(everything), 0)
    basis = _Basis(frozenset(shown.items()), _source_names(engine))
    if kept.basis != basis or (details and not kept.details):
        kept.clear()
    stamps = read_item_stamps(engine)
    previous = kept.items
    stale = [
        item_id
        for item_id, content_hash, updated in stamps
        if (old := previous.get(item_id)) is None
        or old.content_hash != content_hash
        or old.updated != updated
    ]
    fresh = {
        item_id: (history, item_details)
        for item_id, history, item_details in iter_item_rows(
            engine, details=details, team_of=team_of, ids=stale
        )
    }
    stale_ids = set(stale)
    items: dict[int, _Kept] = {}
    inputs: Inputs = []
    for item_id, content_hash, updated in stamps:
        pair = fresh.get(item_id)
        if pair is not None:
            # read after the stamps: should it have moved meanwhile, its hash tells next time
            entry = _Kept(content_hash, updated, *pair)
        elif item_id in stale_ids:
            continue  # deleted or archived since the stamps were read
        else:
            entry = previous[item_id]
        items[item_id] = entry
        inputs.append((entry.history, entry.details))
    kept.items = items
    kept.basis = basis
    kept.details = details
    return InputsRead(inputs, len(fresh), len(inputs) - len(fresh))
