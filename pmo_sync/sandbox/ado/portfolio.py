"""The scripted portfolio (`pmo_sync.sandbox.portfolio`) played into the Azure DevOps sandbox.

`AdoPortfolioPlayer` carries each step out with the dataset's mutation API, as the team's
people edit work items in Azure Boards: one revision per save, at the step's moment on the
dataset's clock, by a member of the item's team (never the PAT's identity, whose edits are
pmo-sync's own). An Agile project as a PMO runs it:

- Levels: the script's initiative is an Epic, its epic a Feature, its story a User Story
  (Epic → Feature → User Story, the Agile process's backlog levels); the parent is
  `System.Parent`.
- Teams: each team's items are in its area path (`Fabrikam\\Team Alpha`); Gamma, run as a
  traditional project, keeps its milestones out of every sprint (the iteration is the
  project's root) and dates them.
- Dates: `start` is Start Date, `due` is Target Date, the date promised (the fields the Epic
  and Feature forms carry and Delivery Plans draw; Finish Date is Microsoft Project's). A
  day is saved as its midnight UTC, as a user in a UTC organisation picks it.
- Priority: `Microsoft.VSTS.Common.Priority` 1-4. The project's process gives Priority no
  default, so an item nobody prioritised has none (the sandbox's creation default, 2, is
  cleared when the item is created): with the default, "not prioritised" and "priority 2"
  would read the same.
- Rank: Stack Rank; ranking a backlog gives each of its items the value of its place
  (1000, 2000, ...), one save per item whose place changed.
- Themes and releases: tags. The theme's label is a tag; a release is a tag `Release
  {name}` (the connector's `releases: {tag: "Release {name}"}`); Azure DevOps has no
  release object, so `RELEASES`' dates are the connector's config (`release_config`).
- Dependencies: `System.LinkTypes.Dependency`: the blocker's Successor link to the waiting
  item and the waiting item's Predecessor link back, as the service keeps both ends (a
  revision on each item).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pmo_sync.sandbox.ado.generator import RELEASE_TAG as GENERATED_RELEASE_TAG
from pmo_sync.sandbox.ado.generator import AdoDataset, Person
from pmo_sync.sandbox.ado.teamwork import THEMES
from pmo_sync.sandbox.portfolio import (
    RELEASES,
    TEAMS,
    Create,
    Link,
    Move,
    Plan,
    Rank,
    SetDates,
    SetPriority,
    Team,
    day,
)

__all__ = [
    "GENERATED_LEVELS",
    "LEVEL_TYPE",
    "RELEASE_TAG",
    "AdoPortfolioPlayer",
    "generated_portfolio_block",
    "generated_themes",
    "priority_of",
    "release_config",
]

LEVEL_TYPE = {"initiative": "Epic", "epic": "Feature", "story": "User Story"}
"""The script's level → the Agile work item type that holds it."""
STATE = {"To Do": "New", "In Progress": "Active", "Done": "Closed"}
RELEASE_TAG = "Release {name}"
START_DATE = "Microsoft.VSTS.Scheduling.StartDate"
TARGET_DATE = "Microsoft.VSTS.Scheduling.TargetDate"
PRIORITY = "Microsoft.VSTS.Common.Priority"
STACK_RANK = "Microsoft.VSTS.Common.StackRank"
RANK_STEP = 1000.0
SUCCESSOR = "System.LinkTypes.Dependency-Forward"
PREDECESSOR = "System.LinkTypes.Dependency-Reverse"


def priority_of(stored: str | None) -> int | None:
    """The store's priority (`Microsoft.VSTS.Common.Priority` as text) as the script's 1-4."""
    if stored is None or stored.strip() not in ("1", "2", "3", "4"):
        return None
    return int(stored.strip())


def release_config(start: date) -> dict[str, Any]:
    """The connector's `releases:` for the script's releases (the tracker holds no dates):
    planned, and released once shipped, as a PMO writes them in the connector's YAML."""
    dates: dict[str, dict[str, str]] = {}
    for release in RELEASES:
        dated = {"planned": day(start, release.planned).isoformat()}
        if release.released is not None:
            dated["released"] = day(start, release.released).isoformat()
        dates[release.name] = dated
    return {"tag": RELEASE_TAG, "dates": dates}


GENERATED_LEVELS = {"Epic": "initiative", "Feature": "epic"}
"""The generated organisation's levels, as the scripted portfolio's: Epics are initiatives above
the requests, Features the requests (`teamwork.py`)."""


def generated_portfolio_block(dataset: AdoDataset) -> dict[str, Any]:
    """The connector file's keys a generated organisation's portfolio needs (`teamwork.py`): the
    levels (Epic an initiative, Feature the request) and the releases, named by the tag
    `Release {name}` and dated here, since Azure DevOps keeps no release dates. Dependency links
    are read by default; themes are portfolio.yaml's (`generated_themes`, docs/sandbox-ado.md)."""
    dates: dict[str, dict[str, str]] = {}
    for release in dataset.teamwork.releases:
        dated = {"planned": release.planned.isoformat()}
        if release.released is not None:
            dated["released"] = release.released.isoformat()
        dates[release.name] = dated
    releases: dict[str, Any] = {"tag": GENERATED_RELEASE_TAG, "dates": dates}
    return {"levels": dict(GENERATED_LEVELS), "releases": releases} if dates else {}


def generated_themes(dataset: AdoDataset) -> list[dict[str, Any]]:
    """portfolio.yaml's `themes:` entries for a generated organisation: each theme is an area
    under the project (`Fabrikam\\Growth`), each team owning its part of it
    (`Fabrikam\\Growth\\Phoenix`)."""
    project = dataset.project.name
    return [{"name": theme, "match": {"area_paths": [f"{project}\\{theme}"]}} for theme in THEMES]


def _picked(start: date, offset: int) -> str:
    """A day as Azure DevOps saves a date picked in a UTC organisation: its midnight."""
    return f"{day(start, offset).isoformat()}T00:00:00Z"


class AdoPortfolioPlayer:
    """Plays the script's steps into `dataset` (`pmo_sync.sandbox.portfolio.play`).

    `keys`: label → the work item's id as text (the store's `work_items.key`); `ids` the same
    as numbers. `start` is the portfolio's first day (a step's day offsets count from it)."""

    def __init__(self, dataset: AdoDataset, start: date) -> None:
        self.data = dataset
        self.start = start
        self.ids: dict[str, int] = {}
        self.keys: dict[str, str] = {}
        self._team: dict[str, Team] = {}
        self._theme: dict[str, str] = {}
        self._releases: dict[str, tuple[str, ...]] = {}

    def _member(self, team: Team) -> Person:
        found = self.data.team(TEAMS[team])
        if found is None or not found.members:
            raise ValueError(f"the sandbox has no team {TEAMS[team]!r} with members")
        return found.members[0]

    def _save(self, when: datetime, label: str, changes: dict[str, Any]) -> None:
        self.data.clock.set(when)
        self.data.update(self.ids[label], changes, by=self._member(self._team[label]))

    def _tags(self, label: str) -> str | None:
        tags = [self._theme[label]] if label in self._theme else []
        tags += [RELEASE_TAG.format(name=name) for name in self._releases.get(label, ())]
        return "; ".join(tags) or None

    def create(self, when: datetime, step: Create) -> None:
        self.data.clock.set(when)
        fields: dict[str, Any] = {PRIORITY: None}  # the process has no default (above)
        if step.parent is not None:
            fields["System.Parent"] = self.ids[step.parent]
        if step.theme_label is not None:
            self._theme[step.label] = step.theme_label
            fields["System.Tags"] = step.theme_label
        item = self.data.create(
            LEVEL_TYPE[step.level],
            step.title,
            team=TEAMS[step.team],
            fields=fields,
            by=self._member(step.team),
        )
        self.ids[step.label] = item.id
        self.keys[step.label] = str(item.id)
        self._team[step.label] = step.team

    def set_dates(self, when: datetime, step: SetDates) -> None:
        changes: dict[str, Any] = {}
        if step.start is not None:
            changes[START_DATE] = _picked(self.start, step.start)
        if step.due is not None:
            changes[TARGET_DATE] = _picked(self.start, step.due)
        self._save(when, step.label, changes)

    def set_priority(self, when: datetime, step: SetPriority) -> None:
        self._save(when, step.label, {PRIORITY: step.priority})

    def rank(self, when: datetime, step: Rank) -> None:
        for place, label in enumerate(step.order, start=1):
            self._save(when, label, {STACK_RANK: place * RANK_STEP})

    def move(self, when: datetime, step: Move) -> None:
        self._save(when, step.label, {"System.State": STATE[step.stage]})

    def link(self, when: datetime, step: Link) -> None:
        self.data.clock.set(when)
        by = self._member(self._team[step.waiting])
        blocker, waiting = self.ids[step.blocker], self.ids[step.waiting]
        self.data.link(blocker, SUCCESSOR, waiting, by=by)
        self.data.link(waiting, PREDECESSOR, blocker, by=by)

    def plan(self, when: datetime, step: Plan) -> None:
        self._releases[step.label] = step.releases
        self._save(when, step.label, {"System.Tags": self._tags(step.label)})
