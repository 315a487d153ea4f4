"""The scripted portfolio (`pmo_sync.sandbox.portfolio`) played into the sandbox Jira.

`JiraPortfolioPlayer` carries each step out through the dataset's mutation API, at the
step's moment on the dataset's clock, as a member of the team whose project holds the item
(never the API user, whose edits are pmo-sync's own write-back and no team's activity).

How the script's terms become Jira's, the way a PMO runs a portfolio on Jira Premium:

- Teams are projects: Alpha is ABC, Beta DEF, Gamma GHI; the connector names each team
  after its project's first scrum board ("Team Alpha", "Team Beta", "Team Gamma"; GHI's
  kanban board "Gamma Flow" does not count), so the store's teams are `TEAMS`.
- Levels are issue types: an initiative is Advanced Roadmaps' "Initiative" (hierarchy level
  2, added to the site by the player, as an admin adds it to a new site), an epic an Epic, a
  story a Story; every child names its parent in `parent`, across projects too (E2's
  stories are in ABC and DEF).
- The theme is a Jira label; the due date is `duedate`; the start date Jira Cloud's
  "Start date" field (a date picker custom field the player makes if the site has none,
  read by the connector's `start_date_field`).
- Priority 1-4 is Highest, High, Medium, Low (`PRIORITY_NAMES`, `priority_of` back).
- Rank: a `Rank` step moves each named item, top first, to the bottom of the backlog in
  turn ("Rank to bottom"), so each gets a new LexoRank string after every rank given so
  far, and the items come out in the order asked.
- Releases are project versions (`RELEASES`): made on the first step with their planned
  date, released (Jira's "Release" with the day it shipped as the release date) when the
  clock passes that day, before the next step or the next sync (`settle`).
- A dependency is a "Blocks" link, the blocker its outward end ("B1 blocks A3").
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.model import User
from pmo_sync.sandbox.portfolio import (
    RELEASES,
    Create,
    Link,
    Move,
    Plan,
    PortfolioRelease,
    Rank,
    SetDates,
    SetPriority,
    Team,
    at,
    day,
)

__all__ = [
    "ISSUE_TYPE",
    "PRIORITY_NAMES",
    "PROJECTS",
    "START_DATE_FIELD",
    "JiraPortfolioPlayer",
    "generated_portfolio_block",
    "lexorank",
    "priority_of",
]

PROJECTS: dict[Team, str] = {"alpha": "ABC", "beta": "DEF", "gamma": "GHI"}
"""Each team's project."""
ISSUE_TYPE = {"initiative": "Initiative", "epic": "Epic", "story": "Story"}
PRIORITY_NAMES = {1: "Highest", 2: "High", 3: "Medium", 4: "Low"}
START_DATE_FIELD = "Start date"
"""Jira Cloud's start date field, by the name an admin gives `start_date_field`."""
_PRIORITY_OF = {name: number for number, name in PRIORITY_NAMES.items()}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_FIRST_RANK = int("i00000", 36)  # where a new site's LexoRanks start (`0|i00000:`)
_RANK_STEP = 8


def generated_portfolio_block(dataset: JiraDataset) -> dict[str, Any]:
    """The connector file's `portfolio:` block for a generated site: none is needed, so an
    empty dict. Jira keeps every fact of the generated portfolio where the connector reads
    it by default: the epics' themes as components (portfolio.yaml matches them with
    `components: [Growth]`), due dates in `duedate`, ranks in Rank, releases as versions with
    their release dates, dependencies as "Blocks" links (the default link type)."""
    del dataset  # the same for every generated site
    return {}


def priority_of(stored: str | None) -> int | None:
    """The script's 1-4 for a stored Jira priority name (None: none, or a name the script
    does not use, such as Lowest)."""
    return None if stored is None else _PRIORITY_OF.get(stored)


def lexorank(n: int) -> str:
    """The `n`-th rank handed out (0 first): a LexoRank string in bucket 0, six base-36
    digits and the `:` separator (`0|i00008:`), so later ranks sort after earlier ones."""
    value = _FIRST_RANK + _RANK_STEP * (n + 1)
    digits = ""
    while value:
        value, rest = divmod(value, 36)
        digits = _DIGITS[rest] + digits
    return f"0|{digits:0>6}:"


class JiraPortfolioPlayer:
    """A `PortfolioPlayer` on a `JiraDataset` generated at or before `start` (the first
    day's 00:00); `keys` maps the script's labels to the issues' keys."""

    def __init__(self, data: JiraDataset, start: datetime) -> None:
        self.data = data
        self.start = start
        self.keys: dict[str, str] = {}
        self.teams: dict[str, Team] = {}
        self.releases: dict[str, str] = {}  # release name → version id
        self._released: set[str] = set()
        self._ranks_given = 0
        if "Initiative" not in data.issue_type_scheme:
            data.add_hierarchy_level("Initiative")
        found = next((f for f in data.custom_fields if f.name == START_DATE_FIELD), None)
        self.start_field = found.id if found else data.create_custom_field(START_DATE_FIELD, "date")

    # -- the clock, the people and the releases -----------------------------------------

    def person(self, team: Team) -> User:
        """Who edits the team's items: its project lead, a team member."""
        return self.data.teams[PROJECTS[team]][0]

    def _when(self, release: PortfolioRelease) -> datetime | None:
        return None if release.released is None else self.start + at(release.released)

    def settle(self, until: datetime) -> None:
        """Make the releases (on the first call) and release those shipped by `until`, each
        at its day's 09:00 on the clock, as the team's release manager would."""
        if not self.releases:
            self.data.clock.set(max(self.data.clock.now, self.start + at(0)))
            for release in RELEASES:
                version = self.data.add_version(
                    PROJECTS[release.team],
                    release.name,
                    release_date=day(self.start.date(), release.planned),
                )
                self.releases[release.name] = version.id
        for release in RELEASES:
            moment = self._when(release)
            if moment is None or moment > until or release.name in self._released:
                continue
            assert release.released is not None
            self.data.clock.set(max(self.data.clock.now, moment))
            self.data.release_version(
                self.releases[release.name],
                release_date=day(self.start.date(), release.released),
            )
            self._released.add(release.name)

    def _at(self, when: datetime) -> None:
        self.settle(when)
        self.data.clock.set(when)

    def _by(self, label: str) -> User:
        return self.person(self.teams[label])

    def _day(self, offset: int) -> date:
        return day(self.start.date(), offset)

    # -- the steps ---------------------------------------------------------------------

    def create(self, when: datetime, step: Create) -> None:
        self._at(when)
        issue = self.data.create_issue(
            PROJECTS[step.team],
            step.title,
            issue_type=ISSUE_TYPE[step.level],
            labels=[step.theme_label] if step.theme_label else [],
            parent_key=self.keys[step.parent] if step.parent else None,
        )
        self.keys[step.label] = issue.key
        self.teams[step.label] = step.team

    def set_dates(self, when: datetime, step: SetDates) -> None:
        self._at(when)
        key, by = self.keys[step.label], self._by(step.label)
        if step.start is not None:
            self.data.set_field(key, self.start_field, self._day(step.start), author=by)
        if step.due is not None:
            self.data.set_due_date(key, self._day(step.due), author=by)

    def set_priority(self, when: datetime, step: SetPriority) -> None:
        self._at(when)
        name = PRIORITY_NAMES[step.priority]
        self.data.set_priority(self.keys[step.label], name, author=self._by(step.label))

    def rank(self, when: datetime, step: Rank) -> None:
        self._at(when)
        for label in step.order:
            rank = lexorank(self._ranks_given)
            self._ranks_given += 1
            self.data.set_rank(self.keys[label], rank, author=self.person(step.team))

    def move(self, when: datetime, step: Move) -> None:
        self._at(when)
        self.data.transition(self.keys[step.label], step.stage, author=self._by(step.label))

    def link(self, when: datetime, step: Link) -> None:
        self._at(when)
        blocker, waiting = self.keys[step.blocker], self.keys[step.waiting]
        self.data.link(blocker, waiting, "Blocks", author=self._by(step.blocker))

    def plan(self, when: datetime, step: Plan) -> None:
        self._at(when)
        versions = [self.releases[name] for name in step.releases]
        self.data.set_fix_versions(self.keys[step.label], versions, author=self._by(step.label))
