"""The built-in governance rules: one parameters model and one pure check per rule.

A check reads one team (its `TeamFacts` and its items, already filtered by
the policy's teams and sources) and yields `Hit`s; the engine stamps the
policy's id, severity and mode on them to make `Finding`s. Every check is a
pure function of its inputs and `RuleContext.now`.

Words used throughout:

- **in progress**: committed and not done (`ItemMetrics.in_progress`), by
  the team's workflow.
- **committed** (`applies_to: committed`, the default of the backlog-quality
  rules): in progress, *or* in the scope of an active sprint and not done -
  in Scrum the sprint is the commitment, so an unestimated story in the
  sprint counts even before anyone starts it. `planned` adds items in a
  future sprint (ready for planning); `open` is every item not done.
- **days** are elapsed days (hours / 24), weekends included, compared
  strictly: "more than 5 days".
- **sprints in view** (the sprint rules): the team's active sprints and its
  most recently closed one, so a finding stays visible through the retro
  and resolves when the next sprint closes.

Every message states the threshold and the data's numbers, never a number
that grows with the clock (see `pmo_sync.governance.model`).

**Portfolio rules** (`RuleSpec.kind`): the twelve above are `team` rules,
reading a team's items. The `portfolio` rules read what the portfolio answers
computed for one team (`TeamPortfolio`: its requests with their forecast,
funnel stage and dependencies, its items' date moves, its theme shares), per
team tunable the same way. `theme_off_target` is the one `theme` rule: a
theme's share is the whole portfolio's, so it runs once per theme, its
findings belong to no team, and its `overrides` are keyed by theme. A
forecast (a probability, a forecast date) moves with the clock even when no
data does, so, like an age, it is in the details and the message names the
threshold it passed.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pmo_sync.governance.model import ItemFacts, RequestFacts, Scope, TeamFacts
from pmo_sync.kpi.sprints import SprintMetrics
from pmo_sync.kpi.timeline import stage_timeline
from pmo_sync.portfolio.dependency_risk import DependencyRisk, DependencyStatus, Risk
from pmo_sync.portfolio.items import ItemRef
from pmo_sync.portfolio.schedule import ItemDateMoves
from pmo_sync.portfolio.strategy import PeriodShares, Share, StrategyAnswer, ThemeShares

__all__ = [
    "RULES",
    "Hit",
    "Params",
    "RuleContext",
    "RuleSpec",
    "TeamPortfolio",
    "ThemeView",
    "has_acceptance_criteria",
    "last_activity",
]

ItemType = Literal["story", "bug", "task", "subtask", "epic", "other"]
AppliesTo = Literal["committed", "planned", "open"]

WORK_TYPES: tuple[ItemType, ...] = ("story", "bug", "task", "subtask", "other")
"""Every type but epics: the default for flow rules (an epic is a container, not work)."""
ESTIMATED_TYPES: tuple[ItemType, ...] = ("story", "bug", "task")

_SECONDS_PER_DAY = 86_400.0


# -- what a check returns and sees -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule's observation before the engine stamps the policy on it.

    `subject` identifies the thing within the scope (see
    `pmo_sync.governance.model.finding_identity`).
    """

    scope: Scope
    scope_key: str
    subject: tuple[str, ...]
    team: str
    source: str | None
    message: str
    details: Mapping[str, float | str]


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Shared by every check of one evaluation: the moment, and every team's sprints by id."""

    now: datetime
    sprints: Mapping[str, SprintMetrics] = field(default_factory=dict)

    def sprints_in_state(self, item: ItemFacts, states: frozenset[str]) -> list[SprintMetrics]:
        """The sprints in `states` the item is in now (an open stay), in name order."""
        found = []
        for stay in item.history.sprint_stays:
            if stay.removed_at is not None and stay.removed_at <= self.now:
                continue
            sprint = self.sprints.get(stay.sprint_id)
            if sprint is not None and sprint.state in states and stay.added_at <= self.now:
                found.append(sprint)
        return sorted(found, key=lambda s: (s.name, s.sprint_id))


class Params(BaseModel):
    """Base of every rule's parameters: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class TeamPortfolio:
    """What a `portfolio` rule sees of one team: its requests and its open items' date moves
    from the rule's sources, and its own theme shares (None: none computed)."""

    team: str
    today: date
    requests: Sequence[RequestFacts] = ()
    date_moves: Sequence[ItemDateMoves] = ()
    strategy: StrategyAnswer | None = None


@dataclass(frozen=True, slots=True)
class ThemeView:
    """What the `theme` rule sees of one theme: its shares over the portfolio's window."""

    shares: ThemeShares
    window: PeriodShares


Check = Callable[[Any, TeamFacts, Sequence[ItemFacts], RuleContext], Iterable[Hit]]
PortfolioCheck = Callable[[Any, TeamPortfolio, RuleContext], Iterable[Hit]]
ThemeCheck = Callable[[Any, ThemeView, RuleContext], Iterable[Hit]]
RuleKind = Literal["team", "portfolio", "theme"]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A built-in rule. `check` is a `Check` for a `team` rule, a `PortfolioCheck` for a
    `portfolio` rule, a `ThemeCheck` for a `theme` rule (`kind`, module docstring).
    `by_source` False: what the rule reads is not per source (theme shares), so a
    policy may not limit it to some sources."""

    name: str
    params: type[Params]
    check: Callable[..., Iterable[Hit]]
    summary: str
    stage_names: Callable[[Any], Iterable[str]] | None = None
    """The workflow stages the parameters name, checked against each team's workflow."""
    kind: RuleKind = "team"
    by_source: bool = True


# -- helpers -----------------------------------------------------------------------------------


def _num(value: float) -> str:
    """8.0 -> '8', 2.5 -> '2.5', 28.333 -> '28.3': numbers as a person writes them."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:g}"


def _plural(count: float, word: str) -> str:
    return f"{_num(count)} {word}" if count == 1 else f"{_num(count)} {word}s"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in ("a", "e", "i", "o", "u") else f"a {noun}"


def _days(seconds: float) -> float:
    return round(seconds / _SECONDS_PER_DAY, 2)


def _item_hit(item: ItemFacts, message: str, details: Mapping[str, float | str]) -> Hit:
    return Hit(
        scope="item",
        scope_key=item.key,
        subject=(item.source, item.key),
        team=item.team,
        source=item.source,
        message=message,
        details=dict(details),
    )


def _of_types(items: Sequence[ItemFacts], types: Sequence[str]) -> Iterator[ItemFacts]:
    wanted = frozenset(types)
    return (i for i in items if i.item_type in wanted)


_ACTIVE = frozenset({"active"})
_ACTIVE_OR_FUTURE = frozenset({"active", "future"})


def _commitment(item: ItemFacts, applies_to: AppliesTo, ctx: RuleContext) -> str | None:
    """Why the item counts for `applies_to` ("in progress", "in the active sprint X", ...)."""
    if item.metrics.done_at is not None:
        return None
    if item.metrics.in_progress:
        return "in progress"
    if applies_to == "open":
        return "open"
    states = _ACTIVE if applies_to == "committed" else _ACTIVE_OR_FUTURE
    sprints = ctx.sprints_in_state(item, states)
    if not sprints:
        return None
    active = [s for s in sprints if s.state == "active"]
    sprint = (active or sprints)[0]
    return f"in the {sprint.state} sprint {sprint.name}"


def last_activity(item: ItemFacts) -> datetime:
    """The latest of the item's `updated` stamp and every change in its history."""
    history = item.history
    stamps = [item.updated, history.created]
    stamps.extend(c.at for c in history.status_changes)
    stamps.extend(c.at for c in history.flag_changes)
    stamps.extend(c.at for c in history.estimate_changes)
    for stay in history.sprint_stays:
        stamps.append(stay.added_at)
        if stay.removed_at is not None:
            stamps.append(stay.removed_at)
    return max(stamps)


class _WithItemTypes(Params):
    item_types: tuple[ItemType, ...] = Field(default=WORK_TYPES, min_length=1)


# -- missing_estimate --------------------------------------------------------------------------


class MissingEstimateParams(Params):
    applies_to: AppliesTo = "committed"
    item_types: tuple[ItemType, ...] = Field(default=ESTIMATED_TYPES, min_length=1)


def missing_estimate(
    params: MissingEstimateParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    for item in _of_types(items, params.item_types):
        if item.history.estimate is not None:
            continue
        why = _commitment(item, params.applies_to, ctx)
        if why is None:
            continue
        message = f"{item.key} has no estimate" + ("" if why == "open" else f" but is {why}")
        yield _item_hit(item, message, {"status": item.history.current_status, "why": why})


# -- missing_acceptance_criteria ---------------------------------------------------------------

Where = Literal["description", "field", "checklist"]


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _compile(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return pattern


class AcceptanceCriteriaParams(Params):
    """Where a story's acceptance criteria may be written (`where`: any of them counts).

    - `description`: the description's section under the first heading `section` matches
      (a regular expression, case-insensitive; see `_section_body`), with a word in it.
    - `field`: the tracker's acceptance-criteria field, as the item's connector reads it
      (Azure DevOps: `Microsoft.VSTS.Common.AcceptanceCriteria`; Jira: the field the
      connector's `acceptance_criteria_field` names; Trello has none), with a word in it.
      `field` only names it in the message: which field holds the criteria is the
      connector's setting, not the policy's.
    - `checklist`: the item's checklists (a Trello card's; Jira and Azure DevOps: the field
      the connector's `checklist_field` names). One item with text counts, checked or not:
      criteria are written before the work and checked off as the work meets them.
    """

    where: tuple[Where, ...] = Field(default=("description",), min_length=1)
    section: str = Field(default="acceptance criteria", min_length=1)
    field: str | None = Field(default=None, min_length=1)
    applies_to: AppliesTo = "committed"
    item_types: tuple[ItemType, ...] = Field(default=("story",), min_length=1)

    _where_one = field_validator("where", mode="before")(_as_tuple)
    _section_re = field_validator("section")(_compile)


# A heading line: wiki markup (h3. Title), markdown (### Title), or a whole line in bold.
_HEADING = re.compile(r"^\s*(?:h[1-6]\.\s|#{1,6}\s|\*{1,2}[^*]+\*{1,2}\s*:?\s*$)", re.IGNORECASE)
_LEADING_MARKUP = re.compile(r"^\s*(?:h[1-6]\.\s*|#{1,6}\s*)?[*_+\s]*", re.IGNORECASE)
_WORD = re.compile(r"\w")


def _section_body(description: str, section: str) -> str | None:
    """The text under the first heading that `section` matches (None: no such heading).

    The heading must match `section` at its start and up to a word's end
    (``AC`` does not match ``Account``). It may be wiki markup
    (``h3. Acceptance criteria``), markdown, a bold line or a plain line;
    text on the heading's own line after a colon counts
    (``Acceptance criteria: the user ...``). The body runs to the next
    heading line or the end.
    """
    pattern = re.compile(rf"(?:{section})(?!\w)", re.IGNORECASE)
    lines = description.splitlines()
    for index, line in enumerate(lines):
        text = _LEADING_MARKUP.sub("", line, count=1)
        found = pattern.match(text)
        if not found:
            continue
        body = [text[found.end() :].lstrip(" \t:*_-")]
        for following in lines[index + 1 :]:
            if _HEADING.match(following):
                break
            body.append(following)
        return "\n".join(body)
    return None


def has_acceptance_criteria(item: ItemFacts, params: AcceptanceCriteriaParams) -> bool:
    """Whether any of `params.where` holds acceptance criteria for the item."""
    for where in params.where:
        if where == "description":
            body = _section_body(item.description or "", params.section)
            if body is not None and _WORD.search(body):
                return True
        elif where == "field":
            if _WORD.search(item.acceptance_criteria or ""):
                return True
        elif any(_WORD.search(text) for text, _ in item.checklist):
            return True
    return False


_REGEX_SYNTAX = re.compile(r"[\\^$.*+?()\[\]{}]")


def _section_in_words(section: str) -> str:
    """The heading a `section` pattern looks for, as a person reads it, never the pattern.

    Plain alternatives are quoted, the first being the name and the rest in
    brackets (``'acceptance criteria' (or 'AC')``); a pattern with any other
    regular-expression syntax is described, not shown.
    """
    names = [name.strip() for name in section.split("|")]
    if any(not name or _REGEX_SYNTAX.search(name) for name in names):
        return "acceptance-criteria"
    first, *others = (repr(name) for name in names)
    return first + (f" (or {', '.join(others)})" if others else "")


def _looked_in(params: AcceptanceCriteriaParams) -> str:
    places = {
        "description": f"the description's {_section_in_words(params.section)} section",
        "field": f"field {params.field!r}" if params.field else "the acceptance-criteria field",
        "checklist": "the checklist",
    }
    return " or ".join(places[w] for w in params.where)


def missing_acceptance_criteria(
    params: AcceptanceCriteriaParams,
    team: TeamFacts,
    items: Sequence[ItemFacts],
    ctx: RuleContext,
) -> Iterator[Hit]:
    for item in _of_types(items, params.item_types):
        why = _commitment(item, params.applies_to, ctx)
        if why is None or has_acceptance_criteria(item, params):
            continue
        message = f"{item.key} has no acceptance criteria (looked in {_looked_in(params)})"
        yield _item_hit(item, message, {"status": item.history.current_status, "why": why})


# -- user_story_template -----------------------------------------------------------------------

DEFAULT_STORY_PATTERN = r"As an? .+ I want .+ so that .+"
_SPACE = re.compile(r"\s+")
_EMPHASIS = re.compile(r"[*_]+")


class UserStoryTemplateParams(Params):
    pattern: str = Field(default=DEFAULT_STORY_PATTERN, min_length=1)
    where: tuple[Literal["title", "description"], ...] = Field(
        default=("title", "description"), min_length=1
    )
    applies_to: AppliesTo = "committed"
    item_types: tuple[ItemType, ...] = Field(default=("story",), min_length=1)

    _where_one = field_validator("where", mode="before")(_as_tuple)
    _pattern_re = field_validator("pattern")(_compile)


def _story_text(text: str | None) -> str:
    """Emphasis markers dropped and every run of whitespace (newlines too) made one space."""
    return _SPACE.sub(" ", _EMPHASIS.sub("", text or "")).strip()


def user_story_template(
    params: UserStoryTemplateParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    pattern = re.compile(params.pattern, re.IGNORECASE)
    for item in _of_types(items, params.item_types):
        why = _commitment(item, params.applies_to, ctx)
        if why is None:
            continue
        texts = {"title": item.title, "description": item.description}
        if any(pattern.search(_story_text(texts[w])) for w in params.where):
            continue
        where = " or ".join(params.where)
        message = f"{item.key} does not follow the user-story template in its {where}"
        yield _item_hit(item, message, {"pattern": params.pattern, "why": why})


# -- wip_limit ---------------------------------------------------------------------------------


class WipLimitParams(_WithItemTypes):
    limits: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    total: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_limit(self) -> WipLimitParams:
        if not self.limits and self.total is None:
            raise ValueError("limits is required: a limit per stage name (or total)")
        return self


def wip_limit(
    params: WipLimitParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    counted = list(_of_types(items, params.item_types))
    name = team.team
    if params.total is not None:
        keys = sorted(i.key for i in counted if i.metrics.in_progress)
        if len(keys) > params.total:
            yield Hit(
                scope="team",
                scope_key=name,
                subject=(name,),
                team=name,
                source=None,
                message=f"{name} has {_plural(len(keys), 'item')} in progress "
                f"(limit {params.total})",
                details={"items": len(keys), "limit": params.total, "keys": ", ".join(keys)},
            )
    for stage, limit in sorted(params.limits.items()):
        keys = sorted(i.key for i in counted if i.metrics.stage == stage)
        if len(keys) > limit:
            yield Hit(
                scope="team",
                scope_key=f"{name} / {stage}",
                subject=(name, stage),
                team=name,
                source=None,
                message=f"{name} has {_plural(len(keys), 'item')} in {stage} (limit {limit})",
                details={
                    "stage": stage,
                    "items": len(keys),
                    "limit": limit,
                    "keys": ", ".join(keys),
                },
            )


# -- aging_wip ---------------------------------------------------------------------------------


class AgingWipParams(_WithItemTypes):
    percentile: Literal[50, 70, 85, 95] = 85
    factor: float = Field(default=1.0, gt=0)


def _ordinal(n: int) -> str:
    return f"{n}th"  # 50th, 70th, 85th, 95th: the only percentiles computed


def aging_wip(
    params: AgingWipParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    cycle_time = team.cycle_time_percentiles.get(params.percentile)
    if cycle_time is None:
        return  # no item finished in the window: nothing to compare with
    limit = cycle_time * params.factor
    times = "" if params.factor == 1 else f"{_num(params.factor)} times "
    for item in _of_types(items, params.item_types):
        age = item.metrics.wip_age_days
        if not item.metrics.in_progress or age is None or age <= limit:
            continue
        message = (
            f"{item.key} has been in progress longer than {times}{team.team}'s "
            f"{_ordinal(params.percentile)}-percentile cycle time"
        )
        yield _item_hit(
            item,
            message,
            {
                "age_days": round(age, 2),
                "percentile": params.percentile,
                "cycle_time_days": round(cycle_time, 2),
                "factor": params.factor,
                "limit_days": round(limit, 2),
                "stage": item.metrics.stage,
            },
        )


# -- stale_in_progress -------------------------------------------------------------------------


class StaleInProgressParams(_WithItemTypes):
    days: int = Field(default=5, ge=1)


def stale_in_progress(
    params: StaleInProgressParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    for item in _of_types(items, params.item_types):
        if not item.metrics.in_progress:
            continue
        last = last_activity(item)
        idle = (ctx.now - last).total_seconds()
        if idle <= params.days * _SECONDS_PER_DAY:
            continue
        message = (
            f"{item.key} has been in progress with no update for more than "
            f"{_plural(params.days, 'day')}"
        )
        yield _item_hit(
            item,
            message,
            {
                "days_since_update": _days(idle),
                "last_update": last.isoformat(),
                "limit_days": params.days,
                "stage": item.metrics.stage,
            },
        )


# -- blocked_too_long --------------------------------------------------------------------------


class BlockedTooLongParams(_WithItemTypes):
    days: int = Field(default=3, ge=1)


def _flagged_since(item: ItemFacts) -> datetime | None:
    """When the current flag went up (a repeated "flagged" does not restart it)."""
    if not item.flagged:
        return None
    since = None
    for change in item.history.flag_changes:
        if change.flagged and since is None:
            since = change.at
        elif not change.flagged:
            since = None
    return since


def _blocked_stage_since(item: ItemFacts, team: TeamFacts) -> tuple[datetime, str] | None:
    """When the item entered the run of blocked stages it is in now, and the current stage."""
    workflow = team.workflow
    if not workflow.blocked_stages:
        return None
    timeline = stage_timeline(item.history, workflow)
    names = workflow.stage_names
    current = names[timeline[-1].stage]
    if current not in workflow.blocked_stages:
        return None
    since = timeline[-1].start
    for interval in reversed(timeline[:-1]):
        if names[interval.stage] not in workflow.blocked_stages:
            break
        since = interval.start
    return since, current


def blocked_too_long(
    params: BlockedTooLongParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    """In-progress items flagged, or in a blocked stage, for more than `days`.

    Flagged since: the flag change that raised the current flag (an item
    flagged now with no flag change in its history cannot be timed and is
    left out). In both a flag and a blocked stage: since the earlier.
    """
    for item in _of_types(items, params.item_types):
        if not item.metrics.in_progress:
            continue
        flagged = _flagged_since(item)
        in_stage = _blocked_stage_since(item, team)
        starts = [s for s in (flagged, in_stage[0] if in_stage else None) if s is not None]
        if not starts:
            continue
        since = min(starts)
        blocked = (ctx.now - since).total_seconds()
        if blocked <= params.days * _SECONDS_PER_DAY:
            continue
        how = [*(["flagged"] if flagged else []), *([f"in {in_stage[1]}"] if in_stage else [])]
        message = f"{item.key} has been blocked for more than {_plural(params.days, 'day')}"
        yield _item_hit(
            item,
            message,
            {
                "blocked_days": _days(blocked),
                "blocked_since": since.isoformat(),
                "how": ", ".join(how),
                "limit_days": params.days,
            },
        )


# -- sprint_scope_added ------------------------------------------------------------------------


def _sprints_in_view(team: TeamFacts) -> list[tuple[int, SprintMetrics]]:
    """(position, sprint) of the team's active sprints and its last closed one, in order."""
    closed = [
        (s.measured_at, i)
        for i, s in enumerate(team.sprints)
        if s.state == "closed" and s.measured_at is not None
    ]
    last = max(closed)[1] if closed else None
    return [(i, s) for i, s in enumerate(team.sprints) if s.state == "active" or i == last]


def _sprint_hit(sprint: SprintMetrics, message: str, details: dict[str, float | str]) -> Hit:
    return Hit(
        scope="sprint",
        scope_key=sprint.name,
        subject=(sprint.team, sprint.sprint_id),
        team=sprint.team,
        source=None,
        message=message,
        details={"sprint_id": sprint.sprint_id, "state": sprint.state, **details},
    )


class SprintScopeAddedParams(Params):
    max_percent: float = Field(default=20, ge=0)


def sprint_scope_added(
    params: SprintScopeAddedParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    """Added after the start / committed at the start, in points (items if none committed).

    Gross additions (removals do not offset them), at the points each item
    had when it joined, as Jira's sprint report counts them.
    """
    for _, sprint in _sprints_in_view(team):
        if sprint.committed_points > 0:
            unit, added, committed = "point", sprint.added_points, sprint.committed_points
        elif sprint.committed_items > 0:
            unit, added, committed = "item", float(sprint.added_items), sprint.committed_items
        else:
            continue  # nothing committed: no base for a percentage
        percent = added / committed * 100
        if percent <= params.max_percent:
            continue
        message = (
            f"{sprint.name} gained {percent:.0f}% scope after it started: "
            f"{_plural(added, unit)} added to {_num(committed)} committed "
            f"(limit {_num(params.max_percent)}%)"
        )
        yield _sprint_hit(
            sprint,
            message,
            {
                "unit": f"{unit}s",
                "added": round(added, 2),
                "committed": round(committed, 2),
                "percent": round(percent, 1),
                "limit_percent": params.max_percent,
            },
        )


# -- sprint_overcommitment ---------------------------------------------------------------------


class SprintOvercommitmentParams(Params):
    max_percent: float = Field(default=20, ge=0)
    sprints: int = Field(default=3, ge=1, le=20)


def sprint_overcommitment(
    params: SprintOvercommitmentParams,
    team: TeamFacts,
    items: Sequence[ItemFacts],
    ctx: RuleContext,
) -> Iterator[Hit]:
    """Committed at the start vs. the mean completed of the last `sprints` closed before it.

    In points; in items when the sprint committed no points or the team
    completed none. Fewer earlier sprints are averaged when there are fewer
    (none: no finding); a velocity of 0 gives no percentage and no finding.
    """
    for position, sprint in _sprints_in_view(team):
        before = [s for s in team.sprints[:position] if s.state == "closed"][-params.sprints :]
        if not before:
            continue
        points = sum(s.completed_points for s in before) / len(before)
        items_done = sum(s.completed_items for s in before) / len(before)
        if sprint.committed_points > 0 and points > 0:
            unit, committed, velocity = "point", sprint.committed_points, points
        elif sprint.committed_items > 0 and items_done > 0:
            unit, committed, velocity = "item", float(sprint.committed_items), items_done
        else:
            continue
        percent = (committed / velocity - 1) * 100
        if percent <= params.max_percent:
            continue
        message = (
            f"{sprint.name} committed {_plural(committed, unit)}, {percent:.0f}% over the "
            f"recent velocity of {_plural(velocity, unit)} (limit {_num(params.max_percent)}%)"
        )
        yield _sprint_hit(
            sprint,
            message,
            {
                "unit": f"{unit}s",
                "committed": round(committed, 2),
                "velocity": round(velocity, 2),
                "sprints_averaged": len(before),
                "percent_over": round(percent, 1),
                "limit_percent": params.max_percent,
            },
        )


# -- carried_over ------------------------------------------------------------------------------


class CarriedOverParams(_WithItemTypes):
    sprints: int = Field(default=2, ge=1)


def carried_over(
    params: CarriedOverParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    """Open items that were in `sprints` or more sprints when those closed, not done then.

    In a sprint at its close C: a stay with ``added_at <= C < removed_at``;
    done at C: in a stage at or after the team's done stage at C.
    """
    workflow = team.workflow
    done_index = workflow.done_index
    for item in _of_types(items, params.item_types):
        if item.metrics.done_at is not None:
            continue
        missed: dict[str, SprintMetrics] = {}
        timeline = None
        for stay in item.history.sprint_stays:
            sprint = ctx.sprints.get(stay.sprint_id)
            if sprint is None or sprint.state != "closed" or sprint.measured_at is None:
                continue
            close = sprint.measured_at
            if not (
                stay.added_at <= close and (stay.removed_at is None or close < stay.removed_at)
            ):
                continue
            if timeline is None:
                timeline = stage_timeline(item.history, workflow)
            starts = [interval.start for interval in timeline]
            at_close = timeline[max(bisect.bisect_right(starts, close) - 1, 0)]
            if at_close.stage < done_index:
                missed[sprint.sprint_id] = sprint
        if len(missed) < params.sprints:
            continue
        ordered = sorted(missed.values(), key=lambda s: (s.measured_at, s.sprint_id))
        message = (
            f"{item.key} has been carried over from {_plural(len(ordered), 'sprint')} "
            f"(threshold {params.sprints})"
        )
        yield _item_hit(
            item,
            message,
            {
                "sprints": len(ordered),
                "sprint_names": ", ".join(s.name for s in ordered),
                "threshold": params.sprints,
            },
        )


# -- missing_assignee --------------------------------------------------------------------------


class MissingAssigneeParams(_WithItemTypes):
    pass


def missing_assignee(
    params: MissingAssigneeParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    for item in _of_types(items, params.item_types):
        if item.metrics.in_progress and not (item.assignee or "").strip():
            message = f"{item.key} is in progress with no assignee"
            yield _item_hit(item, message, {"stage": item.metrics.stage})


# -- missing_parent_epic -----------------------------------------------------------------------


class MissingParentEpicParams(Params):
    parent_types: tuple[ItemType, ...] = Field(default=("epic",), min_length=1)
    item_types: tuple[ItemType, ...] = Field(default=ESTIMATED_TYPES, min_length=1)


def missing_parent_epic(
    params: MissingParentEpicParams, team: TeamFacts, items: Sequence[ItemFacts], ctx: RuleContext
) -> Iterator[Hit]:
    """In-progress items with no parent, or whose parent is known not to be an epic.

    A parent whose type is unknown (`ItemFacts.parent_type` None) is given
    the benefit of the doubt.
    """
    wanted = " or ".join(params.parent_types)
    for item in _of_types(items, params.item_types):
        if not item.metrics.in_progress:
            continue
        parent, kind = item.parent_key, item.parent_type
        if parent is None:
            message = f"{item.key} is in progress with no parent {wanted}"
        elif kind is not None and kind not in params.parent_types:
            message = (
                f"{item.key} is in progress and its parent {parent} is {_a(kind)}, not {_a(wanted)}"
            )
        else:
            continue
        yield _item_hit(
            item,
            message,
            {"parent_key": parent or "", "parent_type": kind or "", "stage": item.metrics.stage},
        )


# -- the portfolio rules: helpers ------------------------------------------------------------------


def _percent(fraction: float) -> str:
    """0.5 -> '50%', 0.125 -> '12.5%': a probability as a person says it."""
    return f"{_num(fraction * 100)}%"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _request_hit(facts: RequestFacts, message: str, details: Mapping[str, float | str]) -> Hit:
    return _ref_hit(facts.request.ref, facts.request.team, message, details)


def _ref_hit(
    ref: ItemRef,
    team: str | None,
    message: str,
    details: Mapping[str, float | str],
    *more: str,
) -> Hit:
    return Hit(
        scope="item",
        scope_key=ref[1],
        subject=(ref[0], ref[1], *more),
        team=team or "",
        source=ref[0],
        message=message,
        details=dict(details),
    )


def _iso(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def _open_requests(portfolio: TeamPortfolio) -> Iterator[RequestFacts]:
    return (r for r in portfolio.requests if r.request.is_open)


# -- due_date_unlikely -----------------------------------------------------------------------------


class DueDateUnlikelyParams(Params):
    min_probability: float = Field(default=0.5, gt=0, le=1)


def due_date_unlikely(
    params: DueDateUnlikelyParams, portfolio: TeamPortfolio, ctx: RuleContext
) -> Iterator[Hit]:
    """Open requests whose forecast gives them less than `min_probability` of being done by
    their due date. A due date already passed is `due_date_passed`'s; a request with no
    forecast (no throughput history: the forecast's reason says why) gives no finding."""
    for facts in _open_requests(portfolio):
        forecast, due = facts.forecast, facts.request.due_date
        if forecast is None or due is None or due < portfolio.today:
            continue
        probability = forecast.due_probability
        if probability is None or probability >= params.min_probability:
            continue
        message = (
            f"{facts.key} is less than {_percent(params.min_probability)} likely to be done "
            f"by its due date {due.isoformat()}"
        )
        details: dict[str, float | str] = {
            "due_date": due.isoformat(),
            "probability": round(probability, 4),
            "min_probability": params.min_probability,
        }
        for percentile, day in sorted(forecast.dates.items()):
            details[f"p{percentile}"] = _iso(day)
        yield _request_hit(facts, message, details)


# -- due_date_passed -------------------------------------------------------------------------------


class DueDatePassedParams(Params):
    grace_days: int = Field(default=0, ge=0)


def due_date_passed(
    params: DueDatePassedParams, portfolio: TeamPortfolio, ctx: RuleContext
) -> Iterator[Hit]:
    """Open requests more than `grace_days` days past their due date (a request due today is
    not late: it has the day)."""
    for facts in _open_requests(portfolio):
        due = facts.request.due_date
        if due is None:
            continue
        late = (portfolio.today - due).days
        if late <= params.grace_days:
            continue
        message = f"{facts.key} was due on {due.isoformat()} and is not done"
        yield _request_hit(
            facts,
            message,
            {
                "due_date": due.isoformat(),
                "days_late": late,
                "grace_days": params.grace_days,
                "stage": facts.request.stage.value,
            },
        )


# -- dependency_at_risk ----------------------------------------------------------------------------

RiskName = Literal["late_for_due", "late_for_forecast", "started_before_blocker"]


class DependencyAtRiskParams(Params):
    risks: tuple[RiskName, ...] = Field(
        default=("late_for_due", "late_for_forecast", "started_before_blocker"), min_length=1
    )
    across_teams_only: bool = False

    _risks_one = field_validator("risks", mode="before")(_as_tuple)


def _risk_words(dependency: DependencyRisk, request: ItemRef, wanted: frozenset[str]) -> list[str]:
    """Each wanted risk of the dependency as a clause about its blocker ("it"); a date risk
    names whose date it is (the waiting item's, else its request's)."""
    words = []
    for found in dependency.risks:
        if found.risk.value not in wanted:
            continue
        of = (found.of or request)[1]
        if found.risk is Risk.LATE_FOR_DUE:
            due = f"{of}'s due date {_iso(found.against)}"
            words.append(
                f"it has no forecast and cannot finish by {due}"
                if found.at_least
                else f"it is forecast to finish after {due}"
            )
        elif found.risk is Risk.LATE_FOR_FORECAST:
            words.append(
                f"it has no forecast and cannot finish before {of} is forecast to"
                if found.at_least
                else f"it is forecast to finish after {of} is forecast to"
            )
        else:
            words.append(f"{dependency.waiting[1]} is in progress and it has not started")
    return words


def dependency_at_risk(
    params: DependencyAtRiskParams, portfolio: TeamPortfolio, ctx: RuleContext
) -> Iterator[Hit]:
    """One finding per dependency at risk that an open request waits on (itself or through an
    item below it), with the kinds of risk in `risks`; `across_teams_only` leaves out the
    dependencies within one team."""
    wanted = frozenset(params.risks)
    for facts in _open_requests(portfolio):
        ref = facts.request.ref
        for dependency in facts.waiting_on:
            if dependency.status is not DependencyStatus.AT_RISK:
                continue
            if params.across_teams_only and dependency.within_team:
                continue
            words = _risk_words(dependency, ref, wanted)
            if not words:
                continue
            blocker = dependency.blocker[1]
            if dependency.blocker_team and dependency.blocker_team != facts.request.team:
                blocker += f" of {dependency.blocker_team}"
            through = "" if dependency.waiting == ref else f" (through {dependency.waiting[1]})"
            message = f"{facts.key} waits on {blocker}{through}: {'; '.join(words)}"
            late = [f.days for f in dependency.risks if f.days is not None]
            yield _ref_hit(
                ref,
                facts.request.team,
                message,
                {
                    "blocker": dependency.blocker[1],
                    "blocker_source": dependency.blocker[0],
                    "blocker_team": dependency.blocker_team or "",
                    "waiting": dependency.waiting[1],
                    "risks": ", ".join(f.risk.value for f in dependency.risks),
                    "blocker_finish": _iso(dependency.blocker_finish),
                    "days_late": max(late) if late else "",
                },
                *dependency.waiting,
                *dependency.blocker,
            )


# -- intake_too_long -------------------------------------------------------------------------------


class IntakeTooLongParams(Params):
    days: int = Field(default=30, ge=1)


def intake_too_long(
    params: IntakeTooLongParams, portfolio: TeamPortfolio, ctx: RuleContext
) -> Iterator[Hit]:
    """Requests in the funnel's intake stage for more than `days` days (since they entered
    it; since they were created when that is not known)."""
    for facts in portfolio.requests:
        if facts.funnel_stage != "intake":
            continue
        since = facts.funnel_since or facts.request.created
        waited = (portfolio.today - since).days
        if waited <= params.days:
            continue
        message = (
            f"{facts.key} has been waiting in intake for more than {_plural(params.days, 'day')}"
        )
        yield _request_hit(
            facts,
            message,
            {
                "days_in_intake": waited,
                "in_intake_since": since.isoformat(),
                "limit_days": params.days,
            },
        )


# -- target_date_moved -----------------------------------------------------------------------------

_DATE_WORDS = {"target_end": "target end date", "due_date": "due date"}


class TargetDateMovedParams(Params):
    times: int = Field(default=3, ge=1)


def target_date_moved(
    params: TargetDateMovedParams, portfolio: TeamPortfolio, ctx: RuleContext
) -> Iterator[Hit]:
    """Open items whose target date (`schedule.target_of`: the target end, else the due
    date) moved later `times` times or more; moves earlier do not offset them."""
    for moves in portfolio.date_moves:
        if moves.moves_later < params.times:
            continue
        words = _DATE_WORDS.get(moves.field, moves.field)
        message = (
            f"{moves.ref[1]}'s {words} has moved later {_times(moves.moves_later)}, "
            f"{_plural(moves.days_later, 'day')} in all (threshold {params.times})"
        )
        yield _ref_hit(
            moves.ref,
            moves.team,
            message,
            {
                "field": moves.field,
                "moves_later": moves.moves_later,
                "days_later": moves.days_later,
                "slips": ", ".join(str(d) for d in moves.slips),
                "net_days": moves.net_days,
                "threshold": params.times,
            },
        )


# -- theme_off_target and unaligned_work -----------------------------------------------------------

Measure = Literal["wip_days", "wip", "done_items", "done_points", "requests_open"]
_MEASURE_WORDS: dict[str, str] = {
    "wip_days": "work in progress (item-days over the window)",
    "wip": "items in progress now",
    "done_items": "items done over the window",
    "done_points": "points done over the window",
    "requests_open": "open requests",
}


def _share_of(shares: ThemeShares, measure: Measure) -> Share:
    found: Share = getattr(shares, measure)
    return found


def _window_details(window: PeriodShares, share: Share, measure: str) -> dict[str, float | str]:
    return {
        "measure": measure,
        "amount": round(share.amount, 2),
        "total": round(share.total, 2),
        "percent": round(share.percent or 0.0, 1),
        "window_first": window.first.isoformat(),
        "window_last": window.last.isoformat(),
    }


class ThemeOffTargetParams(Params):
    max_points: float = Field(default=10, ge=0, le=100)
    measure: Measure = "wip_days"
    direction: Literal["both", "below", "above"] = "both"


def theme_off_target(
    params: ThemeOffTargetParams, view: ThemeView, ctx: RuleContext
) -> Iterator[Hit]:
    """A theme whose share of the portfolio's work is more than `max_points` percentage
    points off its target share (`direction`: below it, above it, or either). A theme with
    no target, or a window with no work, gives no finding."""
    shares = view.shares
    share = _share_of(shares, params.measure)
    if shares.theme is None or share.off_target is None or share.percent is None:
        return
    off = share.off_target
    if abs(off) <= params.max_points:
        return
    side = "below" if off < 0 else "above"
    if params.direction not in ("both", side):
        return
    message = (
        f"Theme {shares.theme} has {share.percent:.0f}% of the {_MEASURE_WORDS[params.measure]}, "
        f"{abs(off):.0f} points {side} its target of {_num(shares.target_share or 0)}% "
        f"(limit {_num(params.max_points)} points)"
    )
    yield Hit(
        scope="theme",
        scope_key=shares.theme,
        subject=(shares.theme,),
        team="",
        source=None,
        message=message,
        details={
            **_window_details(view.window, share, params.measure),
            "target_share": shares.target_share or 0.0,
            "off_target_points": round(off, 1),
            "limit_points": params.max_points,
        },
    )


class UnalignedWorkParams(Params):
    max_percent: float = Field(default=20, ge=0, le=100)
    measure: Measure = "wip_days"


def unaligned_work(
    params: UnalignedWorkParams, portfolio: TeamPortfolio, ctx: RuleContext
) -> Iterator[Hit]:
    """A team whose work aligned to no theme is more than `max_percent` of its work (its own
    theme shares' unaligned row, over the window). No work, no percentage, no finding."""
    if portfolio.strategy is None:
        return
    window = portfolio.strategy.window
    share = _share_of(window.unaligned, params.measure)
    if share.percent is None or share.percent <= params.max_percent:
        return
    message = (
        f"{portfolio.team} has {share.percent:.0f}% of its {_MEASURE_WORDS[params.measure]} "
        f"aligned to no theme (limit {_num(params.max_percent)}%)"
    )
    yield Hit(
        scope="team",
        scope_key=portfolio.team,
        subject=(portfolio.team,),
        team=portfolio.team,
        source=None,
        message=message,
        details={
            **_window_details(window, share, params.measure),
            "limit_percent": params.max_percent,
        },
    )


# -- the registry ------------------------------------------------------------------------------

RULES: dict[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        RuleSpec(
            "missing_estimate",
            MissingEstimateParams,
            missing_estimate,
            "a committed item has no estimate",
        ),
        RuleSpec(
            "missing_acceptance_criteria",
            AcceptanceCriteriaParams,
            missing_acceptance_criteria,
            "a story has no acceptance criteria (description section, field or checklist)",
        ),
        RuleSpec(
            "user_story_template",
            UserStoryTemplateParams,
            user_story_template,
            "a story is not written as 'As a ..., I want ..., so that ...'",
        ),
        RuleSpec(
            "wip_limit",
            WipLimitParams,
            wip_limit,
            "more items in a stage (or in progress) than the team's limit",
            stage_names=lambda p: p.limits,
        ),
        RuleSpec(
            "aging_wip",
            AgingWipParams,
            aging_wip,
            "an item in progress longer than the team's 85th-percentile cycle time",
        ),
        RuleSpec(
            "stale_in_progress",
            StaleInProgressParams,
            stale_in_progress,
            "an item in progress with no update for N days",
        ),
        RuleSpec(
            "blocked_too_long",
            BlockedTooLongParams,
            blocked_too_long,
            "an item flagged or in a blocked stage for more than N days",
        ),
        RuleSpec(
            "sprint_scope_added",
            SprintScopeAddedParams,
            sprint_scope_added,
            "scope added to a sprint after its start above X% of the commitment",
        ),
        RuleSpec(
            "sprint_overcommitment",
            SprintOvercommitmentParams,
            sprint_overcommitment,
            "a sprint committed more than X% over the recent velocity",
        ),
        RuleSpec(
            "carried_over",
            CarriedOverParams,
            carried_over,
            "an item carried over N or more sprints",
        ),
        RuleSpec(
            "missing_assignee",
            MissingAssigneeParams,
            missing_assignee,
            "an item in progress has no assignee",
        ),
        RuleSpec(
            "missing_parent_epic",
            MissingParentEpicParams,
            missing_parent_epic,
            "an item in progress has no parent epic",
        ),
        RuleSpec(
            "due_date_unlikely",
            DueDateUnlikelyParams,
            due_date_unlikely,
            "a request's forecast gives it less than X% of meeting its due date",
            kind="portfolio",
        ),
        RuleSpec(
            "due_date_passed",
            DueDatePassedParams,
            due_date_passed,
            "a request's due date has passed and it is not done",
            kind="portfolio",
        ),
        RuleSpec(
            "dependency_at_risk",
            DependencyAtRiskParams,
            dependency_at_risk,
            "a request waits on a dependency at risk",
            kind="portfolio",
        ),
        RuleSpec(
            "theme_off_target",
            ThemeOffTargetParams,
            theme_off_target,
            "a theme's share of the work is more than X points off its target",
            kind="theme",
            by_source=False,
        ),
        RuleSpec(
            "unaligned_work",
            UnalignedWorkParams,
            unaligned_work,
            "a team's work aligned to no theme is above X%",
            kind="portfolio",
            by_source=False,
        ),
        RuleSpec(
            "intake_too_long",
            IntakeTooLongParams,
            intake_too_long,
            "a request waits in intake for more than N days",
            kind="portfolio",
        ),
        RuleSpec(
            "target_date_moved",
            TargetDateMovedParams,
            target_date_moved,
            "an item's target date moved later N times",
            kind="portfolio",
        ),
    )
}
