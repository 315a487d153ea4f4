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
``[team]`` or ``[team, stage]`` for a team. Severity, mode, parameters and
the message are not part of it: retuning a rule keeps its open findings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pmo_sync.kpi.items import ItemMetrics
from pmo_sync.kpi.model import ItemHistory, Workflow
from pmo_sync.kpi.sprints import SprintMetrics

__all__ = [
    "ITEM_TYPES",
    "MODES",
    "SEVERITIES",
    "Finding",
    "ItemFacts",
    "Mode",
    "Scope",
    "Severity",
    "TeamFacts",
    "finding_identity",
]

Severity = Literal["info", "warning", "critical"]
Mode = Literal["advisory", "enforced", "off"]
Scope = Literal["item", "sprint", "team"]

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


def finding_identity(rule_id: str, scope: Scope, *subject: str) -> str:
    """The stable identity of a finding (see the module docstring)."""
    return json.dumps([rule_id, scope, *subject], ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's observation about one item, sprint or team, as of one evaluation.

    `rule_id` is the policy's id, `rule` the built-in rule it runs.
    `scope_key` is what a person reads: the tracker key, the sprint name,
    the team (``"<team> / <stage>"`` for a per-stage WIP limit). `source` is
    None for sprint and team findings. `message` is one sentence with the
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
