"""The static part of a sandbox Jira site: people, projects, boards and sprint calendars.

Built once per dataset from the seed; every issue's simulation reads it, so it
must be cheap and must not depend on any issue.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from pmo_sync.sandbox.jira.model import Board, Project, Sprint, User
from pmo_sync.sandbox.jira.text import FIRST_NAMES, LAST_NAMES, sprint_goal
from pmo_sync.sandbox.jira.timeline import DAY, HOUR, USER_TZ, from_epoch, local_to_epoch, to_epoch

__all__ = ["CLOSED_SPRINTS", "MEMBERS_PER_TEAM", "Site", "SprintSlot", "account_id", "build_site"]

CLOSED_SPRINTS = 13  # ~6 months of two-week sprints before the active one
MEMBERS_PER_TEAM = 6
_TEAMS = (
    "Alpha",
    "Beta",
    "Gamma",
    "Delta",
    "Epsilon",
    "Zeta",
    "Eta",
    "Theta",
    "Iota",
    "Kappa",
    "Lambda",
    "Mu",
    "Nu",
    "Xi",
    "Omicron",
    "Pi",
    "Rho",
    "Sigma",
    "Tau",
    "Upsilon",
)
_PRODUCTS = (
    "Atlas Commerce",
    "Beacon Payments",
    "Gamma Insights",
    "Delta Mobile",
    "Echo Platform",
    "Falcon Search",
    "Glacier Storage",
    "Harbor Identity",
    "Ion Messaging",
    "Juniper CRM",
)
_ACTIVE_WEEKDAY = (0, 2, 1)  # boards start sprints on Monday, Wednesday, Tuesday in turn


def account_id(seed: object, name: str) -> str:
    """A stable 24-hex-digit Atlassian-style account id for a person."""
    return hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class SprintSlot:
    """The simulation's view of one sprint of a calendar, in epoch seconds."""

    sprint_id: int
    start: int  # planned start for the future sprint
    end: int
    complete: int | None  # None while active or future
    future: bool


@dataclass(frozen=True)
class Site:
    projects: tuple[Project, ...]
    boards: tuple[Board, ...]
    sprints: tuple[Sprint, ...]
    teams: dict[str, tuple[User, ...]]
    calendars: dict[str, tuple[SprintSlot, ...]]  # per project key: its scrum board's sprints
    kanban_projects: frozenset[str]


def _people(seed: object, count: int) -> list[User]:
    rng = random.Random(f"{seed}:people")
    combos = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(combos)
    people = []
    for n in range(count):
        first, last = combos[n % len(combos)]
        suffix = "" if n < len(combos) else str(n // len(combos) + 1)
        name = f"{first} {last}{suffix}"
        email = f"{first}.{last}{suffix}@acme.example".lower()
        people.append(User(account_id(seed, name), name, email))
    return people


def _sprint_starts(now: datetime, board_index: int) -> list[datetime]:
    """Local 09:30 start of each sprint, the active one containing `now`, one future after it."""
    weekday = _ACTIVE_WEEKDAY[board_index % len(_ACTIVE_WEEKDAY)]
    local_now = now.astimezone(USER_TZ)
    day = local_now.date() - timedelta(days=(local_now.weekday() - weekday) % 7)
    active = datetime(day.year, day.month, day.day, 9, 30, tzinfo=USER_TZ)
    if active > now:
        active -= timedelta(days=7)
    starts = []
    for k in range(-CLOSED_SPRINTS, 2):
        d = (active + timedelta(days=14 * k)).date()
        starts.append(datetime(d.year, d.month, d.day, 9, 30, tzinfo=USER_TZ))
    return starts


def _at_local(dt: datetime, days: int, hour: int, minute: int) -> int:
    d = (dt + timedelta(days=days)).date()
    local_seconds = (d - datetime(1970, 1, 1).date()).days * DAY + hour * HOUR + minute * 60
    return local_to_epoch(local_seconds)


def build_site(seed: object, project_keys: tuple[str, ...], now: datetime) -> Site:
    """Projects with their teams, one scrum board each (and a kanban one for the third)."""
    people = _people(seed, MEMBERS_PER_TEAM * len(project_keys))
    projects: list[Project] = []
    boards: list[Board] = []
    teams: dict[str, tuple[User, ...]] = {}
    raw_sprints: list[tuple[int, int, int, int, int | None, bool, str]] = []
    now_s = to_epoch(now)
    for p, key in enumerate(project_keys):
        team_name = f"Team {_TEAMS[p % len(_TEAMS)]}"
        members = tuple(people[p * MEMBERS_PER_TEAM : (p + 1) * MEMBERS_PER_TEAM])
        teams[key] = members
        product = _PRODUCTS[p % len(_PRODUCTS)]
        projects.append(Project(str(10000 + p), key, product, team_name, members[0]))
        scrum = Board(len(boards) + 1, team_name, "scrum", key)
        boards.append(scrum)
        if p == 2:
            boards.append(Board(len(boards) + 1, f"{_TEAMS[p % len(_TEAMS)]} Flow", "kanban", key))
        starts = _sprint_starts(now, p)
        for n, start in enumerate(starts):
            future = n == len(starts) - 1
            start_s = to_epoch(start)
            end_s = _at_local(start, 11, 17, 0)
            complete = None
            if not future and n < len(starts) - 2:
                jitter = random.Random(f"{seed}:{key}:close:{n}").randint(0, 25)
                complete = _at_local(start, 14, 9, jitter)
            raw_sprints.append((start_s, scrum.id, n, end_s, complete, future, key))
    raw_sprints.sort(key=lambda r: (r[0], r[1]))
    sprints: list[Sprint] = []
    slots: dict[str, list[SprintSlot]] = {key: [] for key in project_keys}
    for sid, (start_s, board_id, n, end_s, complete, future, key) in enumerate(raw_sprints, 1):
        state = "future" if future else ("closed" if complete is not None else "active")
        goal = sprint_goal(random.Random(f"{seed}:{key}:goal:{n}"))
        sprints.append(
            Sprint(
                id=sid,
                name=f"{key} Sprint {n + 1}",
                board_id=board_id,
                state=state,
                start=None if future else from_epoch(start_s),
                end=None if future else from_epoch(end_s),
                complete=from_epoch(complete) if complete is not None else None,
                goal=goal,
            )
        )
        slots[key].append(SprintSlot(sid, start_s, end_s, complete, future))
    for key in project_keys:
        slots[key].sort(key=lambda s: s.start)
        assert slots[key][-2].start <= now_s < slots[key][-2].end
    return Site(
        projects=tuple(projects),
        boards=tuple(boards),
        sprints=tuple(sprints),
        teams=teams,
        calendars={k: tuple(v) for k, v in slots.items()},
        kanban_projects=frozenset(b.project_key for b in boards if b.type == "kanban"),
    )
