"""The Jira streams, in load order: site metadata, issues, sprints, statuses, census.

What each run costs when nothing changed: one search call (the overlap window
returns a few issues already seen, recognised by id and `updated`, so not even
their changelogs are read) and one count call (the census). Site metadata
(field ids, the API user's time zone, boards) is cached for
`metadata_ttl_hours`; sprint lists are refreshed every `sprint_refresh_minutes`
and otherwise come for free inside the issues' own Sprint field. An issue a
run had to skip (its data could not be converted) is read again by the next
run, in one more search (`id in (...)`, 100 ids a search) made only then.

Bookmarks, each a frozen type beside its stream, stored as versioned JSON
(`connectors/bookmarks.py`): `SiteBookmark` (the site cache), `IssuesBookmark`
(watermark, `seen`, `retry`), `SprintsBookmark` (when the boards' sprints were
listed, the sprints open then), `StatusesBookmark` (every status seen). Those
stored before versions load as version 1; one that cannot be understood means a
full read of its stream.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import structlog

from connectors.base import Stream, StreamContext
from connectors.bookmarks import RetrySet, ids_from_json, load_bookmark, readable, with_version
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
from connectors.jira.portfolio import convert_version, noted_plan, with_plan
from pmo_sync.domain import (
    Census,
    ChangeField,
    ItemBundle,
    ReleaseRecord,
    SprintRecord,
    StatusRecord,
    TeamRecord,
)

__all__ = [
    "CensusStream",
    "IssuesBookmark",
    "IssuesStream",
    "JiraRunState",
    "ReleasesBookmark",
    "ReleasesStream",
    "SiteBookmark",
    "SiteStream",
    "SprintsBookmark",
    "SprintsStream",
    "StatusesBookmark",
    "StatusesStream",
    "jql_since",
    "jql_since_instant",
    "project_keys_in",
    "scope_jql",
    "site_field_ids",
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


def site_field_ids(fields: list[dict[str, Any]], config: JiraConfig) -> JiraFieldIds:
    """The field ids of `GET /field` this connector reads, with the ones its config names
    (LookupError when a configured field is not on this site)."""
    return find_field_ids(
        fields,
        config.story_points_field,
        acceptance_criteria=config.acceptance_criteria_field,
        checklist=config.checklist_field,
        start_date=config.start_date_field,
        target_start=config.target_start_field,
        target_end=config.target_end_field,
    )


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


@dataclass(frozen=True, slots=True)
class BoardInfo:
    id: int
    name: str
    type: str
    project: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "project": self.project}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BoardInfo:
        project = data["project"]
        return cls(
            int(data["id"]),
            str(data["name"]),
            str(data["type"]),
            None if project is None else str(project),
        )


@dataclass(slots=True)
class JiraRunState:
    """What the streams of one run share; filled by the streams that come first."""

    field_ids: JiraFieldIds | None = None
    time_zone: str | None = None
    account_id: str | None = None  # the API user: its edits are pmo-sync's write-back
    boards: list[BoardInfo] = field(default_factory=list)
    sprints_in_issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions_in_issues: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict)
    """The fix versions the search returned, by (id, the issue's project)."""
    site_refreshed: bool = False
    """The site metadata was read this run (a full sync, a first one, an expired cache)."""
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

    def team_records(self, team_by: str) -> list[TeamRecord]:
        """Each team the boards name, with its delivery method: scrum when a board of its
        project runs sprints (a scrum board), else kanban (kanban and team-managed "simple"
        boards). With `team_by: project` the team is the project key, so a project's
        boards speak for it; a project without a board is not described (no board says)."""
        scrum_projects = {b.project for b in self.boards if b.project and b.type == "scrum"}
        projects = sorted({b.project for b in self.boards if b.project})
        named = self.team_for_project(team_by) or {project: project for project in projects}
        methods: dict[str, str] = {}
        for project in projects:
            if project in scrum_projects:
                methods[named[project]] = "scrum"
            else:
                methods.setdefault(named[project], "kanban")
        return [TeamRecord(team, method) for team, method in sorted(methods.items())]


def _updated_of(raw: dict[str, Any]) -> tuple[str, datetime | None]:
    """An issue's `updated` as Jira wrote it and as an instant (None when missing or unreadable:
    the issue is then left to `convert_issue`, which reports it)."""
    fields = raw.get("fields")
    value = fields.get("updated") if isinstance(fields, dict) else None
    try:
        return str(value), parse_jira_datetime(value)
    except (TypeError, ValueError):
        return str(value), None


def _stale(fetched_at: datetime | None, max_age: timedelta, now: datetime) -> bool:
    return fetched_at is None or now - fetched_at >= max_age


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True, slots=True)
class SiteBookmark:
    """The site stream's cache: field ids, the API user and its time zone, the boards.

    Version 1 (also stored without `version`). A cache from before the API user was kept
    (no `account_id`) reads as expired: the next run refreshes it. One from before the
    portfolio fields were looked for (Rank, Epic Link) is used until it expires as usual.
    """

    VERSION: ClassVar[int] = 1
    fetched_at: datetime | None
    """When the cache was read; None: expired whatever the TTL."""
    time_zone: str
    account_id: str | None
    field_ids: JiraFieldIds
    boards: tuple[BoardInfo, ...]

    def to_json(self) -> dict[str, Any]:
        return with_version(
            self.VERSION,
            {
                "fetched_at": _iso(self.fetched_at),
                "time_zone": self.time_zone,
                "account_id": self.account_id,
                "field_ids": self.field_ids.to_json(),
                "boards": [b.to_json() for b in self.boards],
            },
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SiteBookmark:
        body = readable(data, cls.VERSION)
        account = body.get("account_id")
        return cls(
            fetched_at=_instant(body.get("fetched_at")) if "account_id" in body else None,
            time_zone=str(body["time_zone"]),
            account_id=None if account is None else str(account),
            field_ids=JiraFieldIds.from_json(body["field_ids"]),
            boards=tuple(BoardInfo.from_json(b) for b in body["boards"]),
        )


class SiteStream(Stream):
    """Field ids, the API user's time zone and the boards; cached, so most runs cost nothing."""

    name = "site"
    record_type = TeamRecord
    primary_keys = ("name",)

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: SiteBookmark | None = None

    def records(self, context: StreamContext) -> Iterator[TeamRecord]:
        cached = load_bookmark(SiteBookmark.from_json, context.bookmark, self.name)
        ttl = timedelta(hours=self.config.metadata_ttl_hours)
        if (
            context.full
            or cached is None
            or _stale(cached.fetched_at, ttl, context.started_at)
            or self._newly_configured(cached)
        ):
            self._refresh(context)
            self.state.site_refreshed = True
        else:
            self.state.field_ids = cached.field_ids
            self.state.time_zone = cached.time_zone
            self.state.account_id = cached.account_id
            self.state.boards = list(cached.boards)
        assert self.state.field_ids is not None
        self.client.seed_field_names(dict(self.state.field_ids.clause_names))
        # the teams as the boards describe them, cached or read: every run, no call
        return iter(self.state.team_records(self.config.team_by))

    def _newly_configured(self, cached: SiteBookmark) -> bool:
        """A field the config names that the cached ids do not resolve (the admin added
        `acceptance_criteria_field`, `checklist_field` or a date field since): read the field
        list now, not when the cache expires."""
        ids = cached.field_ids
        config = self.config
        return bool(
            (config.acceptance_criteria_field and not ids.acceptance_criteria)
            or (config.checklist_field and not ids.checklist)
            or (config.start_date_field and not ids.start_date)
            or (config.target_start_field and not ids.target_start)
            or (config.target_end_field and not ids.target_end)
        )

    def _refresh(self, context: StreamContext) -> None:
        me = self.client.myself()
        time_zone = self.state.time_zone = str(me.get("timeZone") or "UTC")
        self.state.account_id = me.get("accountId") or me.get("name")
        try:
            field_ids = site_field_ids(self.client.fields(), self.config)
        except LookupError as exc:
            raise ConnectorError(str(exc)) from None
        self.state.field_ids = field_ids
        self.state.boards = list(self._discover_boards(context))
        self._bookmark = SiteBookmark(
            fetched_at=context.started_at,
            time_zone=time_zone,
            account_id=self.state.account_id,
            field_ids=field_ids,
            boards=tuple(self.state.boards),
        )

    def _discover_boards(self, context: StreamContext) -> Iterator[BoardInfo]:
        raw_boards: list[dict[str, Any]] = []
        if self.config.boards:
            for board_id in self.config.boards:
                try:
                    raw_boards.append(self.client.board(board_id))
                except ConnectorError as exc:
                    context.report_error(f"board {board_id} skipped: {exc}")
        else:
            projects: list[str | None] = [*project_keys_in(self.config.jql)] or [None]
            for project in projects:
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
        return self._bookmark.to_json() if self._bookmark else None


def _issue_id_order(issue_id: str) -> tuple[int, str]:
    """Jira ids are numbers written as text: by length, then text, is numeric order."""
    return len(issue_id), issue_id


def _jira_id(value: Any) -> str | None:
    """A stored `retry` id, kept only when a number (nothing else goes into JQL)."""
    text = str(value)
    return text if text.isdigit() else None


@dataclass(frozen=True, slots=True)
class IssuesBookmark:
    """Where the issues stream goes on from (version 1, also stored without `version`).

    `watermark`: the next search asks for issues updated since it, less the overlap.
    `seen`: each issue inside the overlap window with its `updated` as Jira wrote it,
    so one that comes back unchanged is passed over (absent in no release so far, but
    read as empty). `retry`: the ids of issues skipped because their data could not be
    converted (absent before that was kept: none).
    """

    VERSION: ClassVar[int] = 1
    watermark: datetime
    seen: Mapping[str, str] = field(default_factory=dict)
    retry: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return with_version(
            self.VERSION,
            {
                "watermark": self.watermark.astimezone(UTC).isoformat(),
                "seen": dict(self.seen),
                "retry": list(self.retry),
            },
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IssuesBookmark:
        body = readable(data, cls.VERSION)
        return cls(
            watermark=datetime.fromisoformat(body["watermark"]),
            seen={str(k): str(v) for k, v in (body.get("seen") or {}).items()},
            retry=ids_from_json(body.get("retry"), _jira_id),
        )


@dataclass(slots=True)
class _IssueCrawl:
    """What one run of the issues stream learns as it reads: the next bookmark's makings."""

    retry: RetrySet[str]
    started: float = field(default_factory=time.monotonic)
    max_updated: datetime | None = None
    """The latest `updated` the search returned."""
    seen: dict[str, str] = field(default_factory=dict)
    """Each issue the search returned with its `updated` text (pruned as it grows)."""
    changed: int = 0
    """Issues converted and yielded."""

    def note(self, issue_id: str, updated_text: str, updated: datetime) -> None:
        if self.max_updated is None or updated > self.max_updated:
            self.max_updated = updated
        self.seen[issue_id] = updated_text


class IssuesStream(Stream):
    """Issues with their complete changelog, incremental by `updated` with an overlap window.

    Issues come ordered by `created` (an issue edited mid-crawl cannot jump
    between pages), so the bookmark is saved only when the stream completes.
    The bookmark (`IssuesBookmark`) keeps the `watermark`, the ids and `updated`
    of issues inside the overlap window (`seen`: one that comes back unchanged is
    recognised and skipped), and the ids of issues skipped because their data
    could not be converted (`retry`, a `RetrySet`): the next run reads those
    again even if nobody touches them, since the watermark has moved past them.
    One found and converted leaves `retry`, one that fails again stays, one no
    longer found (deleted, or out of the JQL: the census handles it) leaves.
    """

    name = "issues"
    record_type = ItemBundle
    side_records = (SprintRecord, StatusRecord)
    primary_keys = ("external_id",)
    replication_key = "updated"
    is_sorted = False

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: IssuesBookmark | None = None
        self._overlap = timedelta(minutes=config.overlap_minutes)

    def _fields(self) -> list[str]:
        ids = self.state.field_ids
        assert ids is not None
        base = [
            "summary", "issuetype", "status", "project", "created", "updated",
            "resolutiondate", "assignee", "labels", "parent", "description",
            "duedate", "priority", "fixVersions", "issuelinks", "components",
        ]  # fmt: skip
        return base + ids.search_field_ids()

    def records(self, context: StreamContext) -> Iterator[ItemBundle | SprintRecord | StatusRecord]:
        """Read the bookmark → the changed issues, page by page → the issues a run before
        had to skip → what they said of sprints and statuses → the next bookmark."""
        assert self.state.field_ids is not None and self.state.time_zone is not None
        previous = None
        if not context.full:
            previous = load_bookmark(IssuesBookmark.from_json, context.bookmark, self.name)
        crawl = _IssueCrawl(RetrySet.of(previous.retry if previous else (), _issue_id_order))
        self.state.skipped = crawl.retry.skipped  # the census counts them too
        issue_ctx = IssueContext(
            base_url=str(self.config.url),
            field_ids=self.state.field_ids,
            status_map=self.config.status_map,
            team_for_project=self.state.team_for_project(self.config.team_by),
            bot_account_id=self.config.writeback.ignored_account(self.state.account_id),
            link_types=tuple(t.name for t in self.config.dependency_link_types),
            waiting_outward=tuple(
                t.name for t in self.config.dependency_link_types if t.outward == "depends_on"
            ),
        )
        yield from self._changed_issues(previous, crawl, issue_ctx, context)
        yield from self._skipped_before(crawl, issue_ctx, context)
        # What the issues said of sprints and statuses is stored before this stream's
        # bookmark moves past them: a run that dies before the sprints and statuses
        # streams must not leave a sprint or a status only these issues named unstored.
        yield from self._sprints_of_issues(context)
        yield from self._statuses_of_issues(context)
        self._bookmark = self._next_bookmark(previous, crawl)

    def _changed_issues(
        self,
        previous: IssuesBookmark | None,
        crawl: _IssueCrawl,
        issue_ctx: IssueContext,
        context: StreamContext,
    ) -> Iterator[ItemBundle]:
        """The issues updated since the watermark less the overlap (all on a first or full
        run), page by page. The overlap window brings back issues the last run read: one
        whose `updated` is the one in `seen` is passed over, its changelog not even read,
        unless a run before had to skip it."""
        assert self.state.time_zone is not None
        jql = f"({scope_jql(self.config.jql)})"
        if previous:
            since = previous.watermark - self._overlap
            jql += f' AND updated >= "{jql_since(since, self.state.time_zone)}"'
        jql += ISSUE_ORDER
        seen_before = previous.seen if previous else {}
        pages = self.client.search_pages(jql, self._fields(), "changelog", self.config.page_size)
        for page in pages:
            fresh = [raw for raw in page.get("issues", []) if self._fresh(raw, seen_before, crawl)]
            for bundle in self._convert(fresh, issue_ctx, crawl.retry, context):
                crawl.changed += 1
                yield bundle
            self._prune(crawl.seen, crawl.max_updated, crawl.started, self._overlap)

    def _fresh(
        self, raw: dict[str, Any], seen_before: Mapping[str, str], crawl: _IssueCrawl
    ) -> bool:
        """Note what one search result says (its `updated`, sprints, status); True when it
        is to be converted: changed since `seen`, or skipped by a run before."""
        issue_id = str(raw["id"])
        updated_text, updated = _updated_of(raw)
        if updated is not None:
            crawl.note(issue_id, updated_text, updated)
        self._note_sprints_and_status(raw)
        if crawl.retry.found(issue_id):
            return True  # skipped last time: converted whatever `seen` says
        return updated is None or seen_before.get(issue_id) != updated_text

    def _skipped_before(
        self, crawl: _IssueCrawl, issue_ctx: IssueContext, context: StreamContext
    ) -> Iterator[ItemBundle]:
        """The issues a run before had to skip that the search did not return (nobody
        touched them, and the watermark moved past them): searched for by id, only when
        there are."""
        for again in self._search_again(crawl.retry.unread()):
            for raw in again:
                self._note_sprints_and_status(raw)
            for bundle in self._convert(again, issue_ctx, crawl.retry, context):
                crawl.changed += 1
                yield bundle

    def _next_bookmark(
        self, previous: IssuesBookmark | None, crawl: _IssueCrawl
    ) -> IssuesBookmark | None:
        """Where the next run goes on from; None keeps the stored bookmark exactly as it is
        (nothing new and `retry` unchanged, or nothing ever found).

        The watermark is the latest `updated` seen less the crawl's duration: an issue
        edited during the crawl, after its page was read, has `updated` ≥ crawl start ≥
        (latest `updated` seen - crawl duration); it never goes back. `seen` keeps every
        issue the next search returns again, down to its minute-floored bound.
        """
        assert self.state.time_zone is not None
        if crawl.changed == 0 and previous and crawl.retry.unchanged:
            return None  # nothing new: the stored bookmark stays exactly as it is
        elapsed = timedelta(seconds=time.monotonic() - crawl.started)
        if crawl.max_updated is None:
            watermark = previous.watermark if previous else None
        else:
            watermark = crawl.max_updated - elapsed
            if previous:
                watermark = max(watermark, previous.watermark)
        if watermark is None:
            return None
        floor = jql_since_instant(watermark - self._overlap, self.state.time_zone)
        return IssuesBookmark(
            watermark=watermark,
            seen={
                issue_id: text
                for issue_id, text in sorted(crawl.seen.items())
                if (parse_jira_datetime(text) or floor) >= floor
            },
            retry=crawl.retry.next_retry(),
        )

    def _convert(
        self,
        issues: list[dict[str, Any]],
        issue_ctx: IssueContext,
        retry: RetrySet[str],
        context: StreamContext,
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
                retry.skip(str(raw["id"]))
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
        project = (fields.get("project") or {}).get("key")
        versions = fields.get("fixVersions")
        for version in versions if isinstance(versions, list) else []:
            if isinstance(version, dict) and version.get("id"):
                self.state.versions_in_issues[(str(version["id"]), project)] = version
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
        return self._bookmark.to_json() if self._bookmark else None


@dataclass(frozen=True, slots=True)
class ReleasesBookmark:
    """The projects whose versions are read, each version's start date as last read (an
    issue's `fixVersions` leave the start date out), and each version's plan. Version 1
    (`plans` added since: optional)."""

    VERSION: ClassVar[int] = 1
    projects: tuple[str, ...] = ()
    starts: Mapping[str, str] = field(default_factory=dict)
    """Version id -> its `startDate` (ISO day), for the versions that have one."""
    plans: Mapping[str, str] = field(default_factory=dict)
    """Version id -> its `releaseDate` (ISO day) as last read while it was not released:
    the plan a version released later keeps (`connectors.jira.portfolio.with_plan`), since
    teams often move the one date Jira keeps to the ship day."""

    def to_json(self) -> dict[str, Any]:
        return with_version(
            self.VERSION,
            {
                "projects": list(self.projects),
                "starts": dict(sorted(self.starts.items())),
                "plans": dict(sorted(self.plans.items())),
            },
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReleasesBookmark:
        body = readable(data, cls.VERSION)
        return cls(
            projects=tuple(str(p) for p in body.get("projects") or ()),
            starts={str(k): str(v) for k, v in (body.get("starts") or {}).items()},
            plans={str(k): str(v) for k, v in (body.get("plans") or {}).items()},
        )


class ReleasesStream(Stream):
    """Releases: the projects' versions (fix versions), at no cost where nothing is planned.

    The issues' own `fixVersions` (read by the issues stream, no call) give each version's
    name, release date, released and archived flags: those of the issues read this run are
    yielded every run. A project's whole version list (`GET /project/{key}/versions`, one
    call, with the start dates and the versions no issue names yet) is read for the
    projects whose issues plan releases: when the site metadata is read (a full sync, an
    expired cache) for every such project known, and otherwise once for a project seen
    planning releases for the first time. A project without fix versions costs nothing, so
    an unchanged sync makes no call here. A listing refused (a project gone, no permission)
    or a version that cannot be read is logged and skipped, never a failed sync.

    Each version's plan is its release date as last read while not released, kept in the
    bookmark (`ReleasesBookmark.plans`), so a version released later with its date moved
    to the ship day keeps the day it was planned for; one first read already released has
    no plan (None).
    """

    name = "releases"
    record_type = ReleaseRecord
    primary_keys = ("external_id",)

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: ReleasesBookmark | None = None

    def records(self, context: StreamContext) -> Iterator[ReleaseRecord]:
        previous = load_bookmark(ReleasesBookmark.from_json, context.bookmark, self.name)
        known = previous.projects if previous and not context.full else ()
        starts = dict(previous.starts) if previous else {}
        plans = dict(previous.plans) if previous else {}
        seen = [p for _, p in self.state.versions_in_issues if p]
        projects = tuple(sorted(set(known) | set(seen)))
        refresh = self.state.site_refreshed or context.full
        due = set(projects) if refresh else set(seen) - set(known)
        listed: dict[str, ReleaseRecord] = {}
        for project in sorted(due):
            for release in self._listing(project):
                listed[release.external_id] = release
                if release.start_date is not None:
                    starts[release.external_id] = release.start_date.isoformat()
                else:
                    starts.pop(release.external_id, None)
        for release in listed.values():
            noted_plan(plans, release)
            yield with_plan(release, plans)
        found = self.state.versions_in_issues
        for version_id, where in sorted(found, key=lambda k: (k[0], k[1] or "")):
            if version_id in listed:
                continue  # the listing, read just now, says as much and more
            raw = found[(version_id, where)]
            if "startDate" not in raw and version_id in starts:
                raw = {**raw, "startDate": starts[version_id]}
            try:
                release = convert_version(raw, where)
            except (KeyError, TypeError) as exc:
                log.warning("jira_version_skipped", version=version_id, error=repr(exc))
                continue
            noted_plan(plans, release)
            yield with_plan(release, plans)
        if previous is None or (projects, starts, plans) != (
            previous.projects,
            previous.starts,
            previous.plans,
        ):
            self._bookmark = ReleasesBookmark(projects, starts, plans)

    def _listing(self, project: str) -> list[ReleaseRecord]:
        try:
            versions = self.client.project_versions(project)
        except ConnectorError as exc:
            log.warning("jira_versions_unreadable", project=project, error=str(exc))
            return []
        releases: list[ReleaseRecord] = []
        for raw in versions if isinstance(versions, list) else []:
            try:
                releases.append(convert_version(raw, project))
            except (KeyError, TypeError) as exc:
                log.warning("jira_version_skipped", project=project, error=repr(exc))
        return releases

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark.to_json() if self._bookmark else None


@dataclass(frozen=True, slots=True)
class SprintsBookmark:
    """When the boards' sprint lists were last read, and each scrum board's sprints open
    then (read again next time, to catch one that closed). Version 1, also stored
    without `version`."""

    VERSION: ClassVar[int] = 1
    refreshed_at: datetime | None
    """None: due now."""
    open: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Board id -> the ids of its active and future sprints, in numeric order."""

    def to_json(self) -> dict[str, Any]:
        return with_version(
            self.VERSION,
            {
                "refreshed_at": _iso(self.refreshed_at),
                "open": {board: list(ids) for board, ids in self.open.items()},
            },
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SprintsBookmark:
        body = readable(data, cls.VERSION)
        return cls(
            refreshed_at=_instant(body.get("refreshed_at")),
            open={
                str(board): tuple(str(i) for i in ids)
                for board, ids in (body.get("open") or {}).items()
            },
        )


class SprintsStream(Stream):
    """Sprints from the boards, refreshed every `sprint_refresh_minutes` (the sprints the
    issues name are stored by the issues stream, before its bookmark moves past them)."""

    name = "sprints"
    record_type = SprintRecord
    primary_keys = ("external_id",)

    def __init__(self, client: JiraClient, config: JiraConfig, state: JiraRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: SprintsBookmark | None = None

    def records(self, context: StreamContext) -> Iterator[SprintRecord]:
        previous = load_bookmark(SprintsBookmark.from_json, context.bookmark, self.name)
        every = timedelta(minutes=self.config.sprint_refresh_minutes)
        listed: dict[str, dict[str, Any]] = {}
        due = previous is None or _stale(previous.refreshed_at, every, context.started_at)
        if context.full or due:
            listed = self._list_board_sprints(context, previous)
        for sprint_id, raw in listed.items():  # the issues' own sprints are stored already
            board = raw.get("originBoardId", raw.get("boardId"))
            team = self.state.board_name(str(board) if board is not None else None)
            try:
                yield convert_sprint(raw, team)
            except (KeyError, ValueError) as exc:
                context.report_error(f"sprint {sprint_id} skipped: {exc}")

    def _list_board_sprints(
        self, context: StreamContext, previous: SprintsBookmark | None
    ) -> dict[str, dict[str, Any]]:
        """Every sprint on a full run; else the open ones, plus any that closed since."""
        incremental = previous is not None and not context.full
        was_open = previous.open if previous is not None and incremental else {}
        listed: dict[str, dict[str, Any]] = {}
        now_open: dict[str, tuple[str, ...]] = {}
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
                now_open[key] = was_open.get(key, ())
                continue
            now_open[key] = tuple(sorted(
                (s for s, raw in listed.items() if str(raw.get("state")) in ("active", "future")
                 and str(raw.get("originBoardId", board.id)) == key),
                key=int,
            ))  # fmt: skip
        self._bookmark = SprintsBookmark(refreshed_at=context.started_at, open=now_open)
        return listed

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark.to_json() if self._bookmark else None


@dataclass(frozen=True, slots=True)
class StatusesBookmark:
    """Every status seen so far: name -> (id, category). Version 1, also stored without
    `version`."""

    VERSION: ClassVar[int] = 1
    statuses: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        known = {name: list(status) for name, status in sorted(self.statuses.items())}
        return with_version(self.VERSION, {"statuses": known})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusesBookmark:
        body = readable(data, cls.VERSION)
        return cls(
            {
                str(name): (str(status_id), str(category))
                for name, (status_id, category) in (body.get("statuses") or {}).items()
            }
        )


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
        self._bookmark: StatusesBookmark | None = None

    def records(self, context: StreamContext) -> Iterator[StatusRecord]:
        previous = load_bookmark(StatusesBookmark.from_json, context.bookmark, self.name)
        known = dict(previous.statuses) if previous else {}
        known.update(self.state.current_statuses)
        if previous is None or known != previous.statuses:
            self._bookmark = StatusesBookmark(dict(sorted(known.items())))
        for name, (status_id, category) in sorted(known.items()):
            yield convert_status(
                {"id": status_id, "name": name, "statusCategory": {"key": category}},
                self.config.status_map,
            )

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark.to_json() if self._bookmark else None


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
