"""The Azure DevOps streams, in load order: metadata, work items, iterations, releases, states,
census.

How history is read. The reporting stream (`POST wit/reporting/workitemrevisions`,
1,000 revisions a call, `includeDeleted=true`) is the project's whole revision log
ordered by change time, not by item, and it cannot be filtered by id. So:

- **Full run**: the stream is read once from the start. Revisions are buffered per
  item until the item's *latest* revision arrives — the one whose
  `System.RevisedDate` is 9999-01-01 — at which point its revision list is complete
  (revs 1..n) and it is converted and yielded at once. Only items "in flight"
  (created before the current page, changed again after it) are held, each revision
  but the latest as a `HeldRevision` (convert.py): the few values conversion reads of
  it, in a tuple, the repeating texts interned — ~0.2 KB instead of the ~1.75 KB of
  its parsed JSON. Memory is capped at `MAX_BUFFERED_REVISIONS`: beyond it the
  least recently touched items are dropped from the buffer and re-read on their own
  (`workItems/{id}/revisions`, 200 a call) when their latest revision shows up.
  Cost: ⌈revisions / 1000⌉ calls for the whole project (300 items ≈ 3 calls), not a
  call per item.
- **Incremental run**: the stream continues from the stored continuation token.
  An item whose new revisions start at rev 1 (created since) is complete in the
  stream; any other changed item is re-read in full with `revisions(id)` (one call
  per changed item) and re-converted, since conversion needs the whole history.
- **Deletions**: a deleted item's last revision carries `System.IsDeleted`; seeing
  one (or an item that left the scope: type or area path, or a full read) makes a
  census owed (`context.census.owe`), saved with the continuation token that moved
  past it, so a sync that fails or dies before the census leaves it owed and the next
  run takes it. The census stream lists the live ids in scope with WIQL and the
  store marks the rest deleted. WIQL returns at
  most `wiql_cap` ids, so the listing is keyset-paginated by id (`[System.Id] > last
  ORDER BY [System.Id]` with `$top = wiql_cap`), and falls back to bisecting id
  ranges should a service still reject a page as over the cap. A run that sees no
  deletion makes no census call.

- **Skipped items**: an item whose revisions cannot be converted is reported (the run
  is partial) and its stored row and history stay as they were; its id goes into the
  bookmark's `retry`, and the next run reads it again with `revisions(id)` (one call
  per item) even if nobody touched it, since the continuation token has moved past
  it. Converted then, it is stored and leaves `retry`; failing again, it stays; gone
  (deleted, or out of scope), it leaves `retry` and makes the census run.

Bookmarks: `metadata` caches teams, area paths, iterations, state categories and the
organisation's field list (the revision stream is asked only for fields that exist:
`connectors.azure_devops.fields`) for `METADATA_TTL`, or until a work item type is configured
whose states it did not ask (`MetadataBookmark.covers`); `work_items` stores the
continuation token, a fingerprint of the scope (a changed scope means a full read and a
census) and the ids to read again (`retry`). A run that finds nothing new and no change
to `retry` keeps the stored bookmark as it is. Each is a frozen type
(`MetadataBookmark`, `WorkItemsBookmark`) stored as versioned JSON
(`connectors/bookmarks.py`): those stored before versions load as version 1; one that
cannot be understood means a full read of its stream.

Links (`link_types`, default `[Dependency]`): the reporting stream carries no relations (its
only `$expand` is `fields`), so the items a run reads are asked for theirs, `workitemsbatch`
with `$expand: relations`, one call per 200 (`_with_links`): ⌈items / 200⌉ on a full read,
⌈changed items / 200⌉ on an incremental one, none when nothing changed. The item a person
adds a link on (or removes it from) gets a revision, so it arrives in the stream like any
edit and is read again with its relations; the other end gets none (its updates show the
relation at the same rev), so its stored links follow at its own next change or a full read.
The link types are part of the scope: reading another set reads every item again.

Calls of a no-change run: one reporting call (plus SDK route discovery when its
12 h disk cache is cold), and one `revisions(id)` call per item in `retry`.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, ClassVar

import structlog

from connectors.azure_devops.client import MAX_BATCH, AdoClient, WiqlCapExceeded
from connectors.azure_devops.config import DEFAULT_ESTIMATE_FIELDS, AzureDevOpsConfig
from connectors.azure_devops.convert import (
    AdoContext,
    HeldRevision,
    convert_iteration,
    convert_revisions,
    convert_state,
    hold_revision,
)
from connectors.azure_devops.fields import fields_to_read
from connectors.azure_devops.links import links_of
from connectors.azure_devops.portfolio import PRIORITY_FIELD, RANK_FIELDS, SCHEDULING_FIELDS
from connectors.azure_devops.push import authenticated_identity
from connectors.azure_devops.releases import release_id, release_names, release_record
from connectors.base import Stream, StreamContext
from connectors.bookmarks import RetrySet, ids_from_json, load_bookmark, readable, with_version
from connectors.errors import ConnectorError
from pmo_sync.domain import (
    Census,
    ItemBundle,
    ReleaseRecord,
    SprintRecord,
    StatusRecord,
    TeamRecord,
)

__all__ = [
    "AdoRunState",
    "CensusStream",
    "IterationsStream",
    "MetadataBookmark",
    "MetadataStream",
    "ReleasesStream",
    "StatesStream",
    "WorkItemsBookmark",
    "WorkItemsStream",
    "team_records",
]

log = structlog.get_logger(__name__)

METADATA_TTL = timedelta(hours=6)
MAX_BUFFERED_REVISIONS = 800_000
"""Bounds the full sync's buffer (each eviction costs a `revisions(id)` call later). A held
revision weighs ~0.35-0.45 KB with its item's share of the buffer, a quarter of the ~1.75 KB
parsed revision once held: 800k of them cost what 200k did (~350 MB at worst)."""
REVISION_FIELDS = (
    "System.Id", "System.Rev", "System.WorkItemType", "System.State", "System.Title",
    "System.AreaPath", "System.IterationPath", "System.TeamProject", "System.CreatedDate",
    "System.ChangedDate", "System.ChangedBy", "System.AssignedTo", "System.Tags",
    "System.Parent", "System.IsDeleted", "System.RevisedDate",
    "Microsoft.VSTS.Common.ClosedDate", "Microsoft.VSTS.CMMI.Blocked",
    "System.Description", "Microsoft.VSTS.Common.AcceptanceCriteria",
    *SCHEDULING_FIELDS, PRIORITY_FIELD, *RANK_FIELDS,
)  # fmt: skip
"""The fields read with every revision. The two rich-text fields feed the governance rules
(acceptance criteria, the story template); they cost bytes, not calls — a batch read of them
would cost a call per 200 changed items. The scheduling dates, priority and rank are the
portfolio facts (`connectors.azure_devops.portfolio`); like every non-`System.` field, each
is asked only where the organisation has it. Only the latest revision keeps them: a held one
(`HeldRevision`) has none, so a long description does not multiply the buffer's memory."""


@dataclass(slots=True)
class TeamInfo:
    name: str
    area_paths: list[str]
    iterations: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "area_paths": self.area_paths, "iterations": self.iterations}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TeamInfo:
        return cls(
            str(data["name"]),
            [str(p) for p in data["area_paths"]],
            [dict(it) for it in data["iterations"]],
        )


@dataclass(slots=True)
class AdoRunState:
    """What the streams of one run share; filled by the streams that come first."""

    teams: list[TeamInfo] = field(default_factory=list)
    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # type -> states
    api_user: str | None = None  # the PAT's unique name: its edits are pmo-sync's write-back
    fields: tuple[str, ...] | None = None
    """The organisation's work item fields (reference names); None where it lists none."""
    release_names: dict[str, str] = field(default_factory=dict)
    """The releases the items converted this run name (external id -> name as written)."""

    def scope_paths(self, config: AzureDevOpsConfig) -> list[str] | None:
        """Area paths the sync covers; None = the whole project."""
        if config.area_paths:
            return list(config.area_paths)
        if config.teams:
            wanted = {t.lower() for t in config.teams}
            return sorted({p for t in self.teams if t.name.lower() in wanted for p in t.area_paths})
        return None

    def context(self, config: AzureDevOpsConfig) -> AdoContext:
        categories = {
            (wit, str(s["name"])): str(s.get("category", "InProgress"))
            for wit, states in self.states.items()
            for s in states
        }
        iteration_ids: dict[str, str] = {}
        team_of_area: dict[str, str] = {}
        for team in self.teams:
            for it in team.iterations:
                iteration_ids.setdefault(str(it["path"]), str(it["id"]))
            for path in team.area_paths:
                team_of_area.setdefault(path, team.name)
        estimate = (config.estimate_field,) if config.estimate_field else DEFAULT_ESTIMATE_FIELDS
        return AdoContext(
            organization_url=str(config.organization_url),
            project=config.project,
            state_categories=categories,
            iteration_ids=iteration_ids,
            team_of_area=team_of_area,
            estimate_fields=estimate,
            state_map=config.state_map,
            bot=config.writeback.ignored_account(self.api_user),
            checklist_field=config.checklist_field,
            levels=config.levels,
            releases=config.releases,
        )


def _stale(fetched_at: datetime | None, now: datetime) -> bool:
    return fetched_at is None or now - fetched_at >= METADATA_TTL


@dataclass(frozen=True, slots=True)
class MetadataBookmark:
    """The metadata stream's cache, read again every `METADATA_TTL`: the teams with their
    area paths and iterations, each work item type's states, the PAT's identity.

    Version 1, also stored without `version`. A cache from before the identity was kept
    (no `api_user`) reads as expired: the next run refreshes it. `fields` is the
    organisation's field list (reference names), written when it was read; None where the
    server lists none, or in a cache kept before the list was (the next run reads the list
    alone, one call, and keeps the rest). `types` are the work item types whose states were
    asked (a type the process lacks is asked but has none); None in a cache kept before
    they were written.
    """

    VERSION: ClassVar[int] = 1
    fetched_at: datetime | None
    """When the cache was read; None: expired whatever the TTL."""
    teams: tuple[TeamInfo, ...]
    states: Mapping[str, list[dict[str, Any]]]
    """Work item type -> its states (`name`, `category`)."""
    api_user: str | None
    fields: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None

    def covers(self, work_item_types: Sequence[str]) -> bool:
        """Whether the states of every type configured were asked (any case): a type added
        since, as Epic by the defaults of issue 16, would otherwise have no state categories
        (each of its states read as in progress) until the cache expires."""
        if self.types is None:
            return False
        asked = {t.casefold() for t in self.types}
        return all(t.casefold() in asked for t in work_item_types)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "fetched_at": self.fetched_at.isoformat() if self.fetched_at else None,
            "teams": [t.to_json() for t in self.teams],
            "states": dict(self.states),
            "api_user": self.api_user,
        }
        if self.fields is not None:
            body["fields"] = list(self.fields)
        if self.types is not None:
            body["types"] = list(self.types)
        return with_version(self.VERSION, body)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetadataBookmark:
        body = readable(data, cls.VERSION)
        fetched_at = body.get("fetched_at") if "api_user" in body else None
        api_user, fields, types = body.get("api_user"), body.get("fields"), body.get("types")
        return cls(
            fetched_at=datetime.fromisoformat(fetched_at) if fetched_at else None,
            teams=tuple(TeamInfo.from_json(t) for t in body["teams"]),
            states={str(wit): [dict(s) for s in states] for wit, states in body["states"].items()},
            api_user=None if api_user is None else str(api_user),
            fields=None if fields is None else tuple(str(f) for f in fields),
            types=None if types is None else tuple(str(t) for t in types),
        )


class MetadataStream(Stream):
    """Teams with their area paths and iterations, state categories per type, the
    organisation's work item fields; cached."""

    name = "metadata"
    record_type = TeamRecord
    primary_keys = ("name",)

    def __init__(self, client: AdoClient, config: AzureDevOpsConfig, state: AdoRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: MetadataBookmark | None = None

    def records(self, context: StreamContext) -> Iterator[TeamRecord]:
        cached = load_bookmark(MetadataBookmark.from_json, context.bookmark, self.name)
        if (
            context.full
            or cached is None
            or _stale(cached.fetched_at, context.started_at)
            or not cached.covers(self.config.work_item_types)
        ):
            self._refresh(context)
        else:
            self.state.teams = list(cached.teams)
            self.state.states = dict(cached.states)
            self.state.api_user = cached.api_user
            fields = cached.fields
            if fields is None:  # cached before the field list was kept: read it alone
                fields = self._field_list()
                if fields is not None:
                    self._bookmark = replace(cached, fields=fields)
            self.state.fields = fields
        # the teams as their iterations describe them, cached or read: every run, no call
        return iter(team_records(self.state.teams))

    def _field_list(self) -> tuple[str, ...] | None:
        """The organisation's fields (one call): the revision stream asks only for these."""
        fields = self.client.work_item_fields()
        if fields is None:  # no field list: every field is asked for, as before
            log.info("field_list_unavailable", project=self.config.project)
            return None
        return tuple(sorted(fields))

    def _refresh(self, context: StreamContext) -> None:
        try:  # same format as `_person(System.ChangedBy)`: the unique name (email)
            self.state.api_user = authenticated_identity(self.client)
        except ConnectorError as exc:
            if exc.status_code not in (404, 405):
                raise
            log.info("connection_data_unavailable", error=str(exc))  # bot edits count
            self.state.api_user = None
        teams: list[TeamInfo] = []
        wanted = {t.lower() for t in self.config.teams or []}
        for raw in self.client.teams():
            name = str(raw["name"])
            if wanted and name.lower() not in wanted:
                continue
            paths = self.client.team_area_paths(name)
            if paths is None:  # no teamfieldvalues API: the default team area path
                paths = [f"{self.config.project}\\{name}"]
            try:
                iterations = self.client.team_iterations(name)
            except ConnectorError as exc:
                context.report_error(f"iterations of team {name}: {exc}")
                iterations = []
            keep = ("id", "name", "path", "attributes")
            teams.append(TeamInfo(name, paths, [{k: it.get(k) for k in keep} for it in iterations]))
        missing = wanted - {t.name.lower() for t in teams}
        if missing:
            context.report_error(f"teams not found in {self.config.project}: {sorted(missing)}")
        states: dict[str, list[dict[str, Any]]] = {}
        for wit in self.config.work_item_types:
            try:
                states[wit] = [
                    {"name": s["name"], "category": s.get("category")}
                    for s in self.client.states(wit)
                ]
            except ConnectorError as exc:
                if exc.status_code != 404:
                    raise
                log.info("work_item_type_absent", work_item_type=wit)  # not in this process
        self.state.teams, self.state.states = teams, states
        self.state.fields = self._field_list()
        self._bookmark = MetadataBookmark(
            fetched_at=context.started_at,
            teams=tuple(teams),
            states=states,
            api_user=self.state.api_user,
            fields=self.state.fields,
            types=tuple(self.config.work_item_types),
        )

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark.to_json() if self._bookmark else None


def team_records(teams: Iterable[TeamInfo]) -> list[TeamRecord]:
    """Each team and its delivery method: scrum when the team has iterations selected (its
    sprints), else kanban (a team working from its board alone has none)."""
    return [TeamRecord(t.name, "scrum" if t.iterations else "kanban") for t in teams]


def _is_latest(fields: dict[str, Any]) -> bool:
    """The latest revision is "revised" at 9999-01-01: read the year off the text (this runs
    for every revision of a full sync; parsing each date was its top CPU cost)."""
    revised = fields.get("System.RevisedDate")
    return isinstance(revised, str) and revised[:4] == "9999"


def _item_id(value: Any) -> int | None:
    """A stored `retry` id (a number; anything else is dropped)."""
    with suppress(TypeError, ValueError):
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class WorkItemsBookmark:
    """Where the work items stream goes on from (version 1, also stored without `version`).

    `continuation_token`: where the revision stream is read on from. `scope`: the work
    item types and area paths it was read for (another scope means a full read).
    `retry`: the ids of items whose revisions could not be converted (absent before that
    was kept: none).
    """

    VERSION: ClassVar[int] = 1
    continuation_token: str | None
    scope: str
    retry: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return with_version(
            self.VERSION,
            {
                "continuation_token": self.continuation_token,
                "scope": self.scope,
                "retry": list(self.retry),
            },
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkItemsBookmark:
        body = readable(data, cls.VERSION)
        token = body.get("continuation_token")
        return cls(
            continuation_token=None if token is None else str(token),
            scope=str(body["scope"]),
            retry=ids_from_json(body.get("retry"), _item_id),
        )


@dataclass(slots=True)
class _RevisionBuffer:
    """The revisions of items "in flight" in the stream, held per item until the item's
    latest revision arrives (its revisions 1..n-1 are then all here), each as a
    `HeldRevision`. Capped at `MAX_BUFFERED_REVISIONS`: beyond it the least recently
    touched items are dropped (`evicted`) and read on their own later."""

    estimate_fields: Sequence[str]
    held: OrderedDict[int, dict[int, HeldRevision]] = field(default_factory=OrderedDict)
    count: int = 0
    evicted: set[int] = field(default_factory=set)

    def hold(self, item_id: int, rev: int, fields: dict[str, Any]) -> None:
        """Keep a revision that is not its item's latest."""
        revs = self.held.setdefault(item_id, {})
        self.held.move_to_end(item_id)
        if rev not in revs:
            self.count += 1
        lender = next(reversed(revs.values()), None)  # lends its equal values
        revs[rev] = hold_revision(rev, fields, self.estimate_fields, lender)
        while self.count > MAX_BUFFERED_REVISIONS and self.held:
            dropped, dropped_revs = self.held.popitem(last=False)
            self.count -= len(dropped_revs)
            self.evicted.add(dropped)

    def release(self, item_id: int, rev: int) -> dict[int, HeldRevision]:
        """The revisions held of an item whose latest revision (`rev`) just came: let go."""
        revs = self.held.pop(item_id, {})
        self.count -= len(revs)
        revs.pop(rev, None)  # read before as not the latest: the latest replaces it
        return revs


@dataclass(slots=True)
class _StreamRead:
    """One run's read of the revision stream: where it started and got to, what it holds,
    the ids to read again, and how many items it yielded."""

    scope: str
    token: str | None
    buffer: _RevisionBuffer
    retry: RetrySet[int]
    last_token: str | None = None
    yielded: int = 0


class WorkItemsStream(Stream):
    """Work items with their whole revision history, from the reporting revision stream."""

    name = "work_items"
    record_type = ItemBundle
    primary_keys = ("external_id",)
    replication_key = "continuation_token"

    def __init__(self, client: AdoClient, config: AzureDevOpsConfig, state: AdoRunState) -> None:
        self.client, self.config, self.state = client, config, state
        self._bookmark: WorkItemsBookmark | None = None
        self._gone_ids: set[str] = set()
        """Items this run saw deleted or leave the scope (`_gone`)."""
        self._retry: RetrySet[int] = RetrySet.of(())
        """Items a run before could not convert, and those this run cannot: the next
        bookmark's `retry`, read again even if nobody touches them (the token moves on)."""

    def _scope_key(self) -> str:
        """What the stored items were read for: the types, area paths and, when any are read,
        the link types. Another scope means a full read: an item nobody touched since is read
        again, so the Epics a new default brings in, or the links of a type now read, are
        stored for every item, not only for those that change (a key without `links` is the
        one stored before links were part of it: `link_types: []` keeps that scope)."""
        scope: dict[str, list[str]] = {
            "types": sorted(t.lower() for t in self.config.work_item_types),
            "areas": sorted(p.lower() for p in self.state.scope_paths(self.config) or []),
        }
        if self.config.link_types:
            scope["links"] = sorted(t.lower() for t in self.config.link_types)
        return json.dumps(scope, sort_keys=True)

    def _fields(self) -> list[str]:
        """What to ask the revision stream for: the fields it reads that the organisation
        has (`fields_to_read`: a configured one it lacks is an error naming it)."""
        estimate = [self.config.estimate_field] if self.config.estimate_field else []
        checklist = [self.config.checklist_field] if self.config.checklist_field else []
        wanted = [*REVISION_FIELDS, *(estimate or DEFAULT_ESTIMATE_FIELDS), *checklist]
        return fields_to_read(wanted, self.state.fields, self.config)

    def _in_scope(self, fields: dict[str, Any], paths: list[str] | None) -> bool:
        types = {t.lower() for t in self.config.work_item_types}
        if str(fields.get("System.WorkItemType", "")).lower() not in types:
            return False
        if paths is None:
            return True
        area = str(fields.get("System.AreaPath", "")).lower()
        return any(area == p.lower() or area.startswith(p.lower() + "\\") for p in paths)

    def records(self, context: StreamContext) -> Iterator[ItemBundle]:
        """Read the bookmark → the revision stream, page by page, each item converted once
        its revisions are complete → the items left over and those a run before had to
        skip, each read on its own → the next bookmark."""
        scope = self._scope_key()
        previous = self._previous(scope, context)
        ctx = self.state.context(self.config)
        self._retry = RetrySet.of(previous.retry if previous else ())
        token = previous.continuation_token if previous else None
        read = _StreamRead(scope, token, _RevisionBuffer(ctx.estimate_fields), self._retry, token)
        paths = self.state.scope_paths(self.config)
        bundles: Iterator[ItemBundle] = chain(
            self._stream_pages(read, ctx, paths, context),
            self._left_over(read, ctx, paths, context),
        )
        if self.config.link_types:
            bundles = self._with_links(bundles, context)
        for bundle in bundles:
            self._note_releases(bundle)
            yield bundle
        self._bookmark = self._next_bookmark(previous, read)

    def _with_links(
        self, bundles: Iterator[ItemBundle], context: StreamContext
    ) -> Iterator[ItemBundle]:
        """The bundles, MAX_BATCH at a time, each with its links of the configured types: one
        `workitemsbatch` call (`$expand: relations`) per batch. A target is in scope when
        this run read it or the store holds it live; a target read later in the same full
        run is kept by key alone until its linking item is read again."""
        read: set[str] = set()
        batch: list[ItemBundle] = []
        for bundle in chain(bundles, [None]):
            if bundle is not None:
                batch.append(bundle)
                read.add(bundle.item.external_id)
                if len(batch) < MAX_BATCH:
                    continue
            if not batch:
                break
            relations = self.client.work_item_relations([int(b.item.external_id) for b in batch])
            targets = {
                str(r.get("url", "")).rstrip("/").rsplit("/", 1)[-1]
                for rels in relations.values()
                for r in rels
            }
            unknown = targets - read
            live = context.store.live_ids_among(unknown) if unknown else set()
            known = read | (live - self._gone_ids)
            for item in batch:
                item.links = links_of(
                    item.item.external_id,
                    relations.get(int(item.item.external_id), ()),
                    self.config.link_types,
                    known.__contains__,
                )
                yield item
            batch = []

    def _gone(self, item_id: Any, why: str, context: StreamContext) -> None:
        """An item seen deleted or out of scope this run: no link target in scope, though the
        store holds it live until the census; and perhaps a census owed (`_gone`)."""
        self._gone_ids.add(str(item_id))
        _gone(item_id, why, context)

    def _note_releases(self, bundle: ItemBundle) -> None:
        """Keep the names of the releases the item is in, for the releases stream."""
        convention = self.config.releases
        if convention is None or not bundle.item.release_ids or bundle.raw is None:
            return
        for name in release_names(bundle.raw["fields"], convention):
            self.state.release_names.setdefault(release_id(name), name)

    def _previous(self, scope: str, context: StreamContext) -> WorkItemsBookmark | None:
        """The stored bookmark, unless the run is full or the scope changed since (then
        every item is read again, and whatever that read does not find is gone: a census
        is owed)."""
        previous = None
        if not context.full:
            previous = load_bookmark(WorkItemsBookmark.from_json, context.bookmark, self.name)
        if previous is not None and previous.scope != scope:
            previous = None  # the scope changed: read everything again
        if previous is None:
            context.census.owe("a full read of the work items")
        return previous

    def _stream_pages(
        self, read: _StreamRead, ctx: AdoContext, paths: list[str] | None, context: StreamContext
    ) -> Iterator[ItemBundle]:
        """The revision stream from the stored token (from the start on a full read), page
        by page: each item whose revisions the page completes is converted, then each
        whose older revisions are not in this read is read on its own."""
        pages = self.client.reporting_revisions(read.token, self._fields(), include_deleted=True)
        for page in pages:
            read.last_token = _text(page.get("continuationToken")) or read.last_token
            complete: list[list[HeldRevision | dict[str, Any]]] = []
            to_fetch: list[int] = []
            for raw in page.get("values") or []:
                self._take(raw, read, complete, to_fetch, context)
            yield from self._counted(
                read,
                chain(
                    (self._convert(revisions, ctx, paths, context) for revisions in complete),
                    (self._fetch(item_id, ctx, paths, context) for item_id in to_fetch),
                ),
            )

    def _take(
        self,
        raw: dict[str, Any],
        read: _StreamRead,
        complete: list[list[HeldRevision | dict[str, Any]]],
        to_fetch: list[int],
        context: StreamContext,
    ) -> None:
        """File one revision: held until its item's latest comes; the latest completes the
        item (into `complete`) when revisions 1..n-1 are held, else the item is read on its
        own (`to_fetch`: created before this read, or dropped from the buffer); a deleted
        item needs no reading, only perhaps a census."""
        item_id, fields = int(raw["id"]), raw.get("fields") or {}
        read.retry.found(item_id)  # in the stream: read this run like any changed item
        rev = int(raw.get("rev") or fields.get("System.Rev") or 0)
        latest = _is_latest(fields) or bool(fields.get("System.IsDeleted"))
        buffer = read.buffer
        if item_id in buffer.evicted:
            if latest:
                buffer.evicted.discard(item_id)
                if fields.get("System.IsDeleted"):
                    self._gone(item_id, "deleted", context)
                else:
                    to_fetch.append(item_id)
            return
        if not latest:
            buffer.hold(item_id, rev, fields)
            return
        revs = buffer.release(item_id, rev)
        if fields.get("System.IsDeleted"):  # deleted: no history to read
            self._gone(item_id, "deleted", context)
        elif rev >= 1 and sorted(revs) == list(range(1, rev)):  # 1..n-1 held
            latest_rev = {"id": item_id, "rev": rev, "fields": fields}
            complete.append([*(revs[r] for r in sorted(revs)), latest_rev])
        else:
            to_fetch.append(item_id)  # older revisions are not in this read

    def _left_over(
        self, read: _StreamRead, ctx: AdoContext, paths: list[str] | None, context: StreamContext
    ) -> Iterator[ItemBundle]:
        """Items whose latest revision never came (changed or dropped mid-read), and items
        a run before had to skip that nobody changed since: each read on its own."""
        left = [*read.buffer.held, *read.buffer.evicted, *read.retry.unread()]
        yield from self._counted(read, (self._fetch(i, ctx, paths, context) for i in left))

    @staticmethod
    def _counted(read: _StreamRead, bundles: Iterator[ItemBundle | None]) -> Iterator[ItemBundle]:
        """The bundles converted (None: gone or skipped), counted for the next bookmark."""
        for bundle in bundles:
            if bundle is not None:
                read.yielded += 1
                yield bundle

    def _next_bookmark(
        self, previous: WorkItemsBookmark | None, read: _StreamRead
    ) -> WorkItemsBookmark | None:
        """Where the next run goes on from; None keeps the stored bookmark (its `retry`
        too) when the stream brought nothing new and `retry` did not change."""
        unmoved = read.last_token == read.token and read.yielded == 0
        if previous is not None and unmoved and read.retry.unchanged:
            return None
        return WorkItemsBookmark(read.last_token, read.scope, read.retry.next_retry())

    def _fetch(
        self, item_id: int, ctx: AdoContext, paths: list[str] | None, context: StreamContext
    ) -> ItemBundle | None:
        revisions = self.client.revisions(item_id)
        if not revisions:
            self._gone(item_id, "deleted", context)  # since its revision was read
            return None
        return self._convert(revisions, ctx, paths, context)

    def _convert(
        self,
        revisions: Sequence[HeldRevision | dict[str, Any]],
        ctx: AdoContext,
        paths: list[str] | None,
        context: StreamContext,
    ) -> ItemBundle | None:
        """`revisions` in rev order, the latest whole (the stream's held ones come before)."""
        latest = revisions[-1]
        if isinstance(latest, HeldRevision):
            raise TypeError("the latest revision must be whole")  # the stream never holds it
        last = latest.get("fields")
        if not isinstance(last, dict):
            self._skip(latest.get("id"), "its latest revision has no fields", context)
            return None
        if last.get("System.IsDeleted"):
            self._gone(latest.get("id") or last.get("System.Id"), "deleted", context)
            return None
        if not self._in_scope(last, paths):
            self._gone(latest.get("id") or last.get("System.Id"), "out of scope", context)
            return None
        try:
            return convert_revisions(revisions, ctx)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:  # malformed revisions
            self._skip(latest.get("id") or last.get("System.Id"), str(exc), context)
            return None

    def _skip(self, item_id: Any, reason: str, context: StreamContext) -> None:
        """Report an item that cannot be converted; the next run reads it again (`retry`)."""
        context.report_error(f"work item {item_id} skipped (read again next run): {reason}")
        with suppress(TypeError, ValueError):  # no id: the next change to it brings it back
            self._retry.skip(int(item_id))

    def final_bookmark(self) -> dict[str, Any] | None:
        return self._bookmark.to_json() if self._bookmark else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _gone(item_id: Any, why: str, context: StreamContext) -> None:
    """A work item deleted or out of scope: a census is owed if the store holds it live (one
    never stored, or already owed a census for, needs no look-up and no census)."""
    if not context.census.owed and context.store.live_ids_among({str(item_id)}):
        context.census.owe(f"work item {item_id} {why}")


class IterationsStream(Stream):
    """Each team's iterations as sprints (an iteration shared by teams goes to the first)."""

    name = "iterations"
    record_type = SprintRecord
    primary_keys = ("external_id",)

    def __init__(self, client: AdoClient, config: AzureDevOpsConfig, state: AdoRunState) -> None:
        self.client, self.config, self.state = client, config, state

    def records(self, context: StreamContext) -> Iterator[SprintRecord]:
        seen: set[str] = set()
        for team in self.state.teams:
            for raw in team.iterations:
                if str(raw.get("id")) in seen:
                    continue
                seen.add(str(raw.get("id")))
                try:
                    yield convert_iteration(raw, team.name, context.started_at)
                except (KeyError, ValueError) as exc:
                    context.report_error(f"iteration {raw.get('id')} skipped: {exc}")

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class ReleasesStream(Stream):
    """The releases the configured convention names (`connectors.azure_devops.releases`): those
    the items read this run are in, and those the config dates; no call. A release no item
    names any more stays stored as it was (releases are never deleted)."""

    name = "releases"
    record_type = ReleaseRecord
    primary_keys = ("external_id",)

    def __init__(self, client: AdoClient, config: AzureDevOpsConfig, state: AdoRunState) -> None:
        self.client, self.config, self.state = client, config, state

    def records(self, context: StreamContext) -> Iterator[ReleaseRecord]:
        convention = self.config.releases
        if convention is None:
            return
        names = dict(self.state.release_names)
        for name in convention.dates:
            names.setdefault(release_id(name), name)
        today = context.started_at.date()
        for _, name in sorted(names.items()):
            yield release_record(name, convention, self.config.project, today)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class StatesStream(Stream):
    """Each state of each work item type with its category (from the cached metadata)."""

    name = "states"
    record_type = StatusRecord
    primary_keys = ("external_id",)

    def __init__(self, client: AdoClient, config: AzureDevOpsConfig, state: AdoRunState) -> None:
        self.client, self.config, self.state = client, config, state

    def records(self, context: StreamContext) -> Iterator[StatusRecord]:
        for wit, states in sorted(self.state.states.items()):
            for raw in states:
                yield convert_state(wit, raw, self.config.state_map)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class CensusStream(Stream):
    """Marks deleted items and items that left the scope; runs only when the stream saw one."""

    name = "census"
    record_type = Census
    primary_keys = ("external_id",)

    def __init__(self, client: AdoClient, config: AzureDevOpsConfig, state: AdoRunState) -> None:
        self.client, self.config, self.state = client, config, state

    def records(self, context: StreamContext) -> Iterator[Census]:
        if not context.census.owed:
            return
        ids: set[int] = set()
        paths: list[str | None] = [*(self.state.scope_paths(self.config) or [])] or [None]
        for path in paths:
            ids.update(self.live_ids(path))
        yield Census(
            frozenset(str(i) for i in ids),
            "WIQL finds no work item in scope (check the PAT's permissions, the project and "
            "the teams)",
        )

    def _wiql(self, path: str | None, where: str) -> str:
        types = ", ".join(_quote(t) for t in self.config.work_item_types)
        text = (
            "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
            f"AND [System.WorkItemType] IN ({types})"
        )
        if path:
            text += f" AND [System.AreaPath] UNDER {_quote(path)}"
        return f"{text} AND {where} ORDER BY [System.Id]"

    def live_ids(self, path: str | None) -> Iterator[int]:
        """Every live id in scope, `wiql_cap` at a time by id (keyset), never over the cap."""
        cap = self.config.wiql_cap
        last = 0
        while True:
            try:
                page = self.client.work_item_ids(self._wiql(path, f"[System.Id] > {last}"), cap)
            except WiqlCapExceeded:
                yield from self._bisect(path, last + 1, None)
                return
            yield from page
            if len(page) < cap:
                return
            last = page[-1]

    def _bisect(self, path: str | None, low: int, high: int | None) -> Iterator[int]:
        """Ids in [low, high] by id ranges split in half until each is under the cap."""
        if high is None:
            top = self.client.work_item_ids(
                self._wiql(path, "[System.Id] > 0").replace("ORDER BY [System.Id]", "")
                + "ORDER BY [System.Id] DESC",
                1,
            )
            if not top:
                return
            high = top[0]
        ranges = [(low, high)]
        while ranges:
            lo, hi = ranges.pop()
            where = f"[System.Id] >= {lo} AND [System.Id] <= {hi}"
            try:
                yield from self.client.work_item_ids(self._wiql(path, where))
            except WiqlCapExceeded:
                if lo >= hi:
                    raise
                mid = (lo + hi) // 2
                ranges.extend([(mid + 1, hi), (lo, mid)])

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
