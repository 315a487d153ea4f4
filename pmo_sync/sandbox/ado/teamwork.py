"""How the sandbox's teams work a portfolio: who asks for what, when, and in which order it is done.

The generator's items used to live each on its own; a portfolio needs them to belong together.
`plan_teamwork` lays the whole organisation out first, cheaply (no revision is made here), as a
PMO would describe the teams' half year:

- **Requests.** Each team has a stream of Features (the Agile process's request level): a few
  waiting at the start of the history, then one about every two to three weeks, each broken
  down at once into 3 to 10 User Stories and Bugs, and growing by 0 to 2 more once the team has
  started it (scope growth), never beyond 12. A new Feature joins the bottom of its team's
  backlog (Stack Rank 1000 below the last), one in seven jumps to the top (an urgent one).
- **Rank order.** At each sprint's planning (three days before it starts) the team takes its
  usual number of children (its pace, a little different each sprint) from the Features in
  rank order: the top Feature's ready children first, one pick in five from further down (out
  of rank, as real teams do). What happens to a child in and after its sprint is `life.py`'s
  (carry-over, review bounces, reopenings...), so the request's dates follow from its children:
  it goes Active when its first child starts and Closed 0-3 days after its last one is done
  (`generator.py` derives them).
- **Unplanned work.** The rest of the items (about a fifth) belong to no request: bugs, tasks
  and stories that live as before (urgent work added to a sprint, planned, or left in the
  backlog).
- **Due dates.** Four Features in five get a Target Date when created, at the team's pace:
  the children ranked above it and its own, spread over the team's sprints, plus a week of
  margin. The generator moves a date later (once or twice) when the work runs past it.
- **Themes.** Each Feature is in one of three themes, Growth, Reliability, Compliance (45/35/20%),
  or none (15%): a theme is an area under the project, each team owning its part of it, and a
  themed Feature is filed in its team's part (`Fabrikam\\Growth\\Phoenix`, `generator.py`), so
  the team still owns it; its children, in the team's own area, inherit the theme through
  their parent.
- **Initiatives.** A few Epics (one per 75 items), each in one theme, created in the first ten
  days; 60% of the Features of that theme created after it are under it (`System.Parent`).
- **Dependencies.** One per 40 items: a child waiting on a child of another team planned a
  sprint or three earlier (so usually done before the waiting one starts), and two still open at
  the end (neither planned yet).
- **Releases.** Each team ships on the last day of every second sprint (every four weeks); one
  release in four ships 2-6 days late; the next one is planned. A Story or Bug closed by then is
  tagged `Release {name}` on the shipping day (`generator.py`); the dates are the connector
  file's (`portfolio.generated_portfolio_block`).

Items get ids in creation order, as Azure DevOps numbers them. Below `PORTFOLIO_MIN_SIZE` items
there is no portfolio: every item lives on its own, as the small datasets of the connector's
tests always did. Pure: times are epoch milliseconds; deterministic in `seed`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pmo_sync.sandbox.ado.life import SprintWindow

__all__ = [
    "FREE_TYPES",
    "PORTFOLIO_MIN_SIZE",
    "THEMES",
    "Dependency",
    "Head",
    "Initiative",
    "Release",
    "Request",
    "Teamwork",
    "plan_teamwork",
]

THEMES = ("Growth", "Reliability", "Compliance")
_THEME_WEIGHTS = (45, 35, 20)
_UNTHEMED = 0.15
PORTFOLIO_MIN_SIZE = 60
"""Below this many items, no portfolio (each team would have a request or two at most)."""
FREE_TYPES = ("User Story", "Bug", "Task", "Feature")
_FREE_WEIGHTS = (50, 20, 25, 5)  # without a portfolio: the generator's original mix
_UNPLANNED_TYPES = ("User Story", "Bug", "Task")
_UNPLANNED_WEIGHTS = (30, 35, 35)
_REQUEST_SHARE = 0.8  # of a team's items, those in requests (the Features and their children)
_FIRST_REQUESTS = 3  # waiting in each team's backlog when the history begins
_CHILDREN = (3, 10)  # a request's first breakdown
_GROWTH = (0, 0, 0, 1, 1, 2)  # children added once it started
_MAX_CHILDREN = 12
_GROWTH_ROOM = 0.1  # of a team's request items, kept for the children added once started
_BUG_CHILD = 0.2
_JUMP = 1 / 7  # a new request ranked at the top of the backlog
_IN_RANK = 0.8  # a pick goes to the first ready child in rank order
_PLANNING_DAYS = 3  # a sprint is planned this long before it starts
_DATED = 0.8
_INITIATIVE_EVERY = 75
_UNDER_INITIATIVE = 0.6
_LINK_EVERY = 40
_OPEN_LINKS = 2
_RELEASE_EVERY = 2  # sprints
_LATE_RELEASE = 0.25
RANK_STEP = 1000.0
_MS_HOUR = 3_600_000
_MS_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class TeamSprints:
    """A team as the plan needs it: its name and its sprints in order."""

    name: str
    sprints: Sequence[SprintWindow]


@dataclass(slots=True, eq=False)
class Head:
    """What the plan decides of one item before its life is simulated."""

    team: int
    work_item_type: str
    created_ms: int
    role: str = "free"
    """"request" (a Feature), "initiative" (an Epic), "child" (a request's story or bug), or
    "free" (no request: its life is drawn as before)."""
    parent: int | None = None
    """`System.Parent` from creation: the request of a child, the initiative of a request."""
    join_index: int | None = None
    """A child: the index of the team's sprint it was planned into (None: not yet)."""
    links: list[tuple[str, int, int]] = field(default_factory=list)
    """(link type, other item's id, when) the item gets, in time order."""
    id: int = 0


@dataclass(slots=True)
class Request:
    """A Feature and how its team holds it."""

    head: Head
    rank: float
    theme: str | None
    children: list[Head] = field(default_factory=list)
    due_ms: int | None = None
    """The Target Date first set (midnight UTC), None: not dated."""
    first_pick: int | None = None


@dataclass(slots=True)
class Initiative:
    head: Head
    theme: str
    requests: list[Request] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Dependency:
    """`blocker` must be done before `waiting` (ids); linked at `at_ms`."""

    blocker: int
    waiting: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class Release:
    """A team's release: planned on a sprint's last day, shipped then or later (None: not yet)."""

    name: str
    team: int
    planned: date
    released: date | None

    @property
    def ship_ms(self) -> int | None:
        """When its items are tagged: 15:00 UTC on the day it shipped."""
        if self.released is None:
            return None
        shipped = datetime(
            self.released.year, self.released.month, self.released.day, 15, tzinfo=UTC
        )
        return round(shipped.timestamp() * 1000)


@dataclass(slots=True)
class Teamwork:
    """The plan: every item's head by id (index id - 1) and the portfolio's facts."""

    heads: list[Head]
    requests: list[Request]
    initiatives: list[Initiative]
    dependencies: list[Dependency]
    releases: list[Release]
    team_names: tuple[str, ...]

    _by_id: dict[int, Request | Initiative] = field(default_factory=dict)

    def head(self, item_id: int) -> Head:
        return self.heads[item_id - 1]

    def request(self, item_id: int) -> Request | None:
        found = self._index().get(item_id)
        return found if isinstance(found, Request) else None

    def initiative(self, item_id: int) -> Initiative | None:
        found = self._index().get(item_id)
        return found if isinstance(found, Initiative) else None

    def _index(self) -> dict[int, Request | Initiative]:
        if not self._by_id and (self.requests or self.initiatives):
            self._by_id = {r.head.id: r for r in self.requests}
            self._by_id.update((i.head.id, i) for i in self.initiatives)
        return self._by_id

    def releases_of(self, team: int) -> list[Release]:
        return [r for r in self.releases if r.team == team]


def plan_teamwork(
    seed: object, size: int, now_ms: int, start_ms: int, teams: Sequence[TeamSprints]
) -> Teamwork:
    """The organisation's layout (module docstring); the same arguments give the same plan."""
    rng = random.Random(f"{seed}:teamwork")
    names = tuple(t.name for t in teams)
    if size < PORTFOLIO_MIN_SIZE:
        free = [
            _free(rng, len(teams), start_ms, now_ms, FREE_TYPES, _FREE_WEIGHTS) for _ in range(size)
        ]
        return _numbered(free, [], [], [], [], names)
    initiatives = [
        Initiative(
            Head(rng.randrange(len(teams)), "Epic", start_ms + int(rng.uniform(0.1, 10) * _MS_DAY),
                 role="initiative"),
            rng.choices(THEMES, _THEME_WEIGHTS)[0],
        )
        for _ in range(max(1, size // _INITIATIVE_EVERY))
    ]  # fmt: skip
    budget = size - len(initiatives)
    counts = [0] * len(teams)
    for _ in range(round(budget * _REQUEST_SHARE)):
        counts[rng.randrange(len(teams))] += 1
    requests: list[Request] = []
    heads: list[Head] = [i.head for i in initiatives]
    for k, team in enumerate(teams):
        made = _team_requests(rng, k, team, counts[k], start_ms, now_ms, initiatives)
        requests.extend(made)
    for request in requests:
        heads.append(request.head)
        heads.extend(request.children)
    if len(heads) > size:
        raise ValueError(f"{size} items are too few for the teams' first requests")
    while len(heads) < size:
        heads.append(_free(rng, len(teams), start_ms, now_ms, _UNPLANNED_TYPES, _UNPLANNED_WEIGHTS))
    plan = _numbered(heads, requests, initiatives, [], _releases(rng, teams, now_ms), names)
    plan.dependencies = _dependencies(rng, plan, teams, now_ms)
    return plan


def _free(
    rng: random.Random, teams: int, start_ms: int, now_ms: int,
    types: Sequence[str], weights: Sequence[int],
) -> Head:  # fmt: skip
    team = rng.randrange(teams)
    wtype = rng.choices(types, weights)[0]
    created = start_ms + int(rng.random() * (now_ms - start_ms - 2 * _MS_HOUR))
    return Head(team, wtype, created + rng.randrange(1000))


def _numbered(
    heads: list[Head],
    requests: list[Request],
    initiatives: list[Initiative],
    dependencies: list[Dependency],
    releases: list[Release],
    names: tuple[str, ...],
) -> Teamwork:
    """Ids in creation order, as the service gives them; parents re-pointed to ids."""
    heads.sort(key=lambda h: h.created_ms)
    for n, head in enumerate(heads, start=1):
        head.id = n
    for initiative in initiatives:
        for request in initiative.requests:
            request.head.parent = initiative.head.id
    for request in requests:
        for child in request.children:
            child.parent = request.head.id
    return Teamwork(heads, requests, initiatives, dependencies, releases, names)


def _team_requests(
    rng: random.Random,
    k: int,
    team: TeamSprints,
    budget: int,
    start_ms: int,
    now_ms: int,
    initiatives: Sequence[Initiative],
) -> list[Request]:
    """One team's Features and their children, planned sprint by sprint in rank order."""
    sizes: list[int] = []
    first = budget - round(budget * _GROWTH_ROOM)
    while True:  # the breakdowns the team's share of the items allows, room left for growth
        size = rng.randint(*_CHILDREN)
        left = first - sum(sizes) - len(sizes) - 1
        if left < _CHILDREN[0] and len(sizes) >= _FIRST_REQUESTS:
            break
        sizes.append(max(_CHILDREN[0], min(size, left)))
    span = now_ms - 12 * _MS_DAY - (start_ms + 10 * _MS_DAY)
    gap = span / max(1, len(sizes) - _FIRST_REQUESTS)
    requests: list[Request] = []
    t = start_ms + 10 * _MS_DAY - int(gap / 2)
    for n, size in enumerate(sizes):
        if n < _FIRST_REQUESTS:
            created = start_ms + int(rng.uniform(0.05, 3) * _MS_DAY)
        else:
            t += int(gap * rng.uniform(0.5, 1.5))
            created = min(t, now_ms - 3 * _MS_DAY)
        theme = None if rng.random() < _UNTHEMED else rng.choices(THEMES, _THEME_WEIGHTS)[0]
        request = Request(Head(k, "Feature", created, role="request"), 0.0, theme)
        for _ in range(size):
            request.children.append(_child(rng, k, created + int(rng.uniform(1, 48) * _MS_HOUR)))
        if theme is not None and rng.random() < _UNDER_INITIATIVE:
            above = [i for i in initiatives if i.theme == theme and i.head.created_ms < created]
            if above:
                rng.choice(above).requests.append(request)
        requests.append(request)
    spare = budget - sum(sizes) - len(sizes)
    _rank_and_plan(rng, k, team, requests, start_ms, now_ms, spare)
    return requests


def _child(rng: random.Random, team: int, created: int) -> Head:
    wtype = "Bug" if rng.random() < _BUG_CHILD else "User Story"
    return Head(team, wtype, created + rng.randrange(1000), role="child")


def _rank_and_plan(
    rng: random.Random,
    k: int,
    team: TeamSprints,
    requests: list[Request],
    start_ms: int,
    now_ms: int,
    spare: int,
) -> None:
    """Rank each request as it arrives, date it, and plan the sprints in rank order (each
    planning takes the team's pace of ready children); growth children appear once a request
    started, while `spare` items allow."""
    plannings = [
        (s, w.start_ms - _PLANNING_DAYS * _MS_DAY)
        for s, w in enumerate(team.sprints)
        if w.start_ms <= now_ms
    ]
    total = sum(len(r.children) for r in requests)
    pace = total / max(1, len(plannings))
    events: list[tuple[int, int, int]] = [(r.head.created_ms, 0, n) for n, r in enumerate(requests)]
    events += [(ms, 1, s) for s, ms in plannings]
    events.sort()
    ranked: list[Request] = []
    left = {id(r): len(r.children) for r in requests}  # children not planned yet
    top, bottom = RANK_STEP, 0.0
    for ms, kind, index in events:
        if kind == 0:
            request = requests[index]
            if ranked and rng.random() < _JUMP:
                top -= RANK_STEP
                request.rank = top
            else:
                bottom += RANK_STEP
                request.rank = bottom
            ranked.append(request)
            ranked.sort(key=lambda r: r.rank)
            if rng.random() < _DATED:
                ahead = sum(left[id(r)] for r in ranked if r.rank < request.rank)
                days = (ahead + len(request.children)) / pace * 14 + 7
                due = request.head.created_ms + int(days * _MS_DAY)
                request.due_ms = due - due % _MS_DAY
            continue
        ranked = [r for r in ranked if left[id(r)]]
        ready = [
            (r, c)
            for r in ranked
            for c in r.children
            if c.join_index is None and c.created_ms <= ms - _MS_HOUR
        ]
        for _ in range(max(1, round(rng.gauss(pace, pace * 0.2)))):
            if not ready:
                break
            pick = 0 if len(ready) == 1 or rng.random() < _IN_RANK else rng.randrange(1, len(ready))
            request, child = ready.pop(pick)
            child.join_index = index
            left[id(request)] -= 1
            if request.first_pick is None:
                request.first_pick = index
                for _ in range(rng.choice(_GROWTH)):
                    if spare <= 0 or len(request.children) >= _MAX_CHILDREN:
                        break
                    born = ms + int(rng.uniform(3, 24) * _MS_DAY)
                    if born < now_ms - 2 * _MS_HOUR:
                        request.children.append(_child(rng, k, born))
                        left[id(request)] += 1
                        spare -= 1


def _dependencies(
    rng: random.Random, plan: Teamwork, teams: Sequence[TeamSprints], now_ms: int
) -> list[Dependency]:
    """Children waiting on another team's children planned one to three sprints before them,
    and `_OPEN_LINKS` between children nobody planned yet."""
    children = [c for r in plan.requests for c in r.children]
    wanted = max(_OPEN_LINKS + 1, len(plan.heads) // _LINK_EVERY)
    links: list[Dependency] = []
    used: set[int] = set()
    waiting_pool = [c for c in children if c.join_index is not None and c.join_index >= 2]
    rng.shuffle(waiting_pool)
    planned: dict[tuple[int, int], list[Head]] = {}  # (sprint, team) -> children planned in it
    for c in children:
        if c.join_index is not None:
            planned.setdefault((c.join_index, c.team), []).append(c)
    for waiting in waiting_pool:
        if len(links) >= wanted - _OPEN_LINKS:
            break
        assert waiting.join_index is not None
        join_ms = teams[waiting.team].sprints[waiting.join_index].start_ms
        pools = [
            planned.get((sprint, team), [])
            for sprint in range(waiting.join_index - 3, waiting.join_index)
            for team in range(len(teams))
            if team != waiting.team
        ]
        blocker = _draw(rng, pools, used)
        if waiting.id in used or blocker is None:
            continue
        at = max(waiting.created_ms, blocker.created_ms) + int(rng.uniform(1, 30) * _MS_HOUR)
        if at >= min(join_ms, now_ms) - _MS_HOUR:
            continue
        links.append(_link(blocker, waiting, at))
        used |= {blocker.id, waiting.id}
    later = [c for c in children if c.join_index is None and c.created_ms < now_ms - 3 * _MS_DAY]
    rng.shuffle(later)
    for waiting in later:
        if len(links) >= wanted:
            break
        other = next((c for c in later if c.team != waiting.team and c.id not in used), None)
        if waiting.id in used or other is None:
            continue
        at = max(waiting.created_ms, other.created_ms) + int(rng.uniform(1, 30) * _MS_HOUR)
        links.append(_link(other, waiting, min(at, now_ms - 2 * _MS_HOUR)))
        used |= {other.id, waiting.id}
    return sorted(links, key=lambda d: d.at_ms)


def _draw(rng: random.Random, pools: Sequence[Sequence[Head]], used: set[int]) -> Head | None:
    """A child drawn evenly from the pools, not yet in a dependency (a few tries: the pools are
    large and few are used)."""
    total = sum(len(pool) for pool in pools)
    for _ in range(5 if total else 0):
        n = rng.randrange(total)
        for pool in pools:
            if n < len(pool):
                if pool[n].id not in used:
                    return pool[n]
                break
            n -= len(pool)
    return None


SUCCESSOR = "System.LinkTypes.Dependency-Forward"
PREDECESSOR = "System.LinkTypes.Dependency-Reverse"


def _link(blocker: Head, waiting: Head, at: int) -> Dependency:
    """Both ends, as the service keeps them: the blocker's Successor, the waiting Predecessor."""
    blocker.links.append((SUCCESSOR, waiting.id, at))
    waiting.links.append((PREDECESSOR, blocker.id, at))
    return Dependency(blocker.id, waiting.id, at)


def _releases(rng: random.Random, teams: Sequence[TeamSprints], now_ms: int) -> list[Release]:
    """Every `_RELEASE_EVERY` sprints a release per team on the sprint's last day; one in four
    of those past ships late; the next one planned."""
    releases: list[Release] = []
    now_day = datetime.fromtimestamp(now_ms / 1000, UTC).date()
    for k, team in enumerate(teams):
        closing = range(_RELEASE_EVERY - 1, len(team.sprints), _RELEASE_EVERY)
        for number, s in enumerate(closing, start=1):
            last_day = datetime.fromtimestamp(team.sprints[s].close_ms / 1000 - 1, UTC).date()
            shipped: date | None = last_day
            if rng.random() < _LATE_RELEASE:
                shipped = last_day + timedelta(days=rng.randint(2, 6))
            if shipped is not None and shipped >= now_day:
                shipped = None
            releases.append(Release(f"{team.name} {number}", k, last_day, shipped))
            if shipped is None:
                break
    return releases
