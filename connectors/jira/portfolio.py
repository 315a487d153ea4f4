"""Jira's portfolio facts → the normalised fields: level, dates, priority, rank, releases, links.

Pure functions over the JSON an issue search already returns (with the fields that
`JiraFieldIds.search_field_ids` asks for), so no fact costs a call of its own; the project
versions behind `ReleaseRecord` come with the site metadata (`SiteStream`).

Bad data never fails an issue: a date that is not a date, a link without a target, a
parent that is the issue itself are logged and left unknown or dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import structlog

from pmo_sync.domain import ItemLink, LinkDirection, ReleaseRecord

__all__ = [
    "DEFAULT_LINK_TYPES",
    "convert_version",
    "issue_level",
    "issue_links",
    "jira_date",
    "noted_plan",
    "release_ids",
    "with_plan",
]

log = structlog.get_logger(__name__)

DEFAULT_LINK_TYPES = ("Blocks",)
"""The issue link types that are dependencies when the config names none."""

_BASE_LEVELS = {"task": "task"}  # a hierarchy-level-0 type named Task is a task, the rest stories
_LEVEL_BY_TYPE = {"subtask": "subtask", "epic": "epic", "task": "task"}


def jira_date(value: Any, *, what: str = "date", key: str | None = None) -> date | None:
    """A Jira date (`2026-12-07`; a changelog's `2026-12-07 00:00:00.0` too; epoch
    milliseconds, as the versions example of Jira's spec writes `releaseDate`) as a day;
    None when unset, and None with a warning when it is not a date (never an error)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC).date()
        return date.fromisoformat(text[:10])
    except (ValueError, OverflowError, OSError):
        log.warning("jira_date_unreadable", field=what, value=text[:40], key=key)
        return None


def issue_level(issuetype: Mapping[str, Any], item_type: str) -> str | None:
    """The item's place in the hierarchy from its type's `hierarchyLevel` (Cloud, both
    team- and company-managed): -1 sub-task, 0 story or task, 1 epic, 2 and up an Advanced
    Roadmaps level, named as the type is ("Initiative" → ``initiative``). Without the level
    (Server/Data Center) the normalised type says it."""
    level = issuetype.get("hierarchyLevel")
    if isinstance(level, int) and not isinstance(level, bool):
        if level < 0:
            return "subtask"
        if level == 0:
            return _BASE_LEVELS.get(item_type, "story")
        if level == 1:
            return "epic"
        name = str(issuetype.get("name") or "").strip().lower()
        return name[:40] or None
    if issuetype.get("subtask"):
        return "subtask"
    return _LEVEL_BY_TYPE.get(item_type, "story" if issuetype else None)


def release_ids(fix_versions: Any) -> tuple[str, ...]:
    """The ids of the issue's fix versions, in Jira's order, each once."""
    if not isinstance(fix_versions, list):
        return ()
    ids = [str(v["id"]) for v in fix_versions if isinstance(v, Mapping) and v.get("id")]
    return tuple(dict.fromkeys(ids))


def convert_version(raw: Mapping[str, Any], project: str | None) -> ReleaseRecord:
    """A project version (`GET /project/{key}/versions`, or one of an issue's `fixVersions`)
    as a release; a date that is missing or unreadable is unknown (None)."""
    name = str(raw.get("name") or raw["id"])
    where = f"version {name}"
    return ReleaseRecord(
        external_id=str(raw["id"]),
        name=name,
        project=project,
        start_date=jira_date(raw.get("startDate"), what="startDate", key=where),
        release_date=jira_date(raw.get("releaseDate"), what="releaseDate", key=where),
        released=bool(raw.get("released")),
        archived=bool(raw.get("archived")),
    )


def with_plan(release: ReleaseRecord, plans: Mapping[str, str]) -> ReleaseRecord:
    """The release with its planned day: Jira keeps one date per version, which teams
    either leave as planned or move to the ship day when they release, so the plan is the
    release date while the version is not released, and once it is, the one `plans`
    (version id -> ISO day, what the releases bookmark kept) last saw unreleased. A version
    first seen already released has no plan kept: unknown (None)."""
    if not release.released:
        return replace(release, planned_date=release.release_date)
    kept = plans.get(release.external_id)
    where = f"version {release.name}"
    return replace(release, planned_date=jira_date(kept, what="planned", key=where))


def noted_plan(plans: dict[str, str], release: ReleaseRecord) -> None:
    """Keep an unreleased version's release date as its plan in `plans` (dropped when it has
    none: a plan last seen undated is no plan); a released version's plan is left as kept."""
    if release.released:
        return
    if release.release_date is None:
        plans.pop(release.external_id, None)
    else:
        plans[release.external_id] = release.release_date.isoformat()


def issue_links(
    external_id: str,
    key: str,
    raw_links: Any,
    link_types: Collection[str],
    waiting_outward: Collection[str] = (),
) -> list[ItemLink]:
    """The issue's links of the dependency types (names, any case), as this issue sees them.

    An entry with `outwardIssue` says this issue is the outward end ("PMO-1 blocks
    PMO-2"), one with `inwardIssue` the inward end ("is blocked by"). For a type named in
    `waiting_outward` (its outward phrase says the outward issue waits: "depends on") the
    direction is reversed, so the store's `outward` means "blocks" whatever the type: the
    phrase stays Jira's as this issue reads it ("depends on", stored `inward`). The target is kept
    with its key and the id Jira gives even when it is outside the synced scope (another
    project): the store's (source, external id) join tells whether it is synced. An entry
    without a target key is logged and skipped.
    """
    wanted = {name.casefold() for name in link_types}
    reversed_types = {name.casefold() for name in waiting_outward}
    links: list[ItemLink] = []
    for entry in _entries(raw_links):
        link_type = entry.get("type") or {}
        type_name = str(link_type.get("name", "")).casefold()
        if type_name not in wanted:
            continue
        for side, end in (
            ("outwardIssue", LinkDirection.OUTWARD),
            ("inwardIssue", LinkDirection.INWARD),
        ):
            target = entry.get(side)
            if target is None:
                continue
            phrase = str(link_type.get(end.value) or link_type.get("name")).lower()
            direction = end
            if type_name in reversed_types:
                direction = (
                    LinkDirection.INWARD if end is LinkDirection.OUTWARD else LinkDirection.OUTWARD
                )
            target_key = target.get("key") if isinstance(target, Mapping) else None
            if not target_key:
                log.warning("jira_link_without_target", key=key, link=entry.get("id"))
                continue
            target_id = target.get("id")
            links.append(
                ItemLink(
                    item_external_id=external_id,
                    link_type=phrase,
                    direction=direction,
                    target_key=str(target_key),
                    target_external_id=str(target_id) if target_id else None,
                )
            )
    return links


def _entries(raw_links: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(raw_links, list):
        yield from (entry for entry in raw_links if isinstance(entry, Mapping))
