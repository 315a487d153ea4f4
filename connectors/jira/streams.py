"""The Jira streams, in load order: site metadata, issues, sprints, statuses, census.

What each run costs when nothing changed: one search call (the overlap window
returns a few issues already seen, recognised by id and `updated`, so not even
their changelogs are read) and one count call (the census). Site metadata
(field ids, the API user's time zone, boards) is cached for
`metadata_ttl_hours`; sprint lists are refreshed every `sprint_refresh_minutes`
and otherwise come for free inside the issues' own Sprint field. An issue a
run had to skip (its data could not be converted) is read again by the next
run, in one more search (`id in (...)`, 100 ids a search) made only then.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from connectors.base import Stream, StreamContext
from connectors.errors import ConnectorError
from connectors.jira.client import BULK_CHANGELOG_MAX_ISSUES, JiraClient
from connectors.jira.config import JiraConfig
from connectors.jira.convert import (
    IssueContext,
    JiraFieldIds,
    convert_issue,
    convert_sprint,
    convert_status,
    find_field_ids,
    parse_jira_datetime,
)
from pmo_sync.domain import Census, ChangeField, ItemBundle, SprintRecord, StatusRecord

__all__ = [
    "CensusStream",
    "IssuesStream",
    "JiraRunState",
    "SiteStream",
    "SprintsStream",
    "StatusesStream",
    "jql_since",
    "jql_since_instant",
    "project_keys_in",
    "scope_jql",
]

log = structlog.get_logger(__name__)

_ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)
_PROJECT_CLAUSE = re.compile(
    r"\bproject\s*(?:=\s*\"?([A-Za-z][A-Za-z0-9_]*)\"?|in\s*\(([^)]*)\))", re.IGNORECASE
)
ISSUE_ORDER = " ORDER BY created ASC, key ASC"
RETRY_CHUNK = 100  # ids per `id in (...)` search for the issues a run before had to skip


def scope_jql(jql: str) -> str:
    """The admin's JQL without any ORDER BY, so it can be combined and counted."""
    return _ORDER_BY.sub("", jql.strip())


def project_keys_in(jql: str) -> list[str]:
    """Project keys named in `project = X` / `project in (X, Y)` clauses, in order."""
    keys: list[str] = []
    for single, many in _PROJECT_CLAUSE.findall(jql):
        for key in [single] if single else many.split(","):
            key = key.strip().strip('"').strip("'")
            if key and key not in keys:
                keys.append(key)
    return keys


def _local_bound(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` as a naive local time floored to the minute, an hour earlier where ambiguous."""
    local = moment.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
    earlier = local.replace(tzinfo=zone, fold=0).utcoffset()
    later = local.replace(tzinfo=zone, fold=1).utcoffset()
    if earlier != later:
        local -= timedelta(hours=1)
    return local


def jql_since(moment: datetime, time_zone: str) -> str:
    """Format a lower bound for JQL `updated >=`: minutes, in the API user's time zone.

    Floors to the minute, and steps back an hour where the local time is
    ambiguous or skipped (DST), so the bound is never later than `moment`.
    """
    return _local_bound(moment, ZoneInfo(time_zone)).strftime("%Y/%m/%d %H:%M")


def jql_since_instant(moment: datetime, time_zone: str) -> datetime:
    """The earliest instant `jql_since(moment)` matches: where the next search really starts."""
    zone = ZoneInfo(time_zone)
    return _local_bound(moment, zone).replace(tzinfo=zone, fold=0).astimezone(UTC)


@dataclass(slots=True)
class BoardInfo:
    id: int
    name: str
    type: str
    project: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "project": self.project}


@dataclass(slots=True)
class JiraRunState:
    """What the streams of one run share; filled by the streams that come first."""

    field_ids: JiraFieldIds | None = None
    time_zone: str | None = None
    account_id: str | None = None  # the API user: its edits are pmo-sync's write-back
    boards: list[BoardInfo] = field(default_factory=list)
    sprints_in_issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_statuses: dict[str, tuple[str, str]] = field(default_factory=dict)
    history_status_names: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)
    """Issues the issues stream could not convert this run: in Jira's count, maybe not stored."""

    def team_for_project(self, team_by: str) -> dict[str, str]:
        """Each project's team: its first scrum board's name (else its first board's)."""
        if team_by == "project":
            return {}
        teams: dict[str, str] = {}
        for board in sorted(self.boards, key=lambda b: (b.type != "scrum", b.id)):
            if board.project and board.project not in teams:
                teams[board.project] = board.name
        return teams

    def board_name(self, board_id: str | None) -> str | None:
        return next((b.name for b in self.boards if str(b.id) == board_id), None)


def _updated_of(raw: dict[str, Any]) -> tuple[str, datetime | None]:
    """An issue's `updated` as Jira wrote it and as an instant (None when missing or unreadable:
    the issue is then left to `convert_issue`, which reports it)."""
    fields = raw.get("fields")
    value = fields.get("updated") if isinstance(fields, dict) else None
    try:
        return str(value), parse_jira_datetime(value)
    except (TypeError, ValueError):
        return str(value), None


def _stale(fetched_at: str | None, max_age: timedelta, now: datetime) -> bool:
    if not fetched_at:
        return True
    return now - datetime.fromisoformat(fetched_at) >= max_age


class SiteStream(Stream):
    """Field ids, the API user's time zone and the boards; cached, so most runs cost nothing."""

    name = "site"
    record_type = StatusRecord
    primary_keys = ()

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: dict[str, Any] | None = None

    def records(self, context: StreamContext) -> Iterator[StatusRecord]:
        cached = context.bookmark or {}
        ttl = timedelta(hours=self.config.metadata_ttl_hours)
        stale = _stale(cached.get("fetched_at"), ttl, context.started_at)
        if context.full or stale or "account_id" not in cached:
            self._refresh(context)
        else:
            self.state.field_ids = JiraFieldIds.from_json(cached["field_ids"])
            self.state.time_zone = cached["time_zone"]
            self.state.account_id = cached["account_id"]
            self.state.boards = [BoardInfo(**b) for b in cached["boards"]]
        self.client.seed_field_names(dict(self.state.field_ids.clause_names))
        return iter(())

    def _refresh(self, context: StreamContext) -> None:
        me = self.client.myself()
        self.state.time_zone = me.get("timeZone") or "UTC"
        self.state.account_id = me.get("accountId") or me.get("name")
        try:
            self.state.field_ids = find_field_ids(
                self.client.fields(),
                self.config.story_points_field,
                acceptance_criteria=self.config.acceptance_criteria_field,
                checklist=self.config.checklist_field,
            )
        except LookupError as exc:
            raise ConnectorError(str(exc)) from None
        self.state.boards = list(self._discover_boards(context))
        self._bookmark = {
            "fetched_at": context.started_at.isoformat(),
            "time_zone": self.state.time_zone,
            "account_id": self.state.account_id,
            "field_ids": self.state.field_ids.to_json(),
            "boards": [b.to_json() for b in self.state.boards],
        }

    def _discover_boards(self, context: StreamContext) -> Iterator[BoardInfo]:
        raw_boards: list[dict[str, Any]] = []
        if self.config.boards:
            for board_id in self.config.boards:
                try:
                    raw_boards.append(self.client.board(board_id))
                except ConnectorError as exc:
                    context.report_error(f"board {board_id} skipped: {exc}")
        else:
            projects = project_keys_in(self.config.jql)
            for project in projects or [None]:
                try:
                    raw_boards.extend(self.client.boards(project))
                except ConnectorError as exc:
                    context.report_error(f"boards of project {project}: {exc}")
        seen: set[int] = set()
        for raw in raw_boards:
            if raw["id"] in seen:
                continue
            seen.add(raw["id"])
            location = raw.get("location") or {}
            yield BoardInfo(
                id=int(raw["id"]),
                name=str(raw.get("name", raw["id"])),
                type=str(raw.get("type", "scrum")),
                project=location.get("projectKey"),
            )

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark


class IssuesStream(Stream):
    """Issues with their complete changelog, incremental by `updated` with an overlap window.

    Issues come ordered by `created` (an issue edited mid-crawl cannot jump
    between pages), so the bookmark is saved only when the stream completes.
    The bookmark keeps the `watermark`, the ids and `updated` of issues inside
    the overlap window (`seen`: one that comes back unchanged is recognised and
    skipped), and the ids of issues skipped because their data could not be
    converted (`retry`): the next run reads those again even if nobody touches
    them, since the watermark has moved past them. One found and converted
    leaves `retry`, one that fails again stays, one no longer found (deleted,
    or out of the JQL: the census handles it) leaves.
    """

    name = "issues"
    record_type = ItemBundle
    side_records = (SprintRecord, StatusRecord)
    primary_keys = ("external_id",)
    replication_key = "updated"
    is_sorted = False

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: dict[str, Any] | None = None
        self._skipped: set[str] = set()
        """Issues whose data could not be converted this run: the bookmark's `retry`."""

    def _fields(self) -> list[str]:
        ids = self.state.field_ids
        assert ids is not None
        base = [
            "summary", "issuetype", "status", "project", "created", "updated",
            "resolutiondate", "assignee", "labels", "parent", "description",
        ]  # fmt: skip
        return base + ids.search_field_ids()

    def records(self, context: StreamContext) -> Iterator[ItemBundle]:
        assert self.state.field_ids is not None and self.state.time_zone is not None
        previous = None if context.full else context.bookmark
        overlap = timedelta(minutes=self.config.overlap_minutes)
        jql = f"({scope_jql(self.config.jql)})"
        if previous:
            since = datetime.fromisoformat(previous["watermark"]) - overlap
            jql += f' AND updated >= "{jql_since(since, self.state.time_zone)}"'
        jql += ISSUE_ORDER
        seen_before: dict[str, str] = (previous or {}).get("seen", {})
        # Issues a run before had to skip (Jira ids are numbers: nothing else goes into JQL).
        retry = {str(i) for i in (previous or {}).get("retry") or [] if str(i).isdigit()}
        self._skipped = self.state.skipped = set()  # the census counts them too

        issue_ctx = IssueContext(
            base_url=str(self.config.url),
            field_ids=self.state.field_ids,
            status_map=self.config.status_map,
            team_for_project=self.state.team_for_project(self.config.team_by),
            bot_account_id=self.config.writeback.ignored_account(self.state.account_id),
        )
        started = time.monotonic()
        max_updated: datetime | None = None
        seen_now: dict[str, str] = {}
        found_again: set[str] = set()  # ids of `retry` the search returned anyway
        changed = 0
        pages = self.client.search_pages(jql, self._fields(), "changelog", self.config.page_size)
        for page in pages:
            fresh = []
            for raw in page.get("issues", []):
                issue_id = str(raw["id"])
                updated_text, updated = _updated_of(raw)
                if updated is not None:
                    if max_updated is None or updated > max_updated:
                        max_updated = updated
                    seen_now[issue_id] = updated_text
                self._note_sprints_and_status(raw)
                if issue_id in retry:
                    found_again.add(issue_id)  # skipped last time: converted whatever `seen` says
                elif updated is not None and seen_before.get(issue_id) == updated_text:
                    continue  # came back through the overlap window, unchanged
                fresh.append(raw)
            for bundle in self._convert(fresh, issue_ctx, context):
                changed += 1
                yield bundle
            self._prune(seen_now, max_updated, started, overlap)
        # The skipped issues older than the window: searched for by id (only when there are).
        for again in self._search_again(sorted(retry - found_again, key=lambda i: (len(i), i))):
            for raw in again:
                self._note_sprints_and_status(raw)
            for bundle in self._convert(again, issue_ctx, context):
                changed += 1
                yield bundle
        # What the issues said of sprints and statuses is stored before this stream's
        # bookmark moves past them: a run that dies before the sprints and statuses
        # streams must not leave a sprint or a status only these issues named unstored.
        yield from self._sprints_of_issues(context)
        yield from self._statuses_of_issues(context)

        if changed == 0 and previous and self._skipped == retry:
            self._bookmark = None  # nothing new: the stored bookmark stays exactly as it is
            return
        elapsed = timedelta(seconds=time.monotonic() - started)
        if max_updated is None:
            watermark = datetime.fromisoformat(previous["watermark"]) if previous else None
        else:
            # An issue edited during the crawl, after its page was read, has
            # `updated` ≥ crawl start ≥ (latest `updated` seen - crawl duration).
            watermark = max_updated - elapsed
            if previous:
                watermark = max(watermark, datetime.fromisoformat(previous["watermark"]))
        if watermark is None:
            self._bookmark = None
            return
        # Keep every issue the next search will return again, down to its minute-floored bound.
        floor = jql_since_instant(watermark - overlap, self.state.time_zone)
        self._bookmark = {
            "watermark": watermark.astimezone(UTC).isoformat(),
            "seen": {
                issue_id: text
                for issue_id, text in sorted(seen_now.items())
                if (parse_jira_datetime(text) or floor) >= floor
            },
            "retry": sorted(self._skipped, key=lambda i: (len(i), i)),
        }

    def _convert(
        self, issues: list[dict[str, Any]], issue_ctx: IssueContext, context: StreamContext
    ) -> Iterator[ItemBundle]:
        """Each issue with its complete changelog as a bundle; one that cannot be converted
        is reported and noted for the next run (its stored row and history stay as they are)."""
        histories = self._complete_histories(issues, context)
        for raw in issues:
            issue_histories = histories.get(str(raw["id"]))
            if issue_histories is None:
                continue
            try:
                bundle = convert_issue(raw, issue_histories, issue_ctx)
            except (KeyError, ValueError, TypeError) as exc:
                self._skipped.add(str(raw["id"]))
                context.report_error(
                    f"issue {raw.get('key', raw.get('id'))} skipped (read again next run): {exc}"
                )
                continue
            self.state.history_status_names.update(
                name
                for change in bundle.changes
                if change.field is ChangeField.STATUS
                for name in (change.from_value, change.to_value)
                if name
            )
            yield bundle

    def _sprints_of_issues(self, context: StreamContext) -> Iterator[SprintRecord]:
        """The sprints the issues' Sprint field carries (the boards' lists come later)."""
        for sprint_id, raw in self.state.sprints_in_issues.items():
            board = raw.get("originBoardId", raw.get("boardId"))
            team = self.state.board_name(str(board) if board is not None else None)
            try:
                yield convert_sprint(raw, team)
            except (KeyError, ValueError) as exc:
                context.report_error(f"sprint {sprint_id} skipped: {exc}")

    def _statuses_of_issues(self, context: StreamContext) -> Iterator[StatusRecord]:
        """The issues' current statuses, with their categories; and, when their history holds
        a status neither they nor the store know, every status (`GET /status`, once)."""
        known = self.state.current_statuses
        unknown = self.state.history_status_names - known.keys()
        if unknown and unknown - context.store.status_names():
            for raw in self.client.statuses():
                category = str((raw.get("statusCategory") or {}).get("key", "indeterminate"))
                known.setdefault(str(raw["name"]), (str(raw["id"]), category))
        for name, (status_id, category) in sorted(known.items()):
            yield convert_status(
                {"id": status_id, "name": name, "statusCategory": {"key": category}},
                self.config.status_map,
            )

    def _search_again(self, issue_ids: list[str]) -> Iterator[list[dict[str, Any]]]:
        """The issues a run before had to skip, read again as a normal search reads them
        (same fields, changelog expanded), `RETRY_CHUNK` ids a search; none, no call."""
        for start in range(0, len(issue_ids), RETRY_CHUNK):
            yield self._issues_by_id(issue_ids[start : start + RETRY_CHUNK])

    def _issues_by_id(self, issue_ids: list[str]) -> list[dict[str, Any]]:
        """The issues of `issue_ids` still in the JQL's scope (one gone is simply absent)."""
        jql = f"({scope_jql(self.config.jql)}) AND id in ({', '.join(issue_ids)}){ISSUE_ORDER}"
        try:
            return [
                raw
                for page in self.client.search_pages(
                    jql, self._fields(), "changelog", self.config.page_size
                )
                for raw in page.get("issues", [])
            ]
        except ConnectorError as exc:
            if exc.status_code != 400:
                raise
        # Jira may refuse the whole query (400) for one id it no longer knows, a deleted
        # issue: ask for each alone; an id refused alone is gone (the census handles it).
        if len(issue_ids) == 1:
            log.info("skipped_issue_gone", issue_id=issue_ids[0])
            return []
        return [raw for issue_id in issue_ids for raw in self._issues_by_id([issue_id])]

    @staticmethod
    def _prune(
        seen: dict[str, str], max_updated: datetime | None, started: float, overlap: timedelta
    ) -> None:
        """Drop ids that can no longer fall in the final overlap window (bounded memory).

        The crawl's final duration is not known yet, so the margin is generous
        (four times the time so far, plus an hour for the minute floor and DST).
        Should a long crawl outgrow it, the price is one redundant re-read of a
        few issues next time, never a missed one: `seen` only lets issues be
        skipped.
        """
        if max_updated is None or len(seen) < 20_000:
            return
        elapsed = timedelta(seconds=time.monotonic() - started)
        floor = max_updated - 4 * elapsed - overlap - timedelta(hours=1)
        for issue_id in [i for i, t in seen.items() if (parse_jira_datetime(t) or floor) < floor]:
            del seen[issue_id]

    def _note_sprints_and_status(self, raw: dict[str, Any]) -> None:
        fields = raw.get("fields")
        if not isinstance(fields, dict):
            return  # a malformed issue: `convert_issue` reports it
        ids = self.state.field_ids
        for sprint in (fields.get(ids.sprint) if ids and ids.sprint else None) or []:
            if isinstance(sprint, dict) and "id" in sprint:
                self.state.sprints_in_issues[str(sprint["id"])] = sprint
        status = fields.get("status") or {}
        if status.get("name"):
            category = str((status.get("statusCategory") or {}).get("key", "indeterminate"))
            self.state.current_statuses[str(status["name"])] = (str(status.get("id")), category)

    def _complete_histories(
        self, issues: list[dict[str, Any]], context: StreamContext
    ) -> dict[str, list[dict[str, Any]]]:
        """Each issue's whole changelog: search returns only the latest histories."""
        histories: dict[str, list[dict[str, Any]]] = {}
        truncated: list[dict[str, Any]] = []
        for raw in issues:
            changelog = raw.get("changelog") or {}
            entries = list(changelog.get("histories") or [])
            histories[str(raw["id"])] = entries
            if int(changelog.get("total", len(entries))) > len(entries):
                truncated.append(raw)
        if not truncated:
            return histories
        complete = self._fetch_full_changelogs(truncated, context)
        for raw in truncated:
            issue_id = str(raw["id"])
            full = complete.get(issue_id)
            if full is None:
                log.warning("issue_vanished_mid_sync", key=raw.get("key"))
                context.report_error(
                    f"issue {raw.get('key')} vanished while its changelog was read; "
                    "skipped (the census will mark it deleted)"
                )
                del histories[issue_id]
                continue
            by_id = {str(h["id"]): h for h in full}
            by_id.update({str(h["id"]): h for h in histories[issue_id]})
            histories[issue_id] = list(by_id.values())
        return histories

    def _fetch_full_changelogs(
        self, issues: list[dict[str, Any]], context: StreamContext
    ) -> dict[str, list[dict[str, Any]]]:
        """Bulk changelog on Cloud (1,000 issues a call); issue by issue where it is missing.

        The bulk answer leaves out an issue with no history for the asked
        fields, so absence means "no such history", not "deleted".
        """
        assert self.state.field_ids is not None
        if self.client.is_cloud:
            try:
                return self._bulk_changelogs(issues)
            except ConnectorError as exc:
                if exc.status_code != 404:
                    raise
                log.info("bulk_changelog_unavailable", fallback="issue changelog endpoint")
        result: dict[str, list[dict[str, Any]]] = {}
        for raw in issues:
            try:
                result[str(raw["id"])] = list(self.client.issue_changelog(str(raw["key"])))
            except ConnectorError as exc:
                if exc.status_code != 404:
                    raise
        return result

    def _bulk_changelogs(self, issues: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        assert self.state.field_ids is not None
        field_ids = self.state.field_ids.bulk_field_ids()
        result: dict[str, list[dict[str, Any]]] = {str(raw["id"]): [] for raw in issues}
        for start in range(0, len(issues), BULK_CHANGELOG_MAX_ISSUES):
            chunk = [str(raw["id"]) for raw in issues[start : start + BULK_CHANGELOG_MAX_ISSUES]]
            for issue_id, entries in self.client.bulk_changelogs(chunk, field_ids):
                result.setdefault(issue_id, []).extend(entries)
        return result

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark


class SprintsStream(Stream):
    """Sprints from the boards, refreshed every `sprint_refresh_minutes` (the sprints the
    issues name are stored by the issues stream, before its bookmark moves past them)."""

    name = "sprints"
    record_type = SprintRecord
    primary_keys = ("external_id",)

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: dict[str, Any] | None = None

    def records(self, context: StreamContext) -> Iterator[SprintRecord]:
        previous = context.bookmark or {}
        every = timedelta(minutes=self.config.sprint_refresh_minutes)
        listed: dict[str, dict[str, Any]] = {}
        if context.full or _stale(previous.get("refreshed_at"), every, context.started_at):
            listed = self._list_board_sprints(context, previous)
        for sprint_id, raw in listed.items():  # the issues' own sprints are stored already
            board = raw.get("originBoardId", raw.get("boardId"))
            team = self.state.board_name(str(board) if board is not None else None)
            try:
                yield convert_sprint(raw, team)
            except (KeyError, ValueError) as exc:
                context.report_error(f"sprint {sprint_id} skipped: {exc}")

    def _list_board_sprints(
        self, context: StreamContext, previous: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Every sprint on a full run; else the open ones, plus any that closed since."""
        was_open: dict[str, list[str]] = previous.get("open", {}) if not context.full else {}
        incremental = bool(previous) and not context.full
        listed: dict[str, dict[str, Any]] = {}
        now_open: dict[str, list[str]] = {}
        for board in self.state.boards:
            if board.type != "scrum":
                continue  # kanban boards have no sprints; asking costs a call and a 400
            key = str(board.id)
            try:
                states = "active,future" if incremental else None
                found = list(self.client.sprints(board.id, states))
                for raw in found:
                    listed[str(raw["id"])] = raw
                for sprint_id in was_open.get(key, []):
                    if sprint_id not in listed:
                        listed[sprint_id] = self.client.sprint(int(sprint_id))
            except ConnectorError as exc:
                context.report_error(f"sprints of board {board.id} ({board.name}): {exc}")
                now_open[key] = was_open.get(key, [])
                continue
            now_open[key] = sorted(
                (s for s, raw in listed.items() if str(raw.get("state")) in ("active", "future")
                 and str(raw.get("originBoardId", board.id)) == key),
                key=int,
            )  # fmt: skip
        self._bookmark = {"refreshed_at": context.started_at.isoformat(), "open": now_open}
        return listed

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark


class StatusesStream(Stream):
    """Each status with its category, so any past status maps to a stage.

    Current statuses come with the issues, and the issues stream asks `GET /status`
    when their history holds a status nobody knows (both stored before its bookmark
    moves); this stream keeps every status seen and stages it by the current
    `status_map`, so a changed mapping re-stages statuses no issue is in now.
    """

    name = "statuses"
    record_type = StatusRecord
    primary_keys = ("external_id",)

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: dict[str, Any] | None = None

    def records(self, context: StreamContext) -> Iterator[StatusRecord]:
        known: dict[str, list[str]] = dict((context.bookmark or {}).get("statuses", {}))
        for name, (status_id, category) in self.state.current_statuses.items():
            known[name] = [status_id, category]
        if known != (context.bookmark or {}).get("statuses"):
            self._bookmark = {"statuses": dict(sorted(known.items()))}
        for name, (status_id, category) in sorted(known.items()):
            yield convert_status(
                {"id": status_id, "name": name, "statusCategory": {"key": category}},
                self.config.status_map,
            )

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark


class CensusStream(Stream):
    """Detects deleted issues and issues that left the JQL without a full re-sync.

    One count call; only when it disagrees with the store's live items (plus the
    issues skipped this run that are not stored) is the scope's id list read (ids
    only, 5,000 a page). A first sync (nothing stored before it) needs no census at
    all. Nothing about it is saved between runs, and nothing needs to be: every run
    compares the count afresh, so a run that dies before its census leaves the
    next run to find the same difference.
    """

    name = "census"
    record_type = Census
    primary_keys = ("external_id",)

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state

    def records(self, context: StreamContext) -> Iterator[Census]:
        if context.census.nothing_stored:
            return  # nothing was stored before this run, so nothing can have been deleted
        jql = scope_jql(self.config.jql)
        stored = context.store.live_item_count()
        # An issue skipped this run (malformed) and never stored is in Jira's count but not
        # the store's: left uncounted, it would hide a deletion of the same number.
        skipped = self.state.skipped
        unstored = len(skipped - context.store.live_ids_among(skipped)) if skipped else 0
        if self.client.count(jql) == stored + unstored:
            return
        yield Census(
            frozenset(self.client.issue_ids(jql)),
            "the JQL matches no issue (check the API user's permissions and the JQL)",
        )

    def final_bookmark(self) -> dict[str, Any] | None:
        return None
