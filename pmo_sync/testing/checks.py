"""The connector contract as checks: plain functions that drive one tracker through a connector
and raise `AssertionError` naming the rule broken.

Each check takes a `ContractCase`: a way to build a connector configured against a live tracker
(a sandbox, a test instance, a folder of files) and what a person can do in that tracker (edit,
create and delete an item), plus, for a connector that writes back, what it may write. Checks
that sync take an SQLAlchemy engine of an empty store; they migrate it.

`pmo_sync.testing.contract` runs every check as a pytest test class. Nothing here imports
pytest, so any runner can call them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy import Engine

from connectors.base import CensusDue, Connector, ConnectorConfig, Stream, StreamContext
from connectors.errors import (
    CommentNotFoundError,
    FieldNotFoundError,
    IssueNotFoundError,
    RevisionConflictError,
)
from connectors.registry import ENTRY_POINT_GROUP, connector_classes
from connectors.writer import Writer
from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.domain import (
    Census,
    ItemBundle,
    ReleaseRecord,
    SprintRecord,
    StatusRecord,
    TeamRecord,
)
from pmo_sync.store.engine import upgrade
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

__all__ = [
    "RECORD_TYPES",
    "ContractCase",
    "WritebackCase",
    "check_a_census_owed_is_paid",
    "check_a_deleted_item_is_marked_deleted",
    "check_changes_resume_from_the_bookmark",
    "check_check_passes",
    "check_kind_is_registered",
    "check_streams",
    "check_sync_then_incremental",
    "check_writeback",
]

RECORD_TYPES: tuple[type, ...] = (
    ItemBundle,
    SprintRecord,
    StatusRecord,
    ReleaseRecord,
    TeamRecord,
    Census,
)
"""What a stream may yield: the records the sync engine knows how to load."""

MARKER_PROPERTY = {"key": "pmo-sync", "value": {"managed": True, "version": 1}}
"""The tag `pmo_sync.writeback.service` passes to `add_comment` (where the tracker has none,
the writer ignores it: the marker in the body is what finds the comment again)."""

GHOST_ID = "pmo-sync-contract-ghost"


@dataclass(frozen=True, slots=True)
class WritebackCase:
    """What the write-back checks may write in the tracker."""

    fields: Mapping[str, float]
    """Field names as a config's `writeback.fields` names them (they exist in the tracker and
    are writable on its items) → a number to write (KPI values are numbers)."""
    missing_key: str
    """The key of an item the tracker does not have: every call for it must raise
    `IssueNotFoundError`."""


@dataclass(frozen=True, slots=True)
class ContractCase:
    """One live tracker the checks run against, and what a person can do in it.

    Each callable changes the tracker as a person would, after a sync, and returns the
    external id (`WorkItemRecord.external_id`) of the item it touched.
    """

    connector: Callable[[], Connector]
    """A new connector configured against the tracker; the checks close it."""
    edit_item: Callable[[], str]
    """Change one item the connector syncs (its status, estimate or title)."""
    create_item: Callable[[], str]
    """Create an item in the connector's scope."""
    delete_item: Callable[[], str]
    """Delete one item the connector syncs."""
    writeback: WritebackCase | None = None
    """Required when the connector has a writer (`Connector.writer()` is not None)."""


# -- running streams without the engine ----------------------------------------------------------


class _NoStore:
    """The `StoreView` of a store that holds nothing."""

    def live_item_count(self) -> int:
        return 0

    def live_ids_among(self, external_ids: Collection[str]) -> set[str]:
        return set()

    def status_names(self) -> set[str]:
        return set()


@dataclass(slots=True)
class Read:
    """What one pass over a connector's streams yielded, stream by stream."""

    records: dict[str, list[Any]] = field(default_factory=dict)
    bookmarks: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def all(self) -> list[Any]:
        return [record for records in self.records.values() for record in records]

    def items(self) -> list[ItemBundle]:
        return [r for r in self.all() if isinstance(r, ItemBundle)]


def read_streams(
    connector: Connector, bookmarks: Mapping[str, dict[str, Any] | None], *, full: bool
) -> Read:
    """Every stream in order, from `bookmarks`, with nothing stored: records and final bookmarks."""
    read = Read()
    census = CensusDue(None, nothing_stored=True)
    for stream in connector.streams():
        context = StreamContext(
            bookmark=bookmarks.get(stream.name),
            full=full,
            store=_NoStore(),
            started_at=datetime.now(UTC),
            report_error=read.errors.append,
            census=census,
        )
        read.records[stream.name] = list(stream.records(context))
        read.bookmarks[stream.name] = stream.final_bookmark()
    return read


# -- running the engine, seeing what the streams yield -------------------------------------------


@dataclass(slots=True)
class Synced:
    """One sync by the engine, and what each of the connector's streams yielded in it."""

    summary: RunSummary
    records: dict[str, list[Any]] = field(default_factory=dict)
    bookmarks: dict[str, Any] = field(default_factory=dict)
    incremental: dict[str, type] = field(default_factory=dict)
    """The streams with a `replication_key`, and their `record_type`."""

    def all(self) -> list[Any]:
        return [record for records in self.records.values() for record in records]

    def items(self) -> list[ItemBundle]:
        return [r for r in self.all() if isinstance(r, ItemBundle)]

    def item_ids(self) -> set[str]:
        return {r.item.external_id for r in self.items()}

    def censuses(self) -> list[Census]:
        return [r for r in self.all() if isinstance(r, Census)]


def _record(stream: Stream, synced: Synced) -> None:
    """Let `synced` see what `stream` yields and the bookmark it hands the engine."""
    records, final_bookmark = stream.records, stream.final_bookmark
    seen = synced.records.setdefault(stream.name, [])
    if stream.replication_key is not None:
        synced.incremental[stream.name] = stream.record_type

    def recorded_records(context: StreamContext) -> Iterator[Any]:
        for record in records(context):
            seen.append(record)
            yield record

    def recorded_bookmark() -> dict[str, Any] | None:
        bookmark = final_bookmark()
        synced.bookmarks[stream.name] = bookmark
        return bookmark

    stream.records = recorded_records  # type: ignore[method-assign]
    stream.final_bookmark = recorded_bookmark  # type: ignore[method-assign]


def sync(case: ContractCase, store: Store, *, full: bool = False) -> Synced:
    """One `sync_connector` run of a new connector, as `pmo-sync sync` makes it; the final
    bookmarks it stored are checked to be JSON."""
    synced = Synced(RunSummary(connector=""))
    with case.connector() as connector:
        streams = connector.streams

        def recorded() -> Sequence[Stream]:
            made = list(streams())
            for stream in made:
                _record(stream, synced)
            return made

        connector.streams = recorded  # type: ignore[method-assign]
        synced.summary = sync_connector(connector, store, full=full)
    _assert_json_bookmarks(synced.bookmarks)
    return synced


def _synced_ok(synced: Synced, what: str) -> None:
    summary = synced.summary
    assert summary.status == "success", f"{what}: {summary.status}, errors {summary.errors}"


def _store(engine: Engine) -> Store:
    upgrade(engine)
    return Store(engine)


def _source_id(store: Store, name: str) -> int:
    return next(s.id for s in store.sources() if s.name == name)


def _live_ids(store: Store, source_id: int) -> set[str]:
    return {i.external_id for i in store.iter_items([source_id])}


def _deleted_ids(store: Store, source_id: int) -> set[str]:
    return {
        i.external_id
        for i in store.iter_items([source_id], include_deleted=True)
        if i.deleted_at is not None
    }


def _json(bookmark: object) -> object:
    return json.loads(json.dumps(bookmark))


def _assert_json_bookmarks(bookmarks: Mapping[str, object]) -> None:
    for name, bookmark in bookmarks.items():
        assert bookmark is None or isinstance(bookmark, dict), (
            f"stream {name!r}: final_bookmark() must be a dict or None, not {type(bookmark)}"
        )
        try:
            again = _json(bookmark)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"stream {name!r}: its bookmark is not JSON: {exc}") from None
        assert again == bookmark, (
            f"stream {name!r}: its bookmark changes through JSON (the store keeps JSON, so the "
            f"next run would resume from something else): {bookmark!r} -> {again!r}"
        )


# -- the checks ------------------------------------------------------------------------------


def check_kind_is_registered(case: ContractCase) -> None:
    """The connector's kind is found through the `pmo_sync.connectors` entry-point group, and
    its config model is a `ConnectorConfig` of that kind."""
    with case.connector() as connector:
        cls, config = type(connector), connector.config
    kind = cls.kind
    declared = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert kind in declared, (
        f"no entry point {kind!r} in the group {ENTRY_POINT_GROUP!r} (declared: "
        f"{sorted(declared)}): add it to the package's pyproject.toml and install the package"
    )
    found = connector_classes().get(kind)
    assert found is cls, f"connector_classes()[{kind!r}] is {found!r}, not {cls!r}"
    assert issubclass(cls.config_model, ConnectorConfig), cls.config_model
    assert cls.config_model.model_fields["kind"].default == kind, (
        f"{cls.config_model.__name__}.kind must default to {kind!r}"
    )
    assert isinstance(config, cls.config_model) and config.kind == kind


def check_check_passes(case: ContractCase) -> None:
    """`check()` against the live tracker passes, credentials first."""
    with case.connector() as connector:
        report = connector.check()
    failed = [r for r in report.results if not r.ok]
    assert report.ok, f"check() failed: {failed}"
    assert report.results, "check() verified nothing"
    first = report.results[0]
    assert first.name == "credentials" and first.ok, (
        f"the first result must be credentials: {first}"
    )


def check_streams(
    case: ContractCase, *, yields: Collection[type] = (ItemBundle, SprintRecord, StatusRecord)
) -> None:
    """Streams declare themselves (unique names, known record types, primary keys) and a full
    read (nothing stored) yields what they declare, every type in `yields`, no census (none is
    owed on a first sync) and no error; final bookmarks are JSON."""
    with case.connector() as connector:
        streams = connector.streams()
        assert streams, "streams() is empty"
        names = [s.name for s in streams]
        assert all(isinstance(n, str) and n for n in names), names
        assert len(set(names)) == len(names), f"stream names repeat: {names}"
        declared_by_name: dict[str, tuple[type, ...]] = {}
        for stream in streams:
            declared = (stream.record_type, *stream.side_records)
            unknown = [t.__name__ for t in declared if t not in RECORD_TYPES]
            assert not unknown, f"stream {stream.name!r} declares {unknown}: the store cannot load"
            assert isinstance(stream.primary_keys, tuple), stream.name
            declared_by_name[stream.name] = declared
    with case.connector() as connector:
        first = read_streams(connector, {}, full=True)
    assert first.errors == [], f"a first full read reported errors: {first.errors}"
    seen: set[type] = set()
    for name, records in first.records.items():
        for record in records:
            assert isinstance(record, declared_by_name[name]), (
                f"stream {name!r} yielded {type(record).__name__}, which it does not declare"
            )
            seen.add(type(record))
            _check_record(name, record, declared_by_name[name][0], streams)
    missing = {t.__name__ for t in yields} - {t.__name__ for t in seen}
    assert not missing, f"a full read yielded no {sorted(missing)}"
    censuses = [r for r in first.all() if isinstance(r, Census)]
    assert censuses == [], "a census with nothing stored: no census is owed on a first sync"
    _assert_json_bookmarks(first.bookmarks)


def _check_record(name: str, record: Any, record_type: type, streams: Sequence[Stream]) -> None:
    if isinstance(record, ItemBundle):
        item = record.item
        assert item.external_id and item.key and item.title is not None, (name, item)
        assert item.created.tzinfo is not None and item.updated.tzinfo is not None, item
        assert item.updated >= item.created, (name, item.key, item.created, item.updated)
        assert {c.item_external_id for c in record.changes} <= {item.external_id}, item.key
        assert len({c.change_id for c in record.changes}) == len(record.changes), (
            f"{item.key}: change ids repeat"
        )
        assert all(c.at.tzinfo is not None for c in record.changes), item.key
        assert {m.item_external_id for m in record.memberships} <= {item.external_id}, item.key
        assert {link.item_external_id for link in record.links} <= {item.external_id}, item.key
        assert not any(
            isinstance(getattr(item, f), datetime)
            for f in ("start_date", "due_date", "target_start", "target_end")
        ), f"{item.key}: a date field holds a datetime"
        target: Any = item
    elif isinstance(record, SprintRecord | StatusRecord | ReleaseRecord):
        assert record.external_id, (name, record)
        target = record
    elif isinstance(record, TeamRecord):
        assert record.name and record.method in ("scrum", "kanban"), (name, record)
        target = record
    else:
        return
    if type(record) is not record_type:  # a side record: the stream's keys are its own type's
        return
    stream = next(s for s in streams if s.name == name)
    for key in stream.primary_keys:
        assert getattr(target, key, None) not in (None, ""), (
            f"stream {name!r}: primary key {key!r} missing on {target!r}"
        )


def check_sync_then_incremental(case: ContractCase, engine: Engine) -> None:
    """A full sync into a real store, then one from the stored bookmarks with nothing changed:
    the second loads nothing, costs fewer calls and takes no census; its incremental streams
    (those with a `replication_key`) yield none of their records, and whatever is read again
    (reference streams read whole, such as statuses and sprints, and side records) changes
    nothing in the store."""
    store = _store(engine)
    first = sync(case, store)
    _synced_ok(first, "the first sync")
    assert first.summary.items_inserted > 0, "the first sync stored no item"
    assert first.censuses() == [], "a census with nothing stored: none is owed on a first sync"
    source_id = _source_id(store, case_config(case).name)
    assert _live_ids(store, source_id) == first.item_ids()
    before = (store.count_rows(source_id), store.status_stages(source_id))
    second = sync(case, store)
    _synced_ok(second, "the second sync")
    again = {
        name: n
        for name, record_type in second.incremental.items()
        if (n := sum(isinstance(r, record_type) for r in second.records[name]))
    }
    assert again == {}, (
        f"nothing changed, yet incremental streams yielded their records again: {again}"
    )
    s = second.summary
    assert (s.items_seen, s.items_inserted, s.items_updated, s.items_deleted) == (0, 0, 0, 0), (
        f"nothing changed, yet the second sync saw {s.items_seen} item(s), inserted "
        f"{s.items_inserted}, updated {s.items_updated}, deleted {s.items_deleted}"
    )
    assert second.censuses() == [], "nothing owed and nothing changed, yet a census"
    assert (store.count_rows(source_id), store.status_stages(source_id)) == before
    assert s.api_calls < first.summary.api_calls, (
        f"the incremental sync cost {s.api_calls} calls, the full one {first.summary.api_calls}"
    )
    assert store.census_owed(source_id) is None


def check_changes_resume_from_the_bookmark(case: ContractCase, engine: Engine) -> None:
    """After a sync, a person edits one item and creates another: the next sync reads those
    from its bookmarks (not everything again) and stores them; the one after reads nothing."""
    store = _store(engine)
    first = sync(case, store)
    _synced_ok(first, "the first sync")
    edited, created = case.edit_item(), case.create_item()
    assert edited in first.item_ids(), f"edit_item() returned {edited!r}, not a synced item"
    assert created not in first.item_ids(), f"create_item() returned a synced item {created!r}"
    second = sync(case, store)
    _synced_ok(second, "the sync after the changes")
    read = second.item_ids()
    assert {edited, created} <= read, (
        f"the sync after an edit ({edited}) and a new item ({created}) yielded {sorted(read)}"
    )
    assert len(read) < len(first.item_ids()), (
        f"the sync after two changes read {len(read)} items again, of "
        f"{len(first.item_ids())}: it did not resume from its bookmarks"
    )
    assert second.summary.items_inserted >= 1 and second.summary.items_updated >= 1, second.summary
    source_id = _source_id(store, case_config(case).name)
    assert _live_ids(store, source_id) == first.item_ids() | {created}
    third = sync(case, store)
    _synced_ok(third, "the sync after that")
    assert third.summary.items_seen == 0, (
        f"the bookmarks did not move past the changes: {sorted(third.item_ids())} read again"
    )


def check_a_deleted_item_is_marked_deleted(case: ContractCase, engine: Engine) -> None:
    """After a sync, a person deletes an item: the next sync marks it deleted (a census owed
    and paid, or one the connector re-derives), and leaves no census owed; the one after
    takes none."""
    store = _store(engine)
    first = sync(case, store)
    _synced_ok(first, "the first sync")
    deleted = case.delete_item()
    assert deleted in first.item_ids(), f"delete_item() returned {deleted!r}, not a synced item"
    second = sync(case, store)
    _synced_ok(second, "the sync after a deletion")
    source_id = _source_id(store, case_config(case).name)
    assert _deleted_ids(store, source_id) == {deleted}, (
        f"after {deleted} was deleted, the store marks {sorted(_deleted_ids(store, source_id))}"
    )
    assert second.summary.items_deleted == 1, second.summary
    assert store.census_owed(source_id) is None, store.census_owed(source_id)
    third = sync(case, store)
    _synced_ok(third, "the sync after that")
    assert third.censuses() == [] and third.summary.items_seen == 0, third.summary


def check_a_census_owed_is_paid(case: ContractCase, engine: Engine) -> None:
    """A census owed (by an earlier run that died before paying it) is taken by the next sync:
    one `Census` of exactly the tracker's live ids, so a stored item the tracker does not have
    is marked deleted, and nothing stays owed."""
    store = _store(engine)
    first = sync(case, store)
    _synced_ok(first, "the first sync")
    config = case_config(case)
    source_id = _source_id(store, config.name)
    model = first.items()[0]
    ghost = replace(model.item, external_id=GHOST_ID, key=GHOST_ID, parent_key=None)
    store.load_items(source_id, [ItemBundle(ghost)], store.now())
    with case.connector() as connector:
        stream = connector.streams()[0].name
    store.set_bookmark(source_id, stream, None, census_owed="owed by the contract suite")
    second = sync(case, store)
    _synced_ok(second, "the sync owing a census")
    censuses = second.censuses()
    assert len(censuses) == 1, f"a census was owed; the streams yielded {len(censuses)}"
    assert set(censuses[0].external_ids) == first.item_ids(), (
        "the census must list exactly the live ids in scope: "
        f"{sorted(set(censuses[0].external_ids) ^ first.item_ids())} differ"
    )
    assert _deleted_ids(store, source_id) == {GHOST_ID}
    assert store.census_owed(source_id) is None


def check_writeback(case: ContractCase, engine: Engine) -> None:
    """A writer, when the connector has one: a `connectors.writer.Writer` that resolves field
    names (an unknown one is `FieldNotFoundError`), writes numbers twice alike (where it checks
    revisions, refusing a stale one with `RevisionConflictError`; where it does not, refusing
    to be given one with ValueError), adds, finds, edits and deletes the bot comment (deleting
    twice is no error; editing a deleted one is `CommentNotFoundError`), and answers
    `IssueNotFoundError` for an item the tracker does not have. Without a writer the case
    must say so (`writeback=None`)."""
    store = _store(engine)
    first = sync(case, store)
    _synced_ok(first, "the first sync")
    with case.connector() as connector:
        writer = connector.writer()
        if case.writeback is None:
            assert writer is None, (
                "the connector has a writer: give the case a WritebackCase so it is checked"
            )
            return
        assert writer is not None, "the case gives a WritebackCase, but writer() is None"
        try:
            _check_writer(writer, case.writeback, first)
        finally:
            writer.close()


def _check_writer(writer: Writer, wb: WritebackCase, first: Synced) -> None:
    assert isinstance(writer, Writer), (
        f"{type(writer).__name__} lacks a member of connectors.writer.Writer"
    )
    target = sorted((r.item for r in first.items() if not r.item.archived), key=lambda i: i.key)[0]
    key = target.key

    ids = writer.field_ids(list(wb.fields))
    assert set(ids) == set(wb.fields), f"field_ids({list(wb.fields)}) gave {ids}"
    _raises(FieldNotFoundError, "field_ids() of a field that does not exist",
            writer.field_ids, ["pmo-sync contract: no such field"])  # fmt: skip
    values = {ids[name]: value for name, value in wb.fields.items()}
    if writer.checks_revisions:
        assert target.revision is not None, f"{key}: a writer that checks revisions needs one"
        writer.set_fields(key, values, expected_rev=target.revision)
        # The same values again with the revision now stale: already written, not a conflict.
        writer.set_fields(key, values, expected_rev=target.revision)
        changed = {field_id: value + 1 for field_id, value in values.items()}
        _raises(RevisionConflictError, f"{key}: a write with a stale revision",
                lambda: writer.set_fields(key, changed, expected_rev=target.revision))  # fmt: skip
    else:
        writer.set_fields(key, values)
        writer.set_fields(key, values)  # a repeat after a lost answer is harmless
        _raises(ValueError, "set_fields with a revision, by a writer that checks none",
                lambda: writer.set_fields(key, values, expected_rev=1))  # fmt: skip

    bot = writer.bot_account_id()
    assert bot is None or (isinstance(bot, str) and bot), f"bot_account_id() gave {bot!r}"
    marker = WritebackConfig().marker

    def bot_comments() -> list[tuple[str, str]] | None:
        """The bot's comments on the item (None: without a bot id nothing can be found)."""
        return None if bot is None else writer.find_bot_comments(key, bot, marker)

    assert bot_comments() in (None, []), f"{key} already has a bot comment"
    body = f"{marker}\ncontract: first"
    comment_id = writer.add_comment(key, body, MARKER_PROPERTY)
    assert isinstance(comment_id, str) and comment_id, f"add_comment gave {comment_id!r}"
    found = bot_comments()
    assert found is None or [i for i, _ in found] == [comment_id], f"after add_comment: {found}"
    assert found is None or "contract: first" in found[0][1], found
    writer.update_comment(key, comment_id, f"{marker}\ncontract: second")
    found = bot_comments()
    assert found is None or (
        [i for i, _ in found] == [comment_id] and "contract: second" in found[0][1]
    ), f"after update_comment: {found}"
    writer.delete_comment(key, comment_id)
    assert bot_comments() in (None, []), "the deleted comment is still found"
    writer.delete_comment(key, comment_id)  # already gone: done, not an error
    _raises(CommentNotFoundError, "editing a deleted comment", writer.update_comment,
            key, comment_id, f"{marker}\ncontract: third")  # fmt: skip

    gone = wb.missing_key
    if bot is not None:
        _raises(IssueNotFoundError, f"listing the comments of {gone}", writer.find_bot_comments,
                gone, bot, marker)  # fmt: skip
    _raises(IssueNotFoundError, f"writing fields on {gone}", writer.set_fields, gone, values)
    _raises(IssueNotFoundError, f"adding a comment on {gone}", writer.add_comment,
            gone, body, MARKER_PROPERTY)  # fmt: skip


def _raises(error: type[Exception], what: str, call: Callable[..., Any], *args: Any) -> None:
    try:
        call(*args)
    except error:
        return
    except Exception as exc:
        raise AssertionError(
            f"{what} raised {type(exc).__name__} ({exc}), not {error.__name__}"
        ) from exc
    raise AssertionError(f"{what} raised nothing, not {error.__name__}")


def case_config(case: ContractCase) -> ConnectorConfig:
    with case.connector() as connector:
        return connector.config
