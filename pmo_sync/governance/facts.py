"""Building the facts rules read from what the KPI run and the store already have.

`team_facts` turns a `KpiRun` (plus the sprints it was computed from, for
their start order) into `TeamFacts`; `link_parents` fills each item's
`parent_type` from the other items. The text the rules read (description,
acceptance criteria, checklist) comes flattened already: each connector puts
it in its records (`connectors.richtext`), the store keeps it in columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pmo_sync.governance.model import ItemFacts, TeamFacts
from pmo_sync.kpi.model import SprintInfo, Workflow
from pmo_sync.kpi.sprints import SprintMetrics

if TYPE_CHECKING:
    from pmo_sync.kpi.compute import KpiRun

__all__ = ["link_parents", "team_facts"]

_LATEST = datetime.max.replace(tzinfo=UTC)


def team_facts(run: KpiRun, sprints: Iterable[SprintInfo]) -> dict[str, TeamFacts]:
    """Every team of the run: its workflow, cycle-time percentiles and sprints by start.

    Sprints without a start (future ones) come last; ties go by id.
    """
    starts = {s.id: s.start for s in sprints}
    by_team: dict[str, list[SprintMetrics]] = defaultdict(list)
    for metrics in run.sprints:
        by_team[metrics.team].append(metrics)

    def order(m: SprintMetrics) -> tuple[datetime, str]:
        return starts.get(m.sprint_id) or _LATEST, m.sprint_id

    teams = set(run.workflows) | set(run.flow.teams) | set(by_team)
    default = Workflow.from_categories({})
    facts = {}
    for team in sorted(teams):
        summary = run.flow.teams.get(team)
        facts[team] = TeamFacts(
            team=team,
            workflow=run.workflows.get(team, default),
            cycle_time_percentiles=dict(summary.cycle_time_percentiles) if summary else {},
            sprints=tuple(sorted(by_team.get(team, ()), key=order)),
        )
    return facts


def link_parents(items: Sequence[ItemFacts]) -> list[ItemFacts]:
    """The items with `parent_type` filled where the parent is one of them (same source).

    A `parent_type` already given (e.g. from the tracker's parent field) is kept.
    """
    types = {(i.source, i.key): i.item_type for i in items}
    linked = []
    for item in items:
        if item.parent_type is None and item.parent_key is not None:
            found = types.get((item.source, item.parent_key))
            if found is not None:
                item = replace(item, parent_type=found)
        linked.append(item)
    return linked
