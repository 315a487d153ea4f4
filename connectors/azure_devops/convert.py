"""Azure DevOps work item revisions → normalised records. Pure functions, no I/O.

The reporting revisions API gives every revision as a full snapshot of the
fields, so history is the difference between consecutive revisions: a state,
iteration path, estimate, assignee or Blocked-tag that differs from the
previous revision is one change at that revision's `System.ChangedDate`.
Unlike Jira, an item is in one iteration at a time, so each change of
`System.IterationPath` closes one stay and opens the next.

Only the latest revision is read whole (the record and its raw copy come from it); of the
earlier ones conversion reads `HISTORY_FIELDS` and the estimate fields alone. So a revision
that waits for its item's latest one can be held as a `HeldRevision` (`hold_revision`): a
tuple of those values, a fraction of the parsed JSON's memory, which `convert_revisions`
takes in place of the full revision.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import structlog

from connectors.azure_devops.portfolio import (
    PRIORITY_FIELD,
    SCHEDULING_FIELDS,
    level_of,
    priority_of,
    rank_of,
    scheduled_days,
)
from connectors.azure_devops.releases import AdoReleases, release_id, release_names
from connectors.richtext import checklist_items, text_or_none, written_text
from pmo_sync.domain import (
    ChangeField,
    ItemBundle,
    ItemChange,
    SprintMembership,
    SprintRecord,
    Stage,
    StatusRecord,
    WorkItemRecord,
)

__all__ = [
    "ACCEPTANCE_CRITERIA_FIELD",
    "CATEGORY_STAGE",
    "HISTORY_FIELDS",
    "AdoContext",
    "HeldRevision",
    "convert_iteration",
    "convert_revisions",
    "convert_state",
    "hold_revision",
    "parse_ado_datetime",
    "portfolio_facts",
]

log = structlog.get_logger(__name__)

CATEGORY_STAGE = {
    "Proposed": Stage.TODO,
    "InProgress": Stage.IN_PROGRESS,
    "Resolved": Stage.IN_PROGRESS,  # resolved but not yet accepted: still work in progress
    "Completed": Stage.DONE,
    "Removed": Stage.DONE,  # cancelled: no longer in progress, like Jira's Won't Do
}
_TYPES = {
    "user story": "story",
    "product backlog item": "story",
    "requirement": "story",
    "bug": "bug",
    "task": "task",
    "feature": "epic",
    "epic": "epic",
}
BLOCKED_TAG = "blocked"
ACCEPTANCE_CRITERIA_FIELD = "Microsoft.VSTS.Common.AcceptanceCriteria"
"""The Agile and Scrum processes' rich-text acceptance-criteria field (user stories, PBIs)."""


def parse_ado_datetime(value: Any) -> datetime | None:
    """Azure DevOps writes 0 to 7 fraction digits and a Z: compare as datetimes, never strings.

    Python 3.11's `fromisoformat` reads all of them (a seventh digit cut, as below) and the
    Z: the text goes to it first, as it came; only what it refuses is rewritten.
    """
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value if isinstance(value, str) else str(value))
    except ValueError:
        parsed = _rewritten_ado_datetime(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _rewritten_ado_datetime(value: Any) -> datetime:
    """The fraction padded or cut to six digits, the Z as +00:00: what `fromisoformat`
    needed before Python 3.11, kept for what it still refuses."""
    text = str(value).replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{zone}"
    return datetime.fromisoformat(text)


def _person(value: Any) -> str | None:
    """An identity field: a dict (`uniqueName`/`displayName`) or 'Name <email>' text."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return value.get("uniqueName") or value.get("id") or value.get("displayName")
    text = str(value)
    if "<" in text and text.endswith(">"):
        return text[text.rindex("<") + 1 : -1]
    return text


def _blocked(fields: Mapping[str, Any]) -> bool:
    tags = str(fields.get("System.Tags") or "")
    if any(t.strip().lower() == BLOCKED_TAG for t in tags.split(";")):
        return True
    return str(fields.get("Microsoft.VSTS.CMMI.Blocked") or "").lower() == "yes"


@dataclass(frozen=True, slots=True)
class AdoContext:
    """What converting one work item needs beyond its revisions."""

    organization_url: str
    project: str
    state_categories: Mapping[tuple[str, str], str]  # (work item type, state) -> category
    iteration_ids: Mapping[str, str]  # iteration path -> iteration id
    team_of_area: Mapping[str, str]  # area path prefix -> team
    estimate_fields: Sequence[str]
    state_map: Mapping[str, Stage] = field(default_factory=dict)
    bot: str | None = None
    checklist_field: str | None = None  # the config's `checklist_field`, a reference name
    levels: Mapping[str, str] = field(default_factory=dict)  # the config's `levels`
    releases: AdoReleases | None = None  # the config's release convention

    def team(self, area_path: str) -> str | None:
        best = None
        for prefix, team in self.team_of_area.items():
            if (area_path == prefix or area_path.startswith(prefix + "\\")) and (
                best is None or len(prefix) > len(best[0])
            ):
                best = (prefix, team)
        return best[1] if best else None

    def estimate(self, fields: Mapping[str, Any]) -> float | None:
        for name in self.estimate_fields:
            value = fields.get(name)
            if value is not None and value != "":
                try:
                    return float(value)
                except (TypeError, ValueError):
                    return None
        return None

    def stage(self, item_type: str, state: str) -> tuple[str, Stage]:
        category = self.state_categories.get((item_type, state), "InProgress")
        return category, self.state_map.get(state, CATEGORY_STAGE.get(category, Stage.IN_PROGRESS))


HISTORY_FIELDS = (
    "System.CreatedDate", "System.ChangedDate", "System.ChangedBy", "System.State",
    "System.IterationPath", "System.AssignedTo", "System.Tags", "Microsoft.VSTS.CMMI.Blocked",
    *SCHEDULING_FIELDS,
)  # fmt: skip
"""What `convert_revisions` reads of a revision that is not the latest, besides its rev and
the estimate fields: the dates (created is read of the first only), the author, and the
values whose differences are the history."""
_INTERNED = frozenset(
    HISTORY_FIELDS.index(name) + 1
    for name in (
        "System.ChangedBy", "System.State", "System.IterationPath", "System.AssignedTo",
        "System.Tags", "Microsoft.VSTS.CMMI.Blocked",
    )
)  # fmt: skip
"""Slots (of a `HeldRevision`) whose text repeats across items — people, states, paths, tags:
interned, one copy for the whole run. The dates are not (one per item or per revision: the
intern table would only grow); a created date is shared along its item's revisions instead."""


class HeldRevision(tuple[Any, ...]):
    """A revision that is not its item's latest, reduced to what conversion reads of it:
    `(rev, *HISTORY_FIELDS values, *estimate field values)`, a missing field as None.

    A full sync holds every revision of the items still in flight (~100k for 100k items)
    until each item's latest revision arrives; as parsed JSON with ~20 fields one weighs
    ~1.75 KB, as this tuple a few hundred bytes. Conversion cannot tell the difference: it
    reads these fields with `.get`, where missing and None are the same."""

    __slots__ = ()


def hold_revision(
    rev: int,
    fields: Mapping[str, Any],
    estimate_fields: Sequence[str],
    previous: HeldRevision | None = None,
) -> HeldRevision:
    """The compact form of a revision that is not the latest (`rev` ≥ 1, as `convert_revisions`
    needs no `System.Rev` then). `previous`, the item's revision held before it, lends its
    value objects where they are equal (same type, so 1 never stands for True), so that a
    created date or an estimate unchanged since is stored once per item."""
    values: list[Any] = [rev]
    values.extend(fields.get(name) for name in HISTORY_FIELDS)
    values.extend(fields.get(name) for name in estimate_fields)
    for i in range(1, len(values)):
        value = values[i]
        if value is None:
            continue
        if previous is not None and i < len(previous):
            kept = previous[i]
            if type(kept) is type(value) and kept == value:
                values[i] = kept
                continue
        if i in _INTERNED and type(value) is str:
            values[i] = sys.intern(value)
    return HeldRevision(values)


def _whole(revision: Mapping[str, Any] | HeldRevision, names: Sequence[str]) -> Mapping[str, Any]:
    """A held revision back in the shape conversion reads (just for its item's conversion)."""
    if not isinstance(revision, HeldRevision):
        return revision
    return {"rev": revision[0], "fields": dict(zip(names, revision[1:], strict=True))}


def _rev_number(revision: Mapping[str, Any] | HeldRevision) -> int:
    if isinstance(revision, HeldRevision):
        return int(revision[0])
    return int(revision.get("rev") or revision["fields"]["System.Rev"])


def _num(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def convert_revisions(
    revisions: Iterable[Mapping[str, Any] | HeldRevision], ctx: AdoContext
) -> ItemBundle:
    """All revisions of one work item (any order) → its current record and whole history.

    Any revision but the latest may be a `HeldRevision` made with `ctx.estimate_fields`; the
    latest must be whole (`{"id", "rev", "fields"}`): the record and `raw` are read from it."""
    ordered = sorted(revisions, key=_rev_number)
    if not ordered:
        raise ValueError("no revisions")
    if isinstance(ordered[-1], HeldRevision):
        raise ValueError("the latest revision is held, not whole")
    names = (*HISTORY_FIELDS, *ctx.estimate_fields)
    revs = [_whole(r, names) for r in ordered]
    first, last = revs[0]["fields"], revs[-1]["fields"]
    item_id = str(revs[-1].get("id") or last["System.Id"])
    created = parse_ado_datetime(first.get("System.CreatedDate") or first.get("System.ChangedDate"))
    updated = parse_ado_datetime(last.get("System.ChangedDate"))
    if created is None or updated is None:
        raise ValueError(f"work item {item_id} has no created/changed date")

    changes: list[ItemChange] = []
    stays: list[SprintMembership] = []
    path = str(first.get("System.IterationPath") or "")
    open_since: datetime | None = created if path in ctx.iteration_ids else None
    last_activity = created
    item_type = str(last.get("System.WorkItemType", ""))
    created_done = ctx.stage(item_type, str(first.get("System.State", "")))[1] is Stage.DONE
    resolved: datetime | None = created if created_done else None
    for previous, current in pairwise(revs):
        before, after = previous["fields"], current["fields"]
        rev = int(current.get("rev") or after["System.Rev"])
        at = parse_ado_datetime(after.get("System.ChangedDate")) or created
        author = _person(after.get("System.ChangedBy"))
        if ctx.bot is None or author != ctx.bot:
            last_activity = max(last_activity, at)
        pairs: list[tuple[ChangeField, str | None, str | None, str | None, str | None]] = []
        if before.get("System.State") != after.get("System.State"):
            frm, to = before.get("System.State"), after.get("System.State")
            pairs.append((ChangeField.STATUS, frm, to, frm, to))
        old_path = str(before.get("System.IterationPath") or "")
        new_path = str(after.get("System.IterationPath") or "")
        if old_path != new_path:
            frm_id, to_id = ctx.iteration_ids.get(old_path), ctx.iteration_ids.get(new_path)
            pairs.append((ChangeField.SPRINT, frm_id, to_id, old_path, new_path))
            if open_since is not None and frm_id is not None:
                stays.append(SprintMembership(item_id, frm_id, open_since, at))
            open_since = at if to_id is not None else None
        old_est, new_est = ctx.estimate(before), ctx.estimate(after)
        if old_est != new_est:
            pairs.append((ChangeField.ESTIMATE, _num(old_est), _num(new_est), None, None))
        old_who, new_who = (
            _person(before.get("System.AssignedTo")),
            _person(after.get("System.AssignedTo")),
        )
        if old_who != new_who:
            pairs.append((ChangeField.ASSIGNEE, old_who, new_who, old_who, new_who))
        if _blocked(before) != _blocked(after):
            frm_b, to_b = str(_blocked(before)).lower(), str(_blocked(after)).lower()
            pairs.append((ChangeField.FLAGGED, frm_b, to_b, None, None))
        pairs.extend(_date_changes(before, after))
        for kind, frm, to, frm_d, to_d in pairs:
            changes.append(
                ItemChange(item_id, f"{rev}:{kind.value}", kind, at, frm, to, frm_d, to_d, author)
            )
        was_done = ctx.stage(item_type, str(before.get("System.State", "")))[1] is Stage.DONE
        now_done = ctx.stage(item_type, str(after.get("System.State", "")))[1] is Stage.DONE
        if now_done and not was_done:
            resolved = at
        elif not now_done:
            resolved = None  # reopened: done again only at its final done
    final_path = str(last.get("System.IterationPath") or "")
    if open_since is not None and final_path in ctx.iteration_ids:
        stays.append(SprintMembership(item_id, ctx.iteration_ids[final_path], open_since, None))

    state = str(last.get("System.State", ""))
    category, stage = ctx.stage(item_type, state)
    if stage is Stage.DONE and resolved is None:
        resolved = parse_ado_datetime(last.get("Microsoft.VSTS.Common.ClosedDate")) or created
    area = str(last.get("System.AreaPath", ""))
    tags = tuple(
        sorted(t.strip() for t in str(last.get("System.Tags") or "").split(";") if t.strip())
    )
    parent = _parent(item_id, last.get("System.Parent"))
    item = WorkItemRecord(
        external_id=item_id,
        key=item_id,
        url=f"{ctx.organization_url.rstrip('/')}/{ctx.project}/_workitems/edit/{item_id}",
        title=str(last.get("System.Title", "")),
        item_type=_TYPES.get(item_type.lower(), "other"),
        raw_type=item_type,
        status=state,
        status_category=category,
        stage=stage,
        project=str(last.get("System.TeamProject", ctx.project)),
        team=ctx.team(area) or area,
        assignee=_person(last.get("System.AssignedTo")),
        estimate=ctx.estimate(last),
        parent_key=parent,
        labels=tags,
        flagged=_blocked(last),
        created=created,
        updated=updated,
        resolved=resolved if stage is Stage.DONE else None,
        last_activity=last_activity,
        revision=int(revs[-1].get("rev") or last["System.Rev"]),
        description=text_or_none(last.get("System.Description")),
        acceptance_criteria=written_text(last.get(ACCEPTANCE_CRITERIA_FIELD)),
        checklist=checklist_items(last.get(ctx.checklist_field)) if ctx.checklist_field else (),
        area_path=area or None,
        **portfolio_facts(item_id, item_type, last, ctx.levels, ctx.releases),
    )
    raw = {"id": item_id, "fields": dict(last)}
    return ItemBundle(item=item, changes=changes, memberships=stays, raw=raw)


def _parent(item_id: str, value: Any) -> str | None:
    """`System.Parent` as a key; an item its own parent (the service refuses one, an import
    may not) has none, logged. Longer cycles are the store's to stop (`parent_chain`)."""
    if value is None or value == "" or value == 0:
        return None
    if str(value) == item_id:
        log.warning("ado_item_its_own_parent", item=item_id)
        return None
    return str(value)


def _date_changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> Iterator[tuple[ChangeField, str | None, str | None, str | None, str | None]]:
    """Each scheduling date whose day differs between two revisions (a new time on the same
    day is no change); an unreadable value reads as unset."""
    old_days, new_days = scheduled_days(before), scheduled_days(after)
    for kind, new in new_days.items():
        old = old_days[kind]
        if old != new:
            frm = None if old is None else old.isoformat()
            to = None if new is None else new.isoformat()
            yield kind, frm, to, None, None


def portfolio_facts(
    item_id: str,
    item_type: str,
    fields: Mapping[str, Any],
    levels: Mapping[str, str],
    releases: AdoReleases | None,
) -> dict[str, Any]:
    """The record's portfolio fields, from the latest revision (`.portfolio`); also what a
    re-conversion of the stored payload reads (`connectors.azure_devops.reconvert`)."""
    days = {kind.value: day for kind, day in scheduled_days(fields, item_id).items()}
    return {
        "level": level_of(item_type, levels),
        **days,
        "priority": priority_of(fields.get(PRIORITY_FIELD)),
        "rank": rank_of(item_id, fields),
        "release_ids": ()
        if releases is None
        else tuple(sorted({release_id(n) for n in release_names(fields, releases)})),
    }


def convert_state(
    work_item_type: str, raw: Mapping[str, Any], state_map: Mapping[str, Stage]
) -> StatusRecord:
    """A state of a work item type (`workitemtypes/{type}/states`) with its category."""
    category = str(raw.get("category", "InProgress"))
    name = str(raw["name"])
    return StatusRecord(
        external_id=f"{work_item_type}:{name}",
        name=name,
        category=category,
        stage=state_map.get(name, CATEGORY_STAGE.get(category, Stage.IN_PROGRESS)),
    )


_LAST_DAY = timedelta(days=1, seconds=-1)  # finishDate 00:00 → 23:59:59 of that day


def convert_iteration(raw: Mapping[str, Any], team: str, now: datetime) -> SprintRecord:
    """A team iteration (`teamsettings/iterations`).

    `finishDate` is the midnight that *starts* the iteration's last day, which is
    still part of it: the iteration ends at that day's last second, so work done
    on the last day counts as done in the sprint. The service's `timeFrame`
    (past / current / future, in the organisation's time zone) decides the state;
    the dates decide only where it is missing.
    """
    attributes = raw.get("attributes") or {}
    start = parse_ado_datetime(attributes.get("startDate"))
    finish = parse_ado_datetime(attributes.get("finishDate"))
    end = finish + _LAST_DAY if finish is not None else None
    timeframe = str(attributes.get("timeFrame", "")).lower()
    if timeframe == "past" or (not timeframe and end is not None and end < now):
        state = "closed"
    elif timeframe == "current" or (not timeframe and start is not None and start <= now):
        state = "active"
    else:
        state = "future"
    return SprintRecord(
        external_id=str(raw["id"]),
        name=str(raw.get("name", raw["id"])),
        state=state,
        board_external_id=None,
        team=team,
        start=start,
        end=end,
        completed=end if state == "closed" else None,
        goal=None,
    )
