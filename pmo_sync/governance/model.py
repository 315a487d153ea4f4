"""The plain data governance rules read (`ItemFacts`, `TeamFacts`) and produce (`Finding`).

No database, no tracker, no clock: the store (or a test) builds the facts,
the rules read them with an explicit `now` and return findings.

**Message stability.** A finding's `message` changes only when the tracker's
data changes, never because time passed: it names the threshold ("no update
for more than 5 days") but not a number that grows with the clock (the 9
days). Those numbers are in `details`. A write-back comment built from the
message is then edited only when something real changed (an item moved
stage, scope was added, a sprint closed), not every day. Numbers that come
from data (items in a stage, points added to a sprint, sprints carried over)
are in the message, percentages rounded to whole percent.

**Identity.** `Finding.identity` is the same string in every run for the
same rule on the same thing, so the store can keep first seen, last seen
and resolved: a JSON array ``[rule_id, scope, *subject]`` where the subject
is ``[source, key]`` for an item, ``[team, sprint id]`` for a sprint,
``[team]`` or ``[team, stage]`` for a team, ``[theme]`` for a theme (a
portfolio-wide finding: it belongs to no team, its `team` is ``""``), and
``[source, key, *more]`` for an item where one item can have several findings
of one rule (a request waiting on two blockers). Severity, mode, parameters
and the message are not part of it: retuning a rule keeps its open findings.

**Portfolio facts.** The portfolio rules read what the portfolio answers
computed (`RequestFacts`, `PortfolioFacts`): the request forecasts, the
dependency risks, the date moves and the theme shares, as the answers'
own dataclasses, so the refresh fills them without translating anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from pmo_sync.kpi.items import ItemMetrics
from pmo_sync.kpi.model import ItemHistory, Workflow
from pmo_sync.kpi.sprints import SprintMetrics
from pmo_sync.portfolio.config import FunnelStage
from pmo_sync.portfolio.dependency_risk import DependencyRisk
from pmo_sync.portfolio.forecast import RequestForecast
from pmo_sync.portfolio.model import WorkItem
from pmo_sync.portfolio.schedule import ItemDateMoves
from pmo_sync.portfolio.strategy import StrategyAnswer

__all__ = [
    "ITEM_TYPES",
    "MODES",
    "SEVERITIES",
    "Finding",
    "ItemFacts",
    "Mode",
    "PortfolioFacts",
    "RequestFacts",
    "Scope",
    "Severity",
    "TeamFacts",
    "finding_identity",
]

Severity = Literal["info", "warning", "critical"]
Mode = Literal["advisory", "enforced", "off"]
Scope = Literal["item", "sprint", "team", "theme"]

SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
"""Lowest first: `SEVERITIES.index(s)` ranks a severity."""
MODES: tuple[Mode, ...] = ("advisory", "enforced", "off")
ITEM_TYPES = ("story", "bug", "task", "subtask", "epic", "other")
"""The normalised item types (`ItemHistory.item_type`)."""


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What rules see of one work item: its history and flow metrics, and its current fields.

    The key, source, team, type and parent key come from `history` (one
    place, so they cannot disagree). `metrics` must be
    ``item_metrics(history, <team workflow>, options, now)`` for the same
    `now` the rules get. `updated` is the last change a person made: the
    tracker's "updated" stamp, but **not** moved by pmo-sync's own
    write-back (a bot comment must not make a stale item look fresh).
    `description` is plain text, as the item's connector put it in its record
    (`WorkItemRecord.description`: wiki or markdown text as it comes, an ADF
    document or HTML flattened into lines, a heading as ``h3. Title``).
    `parent_type` is the parent's `item_type` when the parent is known (the
    tracker's word, or `pmo_sync.governance.facts.link_parents` fills it from
    the other items). `acceptance_criteria` is the text of the tracker's
    acceptance-criteria field, where it has one; `checklist` the items of the
    item's checklists (text, checked), for acceptance criteria kept there.
    """

    history: ItemHistory
    metrics: ItemMetrics
    title: str
    updated: datetime
    description: str | None = None
    assignee: str | None = None
    flagged: bool = False
    labels: tuple[str, ...] = ()
    parent_type: str | None = None
    acceptance_criteria: str | None = None
    checklist: tuple[tuple[str, bool], ...] = ()
    url: str = ""

    @property
    def key(self) -> str:
        return self.history.key

    @property
    def source(self) -> str:
        return self.history.source

    @property
    def team(self) -> str:
        return self.history.team

    @property
    def item_type(self) -> str:
        return self.history.item_type

    @property
    def parent_key(self) -> str | None:
        return self.history.parent_key


@dataclass(frozen=True, slots=True)
class TeamFacts:
    """What rules see of one team beyond its items.

    `cycle_time_percentiles` is the team's `FlowSummary.cycle_time_percentiles`
    (percentile → days, None without finished items). `sprints` are the
    team's `SprintMetrics` **ordered by sprint start** (future sprints last):
    "the sprints before this one" means earlier in this order.
    """

    team: str
    workflow: Workflow
    cycle_time_percentiles: Mapping[float, float | None] = field(default_factory=dict)
    sprints: tuple[SprintMetrics, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the portfolio rules see of one request (an epic, feature or initiative).

    `request` is the request as the portfolio answers read it (its ref, team, stage, due
    date, creation day). `forecast` is its entry of `request_forecasts` (None: done, or not
    forecast). `funnel_stage` is `portfolio.funnel.funnel_stage` of it now, and
    `funnel_since` the day it entered that stage (None: unknown, taken as its creation day:
    a request still in its first stage has been there since it was created).
    `waiting_on` is `DependencyReport.waiting_on(request.ref)`: the open dependencies it
    waits on, itself or through an item below it, every status (the rule picks the ones at
    risk).
    """

    request: WorkItem
    forecast: RequestForecast | None = None
    funnel_stage: FunnelStage | None = None
    funnel_since: date | None = None
    waiting_on: tuple[DependencyRisk, ...] = ()

    @property
    def source(self) -> str:
        return self.request.ref[0]

    @property
    def key(self) -> str:
        return self.request.ref[1]


@dataclass(frozen=True, slots=True)
class PortfolioFacts:
    """What the portfolio rules see beyond the team's items, as of the day `today`.

    - `requests`: every request the refresh found (open or done: a done one gives no finding).
    - `date_moves`: `portfolio.schedule.date_moves` over the **open** items, so a finding
      about a date that kept moving resolves when the item is done.
    - `strategy`: `strategy_shares` over every item (the portfolio's theme shares, what
      `theme_off_target` reads); None: no portfolio.yaml themes, no theme findings.
    - `team_strategy`: `strategy_shares` over each team's own items, by team name (what
      `unaligned_work` reads: the team's share of work aligned to no theme).

    A request, move or team with no team is under the team name ``""``.
    """

    today: date
    requests: tuple[RequestFacts, ...] = ()
    date_moves: tuple[ItemDateMoves, ...] = ()
    strategy: StrategyAnswer | None = None
    team_strategy: Mapping[str, StrategyAnswer] = field(default_factory=dict)


def finding_identity(rule_id: str, scope: Scope, *subject: str) -> str:
    """The stable identity of a finding (see the module docstring)."""
    return json.dumps([rule_id, scope, *subject], ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's observation about one item, sprint or team, as of one evaluation.

    `rule_id` is the policy's id, `rule` the built-in rule it runs.
    `scope_key` is what a person reads: the tracker key, the sprint name,
    the team (``"<team> / <stage>"`` for a per-stage WIP limit), the theme.
    `source` is None for sprint, team and theme findings; `team` is ``""``
    for a theme finding (the whole portfolio's). `message` is one sentence with the
    data's numbers and the threshold, stable while the data does not change;
    `details` has every number, including those that grow with time.
    `identity` matches the same finding across runs.
    """

    rule_id: str
    rule: str
    severity: Severity
    mode: Mode
    scope: Scope
    scope_key: str
    team: str
    source: str | None
    message: str
    details: Mapping[str, float | str]
    identity: str

    @property
    def required(self) -> bool:
        """An enforced rule's finding: the write-back marks it as required, not advice."""
        return self.mode == "enforced"
