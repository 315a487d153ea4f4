"""Sprint metrics that agree with Jira's velocity chart and sprint report.

Pure functions over `SprintInfo` and `ItemHistory`. The definitions follow
Atlassian's "View and understand the velocity chart" and "Sprint report"
pages (Jira Software Cloud), made exact where Jira's pages are vague:

- **Membership** at a moment t: a stay with ``added_at <= t < removed_at``
  (``removed_at`` None = still in). Jira keeps a closed sprint in the item's
  Sprint field, so a carried-over item keeps an *open* stay in the closed
  sprint: everything about a sprint is judged at its start S and its close C,
  never "now", so that stay does no harm.
- **State at a moment** t applies every change with ``at <= t``: an estimate
  or a status changed at exactly t already counts.
- **Committed** (velocity chart "Commitment"): items in the sprint at the
  moment it started (``added_at <= S``), at their estimate at S. An item
  removed later stays committed (the chart's grey bar does not shrink) and
  also counts as removed, not as missed.
- **Added**: not in at S, joined in ``(S, C]``; points at the moment it joined.
  **Removed**: in scope after S but not in the sprint at C; points at the
  moment it left. Counted net per item: an item removed and put back is
  neither added nor removed.
- **Completed** (velocity chart "Completed": "the total completed estimates
  when the sprint ends"): in the sprint at C and in a stage at or after the
  board's done stage at C, at its **estimate at C**. That is the estimate at
  completion unless someone re-estimated a finished item before the close.
  Added scope that is finished counts. An item done later, in the next
  sprint, is not completed here even though its stay here is still open.
- **Done before it entered** (Jira's "issues completed outside of this
  sprint"): an item already done when it entered the sprint's scope (at S,
  or when added) is left out of every count and series and reported only as
  ``done_outside_items`` - the velocity chart ignores it too.
- **Carried over**: a closed sprint's items in the sprint at C and not done.
  ``remaining_*`` is the same thing "so far" for an active sprint.
- **Re-estimates**: per in-scope item, the estimate when it left the scope
  (C, or its removal) minus the estimate when it entered. This makes the
  points balance exact::

      committed + added - removed + reestimate_delta == completed + remaining

  and for items ``committed + added - removed == completed + remaining``.
- **Missing estimate**: counts as an item and 0 points; ``unestimated_items``
  counts in-scope items with no estimate when they entered.
- **Say/do** = completed points / committed points (None when 0 points were
  committed). It may exceed 1 when added scope is finished.
- **Future sprint** (state future, no start, or a start still ahead): only
  ``scope_*``, the items in it now, not done; every other count is 0 and the
  series are empty. **Active sprint**: everything "so far", measured at now.
- **Burndown and burnup**: one point per calendar day in `options.zone` from
  the start day to the close day (today for an active sprint), valued at the
  end of that day (the last point at C itself): burndown = scope points not
  done, burnup = (done points, scope points). There is no separate "start"
  point: the committed points are it.

Cost: O(stays + the items' estimate and status changes), each lookup a
binary search; the burn charts sweep only the changes inside each sprint's
window. Never sprints x items.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from pmo_sync.kpi.model import ItemHistory, KpiOptions, SprintInfo, SprintStay, Workflow

__all__ = ["SprintMemo", "SprintMetrics", "sprint_metrics", "velocity"]

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class SprintMetrics:
    """One sprint's numbers; see the module docstring for every definition."""

    sprint_id: str
    name: str
    team: str
    state: str  # future | active | closed, as given
    measured_at: datetime | None  # C: the close (closed), now (active); None (future)
    committed_items: int
    committed_points: float
    added_items: int
    added_points: float
    removed_items: int
    removed_points: float
    completed_items: int
    completed_points: float
    reestimate_delta_points: float
    carried_over_items: int  # closed sprints only
    carried_over_points: float
    remaining_items: int  # in the sprint at C, not done (closed: = carried over)
    remaining_points: float
    unestimated_items: int
    done_outside_items: int
    scope_items: int  # in the sprint at C (future: now), not done outside it
    scope_points: float
    say_do: float | None
    burndown: tuple[tuple[date, float], ...]  # (day, remaining points at its end)
    burnup: tuple[tuple[date, float, float], ...]  # (day, done points, scope points)


class _Timeline:
    """An item's estimate and done-ness at any moment, by binary search."""

    __slots__ = ("done_flips", "est_times", "est_values", "initially_done")

    def __init__(self, item: ItemHistory, is_done: _DoneStatuses) -> None:
        # Shared empty tuples where nothing changed: fewer objects for the collector in
        # a 100k-item run, where allocation, not arithmetic, is the cost.
        changes = item.estimate_changes
        if changes:
            self.est_times: Sequence[datetime] = [c.at for c in changes]
            # Rebuilt backwards from the current estimate: before change k the
            # estimate was its `from_points`; after the last, it is `estimate`.
            self.est_values: Sequence[float | None] = [
                *(c.from_points for c in changes),
                item.estimate,
            ]
        else:
            self.est_times, self.est_values = (), (item.estimate,)
        done = self.initially_done = is_done(item.initial_status)
        flips: list[datetime] | tuple[()] = ()
        known = is_done.known
        for change in item.status_changes:
            now_done = known.get(change.to_status)
            if now_done is None:
                now_done = is_done(change.to_status)
            if now_done is not done:
                if not flips:
                    flips = []
                flips.append(change.at)
                done = now_done
        self.done_flips: Sequence[datetime] = flips

    def estimate(self, t: datetime) -> float | None:
        return self.est_values[bisect_right(self.est_times, t)]

    def points(self, t: datetime) -> float:
        value = self.est_values[bisect_right(self.est_times, t)]
        return 0.0 if value is None else value

    def done(self, t: datetime) -> bool:
        return self.initially_done ^ bool(bisect_right(self.done_flips, t) & 1)

    def breakpoints(self, after: datetime, upto: datetime) -> list[datetime]:
        """Moments in (after, upto] where the estimate or done-ness changes."""
        found: list[datetime] = []
        for times in (self.est_times, self.done_flips):
            found.extend(times[bisect_right(times, after) : bisect_right(times, upto)])
        return found


class _DoneStatuses:
    """Whether a status is at or past the workflow's done stage, cached per status."""

    __slots__ = ("_workflow", "known")

    def __init__(self, workflow: Workflow) -> None:
        self._workflow = workflow
        self.known: dict[str, bool] = {}

    def __call__(self, status: str) -> bool:
        done = self.known.get(status)
        if done is None:
            done = self._workflow.index_of_status(status) >= self._workflow.done_index
            self.known[status] = done
        return done


def _done_at(
    item: ItemHistory, workflow: Workflow, statuses: _DoneStatuses | None = None
) -> datetime | None:
    """When the item last moved into a stage at or after the done stage; None if not done now.

    A move between two done stages (Done -> Released) is not a new entry; an
    item created done (or whose history is too short to show the move) is
    done at its creation or its last status change. `statuses` (for this
    workflow) shares the status lookups across many items.
    """
    is_done = statuses or _DoneStatuses(workflow)
    if not is_done(item.current_status):
        return None
    done = is_done(item.initial_status)
    entered = item.created if done else None
    for change in item.status_changes:
        now_done = is_done(change.to_status)
        if now_done and not done:
            entered = change.at
        done = now_done
    if entered is None:  # current status disagrees with the history: best guess
        entered = item.status_changes[-1].at if item.status_changes else item.created
    return entered


def _member(stays: Sequence[SprintStay], t: datetime) -> bool:
    for stay in stays:  # a loop, not any(): this is the hottest line of a 100k-item run
        if stay.added_at <= t and (stay.removed_at is None or t < stay.removed_at):
            return True
    return False


def _day_ends(start: datetime, close: datetime, zone: ZoneInfo) -> list[tuple[date, datetime]]:
    """Each calendar day from start's to close's in `zone`, with the last moment it counts for."""
    first, last = start.astimezone(zone).date(), close.astimezone(zone).date()
    ends = []
    day = first
    while day <= last:
        midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        ends.append((day, min(midnight.astimezone(UTC) - _MICROSECOND, close)))
        day += timedelta(days=1)
    return ends


def _close_moment(sprint: SprintInfo, now: datetime) -> datetime:
    if sprint.state == "closed":
        return sprint.completed or sprint.end or now
    return now


def sprint_metrics(
    sprints: Iterable[SprintInfo],
    items: Iterable[ItemHistory],
    workflow: Workflow,
    options: KpiOptions,
    now: datetime,
    memo: SprintMemo | None = None,
) -> list[SprintMetrics]:
    """Every sprint's metrics, in the order given (see the module docstring).

    Items are linked to sprints only through their `sprint_stays`; stays in
    sprints not given are ignored. `now` (aware) measures active sprints and
    the scope of future ones. With `memo` (a service's), a settled sprint whose
    members did not change takes its last metrics again (`SprintMemo`).
    """
    sprint_list = list(sprints)
    wanted = {s.id for s in sprint_list}
    item_list = list(items)
    by_sprint: dict[str, dict[int, list[SprintStay]]] = {sid: {} for sid in wanted}
    for index, item in enumerate(item_list):
        for stay in item.sprint_stays:
            members = by_sprint.get(stay.sprint_id)
            empty = stay.removed_at is not None and stay.removed_at <= stay.added_at
            if members is not None and not empty:  # an empty stay is never a membership
                stays = members.get(index)
                if stays is None:
                    members[index] = [stay]
                else:
                    stays.append(stay)
    is_done = _DoneStatuses(workflow)
    timelines: dict[int, _Timeline] = {}

    def timeline(index: int) -> _Timeline:
        found = timelines.get(index)
        if found is None:
            found = timelines[index] = _Timeline(item_list[index], is_done)
        return found

    results = []
    for sprint in sprint_list:
        members = by_sprint[sprint.id]
        if memo is None or not _settled(sprint, now):
            results.append(_one_sprint(sprint, members, timeline, options.zone, now, timelines))
            continue
        items = tuple(item_list[index] for index in members)
        entry = memo.sprints.get(sprint.id)
        if (
            entry is None
            or entry.sprint != sprint
            or entry.workflow != workflow
            or entry.zone != options.zone
            or len(entry.items) != len(items)
            or any(a is not b for a, b in zip(entry.items, items, strict=True))
        ):
            metrics = _one_sprint(sprint, members, timeline, options.zone, now, timelines)
            entry = _SprintEntry(sprint, workflow, options.zone, items, metrics)
            memo.sprints[sprint.id] = entry
        results.append(entry.metrics)
    return results


def _settled(sprint: SprintInfo, now: datetime) -> bool:
    """A closed sprint whose start and close are past `now`: its metrics are measured at its
    close, whatever the clock reads (`SprintMemo`)."""
    close = sprint.completed or sprint.end
    return (
        sprint.state == "closed"
        and sprint.start is not None
        and close is not None
        and sprint.start <= now
        and close <= now
    )


@dataclass(frozen=True, slots=True)
class _SprintEntry:
    sprint: SprintInfo
    workflow: Workflow
    zone: ZoneInfo
    items: tuple[ItemHistory, ...]
    metrics: SprintMetrics


@dataclass(slots=True)
class SprintMemo:
    """The metrics of each settled sprint (closed, closed before the clock), for the next run.

    A closed sprint is measured at its close: its metrics are a function of the sprint, its
    members (each item's history, stays included), the workflow and the zone, not of the
    clock. A service computes them every cycle over the same `ItemHistory` objects (its
    refresh keeps what it read, `pmo_sync.evaluation.kept`): when the sprint, workflow and
    zone are equal and every member is the very same object as last time, the kept metrics
    are the ones a computation would give. Active and future sprints are always measured.
    """

    sprints: dict[str, _SprintEntry] = field(default_factory=dict)


_Lines = Callable[[int], _Timeline]


def _future(
    sprint: SprintInfo, members: dict[int, list[SprintStay]], timeline: _Lines, now: datetime
) -> SprintMetrics:
    """A sprint not started yet: only its scope now."""
    scope_items = done_outside = unestimated = 0
    scope_points = 0.0
    for index, stays in members.items():
        if not _member(stays, now):
            continue
        line = timeline(index)
        if line.done(now):
            done_outside += 1
            continue
        scope_items += 1
        estimate = line.estimate(now)
        if estimate is None:
            unestimated += 1
        else:
            scope_points += estimate
    return SprintMetrics(
        sprint_id=sprint.id,
        name=sprint.name,
        team=sprint.team,
        state=sprint.state,
        measured_at=None,
        committed_items=0,
        committed_points=0.0,
        added_items=0,
        added_points=0.0,
        removed_items=0,
        removed_points=0.0,
        completed_items=0,
        completed_points=0.0,
        reestimate_delta_points=0.0,
        carried_over_items=0,
        carried_over_points=0.0,
        remaining_items=0,
        remaining_points=0.0,
        unestimated_items=unestimated,
        done_outside_items=done_outside,
        scope_items=scope_items,
        scope_points=scope_points,
        say_do=None,
        burndown=(),
        burnup=(),
    )


def _one_sprint(
    sprint: SprintInfo,
    members: dict[int, list[SprintStay]],
    timeline: _Lines,
    zone: ZoneInfo,
    now: datetime,
    built: dict[int, _Timeline] | None = None,
) -> SprintMetrics:
    """One started sprint's metrics (`_future` for the others). `built` holds the timelines
    `timeline` made so far: a dictionary lookup costs less than the call."""
    built = {} if built is None else built
    start = sprint.start
    if sprint.state == "future" or start is None or start > now:
        return _future(sprint, members, timeline, now)
    close = max(_close_moment(sprint, now), start)
    closed = sprint.state == "closed"

    committed_n = added_n = removed_n = completed_n = remaining_n = 0
    unestimated = done_outside = 0
    committed_p = added_p = removed_p = completed_p = remaining_p = delta_p = 0.0
    events: list[tuple[datetime, float, float]] = []  # (moment, d scope points, d done points)
    scope0 = 0.0

    for index, stays in members.items():
        # The hottest loop of a KPI run (one pass per item per sprint it was in): the
        # timeline's lookups are inlined, and the usual single stay is read directly.
        single = len(stays) == 1
        if single:
            added, removed = stays[0].added_at, stays[0].removed_at
            if added <= start and (removed is None or start < removed):
                in_start, entry = True, start
            elif start < added <= close:
                in_start, entry = False, added
            else:
                continue  # removed before the start, or added after the close
        else:
            in_start = _member(stays, start)
            if in_start:
                entry = start
            else:
                joins = [s.added_at for s in stays if start < s.added_at <= close]
                if not joins:
                    continue  # removed before the start, or added after the close
                entry = min(joins)
        line = built.get(index) or timeline(index)
        flips, initially_done = line.done_flips, line.initially_done
        if initially_done ^ bool(bisect_right(flips, entry) & 1) if flips else initially_done:
            done_outside += 1
            continue
        if single:
            in_end = added <= close and (removed is None or close < removed)
            # not in at C: its one stay ended inside (entry, C] (empty stays are dropped)
            leave = removed if removed is not None and not in_end else close
        else:
            in_end = _member(stays, close)
            if in_end:
                leave = close
            else:
                leave = max(
                    s.removed_at
                    for s in stays
                    if s.removed_at is not None and entry < s.removed_at <= close
                )
        est_times, est_values = line.est_times, line.est_values
        if est_times:
            entry_estimate = est_values[bisect_right(est_times, entry)]
            leave_estimate = est_values[bisect_right(est_times, leave)]
        else:
            entry_estimate = leave_estimate = est_values[0]
        if entry_estimate is None:
            unestimated += 1
        entry_points = 0.0 if entry_estimate is None else entry_estimate
        leave_points = 0.0 if leave_estimate is None else leave_estimate
        delta_p += leave_points - entry_points
        if in_start:
            committed_n += 1
            committed_p += entry_points
        else:
            added_n += 1
            added_p += entry_points
        if not in_end:
            removed_n += 1
            removed_p += leave_points
        elif initially_done ^ bool(bisect_right(flips, close) & 1) if flips else initially_done:
            completed_n += 1
            completed_p += leave_points
        else:
            remaining_n += 1
            remaining_p += leave_points

        # Burn-chart events: the item's (scope, done) contribution changes only
        # at its own membership, estimate and done moments inside (S, C].
        moments: list[datetime] = []  # what `_Timeline.breakpoints` gives, and the stays'
        if est_times:
            moments += est_times[bisect_right(est_times, start) : bisect_right(est_times, close)]
        if flips:
            moments += flips[bisect_right(flips, start) : bisect_right(flips, close)]
        if single:
            if start < added <= close:
                moments.append(added)
            if removed is not None and start < removed <= close:
                moments.append(removed)
        else:
            for stay in stays:
                for t in (stay.added_at, stay.removed_at):
                    if t is not None and start < t <= close:
                        moments.append(t)
        scope_now = entry_points if in_start else 0.0  # entry is S: the points at S
        done_now = 0.0  # not done at entry, checked above
        scope0 += scope_now
        if not moments or (not est_times and not est_values[0]):
            continue  # nothing moves, or it never has points: every moment gives (0, 0)
        if len(moments) == 2:  # the usual pair (done, and left at the close): no set
            first, second = moments
            if second < first:
                moments = [second, first]
            elif second == first:
                moments = [first]
        elif len(moments) > 2:
            moments = sorted(set(moments))
        for t in moments:
            if added <= t and (removed is None or t < removed) if single else _member(stays, t):
                value = est_values[bisect_right(est_times, t)] if est_times else est_values[0]
                scope_t = 0.0 if value is None else value
            else:
                scope_t = 0.0
            if initially_done ^ bool(bisect_right(flips, t) & 1) if flips else initially_done:
                done_t = scope_t
            else:
                done_t = 0.0
            if scope_t != scope_now or done_t != done_now:
                events.append((t, scope_t - scope_now, done_t - done_now))
                scope_now, done_now = scope_t, done_t

    events.sort(key=itemgetter(0))
    burndown: list[tuple[date, float]] = []
    burnup: list[tuple[date, float, float]] = []
    scope, done, cursor = scope0, 0.0, 0
    moments_sorted = [e[0] for e in events]
    for day, end in _day_ends(start, close, zone):
        upto = bisect_right(moments_sorted, end)
        for _, d_scope, d_done in events[cursor:upto]:
            scope += d_scope
            done += d_done
        cursor = max(cursor, upto)
        burndown.append((day, scope - done))
        burnup.append((day, done, scope))

    return SprintMetrics(
        sprint_id=sprint.id,
        name=sprint.name,
        team=sprint.team,
        state=sprint.state,
        measured_at=close,
        committed_items=committed_n,
        committed_points=committed_p,
        added_items=added_n,
        added_points=added_p,
        removed_items=removed_n,
        removed_points=removed_p,
        completed_items=completed_n,
        completed_points=completed_p,
        reestimate_delta_points=delta_p,
        carried_over_items=remaining_n if closed else 0,
        carried_over_points=remaining_p if closed else 0.0,
        remaining_items=remaining_n,
        remaining_points=remaining_p,
        unestimated_items=unestimated,
        done_outside_items=done_outside,
        scope_items=completed_n + remaining_n,
        scope_points=completed_p + remaining_p,
        say_do=completed_p / committed_p if committed_p else None,
        burndown=tuple(burndown),
        burnup=tuple(burnup),
    )


def velocity(metrics: Iterable[SprintMetrics], window: int) -> list[tuple[str, float]]:
    """(sprint id, mean completed points of the team's last `window` closed sprints up to it).

    Closed sprints only, ordered by close moment (ties by id); each team's
    mean covers fewer sprints until it has `window` of them, as Jira's
    velocity chart averages over the sprints it shows.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    closed = sorted(
        (m for m in metrics if m.state == "closed" and m.measured_at is not None),
        key=lambda m: (m.measured_at, m.sprint_id),
    )
    history: dict[str, list[float]] = {}
    result = []
    for m in closed:
        done = history.setdefault(m.team, [])
        done.append(m.completed_points)
        last = done[-window:]
        result.append((m.sprint_id, sum(last) / len(last)))
    return result
