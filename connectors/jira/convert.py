"""Raw Jira JSON → normalised records.

Pure functions, no I/O, tested as "this JSON gives these rows".

History is the source of truth. Jira does not log initial values, so the
state at creation is rebuilt backwards from the first change of each field
(its `from`), or from the current value when the field never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import structlog

from connectors.jira.portfolio import (
    DEFAULT_LINK_TYPES,
    issue_level,
    issue_links,
    jira_date,
    release_ids,
)
from connectors.richtext import checklist_items, text_or_none, written_text
from pmo_sync.domain import (
    DATE_FIELDS,
    ChangeField,
    ItemBundle,
    ItemChange,
    SprintMembership,
    SprintRecord,
    Stage,
    StatusRecord,
    WorkItemRecord,
)

log = structlog.get_logger(__name__)

__all__ = [
    "JiraFieldIds",
    "convert_issue",
    "convert_sprint",
    "convert_status",
    "find_field_ids",
    "parse_jira_datetime",
    "sprint_stays",
    "stage_for_category",
]

SPRINT_SCHEMA = "com.pyxis.greenhopper.jira:gh-sprint"
STORY_POINT_SCHEMAS = (
    "com.pyxis.greenhopper.jira:jsw-story-points",
    "com.atlassian.jira.plugin.system.customfieldtypes:float",
)
STORY_POINT_NAMES = ("story point estimate", "story points", "story point")
FLAGGED_NAMES = ("flagged", "impediment")
RANK_SCHEMA = "com.pyxis.greenhopper.jira:gh-lexo-rank"
EPIC_LINK_SCHEMA = "com.pyxis.greenhopper.jira:gh-epic-link"

_CATEGORY_STAGE = {"new": Stage.TODO, "indeterminate": Stage.IN_PROGRESS, "done": Stage.DONE}
_TYPE_NAMES = {
    "story": "story",
    "user story": "story",
    "bug": "bug",
    "defect": "bug",
    "task": "task",
    "epic": "epic",
    "sub-task": "subtask",
    "subtask": "subtask",
}


@dataclass(frozen=True, slots=True)
class JiraFieldIds:
    """Where this Jira keeps the fields whose history matters; ids differ per site."""

    sprint: str | None
    story_points: str | None
    flagged: str | None
    story_points_name: str | None = None
    clause_names: Mapping[str, str] = field(default_factory=dict)
    acceptance_criteria: str | None = None
    """The configured acceptance-criteria field (`acceptance_criteria_field`), if any."""
    checklist: str | None = None
    """The configured checklist field (`checklist_field`), if any."""
    rank: str | None = None
    """The Rank field (LexoRank), found by its schema, else by the name "Rank"."""
    epic_link: str | None = None
    """The older Epic Link field of company-managed projects, where the site has it."""
    start_date: str | None = None
    """The configured start-date field (`start_date_field`), if any."""
    target_start: str | None = None
    """The configured "Target start" field (`target_start_field`), if any."""
    target_end: str | None = None
    """The configured "Target end" field (`target_end_field`), if any."""

    def date_field_ids(self) -> dict[str, ChangeField]:
        """Each date field's id and the change field its history goes to (`duedate` always)."""
        found = {
            "duedate": ChangeField.DUE_DATE,
            self.start_date: ChangeField.START_DATE,
            self.target_start: ChangeField.TARGET_START,
            self.target_end: ChangeField.TARGET_END,
        }
        return {field_id: kind for field_id, kind in found.items() if field_id}

    def bulk_field_ids(self) -> list[str]:
        """The field ids worth fetching full histories for (bulk changelog takes ≤ 10: at
        most nine here)."""
        ids = ["status", "assignee", self.sprint, self.story_points, self.flagged]
        return [i for i in ids if i] + list(self.date_field_ids())

    def search_field_ids(self) -> list[str]:
        """The site's own fields an issue search asks for, beside the system ones."""
        ids = (self.sprint, self.story_points, self.flagged, self.acceptance_criteria)
        more = (self.checklist, self.rank, self.epic_link, self.start_date, self.target_start)
        return list(dict.fromkeys(i for i in (*ids, *more, self.target_end) if i))

    def to_json(self) -> dict[str, Any]:
        return {
            "sprint": self.sprint,
            "story_points": self.story_points,
            "flagged": self.flagged,
            "story_points_name": self.story_points_name,
            "clause_names": dict(self.clause_names),
            "acceptance_criteria": self.acceptance_criteria,
            "checklist": self.checklist,
            "rank": self.rank,
            "epic_link": self.epic_link,
            "start_date": self.start_date,
            "target_start": self.target_start,
            "target_end": self.target_end,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JiraFieldIds:
        return cls(
            sprint=data.get("sprint"),
            story_points=data.get("story_points"),
            flagged=data.get("flagged"),
            story_points_name=data.get("story_points_name"),
            clause_names=dict(data.get("clause_names", {})),
            acceptance_criteria=data.get("acceptance_criteria"),
            checklist=data.get("checklist"),
            rank=data.get("rank"),
            epic_link=data.get("epic_link"),
            start_date=data.get("start_date"),
            target_start=data.get("target_start"),
            target_end=data.get("target_end"),
        )


def _configured(
    setting: str, wanted: str | None, by_id: Mapping[str, Any], by_name: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """A field the config names by id or name; LookupError when this Jira has no such field."""
    if not wanted:
        return None
    found = by_id.get(wanted) or by_name.get(wanted.lower())
    if found is None:
        raise LookupError(
            f"{setting} {wanted!r} is neither a field id nor a field name this Jira knows"
        )
    return found


def find_field_ids(
    fields: Iterable[Mapping[str, Any]],
    story_points: str | None,
    *,
    acceptance_criteria: str | None = None,
    checklist: str | None = None,
    start_date: str | None = None,
    target_start: str | None = None,
    target_end: str | None = None,
) -> JiraFieldIds:
    """Find the Sprint, story-point and Flagged fields in `GET /field` by schema, then by name.

    `story_points` from the config wins; it may be a field id or a field name. The
    acceptance-criteria and checklist fields are only the configured ones (Jira has no
    standard field for either), by id or name, as are the start-date and target fields.
    Rank and Epic Link are found by their Jira Software schema, else by name.
    """
    fields = list(fields)
    by_id = {f["id"]: f for f in fields}
    by_name = {str(f.get("name", "")).lower(): f for f in fields}
    criteria = _configured("acceptance_criteria_field", acceptance_criteria, by_id, by_name)
    checks = _configured("checklist_field", checklist, by_id, by_name)
    start = _configured("start_date_field", start_date, by_id, by_name)
    t_start = _configured("target_start_field", target_start, by_id, by_name)
    t_end = _configured("target_end_field", target_end, by_id, by_name)

    def schema_custom(f: Mapping[str, Any]) -> str:
        return str((f.get("schema") or {}).get("custom", ""))

    sprint = next((f for f in fields if schema_custom(f) == SPRINT_SCHEMA), None)
    if sprint is None:
        sprint = by_name.get("sprint")

    points: Mapping[str, Any] | None = None
    if story_points:
        points = by_id.get(story_points) or by_name.get(story_points.lower())
        if points is None:
            raise LookupError(
                f"story_points_field {story_points!r} is neither a field id nor a field name "
                "this Jira knows"
            )
    else:
        points = next((by_name[n] for n in STORY_POINT_NAMES if n in by_name), None)
        if points is None:
            points = next((f for f in fields if schema_custom(f) == STORY_POINT_SCHEMAS[0]), None)

    flagged = next((by_name[n] for n in FLAGGED_NAMES if n in by_name), None)
    rank = next((f for f in fields if schema_custom(f) == RANK_SCHEMA), by_name.get("rank"))
    epic = next((f for f in fields if schema_custom(f) == EPIC_LINK_SCHEMA), None)
    if epic is None:
        epic = by_name.get("epic link")
    wanted = {
        f["id"] for f in (sprint, points, flagged, criteria, checks, start, t_start, t_end) if f
    }
    clauses = {
        name: f["id"]
        for f in fields
        if f["id"] in wanted or not f.get("custom")
        for name in f.get("clauseNames", [])
    }
    return JiraFieldIds(
        sprint=sprint["id"] if sprint else None,
        story_points=points["id"] if points else None,
        flagged=flagged["id"] if flagged else None,
        story_points_name=points.get("name") if points else None,
        clause_names=clauses,
        acceptance_criteria=criteria["id"] if criteria else None,
        checklist=checks["id"] if checks else None,
        rank=rank["id"] if rank else None,
        epic_link=epic["id"] if epic else None,
        start_date=start["id"] if start else None,
        target_start=t_start["id"] if t_start else None,
        target_end=t_end["id"] if t_end else None,
    )


def parse_jira_datetime(value: Any) -> datetime | None:
    """Jira writes `2026-01-05T10:12:00.000+0000`; bulk changelog writes epoch numbers.

    Python 3.11's `fromisoformat` reads the `+0000` offset and a `Z` itself: the text goes
    to it as it came (rewriting the offset with a regular expression first cost a tenth of
    a full sync's conversion, for a quarter of a million timestamps per 10,000 issues).
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 100_000_000_000 else value
        return datetime.fromtimestamp(seconds, UTC)
    parsed = datetime.fromisoformat(value if isinstance(value, str) else str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"Jira timestamp without a zone: {value!r}")
    return parsed.astimezone(UTC)


def stage_for_category(category: str) -> Stage:
    return _CATEGORY_STAGE.get(category, Stage.IN_PROGRESS)


def convert_status(raw: Mapping[str, Any], status_map: Mapping[str, Stage]) -> StatusRecord:
    category = str((raw.get("statusCategory") or {}).get("key", "indeterminate"))
    name = str(raw["name"])
    return StatusRecord(
        external_id=str(raw["id"]),
        name=name,
        category=category,
        stage=status_map.get(name, stage_for_category(category)),
    )


def convert_sprint(raw: Mapping[str, Any], team: str | None) -> SprintRecord:
    board = raw.get("originBoardId", raw.get("boardId"))
    return SprintRecord(
        external_id=str(raw["id"]),
        name=str(raw.get("name", "")),
        state=str(raw.get("state", "")).lower(),
        board_external_id=str(board) if board is not None else None,
        team=team,
        start=parse_jira_datetime(raw.get("startDate")),
        end=parse_jira_datetime(raw.get("endDate")),
        completed=parse_jira_datetime(raw.get("completeDate")),
        goal=raw.get("goal") or None,
    )


def _item_type(issuetype: Mapping[str, Any]) -> str:
    if issuetype.get("subtask"):
        return "subtask"
    return _TYPE_NAMES.get(str(issuetype.get("name", "")).lower(), "other")


def _parent_type(parent: Mapping[str, Any]) -> str | None:
    """The parent's normalised type, from the type Jira sends with the parent's reference."""
    issuetype = (parent.get("fields") or {}).get("issuetype")
    return _item_type(issuetype) if isinstance(issuetype, Mapping) else None


def _criteria(fields: Mapping[str, Any], ids: JiraFieldIds) -> str | None:
    """The acceptance-criteria field's text (a paragraph field: ADF, or wiki text on v2)."""
    if not ids.acceptance_criteria:
        return None
    return written_text(fields.get(ids.acceptance_criteria))


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sprint_ids(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _history_order(history: Mapping[str, Any]) -> tuple[datetime, int]:
    created = parse_jira_datetime(history["created"])
    assert created is not None
    raw_id = str(history.get("id", "0"))
    return created, int(raw_id) if raw_id.isdigit() else 0


def _change_field(
    item: Mapping[str, Any], ids: JiraFieldIds, dates: Mapping[str, ChangeField]
) -> ChangeField | None:
    """The change field a changelog item goes to; `dates` is `ids.date_field_ids()`, built
    once per issue rather than once per changelog item."""
    field_id = item.get("fieldId")
    name = str(item.get("field", "")).lower()
    if field_id == "status" or (field_id is None and name == "status"):
        return ChangeField.STATUS
    if field_id == "assignee" or (field_id is None and name == "assignee"):
        return ChangeField.ASSIGNEE
    if (ids.sprint and field_id == ids.sprint) or (field_id is None and name == "sprint"):
        return ChangeField.SPRINT
    if (ids.story_points and field_id == ids.story_points) or (
        field_id is None and ids.story_points_name and name == ids.story_points_name.lower()
    ):
        return ChangeField.ESTIMATE
    if (ids.flagged and field_id == ids.flagged) or (field_id is None and name == "flagged"):
        return ChangeField.FLAGGED
    if field_id is not None:
        return dates.get(str(field_id))
    return ChangeField.DUE_DATE if name == "duedate" else None


def _change_values(kind: ChangeField, item: Mapping[str, Any]) -> tuple[Any, ...]:
    """(from_value, to_value, from_display, to_display) for one changelog item."""
    frm, to = item.get("from"), item.get("to")
    frm_s, to_s = item.get("fromString"), item.get("toString")
    if kind is ChangeField.STATUS:
        return frm_s, to_s, frm_s, to_s  # names: what status maps and people both use
    if kind is ChangeField.SPRINT:
        return ",".join(_sprint_ids(frm)) or None, ",".join(_sprint_ids(to)) or None, frm_s, to_s
    if kind is ChangeField.ESTIMATE:
        f, t = (
            _float(frm_s if frm_s not in (None, "") else frm),
            _float(to_s if to_s not in (None, "") else to),
        )
        return (
            None if f is None else repr(f),
            None if t is None else repr(t),
            frm_s,
            to_s,
        )
    if kind is ChangeField.FLAGGED:
        return str(bool(frm_s or frm)).lower(), str(bool(to_s or to)).lower(), frm_s, to_s
    if kind in DATE_FIELDS:
        return _change_day(frm, frm_s, kind), _change_day(to, to_s, kind), frm_s, to_s
    return frm or None, to or None, frm_s, to_s


def _change_day(value: Any, display: Any, kind: ChangeField) -> str | None:
    """A date change's value as an ISO day: `from`/`to` (`2026-12-07`), else the display
    string (`2026-12-07 00:00:00.0`); garbage is unknown (None, logged by `jira_date`)."""
    day = jira_date(value if value not in (None, "") else display, what=kind.value)
    return day.isoformat() if day is not None else None


def item_changes(
    external_id: str, histories: Iterable[Mapping[str, Any]], ids: JiraFieldIds
) -> list[ItemChange]:
    """The changes that matter, oldest first; one per (history, field)."""
    changes: list[ItemChange] = []
    # Each history's order key once (its timestamp parsed once), sorted stably on it.
    ordered = sorted(((_history_order(h), h) for h in histories), key=itemgetter(0))
    dates = ids.date_field_ids()
    for (at, _), history in ordered:
        author = (history.get("author") or {}).get("accountId")
        seen: dict[ChangeField, int] = {}
        for item in history.get("items", []):
            kind = _change_field(item, ids, dates)
            if kind is None:
                continue
            n = seen.get(kind, 0)
            seen[kind] = n + 1
            suffix = f"#{n}" if n else ""
            frm, to, frm_d, to_d = _change_values(kind, item)
            changes.append(
                ItemChange(
                    item_external_id=external_id,
                    change_id=f"{history['id']}:{kind.value}{suffix}",
                    field=kind,
                    at=at,
                    from_value=frm,
                    to_value=to,
                    from_display=frm_d,
                    to_display=to_d,
                    author=author,
                )
            )
    return changes


def sprint_stays(
    external_id: str,
    created: datetime,
    current_sprint_ids: Iterable[str],
    sprint_changes: Iterable[ItemChange],
) -> list[SprintMembership]:
    """Each stay of the item in each sprint, from its Sprint field changes.

    Before the first change the item was in the first change's `from`
    sprints (set at creation, which Jira does not log); with no change at
    all, in the sprints it holds now, since creation.
    """
    ordered = sorted(sprint_changes, key=lambda c: (c.at, c.change_id))
    initial = _sprint_ids(ordered[0].from_value) if ordered else list(current_sprint_ids)
    open_since: dict[str, datetime] = dict.fromkeys(initial, created)
    stays: list[SprintMembership] = []
    for change in ordered:
        before = set(_sprint_ids(change.from_value))
        after = _sprint_ids(change.to_value)
        # Trust the change's own `from` when it disagrees with what we rebuilt.
        for sprint_id in [s for s in open_since if s not in before]:
            stays.append(
                SprintMembership(external_id, sprint_id, open_since.pop(sprint_id), change.at)
            )
        for sprint_id in before:
            open_since.setdefault(sprint_id, change.at)
        for sprint_id in [s for s in open_since if s not in after]:
            stays.append(
                SprintMembership(external_id, sprint_id, open_since.pop(sprint_id), change.at)
            )
        for sprint_id in after:
            open_since.setdefault(sprint_id, change.at)
    stays.extend(
        SprintMembership(external_id, sprint_id, since, None)
        for sprint_id, since in open_since.items()
    )
    return sorted(stays, key=lambda s: (s.added_at, s.sprint_external_id))


def _last_activity(
    created: datetime, histories: Iterable[Mapping[str, Any]], bot: str | None
) -> datetime:
    """The latest history a person (not the write-back account) made; creation if none."""
    latest = created
    for history in histories:
        if bot is not None and (history.get("author") or {}).get("accountId") == bot:
            continue
        at = parse_jira_datetime(history.get("created"))
        if at is not None and at > latest:
            latest = at
    return latest


@dataclass(frozen=True, slots=True)
class IssueContext:
    """What converting one issue needs beyond its JSON."""

    base_url: str
    field_ids: JiraFieldIds
    status_map: Mapping[str, Stage]
    team_for_project: Mapping[str, str]
    bot_account_id: str | None = None  # whose edits are write-back, not activity
    link_types: tuple[str, ...] = DEFAULT_LINK_TYPES
    """The issue link types (names) that are dependencies."""
    waiting_outward: tuple[str, ...] = ()
    """Among them, the types whose outward issue waits (`outward: depends_on`): their
    links are stored with the direction reversed, so `outward` always blocks."""


def convert_issue(
    raw: Mapping[str, Any], histories: Iterable[Mapping[str, Any]], ctx: IssueContext
) -> ItemBundle:
    """One issue and its complete history → an `ItemBundle`."""
    fields = raw.get("fields") or {}
    external_id = str(raw["id"])
    key = str(raw["key"])
    status = fields.get("status") or {}
    category = str((status.get("statusCategory") or {}).get("key", "indeterminate"))
    status_name = str(status.get("name", ""))
    project = str((fields.get("project") or {}).get("key", key.split("-")[0]))
    created = parse_jira_datetime(fields.get("created"))
    updated = parse_jira_datetime(fields.get("updated"))
    if created is None or updated is None:
        raise ValueError(f"issue {key} has no created/updated timestamp")
    ids = ctx.field_ids
    sprint_values = (fields.get(ids.sprint) if ids.sprint else None) or []
    flagged_value = fields.get(ids.flagged) if ids.flagged else None
    parent = fields.get("parent") or {}
    parent_key = parent.get("key") or _epic_link(fields, ids)
    if parent_key == key:
        log.warning("jira_parent_is_itself", key=key)
        parent_key, parent = None, {}
    assignee = fields.get("assignee") or {}
    issuetype = fields.get("issuetype") or {}
    item_type = _item_type(issuetype)

    item = WorkItemRecord(
        external_id=external_id,
        key=key,
        url=f"{ctx.base_url.rstrip('/')}/browse/{key}",
        title=str(fields.get("summary") or ""),
        item_type=item_type,
        raw_type=str(issuetype.get("name", "")),
        status=status_name,
        status_category=category,
        stage=ctx.status_map.get(status_name, stage_for_category(category)),
        project=project,
        team=ctx.team_for_project.get(project, project),
        assignee=assignee.get("accountId") or assignee.get("name") or None,
        estimate=_float(fields.get(ids.story_points)) if ids.story_points else None,
        parent_key=parent_key,
        labels=tuple(sorted(fields.get("labels") or [])),
        flagged=bool(flagged_value),
        created=created,
        updated=updated,
        resolved=parse_jira_datetime(fields.get("resolutiondate")),
        last_activity=_last_activity(created, histories, ctx.bot_account_id),
        description=text_or_none(fields.get("description")),
        acceptance_criteria=_criteria(fields, ids),
        parent_type=_parent_type(parent),
        checklist=checklist_items(fields.get(ids.checklist)) if ids.checklist else (),
        level=issue_level(issuetype, item_type),
        start_date=_date_field(fields, ids.start_date, key),
        due_date=_date_field(fields, "duedate", key),
        target_start=_date_field(fields, ids.target_start, key),
        target_end=_date_field(fields, ids.target_end, key),
        priority=_priority(fields.get("priority")),
        rank=_rank(fields.get(ids.rank) if ids.rank else None),
        release_ids=release_ids(fields.get("fixVersions")),
        components=_components(fields.get("components")),
    )
    histories = list(histories)
    changes = item_changes(external_id, histories, ids)
    memberships = sprint_stays(
        external_id,
        created,
        [str(s["id"]) for s in sprint_values if isinstance(s, Mapping) and "id" in s],
        [c for c in changes if c.field is ChangeField.SPRINT],
    )
    links = issue_links(
        external_id, key, fields.get("issuelinks"), ctx.link_types, ctx.waiting_outward
    )
    return ItemBundle(
        item=item, changes=changes, memberships=memberships, raw=dict(raw), links=links
    )


def _epic_link(fields: Mapping[str, Any], ids: JiraFieldIds) -> str | None:
    """The older Epic Link field's epic key (company-managed projects before `parent`)."""
    value = fields.get(ids.epic_link) if ids.epic_link else None
    if isinstance(value, Mapping):  # some sites send the epic as an object
        value = value.get("key")
    return str(value) if isinstance(value, str) and value else None


def _date_field(fields: Mapping[str, Any], field_id: str | None, key: str) -> date | None:
    return jira_date(fields.get(field_id), what=field_id, key=key) if field_id else None


def _priority(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, Mapping) else None
    return str(name)[:100] if name else None


def _components(value: Any) -> tuple[str, ...]:
    """`components[].name`, sorted and each once (a theme matches them as a set); anything
    not shaped like Jira's list of named components is none."""
    if not isinstance(value, list):
        return ()
    names = {str(c["name"]) for c in value if isinstance(c, Mapping) and c.get("name")}
    return tuple(sorted(names))


def _rank(value: Any) -> str | None:
    """Rank as Jira's LexoRank string (`0|i0000f:`), which already sorts in backlog order."""
    return value[:200] if isinstance(value, str) and value else None
