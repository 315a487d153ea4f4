"""Building the facts rules read from what the KPI run and the store already have.

`team_facts` turns a `KpiRun` (plus the sprints it was computed from, for
their start order) into `TeamFacts`; `link_parents` fills each item's
`parent_type` from the other items; `plain_text` flattens a description
into the plain text the acceptance-criteria and template rules read: a Jira
Cloud (REST v3) Atlassian Document Format document, or the HTML Azure DevOps
keeps in `System.Description`; wiki or markdown text stays as it is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from pmo_sync.governance.model import ItemFacts, TeamFacts
from pmo_sync.kpi.model import SprintInfo, Workflow
from pmo_sync.kpi.sprints import SprintMetrics

if TYPE_CHECKING:
    from pmo_sync.kpi.compute import KpiRun

__all__ = ["link_parents", "plain_text", "team_facts"]

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


_BLOCKS = frozenset(
    {
        "paragraph",
        "heading",
        "listItem",
        "codeBlock",
        "blockquote",
        "rule",
        "tableRow",
        "panel",
        "taskItem",
        "decisionItem",
        "mediaSingle",
    }
)


def plain_text(value: Any) -> str:
    """A description as plain text: a string as it is; an ADF document flattened.

    Each block ends a line; a heading becomes ``h<level>. <text>`` (wiki
    markup, which the section finder knows); a list item starts with ``* ``;
    mentions, emoji and dates keep their visible text.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return _html_text(value) if _HTML.match(value) else value
    parts: list[str] = []
    _walk(value, parts)
    lines = "".join(parts).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _walk(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _walk(child, parts)
        return
    if not isinstance(node, Mapping):
        return
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
    if kind == "text":
        parts.append(str(node.get("text", "")))
        return
    if kind == "hardBreak":
        parts.append("\n")
        return
    if kind in ("mention", "emoji", "status", "date", "inlineCard"):
        parts.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or ""))
        return
    if kind == "heading":
        parts.append(f"h{attrs.get('level', 1)}. ")
    elif kind in ("listItem", "taskItem"):
        parts.append("* ")
    _walk(node.get("content", []), parts)
    if kind in _BLOCKS:
        parts.append("\n")
    elif kind == "tableCell" or kind == "tableHeader":
        parts.append(" | ")


_HTML = re.compile(r"\s*<(?:div|p|h[1-6]|ul|ol|li|br|span|b|strong|table|em|i)\b", re.IGNORECASE)
_HTML_BLOCKS = frozenset({"div", "p", "li", "tr", "ul", "ol", "table", "blockquote", "pre"})


class _HtmlText(HTMLParser):
    """Azure DevOps rich text → the same line shapes `_walk` gives ADF: a heading as
    ``h<level>. text``, a list item as ``* text``, each block on its own line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.parts.append(f"\nh{tag[1]}. ")
        elif tag == "li":
            self.parts.append("\n* ")
        elif tag in _HTML_BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_BLOCKS or (len(tag) == 2 and tag[0] == "h" and tag[1].isdigit()):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data.replace("\xa0", " "))


def _html_text(value: str) -> str:
    parser = _HtmlText()
    parser.feed(value)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line.strip())
