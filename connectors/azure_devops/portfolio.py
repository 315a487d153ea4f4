"""The portfolio facts of an Azure DevOps work item: level, dates, priority, rank. Pure.

Every fact comes from fields the reporting revision stream already returns (no call is
added): the level from the work item type (the process's backlog levels), the dates from
`Microsoft.VSTS.Scheduling.StartDate` / `TargetDate` / `FinishDate` (`scheduled_days`) with
their history from the revisions, the priority from `Microsoft.VSTS.Common.Priority`, the
rank from `Microsoft.VSTS.Common.StackRank` (Agile, CMMI) or `BacklogPriority` (Scrum).

Bad data never fails a conversion: a date that is not a date, a rank that is not a
finite number, is logged and read as unknown (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog

from pmo_sync.common.rank import sortable_rank
from pmo_sync.domain import ChangeField

__all__ = [
    "DEFAULT_LEVELS",
    "PRIORITY_FIELD",
    "RANK_FIELDS",
    "SCHEDULING_FIELDS",
    "checked_day",
    "day_of",
    "level_of",
    "priority_of",
    "rank_of",
    "scheduled_days",
]

log = structlog.get_logger(__name__)

START_FIELD = "Microsoft.VSTS.Scheduling.StartDate"
FINISH_FIELD = "Microsoft.VSTS.Scheduling.FinishDate"
TARGET_FIELD = "Microsoft.VSTS.Scheduling.TargetDate"
SCHEDULING_FIELDS = (START_FIELD, FINISH_FIELD, TARGET_FIELD)
"""The scheduling fields the dates come from (`scheduled_days`)."""
PRIORITY_FIELD = "Microsoft.VSTS.Common.Priority"
RANK_FIELDS = ("Microsoft.VSTS.Common.StackRank", "Microsoft.VSTS.Common.BacklogPriority")
"""The backlog order: Stack Rank (Agile, CMMI) or Backlog Priority (Scrum), the first set."""

DEFAULT_LEVELS: Mapping[str, str] = {
    "epic": "epic",
    "feature": "feature",
    "user story": "story",
    "product backlog item": "story",
    "requirement": "story",
    "issue": "story",  # the Basic process's requirement level
    "bug": "story",  # on the requirement backlog, the default team setting
    "task": "task",
}
"""Work item type (lower-cased) to level: the backlog levels of the Agile, Scrum, CMMI and
Basic processes. A type not here (Impediment, Test Case, a custom type) has no level unless
the connector's `levels` names one."""

_HALF_DAY = timedelta(hours=12)


def level_of(work_item_type: str, levels: Mapping[str, str]) -> str | None:
    """The item's level; `levels` (type, any case, to level) comes before the defaults."""
    wanted = work_item_type.casefold()
    for name, level in levels.items():
        if name.casefold() == wanted:
            return level.lower()
    return DEFAULT_LEVELS.get(wanted)


def day_of(value: Any) -> date | None:
    """The day a scheduling date field names; None when unset or not a date.

    Azure DevOps keeps these as a datetime in UTC: the midnight of the day picked, in the
    picker's time zone (`2026-03-01` picked in Berlin is `2026-02-28T23:00:00Z`, in New York
    `2026-03-01T05:00:00Z`). The organisation's zone is not known here, so the day is the
    UTC time rounded to the nearest midnight (after noon: the next day), right for zones
    from UTC-12 to UTC+11."""
    if value is None or value == "":
        return None
    try:
        text = str(value).strip().replace("Z", "+00:00")
        if "." in text:  # 0-7 fraction digits: fromisoformat takes 6 at most
            head, rest = text.split(".", 1)
            digits = "".join(c for c in rest if c.isdigit())
            text = f"{head}.{(digits + '000000')[:6]}{rest[len(digits) :]}"
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    midnight = datetime(parsed.year, parsed.month, parsed.day)
    return (
        (midnight + timedelta(days=1)).date() if parsed - midnight > _HALF_DAY else midnight.date()
    )


def checked_day(item_id: str, name: str, value: Any) -> date | None:
    """`day_of`, logging a value that is set but no date (the item keeps no such date)."""
    day = day_of(value)
    if day is None and value not in (None, ""):
        log.warning("ado_date_unreadable", item=item_id, field=name, value=str(value)[:40])
    return day


def scheduled_days(
    fields: Mapping[str, Any], item_id: str | None = None
) -> dict[ChangeField, date | None]:
    """The item's start, due and target-end days from its scheduling fields.

    `TargetDate` is the date promised: Microsoft's field reference describes it as the
    date by which the feature, user story or epic is to be implemented; it is on the Epic
    and Feature forms (with Start Date) and Delivery Plans draw it. `FinishDate` is not on
    the standard forms: Microsoft Project fills it when a plan is synchronised with the
    backlog. So the due date is `TargetDate`, else `FinishDate` (an item scheduled only
    from Project); `TargetDate` is the target end too, the plan's end as Delivery Plans
    draw it (Jira's "Target end"). There is no target start.

    With `item_id`, a value that is set but no date is logged (`checked_day`)."""

    def read(name: str) -> date | None:
        value = fields.get(name)
        return day_of(value) if item_id is None else checked_day(item_id, name, value)

    start, finish, target = (read(name) for name in SCHEDULING_FIELDS)
    return {
        ChangeField.START_DATE: start,
        ChangeField.DUE_DATE: target if target is not None else finish,
        ChangeField.TARGET_END: target,
    }


def priority_of(value: Any) -> str | None:
    """The priority as text (`2`); a whole float (`2.0`) as the integer it is."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def rank_of(item_id: str, fields: Mapping[str, Any]) -> str | None:
    """The sortable rank of the first rank field set; None (logged) when it is no number."""
    for name in RANK_FIELDS:
        value = fields.get(name)
        if value is None or value == "":
            continue
        try:
            number = float(value) if isinstance(value, str) else value
            if not isinstance(number, int | float):
                raise ValueError(f"not a number: {value!r}")
            return sortable_rank(number)
        except (ValueError, TypeError) as exc:
            log.warning("ado_rank_unreadable", item=item_id, field=name, error=str(exc)[:80])
            return None
    return None
