"""Each team's delivery method: `scrum`, `kanban` or `traditional`. Pure.

The tracker says scrum or kanban where it can (a Jira scrum board, an Azure DevOps team
with iterations, a Trello board with sprints: `pmo_sync.domain.TeamRecord`, stored in
`teams`); no tracker says `traditional` (dated work and milestones, no sprints), so
portfolio.yaml's `delivery:` names those teams, and corrects any team whose board says
otherwise than it works. A team neither describes has no board that runs sprints: kanban.

`delivery:` is applied when the teams are read, not when they are synced, so editing it
takes effect at once. Its team names are the trackers' (`Team Alpha`), compared ignoring
case, and name that team in every source that has one.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from pmo_sync.portfolio.config import DeliveryMethod

__all__ = ["TeamDelivery", "delivery_method", "delivery_notices", "team_deliveries"]

SaidBy = Literal["portfolio.yaml", "tracker", "default"]
_TRACKER_METHODS: dict[str, DeliveryMethod] = {"scrum": "scrum", "kanban": "kanban"}


@dataclass(frozen=True, slots=True)
class TeamDelivery:
    """A source's team, its delivery method, and what said it."""

    source: str
    team: str
    method: DeliveryMethod
    said_by: SaidBy


def delivery_method(
    team: str, tracker_method: str | None, overrides: Mapping[str, DeliveryMethod]
) -> tuple[DeliveryMethod, SaidBy]:
    """portfolio.yaml's method for `team` (any case), else the tracker's, else kanban."""
    folded = team.casefold()
    for name, method in overrides.items():
        if name.casefold() == folded:
            return method, "portfolio.yaml"
    known = _TRACKER_METHODS.get(tracker_method or "")
    if known is not None:
        return known, "tracker"
    return "kanban", "default"


def team_deliveries(
    teams: Iterable[tuple[str, str, str | None]], overrides: Mapping[str, DeliveryMethod]
) -> list[TeamDelivery]:
    """(source, team, the tracker's method) → each team's delivery, in the order given."""
    return [
        TeamDelivery(source, team, *delivery_method(team, method, overrides))
        for source, team, method in teams
    ]


def delivery_notices(
    overrides: Mapping[str, DeliveryMethod], synced: Collection[str]
) -> Iterator[str]:
    """A `delivery:` name that matches no synced team (any case), with the closest one: a
    warning, not an error, since the team may not have synced yet."""
    folded = {name.casefold(): name for name in synced}
    for name in overrides:
        if name.casefold() in folded:
            continue
        where = f"portfolio.yaml: delivery.{name}: no synced team '{name}'"
        close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.0)
        yield f"{where} (closest: '{folded[close[0]]}')" if close else f"{where} (none synced)"
