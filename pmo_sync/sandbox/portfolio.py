"""One scripted portfolio, tracker-neutral, with the ground truth of every fact it creates.

The sandboxes' generated datasets hold teams' flow; a PMO's portfolio needs more: initiatives
under strategic themes, epics whose stories span teams, due dates that move later, releases
shipped on time and late, dependencies across teams (one blocked by work not yet started), a
rank order per team's backlog, priorities, and one team run as a traditional project (dated
work, milestones, no sprints). This module writes that portfolio once, as steps on a clock
(`STEPS`), in two acts: `ACT_ONE` happens before a first (full) sync, `ACT_TWO` between it and
an incremental sync. Each tracker carries a step out through its sandbox dataset's mutation
API (a `PortfolioPlayer`: `pmo_sync.sandbox.{jira,ado,trello}.portfolio`), and `truth` says
what the store must hold after any prefix of the steps, item by item, in the same neutral
terms (labels for items, days for dates, 1-4 for priority), so one test compares the store
with the truth for each tracker and the parity test compares the three.

Why steps and not a finished state: dates are kept with their history (a slip is a change of
the due date), and an incremental sync must see exactly what changed after its bookmark. Each
step has its moment (`at`, whole minutes after the portfolio's first day), so the players
advance the sandbox's clock to it before making the edit, as a person would.

The portfolio (days are offsets from the first day, a Monday):

- Themes: initiative `I1` "Grow checkout conversion" (label `growth`) and `I2` "Keep the
  platform reliable" (label `reliability`).
- Epics: `E1` (Alpha) and `E2` (its stories in Alpha *and* Beta) under `I1`; `E3` (Beta) and
  `E4` (Gamma, the traditional project) under `I2`.
- Stories: `A1`..`A4` (Alpha), `B1`..`B4` (Beta), `G1`..`G3` (Gamma's milestones); act two
  adds `A5`.
- Due dates: `E1` slips twice in act one (day 40 → 47 → 54) and once more in act two (→ 61);
  `E3` slips in act two (45 → 60); Gamma's milestones carry start and due dates, `G1` slips.
- Releases: `2030.1` (Alpha) planned day 20, released day 19 (early); `2030.2` (Beta)
  planned day 25, released day 31 (late); `2030.3` (Alpha) planned day 60, not released.
- Dependencies: `B1` blocks `A3` (across teams; `A3` is in progress while `B1` has not
  started), `G1` blocks `B2` (a project's milestone holds a Scrum team), `A1` blocks `A2`
  (within Alpha, resolved: `A1` is done); act two adds `G2` blocks `B4`.
- Rank: each team's items in an order; what is compared is the order of the items still to do
  (the backlog), since a tracker that ranks by place on the board (Trello) re-places a card
  that moves to another list. Act two re-orders Alpha's and Beta's backlogs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

__all__ = [
    "ACT_ONE",
    "ACT_TWO",
    "ALL_STEPS",
    "LEVELS",
    "RELEASES",
    "TEAMS",
    "ItemTruth",
    "PortfolioPlayer",
    "PortfolioRelease",
    "PortfolioTruth",
    "at",
    "day",
    "play",
    "truth",
]

Team = Literal["alpha", "beta", "gamma"]
Level = Literal["initiative", "epic", "story"]
Stage = Literal["To Do", "In Progress", "Done"]

TEAMS: dict[Team, str] = {"alpha": "Team Alpha", "beta": "Team Beta", "gamma": "Team Gamma"}
"""The script's teams and the name each tracker gives its team (board, area, project)."""
DELIVERY: dict[Team, str] = {"alpha": "scrum", "beta": "scrum", "gamma": "traditional"}
"""How each team works: Gamma is a traditional project (dated milestones, no sprints)."""
LEVELS: tuple[Level, ...] = ("initiative", "epic", "story")


def at(offset_day: int, minute: int = 0) -> timedelta:
    """A step's moment: 09:00 on day `offset_day` of the portfolio, plus `minute` minutes."""
    return timedelta(days=offset_day, hours=9, minutes=minute)


def day(start: date, offset_day: int) -> date:
    """The calendar day `offset_day` days after the portfolio's first day."""
    return start + timedelta(days=offset_day)


@dataclass(frozen=True, slots=True)
class PortfolioRelease:
    """A release: its team's project plans it; dates are day offsets (`released` None: not
    yet). A tracker with versions keeps one date, the release date, which is the day it
    shipped once released and the planned day before."""

    name: str
    team: Team
    planned: int
    released: int | None

    @property
    def release_day(self) -> int:
        return self.released if self.released is not None else self.planned


RELEASES: tuple[PortfolioRelease, ...] = (
    PortfolioRelease("2030.1", "alpha", planned=20, released=19),
    PortfolioRelease("2030.2", "beta", planned=25, released=31),
    PortfolioRelease("2030.3", "alpha", planned=60, released=None),
)


# -- the steps -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Create:
    at: timedelta
    label: str
    team: Team
    level: Level
    title: str
    parent: str | None = None
    theme_label: str | None = None
    """A label (Jira label, Azure DevOps tag, Trello label) naming the item's theme."""


@dataclass(frozen=True, slots=True)
class SetDates:
    """Set the start and/or due day (offsets); a field not given is left as it is."""

    at: timedelta
    label: str
    start: int | None = None
    due: int | None = None


@dataclass(frozen=True, slots=True)
class SetPriority:
    at: timedelta
    label: str
    priority: int
    """1 (highest) to 4 (lowest): each tracker names it its own way."""


@dataclass(frozen=True, slots=True)
class Rank:
    """The team's backlog order, top first: every item of the team is ranked anew."""

    at: timedelta
    team: Team
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Move:
    at: timedelta
    label: str
    stage: Stage


@dataclass(frozen=True, slots=True)
class Link:
    """`blocker` must be done before `waiting` can be."""

    at: timedelta
    blocker: str
    waiting: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The item is in these releases (names), replacing what it was in."""

    at: timedelta
    label: str
    releases: tuple[str, ...]


Step = Create | SetDates | SetPriority | Rank | Move | Link | Plan


class PortfolioPlayer(Protocol):
    """Carries a step out in one tracker's sandbox, at `start + step.at` on its clock."""

    def create(self, when: datetime, step: Create) -> None: ...
    def set_dates(self, when: datetime, step: SetDates) -> None: ...
    def set_priority(self, when: datetime, step: SetPriority) -> None: ...
    def rank(self, when: datetime, step: Rank) -> None: ...
    def move(self, when: datetime, step: Move) -> None: ...
    def link(self, when: datetime, step: Link) -> None: ...
    def plan(self, when: datetime, step: Plan) -> None: ...


ACT_ONE: tuple[Step, ...] = (
    # Day 0: the initiatives, their epics and the stories, written by the PMO and the teams.
    Create(at(0, 0), "I1", "alpha", "initiative", "Grow checkout conversion", theme_label="growth"),
    Create(
        at(0, 1),
        "I2",
        "beta",
        "initiative",
        "Keep the platform reliable",
        theme_label="reliability",
    ),
    Create(at(0, 2), "E1", "alpha", "epic", "One-page checkout", parent="I1"),
    Create(at(0, 3), "E2", "beta", "epic", "Saved payment methods", parent="I1"),
    Create(at(0, 4), "E3", "beta", "epic", "Zero-downtime deploys", parent="I2"),
    Create(at(0, 5), "E4", "gamma", "epic", "Move to the new data centre", parent="I2"),
    Create(at(0, 10), "A1", "alpha", "story", "Address form on one page", parent="E1"),
    Create(at(0, 11), "A2", "alpha", "story", "Pay without leaving the page", parent="E1"),
    Create(at(0, 12), "A3", "alpha", "story", "Offer saved cards at checkout", parent="E2"),
    Create(at(0, 13), "A4", "alpha", "story", "Remember the delivery address", parent="E1"),
    Create(at(0, 14), "B1", "beta", "story", "Vault API for saved cards", parent="E2"),
    Create(at(0, 15), "B2", "beta", "story", "Blue-green switch for the API", parent="E3"),
    Create(at(0, 16), "B3", "beta", "story", "Schema migrations without locks", parent="E3"),
    Create(at(0, 17), "B4", "beta", "story", "Card expiry reminders", parent="E2"),
    Create(at(0, 18), "G1", "gamma", "story", "Milestone: network cut-over", parent="E4"),
    Create(at(0, 19), "G2", "gamma", "story", "Milestone: databases moved", parent="E4"),
    Create(at(0, 20), "G3", "gamma", "story", "Milestone: old site switched off", parent="E4"),
    # Day 1: the dates promised, the priorities, the backlogs' order, the dependencies.
    SetDates(at(1, 0), "E1", due=40),
    SetDates(at(1, 1), "E2", due=50),
    SetDates(at(1, 2), "E3", due=45),
    SetDates(at(1, 3), "E4", start=2, due=70),
    SetDates(at(1, 4), "G1", start=2, due=30),
    SetDates(at(1, 5), "G2", start=30, due=56),
    SetDates(at(1, 6), "G3", start=56, due=70),
    SetPriority(at(1, 10), "A1", 1),
    SetPriority(at(1, 11), "B1", 2),
    SetPriority(at(1, 12), "G1", 1),
    SetPriority(at(1, 13), "B3", 4),
    Rank(at(1, 20), "alpha", ("A1", "A3", "A2", "A4")),
    Rank(at(1, 21), "beta", ("B2", "B3", "B4", "B1")),
    Rank(at(1, 22), "gamma", ("G1", "G3", "G2")),
    Link(at(1, 30), "B1", "A3"),
    Link(at(1, 31), "G1", "B2"),
    Link(at(1, 32), "A1", "A2"),
    Plan(at(1, 40), "A1", ("2030.1",)),
    Plan(at(1, 41), "B3", ("2030.2",)),
    Plan(at(1, 42), "A2", ("2030.3",)),
    # The work: A1 done before its release, A3 started while its blocker B1 waits.
    Move(at(2, 0), "A1", "In Progress"),
    Move(at(2, 1), "G1", "In Progress"),
    Move(at(3, 0), "B2", "In Progress"),
    Move(at(8, 0), "B3", "In Progress"),
    Move(at(10, 0), "A3", "In Progress"),
    Move(at(12, 0), "A1", "Done"),
    SetDates(at(15, 0), "E1", due=47),  # the first slip
    Move(at(20, 0), "B3", "Done"),
    SetDates(at(22, 0), "G1", due=38),  # the milestone slips
    SetDates(at(30, 0), "E1", due=54),  # the second slip
)
"""Before the first sync (on day 35). In each team's backlog (its items still to do) the rank
order is: Alpha A2, A4; Beta B4, B1; Gamma G3, G2."""

ACT_TWO: tuple[Step, ...] = (
    SetDates(at(36, 0), "E1", due=61),
    SetDates(at(36, 1), "E3", due=60),
    Create(at(37, 0), "A5", "alpha", "story", "Express pay button", parent="E1"),
    SetDates(at(37, 1), "A5", due=56),
    Rank(at(37, 2), "alpha", ("A4", "A5", "A2")),
    Rank(at(37, 3), "beta", ("B1", "B4")),
    Link(at(38, 0), "G2", "B4"),
    Plan(at(38, 1), "A4", ("2030.3",)),
    Move(at(39, 0), "G1", "Done"),
    Move(at(40, 0), "G2", "In Progress"),
)
"""Between the first sync and the second (on day 42): E1 slips a third time and E3 once, a new
story joins Alpha's backlog, two backlogs are re-ordered, a new dependency across teams, a
story joins a release, the milestone is met late and the next one starts."""

ALL_STEPS: tuple[Step, ...] = ACT_ONE + ACT_TWO
FIRST_SYNC_DAY = 35
SECOND_SYNC_DAY = 42


def play(player: PortfolioPlayer, start: datetime, steps: Sequence[Step]) -> None:
    """Carry `steps` out in order, each at `start + step.at` (`start`: the first day's 00:00)."""
    for step in steps:
        when = start + step.at
        match step:
            case Create():
                player.create(when, step)
            case SetDates():
                player.set_dates(when, step)
            case SetPriority():
                player.set_priority(when, step)
            case Rank():
                player.rank(when, step)
            case Move():
                player.move(when, step)
            case Link():
                player.link(when, step)
            case Plan():
                player.plan(when, step)


# -- the truth -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemTruth:
    """What the store must hold for one item, in the script's terms.

    Days are offsets from the portfolio's first day; `due_history` is each change of the due
    date as (from, to), the first from None; `blocks` and `waits_on` are labels.
    """

    label: str
    team: Team
    level: Level
    parent: str | None
    title: str
    theme_label: str | None
    stage: Stage = "To Do"
    start: int | None = None
    due: int | None = None
    start_history: tuple[tuple[int | None, int], ...] = ()
    due_history: tuple[tuple[int | None, int], ...] = ()
    priority: int | None = None
    releases: frozenset[str] = frozenset()
    blocks: frozenset[str] = frozenset()
    waits_on: frozenset[str] = frozenset()

    def ancestors(self, items: dict[str, ItemTruth]) -> list[str]:
        """The parent chain, nearest first."""
        chain: list[str] = []
        parent = self.parent
        while parent is not None:
            chain.append(parent)
            parent = items[parent].parent
        return chain


@dataclass(frozen=True, slots=True)
class PortfolioTruth:
    """Every item's facts and each team's backlog order (labels, top first) after the steps."""

    items: dict[str, ItemTruth]
    ranked: dict[Team, tuple[str, ...]] = field(default_factory=dict)
    """The last order each team's items were ranked in (top first)."""
    releases: tuple[PortfolioRelease, ...] = RELEASES

    def backlog_order(self, team: Team) -> tuple[str, ...]:
        """The team's ranked items still to do, top first: the order compared with the store."""
        return tuple(
            label for label in self.ranked.get(team, ()) if self.items[label].stage == "To Do"
        )

    def team_items(self, team: Team) -> list[ItemTruth]:
        return [item for item in self.items.values() if item.team == team]

    def links(self) -> set[tuple[str, str]]:
        """Every dependency as (blocker, waiting)."""
        return {(item.label, waiting) for item in self.items.values() for waiting in item.blocks}


def truth(steps: Iterable[Step]) -> PortfolioTruth:
    """What the store holds after `steps`, worked out from the steps alone."""
    items: dict[str, ItemTruth] = {}
    order: dict[Team, tuple[str, ...]] = {}
    for step in steps:
        match step:
            case Create():
                items[step.label] = ItemTruth(
                    step.label, step.team, step.level, step.parent, step.title, step.theme_label
                )
            case SetDates():
                item = items[step.label]
                if step.start is not None and step.start != item.start:
                    item = replace(
                        item,
                        start=step.start,
                        start_history=(*item.start_history, (item.start, step.start)),
                    )
                if step.due is not None and step.due != item.due:
                    item = replace(
                        item, due=step.due, due_history=(*item.due_history, (item.due, step.due))
                    )
                items[step.label] = item
            case SetPriority():
                items[step.label] = replace(items[step.label], priority=step.priority)
            case Rank():
                order[step.team] = step.order
            case Move():
                items[step.label] = replace(items[step.label], stage=step.stage)
            case Link():
                blocker, waiting = items[step.blocker], items[step.waiting]
                items[step.blocker] = replace(blocker, blocks=blocker.blocks | {step.waiting})
                items[step.waiting] = replace(waiting, waits_on=waiting.waits_on | {step.blocker})
            case Plan():
                items[step.label] = replace(items[step.label], releases=frozenset(step.releases))
    return PortfolioTruth(items=items, ranked=order)
