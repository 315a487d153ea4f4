"""Jira: a stored issue's raw payload → its portfolio facts, offline (`pmo_sync.store.reconvert`).

The payload is the issue as the search returned it (`fields` and the latest `changelog`
histories), so `convert_issue` reads it as a sync would; only the portfolio facts of its
bundle are kept. A fact whose field the payload lacks (a search made before the field was
asked for, migration 0012) is not known and stays as stored. The Rank, start-date and
target fields are custom fields whose ids the site cache (`SiteBookmark`) holds: without
that cache they stay for the next sync. The date history is taken only from a changelog
the payload holds whole (longer ones were completed by a call, not stored). Releases are
the issue's fix versions, with the start date and the plan the releases bookmark kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from connectors.base import Reconversion, Reconverted, StoredItem
from connectors.bookmarks import load_bookmark
from connectors.jira.config import JiraConfig
from connectors.jira.convert import IssueContext, JiraFieldIds, convert_issue
from connectors.jira.portfolio import convert_version, with_plan
from connectors.jira.streams import ReleasesBookmark, ReleasesStream, SiteBookmark, SiteStream
from pmo_sync.domain import ChangeField

__all__ = ["JiraReconversion", "jira_reconversion"]

_NO_FIELD_IDS = JiraFieldIds(sprint=None, story_points=None, flagged=None)
_DATE_FIELDS = frozenset(
    (ChangeField.START_DATE, ChangeField.DUE_DATE, ChangeField.TARGET_START, ChangeField.TARGET_END)
)


class JiraReconversion(Reconversion):
    """`field_ids` None: no site cache, so the custom-field facts are not known."""

    def __init__(
        self,
        config: JiraConfig,
        field_ids: JiraFieldIds | None,
        starts: Mapping[str, str],
        plans: Mapping[str, str] | None = None,
    ) -> None:
        self.field_ids = field_ids
        self.starts = dict(starts)
        self.plans = dict(plans or {})
        self.context = IssueContext(
            base_url=str(config.url),
            field_ids=field_ids or _NO_FIELD_IDS,
            status_map=config.status_map,
            team_for_project={},
            link_types=tuple(t.name for t in config.dependency_link_types),
            waiting_outward=tuple(
                t.name for t in config.dependency_link_types if t.outward == "depends_on"
            ),
        )
        if field_ids is None:
            self.kept = ("rank, start date and target dates (no cached Jira field ids)",)

    def _custom_columns(self, fields: Mapping[str, Any]) -> dict[str, str | None]:
        """Column → the field id holding it, for the custom fields the payload answers (a
        field the site has none of is known to be empty)."""
        ids = self.field_ids
        if ids is None:
            return {}
        wanted = {
            "rank": ids.rank,
            "start_date": ids.start_date,
            "target_start": ids.target_start,
            "target_end": ids.target_end,
        }
        return {col: fid for col, fid in wanted.items() if fid is None or fid in fields}

    def reconvert(self, item: StoredItem) -> Reconverted:
        raw = item.raw
        fields = raw["fields"]
        if not isinstance(fields, Mapping):
            raise TypeError("the payload's fields are not an object")
        changelog = raw.get("changelog") or {}
        histories = list(changelog.get("histories") or [])
        bundle = convert_issue(raw, histories, self.context)
        record = bundle.item
        columns: dict[str, Any] = {"level": record.level}
        for column, field_id in (
            ("due_date", "duedate"),
            ("priority", "priority"),
            ("components", "components"),
        ):
            if field_id in fields:
                columns[column] = getattr(record, column)
        for column in self._custom_columns(fields):
            columns[column] = getattr(record, column)
        whole = int(changelog.get("total", len(histories))) <= len(histories)
        known_dates = {ChangeField.DUE_DATE} if self.field_ids is None else _DATE_FIELDS
        project = str((fields.get("project") or {}).get("key") or record.project)
        versions = fields.get("fixVersions")
        releases = tuple(
            with_plan(convert_version(self._with_start(v), project), self.plans)
            for v in (versions if isinstance(versions, list) else [])
            if isinstance(v, Mapping) and v.get("id")
        )
        return Reconverted(
            columns=columns,
            links=tuple(bundle.links) if "issuelinks" in fields else None,
            release_ids=record.release_ids if "fixVersions" in fields else None,
            releases=releases,
            date_changes=tuple(c for c in bundle.changes if c.field in known_dates)
            if whole
            else (),
        )

    def _with_start(self, version: Mapping[str, Any]) -> Mapping[str, Any]:
        """A fix version with the start date the releases bookmark kept (fix versions leave
        it out), as the releases stream completes it (and its plan, `with_plan`)."""
        start = self.starts.get(str(version["id"]))
        if "startDate" in version or start is None:
            return version
        return {**version, "startDate": start}


def jira_reconversion(
    config: JiraConfig, bookmark: Callable[[str], Mapping[str, Any] | None], today: date
) -> JiraReconversion:
    """The re-conversion with what the site cache and the releases bookmark hold, read only."""
    site = load_bookmark(SiteBookmark.from_json, bookmark(SiteStream.name), SiteStream.name)
    releases = load_bookmark(
        ReleasesBookmark.from_json, bookmark(ReleasesStream.name), ReleasesStream.name
    )
    return JiraReconversion(
        config,
        None if site is None else site.field_ids,
        {} if releases is None else releases.starts,
        {} if releases is None else releases.plans,
    )
