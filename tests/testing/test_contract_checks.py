"""The shipped contract checks (`pmo_sync.testing.checks`) catch what they say they catch.

An in-memory tracker and its connector pass every check; the same connector with one fault
(a bookmark that is not JSON, a stream that ignores its bookmark, a census when none is owed
or one missing a live id, a deletion that owes no census, a writer that keeps a deleted
comment or finds a gone item) fails the check that names the rule, with that rule's message.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar, Literal

import pytest
from sqlalchemy import Engine

from connectors.base import CheckReport, Connector, ConnectorConfig, Stream, StreamContext
from connectors.errors import CommentNotFoundError, FieldNotFoundError, IssueNotFoundError
from pmo_sync.domain import Census, ItemBundle, Stage, StatusRecord, WorkItemRecord
from pmo_sync.testing import ContractCase, WritebackCase, checks

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@dataclass
class Tracker:
    """Items (id → title and the tick it last changed) and the bot's comments."""

    items: dict[str, tuple[str, int]] = field(default_factory=dict)
    tick: int = 0
    comments: dict[str, dict[str, str]] = field(default_factory=dict)  # key → id → body
    ids: Iterator[int] = field(default_factory=itertools.count)

    def change(self, item_id: str, title: str) -> str:
        self.tick += 1
        self.items[item_id] = (title, self.tick)
        return item_id


TRACKERS: dict[str, Tracker] = {}


class MemoryConfig(ConnectorConfig):
    kind: Literal["memory"] = "memory"


def _bundle(item_id: str, title: str, tick: int) -> ItemBundle:
    at = T0 + timedelta(minutes=tick)
    return ItemBundle(
        WorkItemRecord(
            external_id=item_id, key=item_id, url=f"memory://{item_id}", title=title,
            item_type="story", raw_type="Story", status="To Do", status_category="new",
            stage=Stage.TODO, project="MEM", team=None, assignee=None, estimate=None,
            parent_key=None, labels=(), flagged=False, created=T0, updated=at, resolved=None,
        )
    )  # fmt: skip


class Statuses(Stream):
    name = "statuses"
    record_type = StatusRecord
    primary_keys = ("external_id",)

    def records(self, context: StreamContext) -> Iterator[StatusRecord]:
        yield StatusRecord("To Do", "To Do", "new", Stage.TODO)

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class Items(Stream):
    name = "items"
    record_type = ItemBundle
    primary_keys = ("external_id",)
    replication_key = "tick"

    def __init__(self, connector: MemoryConnector) -> None:
        self.connector, self.tracker = connector, connector.tracker
        self._mark = 0

    def records(self, context: StreamContext) -> Iterator[ItemBundle]:
        faults = self.connector.faults
        since = 0 if context.full or not context.bookmark else context.bookmark["tick"]
        if "ignores its bookmark" in faults:
            since = 0
        present = context.store.live_ids_among(set(self.tracker.items))
        if context.store.live_item_count() > len(present) and "owes no census" not in faults:
            context.census.owe("a stored item is gone")
        self._mark = since
        self.connector.stats.add_call()  # the listing
        for item_id, (title, tick) in sorted(self.tracker.items.items()):
            if tick > since:
                self.connector.stats.add_call()  # the item's history
                self._mark = max(self._mark, tick)
                yield _bundle(item_id, title, tick)

    def final_bookmark(self) -> dict[str, Any] | None:
        if "bookmark is not JSON" in self.connector.faults:
            return {"tick": self._mark, "at": T0}
        return {"tick": self._mark}


class Censuses(Stream):
    name = "census"
    record_type = Census
    primary_keys = ("external_id",)

    def __init__(self, connector: MemoryConnector) -> None:
        self.connector = connector

    def records(self, context: StreamContext) -> Iterator[Census]:
        faults = self.connector.faults
        if context.census.owed or "census when none is owed" in faults:
            ids = sorted(self.connector.tracker.items)
            if "census misses an item" in faults:
                ids = ids[1:]
            yield Census(frozenset(ids))

    def final_bookmark(self) -> dict[str, Any] | None:
        return None


class MemoryWriter:
    checks_revisions = False

    def __init__(self, connector: MemoryConnector) -> None:
        self.tracker, self.faults = connector.tracker, connector.faults

    def _comments(self, key: str) -> dict[str, str]:
        if key not in self.tracker.items and "finds a gone item" not in self.faults:
            raise IssueNotFoundError(f"{key} is gone")
        return self.tracker.comments.setdefault(key, {})

    def bot_account_id(self) -> str:
        return "bot"

    def field_ids(self, names: list[str]) -> dict[str, str]:
        if any(name != "Cycle time" for name in names):
            raise FieldNotFoundError(f"no field among {names}")
        return {name: "cf_1" for name in names}

    def set_fields(
        self, key: str, values: Mapping[str, Any], *, expected_rev: int | None = None
    ) -> None:
        if expected_rev is not None:
            raise ValueError("no revisions here")
        self._comments(key)

    def add_comment(self, key: str, body: str, marker_property: Mapping[str, Any]) -> str:
        comment_id = f"c{next(self.tracker.ids)}"
        self._comments(key)[comment_id] = body
        return comment_id

    def update_comment(self, key: str, comment_id: str, body: str) -> None:
        comments = self._comments(key)
        if comment_id not in comments:
            raise CommentNotFoundError(f"{comment_id} is gone")
        comments[comment_id] = body

    def delete_comment(self, key: str, comment_id: str) -> None:
        if "keeps a deleted comment" not in self.faults:
            self._comments(key).pop(comment_id, None)

    def find_bot_comments(self, key: str, bot: str, marker: str) -> list[tuple[str, str]]:
        return [(i, body) for i, body in self._comments(key).items() if marker in body]

    def close(self) -> None:
        pass


class MemoryConnector(Connector):
    kind = "memory"
    config_model = MemoryConfig
    faults: ClassVar[Collection[str]] = ()

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(config)
        self.tracker = TRACKERS[config.name]

    def check(self) -> CheckReport:
        report = CheckReport()
        report.add("credentials", True, "in memory")
        return report

    def streams(self) -> Sequence[Stream]:
        return (Statuses(), Items(self), Censuses(self))

    def writer(self) -> MemoryWriter:
        return MemoryWriter(self)


def memory_case(faults: Collection[str] = ()) -> ContractCase:
    name = f"memory-{len(TRACKERS)}"
    tracker = TRACKERS[name] = Tracker()
    for n in range(1, 6):
        tracker.change(f"MEM-{n}", f"Item {n}")
    connector = MemoryConnector
    if faults:
        connector = type("FaultyMemoryConnector", (MemoryConnector,), {"faults": tuple(faults)})
    created = itertools.count(100)

    def delete() -> str:
        del tracker.items["MEM-2"]
        return "MEM-2"

    return ContractCase(
        connector=lambda: connector(MemoryConfig(name=name)),
        edit_item=lambda: tracker.change("MEM-1", "Item 1, edited"),
        create_item=lambda: tracker.change(f"MEM-{next(created)}", "A new item"),
        delete_item=delete,
        writeback=WritebackCase({"Cycle time": 4.5}, missing_key="MEM-404"),
    )


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory connector registered as a plug-in would be, through its entry point."""
    monkeypatch.setattr(checks, "entry_points", lambda group: [SimpleNamespace(name="memory")])
    monkeypatch.setattr(checks, "connector_classes", lambda: {"memory": MemoryConnector})


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Engine]:
    from pmo_sync.store.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'pmo.db'}")
    yield engine
    engine.dispose()


def test_a_connector_keeping_the_contract_passes_the_checks_without_a_store(
    registered: None,
) -> None:
    case = memory_case()
    checks.check_kind_is_registered(case)
    checks.check_check_passes(case)
    checks.check_streams(case, yields=(ItemBundle, StatusRecord))


@pytest.mark.parametrize(
    "check",
    [
        "check_sync_then_incremental",
        "check_changes_resume_from_the_bookmark",
        "check_a_deleted_item_is_marked_deleted",
        "check_a_census_owed_is_paid",
        "check_writeback",
    ],
)
def test_a_connector_keeping_the_contract_passes_the_checks_that_sync(
    check: str, store: Engine
) -> None:
    getattr(checks, check)(memory_case(), store)


def test_an_unregistered_kind_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "entry_points", lambda group: [])
    with pytest.raises(AssertionError, match="no entry point 'memory' in the group"):
        checks.check_kind_is_registered(memory_case())


@pytest.mark.parametrize(
    ("fault", "check", "message"),
    [
        ("bookmark is not JSON", "check_streams", "its bookmark is not JSON"),
        ("census when none is owed", "check_streams", "no census is owed on a first sync"),
        (
            "ignores its bookmark",
            "check_sync_then_incremental",
            "incremental streams yielded their records again",
        ),
        (
            "ignores its bookmark",
            "check_changes_resume_from_the_bookmark",
            "did not resume from its bookmarks",
        ),
        ("owes no census", "check_a_deleted_item_is_marked_deleted", "after MEM-2 was deleted"),
        ("census misses an item", "check_a_census_owed_is_paid", "exactly the live ids"),
        ("keeps a deleted comment", "check_writeback", "the deleted comment is still found"),
        ("finds a gone item", "check_writeback", "not IssueNotFoundError"),
    ],
)
def test_a_connector_breaking_a_rule_fails_its_check(
    fault: str, check: str, message: str, store: Engine
) -> None:
    run = getattr(checks, check)
    case = memory_case([fault])
    with pytest.raises(AssertionError, match=message):
        if check == "check_streams":
            run(case, yields=(ItemBundle, StatusRecord))
        else:
            run(case, store)
