"""Each team's request stream, planned before any issue is simulated.

An issue is simulated on its own from (seed, project, number) so a large site can be served
lazily; what ties issues together is decided here first, once per dataset, cheaply (no issue
is simulated): what each number is (an epic, a child of one, unplanned work, a sub-task),
when it is created, and when the team starts each epic's children. The issues' own lives then
follow this plan, and an epic's status follows its children's (`IssueSimulator`).

How the plan works a team, the way real teams work a backlog of epics:

- **Epics arrive over the window**, each made up to five weeks before its turn in an even
  spread (an intake queue ahead of the work), broken down at once into 3 to 9 children
  (made within hours of it); half of them grow later: 1 to 3 more children added after the
  first one started (scope growth), 3 to 12 in all.
- **Rank**: each new epic joins the bottom of the team's backlog; about one in seven is urgent
  and is ranked to the top the day it is made ("Ranked higher" in its changelog).
- **The team pulls work**: on each working day it starts children at the team's pace (its
  children over the window, each day's share drawn between 30% and 170% of it and the
  fractions carried to the next day: a steady team, not a lottery); each is taken from the
  top-ranked epic that has one waiting 50% of the time, the second 30%, the third 20% (work
  out of rank), and in the epic the oldest child first.
- **Unplanned work** (about 17% of the issues: bugs, tasks with no epic) and sub-tasks keep the
  sprint life they always had; a sub-task whose story is started starts a little after it.
- **Themes**: an epic carries one component, Growth, Reliability or Compliance (45/35/20%),
  or none (about 15%); its children inherit it through `parent`.
- **Due dates**: most epics get one when created, at a plausible date (the plan's finish,
  give or take 30%); an epic running later than its date has it moved later once or twice.
- **Dependencies**: a few "Blocks" links between children of different projects (one per 40
  issues), the blocker started well before the waiting item starts, and, on sites of 200
  issues or more, one link whose waiting item has not started by the end, its blocker not
  started either (or, when every other team's child has started, the one started last).
- **Releases**: each project ships a version every 2 to 4 weeks; one in four ships 1 to 6 days
  late; the next one is planned and not released. A done child or unplanned item (not Won't Do)
  is put into the first version released after it was done, at that release.

Everything is seeded by (seed, project key), so the same arguments give the same plan.
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from pmo_sync.sandbox.jira.model import Version
from pmo_sync.sandbox.jira.timeline import DAY, HOUR, from_epoch, local_to_epoch, work_time

__all__ = [
    "FIRST_GENERATED_LINK",
    "FIRST_GENERATED_VERSION",
    "THEMES",
    "Backlog",
    "LinkEnd",
    "ReleasePlan",
    "RequestPlan",
    "Slot",
    "plan_backlog",
]

THEMES = ("Growth", "Reliability", "Compliance")
"""The strategic themes, as component names on the epics."""
_THEME_WEIGHTS = (0.45 * 0.85, 0.35 * 0.85, 0.20 * 0.85, 0.15)
_PICKS = (0.5, 0.3, 0.2)
"""The share of starts that go to the first, second and third epic in rank order."""
_JUMP = 1 / 7
_AHEAD_DAYS = 35
_BEYOND_DAYS = 7
"""The even spread of turns runs this many days past now, so a team ends with work waiting."""
"""An epic is made up to this many days before its turn in the even spread would come."""
_UNPLANNED_SHARE = 0.17
_SUBTASK_SHARE = 0.06
_CHILD_TYPES = (("Story", 0.8), ("Task", 0.92), ("Bug", 1.01))
_UNPLANNED_TYPES = (("Bug", 0.55), ("Task", 0.9), ("Story", 1.01))
FIRST_GENERATED_VERSION = 10100
FIRST_GENERATED_LINK = 20000
_RANK_BASE = int("i00000", 36)
_RANK_STEP = 8
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Slot:
    """What one issue number of a project is."""

    kind: str
    """The issue type: Epic, Story, Task, Bug or Sub-task."""
    role: str
    """"epic", "child" (of an epic), "unplanned" or "subtask"."""
    parent: int | None
    """The 0-based number of its parent in the same project (an epic or a story)."""
    created: int
    """Epoch seconds; numbers follow creation time within a project."""
    start: int | None
    """When the team starts it (a child whose turn came, or a sub-task of a started story);
    None: a child still waiting at the end, or an item whose life decides (unplanned)."""


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """One epic's plan: its children, theme, rank and due dates."""

    number: int
    children: tuple[int, ...]
    """0-based numbers of its children, in creation order (growth ones last)."""
    grown: int
    """How many of the children were added after the epic's first child started."""
    theme: str | None
    rank: str
    """Its LexoRank now: the one given at creation, or the top one it jumped to."""
    first_rank: str
    """Its LexoRank at creation (the bottom of the backlog)."""
    jumped_at: int | None
    """When it was ranked to the top (an urgent epic), or None."""
    due: date | None
    """The due date set when it was created."""
    due_moves: tuple[tuple[int, date], ...]
    """Later moves of the due date: (epoch seconds, new date), oldest first."""
    lag: int
    """Working hours between its last child done and the epic done (0: the same moment)."""


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    """A project version as it stands at the generation time, and when it was released."""

    version: Version
    planned: date
    released_at: int | None
    """Epoch seconds of the "Release" action (its day's 10:00 New York), None if not yet."""


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """One end of a generated link, seen from the issue holding it."""

    link_id: str
    direction: str  # outward (the blocker) | inward (the waiting item)
    other: tuple[int, int]
    """(project index, 0-based number) of the issue at the other end."""
    at: int
    """When the link was made (epoch seconds)."""


@dataclass(slots=True)
class Backlog:
    """The plan of every project (indexed like the dataset's projects)."""

    slots: list[list[Slot]]
    requests: dict[tuple[int, int], RequestPlan]
    releases: list[list[ReleasePlan]]
    facts: bool = True
    """Whether the epics carry the portfolio facts (themes, ranks, due dates) and the links and
    releases are made; False: none of those, and no epic (`plan_backlog(portfolio=False)`)."""
    links: dict[tuple[int, int], list[LinkEnd]] = field(default_factory=dict)
    link_pairs: list[tuple[str, tuple[int, int], tuple[int, int], int]] = field(
        default_factory=list
    )
    """Every link: (id, blocker, waiting, when made), in id order."""

    def slot(self, p: int, j: int) -> Slot:
        return self.slots[p][j]

    def release_after(self, p: int, done_at: int) -> ReleasePlan | None:
        """The first version of project p released after `done_at` (None: none yet)."""
        for release in self.releases[p]:
            if release.released_at is not None and release.released_at > done_at:
                return release
        return None


def lexorank(value: int) -> str:
    """A LexoRank string in bucket 0 (`0|i00008:`) for an integer position."""
    digits = ""
    while value:
        value, rest = divmod(value, 36)
        digits = _DIGITS[rest] + digits
    return f"0|{digits:0>6}:"


def _pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    r = rng.random()
    return next(name for name, limit in table if r < limit)


def _weekday(t: int) -> int:
    """Monday 0 in New York (the teams' zone)."""
    return int(from_epoch(t - 5 * HOUR).weekday())


@dataclass(slots=True)
class _Epic:
    number_hint: int  # order of creation among the project's epics
    event: int  # its own event's index
    created: int
    initial: int
    growth: int
    theme: str | None
    rank_value: int
    jumped_at: int | None
    children: list[int] = field(default_factory=list)  # indexes into the project's events
    grown_at: list[int] = field(default_factory=list)
    first_start: int | None = None


@dataclass(slots=True)
class _Event:
    """One issue before it has a number."""

    created: int
    kind: str
    role: str
    parent: int | None = None  # index of the parent event
    start: int | None = None
    epic: int | None = None  # index into the project's epics (epics and their children)


def _plan_project(
    seed: object, key: str, count: int, window_start: int, now: int, epics_too: bool = True
) -> tuple[list[Slot], list[_Epic], list[int]]:
    """One project's slots, its epics, and each epic's slot number (by epic order); with
    `epics_too` False no epic at all: every item is unplanned work (or its sub-task)."""
    rng = random.Random(f"{seed}:{key}:backlog")
    subtasks = round(count * _SUBTASK_SHARE)
    unplanned_target = round(count * _UNPLANNED_SHARE)
    budget = count - subtasks - unplanned_target
    sizes: list[tuple[int, int]] = []
    while budget >= 4 and epics_too:
        initial = rng.randint(3, 9)
        growth = rng.choice((0, 0, 0, 1, 2, 3))
        size = min(initial + growth, budget - 1)
        initial = min(initial, size)
        sizes.append((initial, size - initial))
        budget -= 1 + size
    unplanned = count - subtasks - sum(1 + a + b for a, b in sizes)
    span = now - window_start + _BEYOND_DAYS * DAY  # the last turns come after now: a backlog
    events: list[_Event] = []
    epics: list[_Epic] = []
    next_rank, jumps = 0, 0
    for e, (initial, growth) in enumerate(sizes):
        # Made some weeks before the team is due to reach it: an intake queue ahead of the work.
        due_to_start = window_start + int((e + rng.uniform(0.05, 0.9)) * span / len(sizes))
        ahead = int(rng.uniform(0, _AHEAD_DAYS) * DAY)
        made = min(due_to_start - ahead, now - int(rng.uniform(1, 6) * DAY))
        t = work_time(max(window_start + e * HOUR, made), rng)
        theme_r = rng.random()
        theme = None
        acc = 0.0
        for name, weight in zip((*THEMES, None), _THEME_WEIGHTS, strict=True):
            acc += weight
            if theme_r < acc:
                theme = name
                break
        jumped_at = None
        if e > 0 and rng.random() < _JUMP:
            jumps += 1
            rank_value = _RANK_BASE - _RANK_STEP * jumps
            jumped_at = t + int(rng.uniform(1, 6) * HOUR)
        else:
            next_rank += 1
            rank_value = _RANK_BASE + _RANK_STEP * next_rank
        epic = _Epic(e, len(events), t, initial, growth, theme, rank_value, jumped_at)
        epics.append(epic)
        events.append(_Event(t, "Epic", "epic", epic=e))
        at = t
        for _ in range(initial):
            at += rng.randint(2 * 60, 40 * 60)
            epic.children.append(len(events))
            events.append(_Event(at, _pick(rng, _CHILD_TYPES), "child", epic=e))
    for _ in range(unplanned):
        t = work_time(rng.randint(window_start, now - 3 * HOUR), rng, odd=0.08)
        events.append(_Event(t, _pick(rng, _UNPLANNED_TYPES), "unplanned"))

    # The team's days: it starts children in rank order (with some out of rank), growth
    # children appear once their epic is under way.
    children_total = sum(e.initial + e.growth for e in epics)
    work_days = max(1, round((now - window_start) / DAY * 5 / 7))
    pace = 1.06 * children_total / work_days
    pending_growth = [(e, g) for e in range(len(epics)) for g in range(epics[e].growth)]
    growth_delay = {(e, g): rng.uniform(2, 21) * DAY for (e, g) in pending_growth}
    grown: set[tuple[int, int]] = set()
    growth_due: list[tuple[float, int, int]] = []  # heap: (when it may be added, epic, k)
    waiting: dict[int, list[int]] = {}  # epic -> its child events not started, oldest first
    ranked: list[tuple[int, int]] = []  # (rank value, epic) of the admitted epics waiting
    by_created = sorted(range(len(epics)), key=lambda e: (epics[e].created, e))
    admitted = 0  # how many of `by_created` are in the queue: epics join it once made
    credit = 0.0  # the team's pace, carried from day to day: a steady team, not a lottery
    day = window_start - window_start % DAY
    while day < now:
        noon = day + 17 * HOUR  # about noon in New York
        if _weekday(noon) < 5:
            ready = []
            while growth_due and growth_due[0][0] <= noon:
                ready.append(heapq.heappop(growth_due))
            for due, e, g in sorted(ready, key=lambda r: (r[1], r[2])):
                epic = epics[e]
                at = work_time(day + rng.randint(13 * HOUR, 21 * HOUR), rng)
                if at >= now - HOUR:
                    heapq.heappush(growth_due, (due, e, g))  # tried again the next day
                    continue
                epic.children.append(len(events))
                epic.grown_at.append(at)
                if e not in waiting:
                    waiting[e] = []
                    bisect.insort(ranked, (epic.rank_value, e))  # started, so admitted
                waiting[e].append(len(events))
                events.append(_Event(at, _pick(rng, _CHILD_TYPES), "child", epic=e))
                grown.add((e, g))
            credit += pace * rng.uniform(0.3, 1.7)
            starts = int(credit)
            credit -= starts
            for _ in range(starts):
                at = day + rng.randint(13 * HOUR, 22 * HOUR)  # 08:00-17:00 New York, roughly
                cutoff = at - HOUR
                while admitted < len(epics) and epics[by_created[admitted]].created < cutoff:
                    new = by_created[admitted]
                    waiting[new] = list(epics[new].children)
                    bisect.insort(ranked, (epics[new].rank_value, new))
                    admitted += 1
                queue = _top_of_queue(ranked, waiting, epics, events, at)
                if not queue:
                    break
                weights = _PICKS[: len(queue)]
                place = rng.choices(range(len(weights)), weights)[0]
                e = queue[place]
                if at >= now:
                    break
                child = waiting[e].pop(0)
                if not waiting[e]:
                    del waiting[e]
                    ranked.remove((epics[e].rank_value, e))
                events[child].start = at
                if epics[e].first_start is None:
                    epics[e].first_start = at
                    for g in range(epics[e].growth):
                        heapq.heappush(growth_due, (at + growth_delay[e, g], e, g))
        day += DAY
    pending_growth = [p for p in pending_growth if p not in grown]
    # Growth never reached (its epic not started by now) is part of the breakdown after all.
    for e, _g in pending_growth:
        epic = epics[e]
        at = min(now - 2 * HOUR, epic.created + rng.randint(2 * HOUR, 5 * DAY))
        epic.children.append(len(events))
        events.append(_Event(at, _pick(rng, _CHILD_TYPES), "child", epic=e))

    # Sub-tasks hang under children and unplanned stories, a little after them.
    stories = [n for n, ev in enumerate(events) if ev.kind == "Story"]
    if not stories:  # a tiny site: its sub-tasks' budget is unplanned work
        for _ in range(subtasks):
            t = work_time(rng.randint(window_start, now - 3 * HOUR), rng, odd=0.08)
            events.append(_Event(t, "Task", "unplanned"))
        subtasks = 0
    for _ in range(subtasks):
        story_event = rng.choice(stories)
        story = events[story_event]
        at = min(now - HOUR, story.created + rng.randint(30 * 60, 3 * DAY))
        at = max(at, story.created + 60)
        start: int | None = None
        if story.start is not None and rng.random() < 0.85:
            start = story.start + rng.randint(HOUR, 2 * DAY)
            start = max(start, at + HOUR)
            if start >= now:
                start = None
        events.append(_Event(at, "Sub-task", "subtask", parent=story_event, start=start))

    if len(events) != count:
        raise AssertionError(f"planned {len(events)} issues for {key}, not {count}")
    order = sorted(range(len(events)), key=lambda n: (events[n].created, n))
    number_of = {n: j for j, n in enumerate(order)}
    slots: list[Slot] = []
    last = window_start
    for n in order:
        ev = events[n]
        created = max(ev.created, last + 1)
        last = created
        parent: int | None = None
        if ev.role == "child" and ev.epic is not None:
            parent = number_of[epics[ev.epic].event]
        elif ev.parent is not None:
            parent = number_of[ev.parent]
        slot_start = None if ev.start is None else max(ev.start, created + HOUR)
        slots.append(Slot(ev.kind, ev.role, parent, created, slot_start))
    epic_numbers = [number_of[epic.event] for epic in epics]
    for epic in epics:
        epic.children = sorted(number_of[c] for c in epic.children)
    return slots, epics, epic_numbers


def _top_of_queue(
    ranked: list[tuple[int, int]],
    waiting: dict[int, list[int]],
    epics: list[_Epic],
    events: list[_Event],
    at: int,
) -> list[int]:
    """The first three epics in rank order at `at` with a child made an hour before it; an
    urgent epic not yet ranked to the top sits at the bottom (in the order they were made)."""
    top: list[int] = []
    later: list[int] = []
    for _, e in ranked:
        if events[waiting[e][0]].created >= at - HOUR:
            continue
        jumped_at = epics[e].jumped_at
        if jumped_at is not None and at < jumped_at:
            later.append(e)
            continue
        top.append(e)
        if len(top) == len(_PICKS):
            return top
    return (top + sorted(later))[: len(_PICKS)]


def _bottom(epic: _Epic) -> int:
    """Where a jumping epic sat before it jumped: below every epic made so far."""
    return _RANK_BASE + _RANK_STEP * 10_000 + epic.number_hint


def _local_date(t: int) -> date:
    """The New York date of epoch second `t` (close enough: the teams' working day)."""
    return from_epoch(t - 5 * HOUR).date()


def _day_epoch(day: date, hour: int) -> int:
    """Epoch seconds of `hour`:00 New York on `day`."""
    return local_to_epoch((day - date(1970, 1, 1)).days * DAY + hour * HOUR)


def _request(
    rng: random.Random, epic: _Epic, number: int, slots: list[Slot], pace: float, now: int
) -> RequestPlan:
    """An epic's due dates and closing lag, from how the plan works its children."""
    starts = [slots[c].start for c in epic.children]
    waiting = sum(1 for s in starts if s is None)
    known = [s for s in starts if s is not None]
    if waiting:
        finish = now + int(waiting / max(pace * _PICKS[0], 0.05) * 7 / 5 * DAY)
    else:
        finish = max(known) + 5 * DAY
    due: date | None = None
    moves: list[tuple[int, date]] = []
    if rng.random() < 0.8:
        due_at = epic.created + int((finish - epic.created) * rng.uniform(0.75, 1.35))
        due = _local_date(max(due_at, epic.created + 7 * DAY))
        current, last_move = due, epic.created + DAY
        for _ in range(2):
            late = finish - _day_epoch(current, 17)
            if late < 2 * DAY or rng.random() > 0.7:
                break
            at = _day_epoch(current, 10) - int(rng.uniform(1, 8) * DAY)
            at = work_time(max(at, last_move + DAY), rng)
            if at >= now:
                break
            current = _local_date(_day_epoch(current, 12) + int(late * rng.uniform(0.5, 1.3)))
            current = max(current, _local_date(at) + timedelta(days=3))
            moves.append((at, current))
            last_move = at
    lag = rng.choice((0, 0, 0, 2, 5, 20, 26, 48, 70))
    return RequestPlan(
        number=number,
        children=tuple(epic.children),
        grown=len(epic.grown_at),
        theme=epic.theme,
        rank=lexorank(epic.rank_value),
        first_rank=lexorank(epic.rank_value if epic.jumped_at is None else _bottom(epic)),
        jumped_at=epic.jumped_at,
        due=due,
        due_moves=tuple(moves),
        lag=lag,
    )


def _releases(
    seed: object, key: str, first_id: int, window_start: int, now: int
) -> list[ReleasePlan]:
    """A version every 2-4 weeks; a quarter ship late; the first one not shipped ends it."""
    rng = random.Random(f"{seed}:{key}:releases")
    out: list[ReleasePlan] = []
    planned = _local_date(window_start + rng.randint(10, 24) * DAY)
    previous: date | None = None
    while True:
        while planned.weekday() >= 5:
            planned += timedelta(days=1)
        shipped = planned
        if rng.random() < 0.25:
            shipped = planned + timedelta(days=rng.randint(1, 6))
        released_at = _day_epoch(shipped, 10) + rng.randint(0, 5 * HOUR)
        released = released_at < now
        name = f"{key} 1.{len(out)}"
        version = Version(
            str(first_id + len(out)),
            name,
            key,
            previous,
            shipped if released else planned,
            released,
            False,
        )
        out.append(ReleasePlan(version, planned, released_at if released else None))
        if not released:
            return out
        previous = shipped
        planned = planned + timedelta(days=rng.randint(14, 28))


def plan_backlog(
    seed: object,
    keys: Sequence[str],
    count: int,
    window_start: int,
    now: int,
    *,
    releases: bool = True,
    portfolio: bool = True,
) -> Backlog:
    """Every project's plan, its releases (none when `releases` is False) and the links
    between projects; `portfolio=False`: no portfolio at all (no epic, theme, rank, due date,
    link or release: every item is unplanned work or its sub-task)."""
    slots: list[list[Slot]] = []
    requests: dict[tuple[int, int], RequestPlan] = {}
    shipped: list[list[ReleasePlan]] = []
    next_version = FIRST_GENERATED_VERSION
    work_days = max(1, round((now - window_start) / DAY * 5 / 7))
    for p, key in enumerate(keys):
        project_slots, epics, numbers = _plan_project(
            seed, key, count, window_start, now, epics_too=portfolio
        )
        slots.append(project_slots)
        rng = random.Random(f"{seed}:{key}:requests")
        pace = sum(len(e.children) for e in epics) / work_days
        for epic, number in zip(epics, numbers, strict=True):
            requests[p, number] = _request(rng, epic, number, project_slots, pace, now)
        made = releases and portfolio
        project_releases = _releases(seed, key, next_version, window_start, now) if made else []
        next_version += len(project_releases)
        shipped.append(project_releases)
    backlog = Backlog(slots, requests, shipped, facts=portfolio)
    if portfolio:
        _plan_links(backlog, random.Random(f"{seed}:links"), len(keys) * count, window_start, now)
    return backlog


def _plan_links(
    backlog: Backlog, rng: random.Random, total: int, window_start: int, now: int
) -> None:
    """ "Blocks" links between children of different projects: the blocker started at least
    ten days before the waiting item; on larger sites one more whose ends both still wait."""
    children = [
        (p, j, slot)
        for p, project in enumerate(backlog.slots)
        for j, slot in enumerate(project)
        if slot.role == "child"
    ]
    started = [c for c in children if c[2].start is not None]
    by_start = sorted((slot.start, p, j) for p, j, slot in started if slot.start is not None)
    wanted = total // 40
    used: set[tuple[int, int]] = set()
    pairs: list[tuple[tuple[int, int], tuple[int, int], int]] = []
    tries = 0
    while len(pairs) < wanted and started and tries < 50 * wanted:
        tries += 1
        wp, wj, wslot = rng.choice(started)
        assert wslot.start is not None
        if wslot.start < window_start + 30 * DAY or (wp, wj) in used:
            continue
        lo = bisect.bisect_left(by_start, (wslot.start - 40 * DAY,))
        hi = bisect.bisect_right(by_start, (wslot.start - 10 * DAY, len(backlog.slots)))
        blockers = sorted(
            (p, j, backlog.slots[p][j])
            for _, p, j in by_start[lo:hi]
            if p != wp and (p, j) not in used
        )
        if not blockers:
            continue
        bp, bj, bslot = rng.choice(blockers)
        made = max(bslot.created, wslot.created) + rng.randint(HOUR, 2 * DAY)
        if made >= wslot.start:
            made = (
                max(bslot.created, wslot.created)
                + (wslot.start - max(bslot.created, wslot.created)) // 2
            )
        pairs.append(((bp, bj), (wp, wj), made))
        used |= {(bp, bj), (wp, wj)}
    if total >= 200:
        # One link whose waiting child has not started by the end, on another team's child
        # not started either, else on the one that team started last.
        waiting = [c for c in children if c[2].start is None and (c[0], c[1]) not in used]
        for wp, wj, wslot in waiting:
            others = [c for c in children if c[0] != wp and (c[0], c[1]) not in used]
            if others:
                bp, bj, bslot = min(
                    others, key=lambda c: (c[2].start is not None, -(c[2].start or 0), c[0], c[1])
                )
                made = min(now - HOUR, max(bslot.created, wslot.created) + rng.randint(HOUR, DAY))
                pairs.append(((bp, bj), (wp, wj), made))
                break
    for n, (blocker, waiting_end, made) in enumerate(sorted(pairs, key=lambda x: x[2])):
        link_id = str(FIRST_GENERATED_LINK + n)
        backlog.link_pairs.append((link_id, blocker, waiting_end, made))
        backlog.links.setdefault(blocker, []).append(LinkEnd(link_id, "outward", waiting_end, made))
        backlog.links.setdefault(waiting_end, []).append(LinkEnd(link_id, "inward", blocker, made))
