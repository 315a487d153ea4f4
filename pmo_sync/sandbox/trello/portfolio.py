"""The scripted portfolio (`pmo_sync.sandbox.portfolio`) played on the sandbox Trello.

Trello has no levels, priorities, dependencies or releases: teams keep them by conventions on
their boards, and the connector file's `portfolio:` block names them (`portfolio_block` gives
the one this player's conventions need, as an admin would write it). Each script team works
its own board (`TEAMS`: "Team Alpha", "Team Beta", "Team Gamma"; Gamma's is run as a
traditional project: dated milestone cards, no sprints), and every edit is made by a member
of that board's team, never by the token's member (the bot), whose edits are pmo-sync's own.

- **Level**: the label "Initiative" or "Epic" (a card with neither is a story); the theme is
  a label of its own ("growth", "reliability").
- **Parent**: the parent card's link attached to the card, across boards too (a story on
  Alpha's board under an epic on Beta's).
- **Dates**: the card's `start` (09:00 UTC) and `due` (17:00 UTC) on the script's day.
- **Priority**: a label "Priority: Highest" / "High" / "Medium" / "Low" (1-4), the one a
  card had taken off when it changes.
- **Rank**: the card's place in its list. A Rank step orders the team's cards still in
  "To Do" the way a person does: dragging each to the top of the list, the last first; cards
  already started are not moved (their place in another list is not the backlog's order).
- **Stages**: the lists "To Do", "Doing" and "Done".
- **Dependencies**: the blocker's link attached to the waiting card as "Depends on: <url>".
- **Releases**: a label "Release <name>" on the release's team's board (created when the
  player starts, as a team sets up its board), dated by the connector file (Trello keeps no
  release dates): a Plan step replaces the card's release labels.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

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
from pmo_sync.sandbox.trello.generator import (
    DEPENDS_ON,
    DOING,
    DONE,
    EPIC_LABEL,
    INITIATIVE_LABEL,
    RELEASE_LABEL,
    TODO,
    Board,
    Member,
    TrelloDataset,
    from_ms,
)

__all__ = [
    "DEPENDS_ON_PREFIX",
    "LEVEL_LABELS",
    "PRIORITY_NAMES",
    "PRIORITY_PREFIX",
    "RELEASE_PATTERN",
    "TrelloPortfolioPlayer",
    "generated_portfolio_block",
    "portfolio_block",
    "priority_of",
]

LEVEL_LABELS = {"initiative": INITIATIVE_LABEL, "epic": EPIC_LABEL}
PRIORITY_PREFIX = "Priority: "
PRIORITY_NAMES = {1: "Highest", 2: "High", 3: "Medium", 4: "Low"}
RELEASE_PATTERN = RELEASE_LABEL
DEPENDS_ON_PREFIX = DEPENDS_ON
LISTS = {"To Do": TODO, "In Progress": DOING, "Done": DONE}
START_TIME = time(9, 0, tzinfo=UTC)
DUE_TIME = time(17, 0, tzinfo=UTC)
_RANK_OF = {name.casefold(): rank for rank, name in PRIORITY_NAMES.items()}


def priority_of(stored: str | None) -> int | None:
    """The script's 1-4 for a stored priority (the rest of a "Priority: " label)."""
    return None if stored is None else _RANK_OF.get(stored.strip().casefold())


def release_label(name: str) -> str:
    return RELEASE_PATTERN.replace("{name}", name)


def portfolio_block(start: date) -> dict[str, Any]:
    """The connector file's `portfolio:` block for these conventions, the script's releases
    dated from the portfolio's first day `start`."""
    dates: dict[str, dict[str, str]] = {}
    for release in RELEASES:
        dates[release.name] = {"planned": day(start, release.planned).isoformat()}
        if release.released is not None:
            dates[release.name]["released"] = day(start, release.released).isoformat()
    return {
        "levels": {label: level for level, label in LEVEL_LABELS.items()},
        "priority": {"from": "label", "prefix": PRIORITY_PREFIX},
        "dependencies": {"attachment_prefix": DEPENDS_ON_PREFIX},
        "releases": {"label": RELEASE_PATTERN, "dates": dates},
    }


def generated_portfolio_block(dataset: TrelloDataset) -> dict[str, Any]:
    """The connector file's `portfolio:` block for a generated dataset's conventions (the
    player's: levels by label, "Depends on" links, "Release {name}" labels) with its boards'
    releases dated (Trello keeps no release dates); empty for a dataset generated without
    the portfolio. The themes are labels: portfolio.yaml matches them with
    `trello_labels: [Growth]` and so on."""
    if not dataset.portfolio:
        return {}
    dates: dict[str, dict[str, str]] = {}
    for release in dataset.releases:
        dates[release.name] = {"planned": from_ms(release.planned_ms).date().isoformat()}
        if release.released_ms is not None:
            dates[release.name]["released"] = from_ms(release.released_ms).date().isoformat()
    return {
        "levels": {label: level for level, label in LEVEL_LABELS.items()},
        "dependencies": {"attachment_prefix": DEPENDS_ON_PREFIX},
        "releases": {"label": RELEASE_PATTERN, "dates": dates},
    }


class TrelloPortfolioPlayer:
    """Carries the script's steps out on a `TrelloDataset` whose boards are named after
    `TEAMS`; `keys` maps each label to its card's short link (the store's key)."""

    def __init__(self, dataset: TrelloDataset, start: datetime) -> None:
        self.data = dataset
        self.start = start
        self.keys: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self._team: dict[str, Team] = {}
        for team in TEAMS:
            board = self.board(team)
            for name in LEVEL_LABELS.values():
                self._label(board, name)
        for release in RELEASES:
            self._label(self.board(release.team), release_label(release.name))

    def board(self, team: Team) -> Board:
        return self.data.board(TEAMS[team])

    def member(self, team: Team) -> Member:
        """Who edits the team's cards: the first of its board's team (never the bot)."""
        return self.board(team).team[0]

    def _label(self, board: Board, name: str) -> None:
        """The board's label `name`, created when the board has none yet."""
        if not any(label.name == name for label in board.labels):
            self.data.create_label(board, name)

    def _day(self, offset: int, at: time) -> datetime:
        return datetime.combine(day(self.start.date(), offset), at)

    def _by(self, label: str) -> Member:
        return self.member(self._team[label])

    def create(self, when: datetime, step: Create) -> None:
        self.data.clock.set(when)
        board, by = self.board(step.team), self.member(step.team)
        card = self.data.create_card(board, TODO, step.title, by=by)
        self.keys[step.label], self.ids[step.label] = card.short_link, card.id
        self._team[step.label] = step.team
        extra = [LEVEL_LABELS.get(step.level), step.theme_label]
        for name in (x for x in extra if x):
            self._label(board, name)
            self.data.add_label(card.id, name, by=by)
        if step.parent is not None:
            self.data.attach_card(card.id, self.ids[step.parent], by=by)

    def set_dates(self, when: datetime, step: SetDates) -> None:
        self.data.clock.set(when)
        dates: dict[str, Any] = {}
        if step.start is not None:
            dates["start"] = self._day(step.start, START_TIME)
        if step.due is not None:
            dates["due"] = self._day(step.due, DUE_TIME)
        self.data.set_dates(self.ids[step.label], by=self._by(step.label), **dates)

    def set_priority(self, when: datetime, step: SetPriority) -> None:
        self.data.clock.set(when)
        card, by = self.data.card(self.ids[step.label]), self._by(step.label)
        board = self.data.board(card.board_id)
        wanted = PRIORITY_PREFIX + PRIORITY_NAMES[step.priority]
        for label in [x for x in board.labels if x.id in card.label_ids]:
            if label.name.startswith(PRIORITY_PREFIX) and label.name != wanted:
                self.data.remove_label(card.id, label.id, by=by)
        self._label(board, wanted)
        self.data.add_label(card.id, wanted, by=by)

    def rank(self, when: datetime, step: Rank) -> None:
        self.data.clock.set(when)
        todo = self.board(step.team).list_named(TODO)
        assert todo is not None
        by = self.member(step.team)
        for label in reversed(step.order):
            if self.data.card(self.ids[label]).list_id == todo.id:
                self.data.set_position(self.ids[label], "top", by=by)

    def move(self, when: datetime, step: Move) -> None:
        self.data.clock.set(when)
        self.data.move_card(self.ids[step.label], LISTS[step.stage], by=self._by(step.label))

    def link(self, when: datetime, step: Link) -> None:
        self.data.clock.set(when)
        url = f"https://trello.com/c/{self.keys[step.blocker]}"
        self.data.attach_card(
            self.ids[step.waiting],
            self.ids[step.blocker],
            by=self._by(step.waiting),
            name=f"{DEPENDS_ON_PREFIX}: {url}",
        )

    def plan(self, when: datetime, step: Plan) -> None:
        self.data.clock.set(when)
        card, by = self.data.card(self.ids[step.label]), self._by(step.label)
        board = self.data.board(card.board_id)
        wanted = {release_label(name) for name in step.releases}
        prefix = RELEASE_PATTERN.split("{name}")[0]
        for label in [x for x in board.labels if x.id in card.label_ids]:
            if label.name.startswith(prefix) and label.name not in wanted:
                self.data.remove_label(card.id, label.id, by=by)
        for name in sorted(wanted):
            self._label(board, name)
            self.data.add_label(card.id, name, by=by)
