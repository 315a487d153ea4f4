"""`push_connector` with a fake writer: one item's failure stays that item's, a 404 means gone.

Three items of source ``acme-jira``, each In Progress (so each gets its WIP age
written) and each with a finding (so each gets the bot comment). The first push
plans, in this order, for A-1, A-2 and A-3: `SetFields` (WIP age), `AddComment`.
Adding a comment first reads the bot account (once) and the item's comments.
The writer fails the calls a test chooses; every call is recorded, so each test
asserts the exact calls made, the ledger rows and the summary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    FieldNotFoundError,
    FieldRefusedError,
    IssueNotFoundError,
    PermissionDeniedError,
    TrackerUnavailableError,
    UnexpectedResponseError,
)
from connectors.http import CallStats
from connectors.jira import JiraConfig
from pmo_sync.domain import Stage
from pmo_sync.governance.model import Finding, finding_identity
from pmo_sync.kpi.compute import KpiRun, compute_kpis
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, StatusChange
from pmo_sync.store.models import WritebackLedgerRow
from pmo_sync.writeback import service
from pmo_sync.writeback.plan import PENDING
from pmo_sync.writeback.service import PushSummary, push_connector

SOURCE = "acme-jira"
KEYS = ("A-1", "A-2", "A-3")
FIELD = "WIP age (days)"
FIELD_ID = "customfield_2"
BOT = "bot-account"
NOW = datetime(2026, 3, 12, 12, tzinfo=UTC)
STATUSES = {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
HTML = (
    "GET https://acme.atlassian.net/rest/api/2/issue/A-2/comment answered HTTP 200 with an "
    "HTML page ('Sign in') instead of JSON: the URL may point at a login page, a proxy or the "
    "wrong host"
)
DOWN = "Jira kept answering HTTP 503 while trying to {}, after 3 retries: no details"
FIELD_LIST = "the field list (GET /field)"
COMMENT_READ = "could not list its comments before adding the bot comment: "


def _item(key: str, started_day: int) -> ItemHistory:
    start = datetime(2026, 3, started_day, 12, tzinfo=UTC)
    return ItemHistory(
        key=key,
        source=SOURCE,
        team="Alpha",
        item_type="story",
        created=start - timedelta(days=1),
        initial_status="To Do",
        status_changes=(StatusChange(start, "To Do", "In Progress"),),
    )


ITEMS = (_item("A-1", 2), _item("A-2", 5), _item("A-3", 9))


@functools.cache
def _run(now: datetime) -> KpiRun:
    run = compute_kpis(list(ITEMS), [], KpiConfig(), {SOURCE: STATUSES}, now)
    return replace(run, epics=[])


def _finding(key: str, rule: str = "stale") -> Finding:
    return Finding(
        rule_id=rule,
        rule=rule,
        severity="warning",
        mode="advisory",
        scope="item",
        scope_key=key,
        team="Alpha",
        source=SOURCE,
        message=f"{key} breaks {rule}",
        details={},
        identity=finding_identity(rule, "item", SOURCE, key),
    )


FINDINGS = [_finding(k) for k in KEYS]
Call = tuple[str, ...]


class FakeWriter:
    """Records every call as (method, key...); `fail` queues errors per (method, key or "")."""

    checks_revisions = False

    def __init__(self, stats: CallStats) -> None:
        self.stats = stats
        self.calls: list[Call] = []
        self.fail: dict[tuple[str, str], list[Exception]] = {}
        self.ids = iter(range(10001, 20000))
        self.closed = False

    def _record(self, method: str, key: str = "", *rest: str) -> None:
        self.calls.append((method, key, *rest) if key else (method,))
        self.stats.add_call()
        queued = self.fail.get((method, key))
        if queued:
            raise queued.pop(0)

    def field_ids(self, names: list[str]) -> dict[str, str]:
        self._record("field_ids")
        assert names == [FIELD]
        return {FIELD: FIELD_ID}

    def bot_account_id(self) -> str:
        self._record("bot_account_id")
        return BOT

    def find_bot_comments(self, key: str, bot: str, marker: str) -> list[tuple[str, str]]:
        assert bot == BOT
        self._record("find_bot_comments", key)
        return []

    def set_fields(self, key: str, values: dict[str, Any]) -> None:
        assert list(values) == [FIELD_ID]
        self._record("set_fields", key)

    def add_comment(self, key: str, body: str, tag: dict[str, Any]) -> str:
        self._record("add_comment", key)
        return str(next(self.ids))

    def update_comment(self, key: str, comment_id: str, body: str) -> None:
        self._record("update_comment", key, comment_id)

    def delete_comment(self, key: str, comment_id: str) -> None:
        self._record("delete_comment", key, comment_id)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def writer(monkeypatch: pytest.MonkeyPatch) -> FakeWriter:
    """The fake writer every push of the test gets, through a fake connector."""
    fake = FakeWriter(CallStats())

    class FakeConnector:
        def __init__(self, config: object) -> None:
            self.stats = fake.stats = CallStats()  # one per push, as a connector's

        def __enter__(self) -> FakeConnector:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def writer(self) -> FakeWriter:
            return fake

    monkeypatch.setattr(service, "connector_for_kind", lambda kind: FakeConnector)
    return fake


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> JiraConfig:
    monkeypatch.setenv("PMO_SYNC_TEST_PUSH_TOKEN", "t0ken")
    return JiraConfig.model_validate(
        {
            "name": SOURCE,
            "kind": "jira",
            "url": "https://acme.atlassian.net",
            "email": "pmo-bot@acme.example",
            "token": "${PMO_SYNC_TEST_PUSH_TOKEN}",
            "jql": "project = A",
            "writeback": {"enabled": True, "fields": {"wip_age_days": FIELD}, "comments": True},
        }
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def push(
    config: JiraConfig, engine: Engine, writer: FakeWriter, sleeps: list[float]
) -> Iterator[Callable[..., PushSummary]]:
    def run(
        now: datetime = NOW, findings: list[Finding] = FINDINGS, dry_run: bool = False
    ) -> PushSummary:
        writer.calls.clear()
        return push_connector(
            config, engine, _run(now), findings, dry_run=dry_run, now=now, sleep=sleeps.append
        )

    yield run


def ledger(engine: Engine) -> list[tuple[str, str, str | None]]:
    """(item, target, comment id) of every ledger row, in order."""
    table = WritebackLedgerRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.item_key, table.c.target, table.c.comment_id).where(
                table.c.source == SOURCE
            )
        )
        return sorted((r.item_key, r.target, r.comment_id) for r in rows)


def pending(engine: Engine) -> list[tuple[str, str]]:
    """(item, target) of the rows whose write went out and got no success (`PENDING`): the
    next plan writes them again, whatever the tracker made of the call."""
    table = WritebackLedgerRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.item_key, table.c.target).where(
                table.c.source == SOURCE, table.c.value_hash == PENDING
            )
        )
        return sorted((r.item_key, r.target) for r in rows)


def counts(summary: PushSummary) -> tuple[int, int, int, int, int]:
    return (summary.planned, summary.done, summary.failed, summary.deferred, summary.gone)


def rows(*keys: str, comments: dict[str, str] | None = None) -> list[tuple[str, str, str | None]]:
    comments = comments or {}
    result: list[tuple[str, str, str | None]] = []
    for key in keys:
        if key in comments:
            result.append((key, "comment", comments[key]))
        result.append((key, "field:wip_age_days", None))
    return sorted(result)


ALL_CALLS: list[Call] = [
    ("field_ids",),
    ("set_fields", "A-1"),
    ("bot_account_id",),
    ("find_bot_comments", "A-1"),
    ("add_comment", "A-1"),
    ("set_fields", "A-2"),
    ("find_bot_comments", "A-2"),
    ("add_comment", "A-2"),
    ("set_fields", "A-3"),
    ("find_bot_comments", "A-3"),
    ("add_comment", "A-3"),
]


# -- everything goes ----------------------------------------------------------------------------


def test_a_clean_push_makes_every_call_once(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine
) -> None:
    preview = push(dry_run=True)
    assert counts(preview) == (6, 0, 0, 0, 0) and writer.calls == []
    summary = push()
    assert writer.calls == ALL_CALLS
    assert (counts(summary), summary.errors, summary.ok) == ((6, 6, 0, 0, 0), [], True)
    assert summary.api_calls == 11
    assert ledger(engine) == rows(*KEYS, comments={"A-1": "10001", "A-2": "10002", "A-3": "10003"})
    assert counts(push()) == (0, 0, 0, 0, 0) and writer.calls == []


# -- one item's failure -------------------------------------------------------------------------


def test_a_404_reading_one_items_comments_drops_it_and_pushes_the_others(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine
) -> None:
    """A-2 is deleted between its field write and its comment: everything of it goes."""
    first = push(findings=[])  # fields only: a ledger row per item
    assert counts(first) == (3, 3, 0, 0, 0)
    assert ledger(engine) == rows(*KEYS)
    gone = IssueNotFoundError("issue A-2 no longer exists in Jira (HTTP 404)", status_code=404)
    writer.fail[("find_bot_comments", "A-2")] = [gone]

    summary = push(now=NOW + timedelta(days=1))  # new WIP ages, and the comments
    assert writer.calls == [call for call in ALL_CALLS if call != ("add_comment", "A-2")]
    assert (counts(summary), summary.errors, summary.ok) == ((6, 5, 0, 0, 1), [], True)
    assert ledger(engine) == rows("A-1", "A-3", comments={"A-1": "10001", "A-3": "10002"})
    # the next push (before the sync marks A-2 deleted) plans A-2 again from nothing
    writer.fail.clear()
    again = push(now=NOW + timedelta(days=1))
    assert writer.calls == [
        ("field_ids",),
        ("set_fields", "A-2"),
        ("bot_account_id",),
        ("find_bot_comments", "A-2"),
        ("add_comment", "A-2"),
    ]
    assert counts(again) == (2, 2, 0, 0, 0)


def test_a_404_on_the_field_write_skips_the_items_comment(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine
) -> None:
    writer.fail[("set_fields", "A-1")] = [IssueNotFoundError("gone", status_code=404)]
    summary = push()
    assert writer.calls == [
        ("field_ids",),
        ("set_fields", "A-1"),  # 404: A-1's comment is not tried
        ("set_fields", "A-2"),
        ("bot_account_id",),
        ("find_bot_comments", "A-2"),
        ("add_comment", "A-2"),
        ("set_fields", "A-3"),
        ("find_bot_comments", "A-3"),
        ("add_comment", "A-3"),
    ]
    assert (counts(summary), summary.errors, summary.ok) == ((6, 4, 0, 0, 1), [], True)
    assert ledger(engine) == rows("A-2", "A-3", comments={"A-2": "10001", "A-3": "10002"})


def test_an_html_answer_reading_one_items_comments_fails_that_comment_only(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine
) -> None:
    writer.fail[("find_bot_comments", "A-2")] = [UnexpectedResponseError(HTML)]
    summary = push()
    assert writer.calls == [call for call in ALL_CALLS if call != ("add_comment", "A-2")]
    assert counts(summary) == (6, 5, 1, 0, 0)
    assert summary.errors == [f"A-2: {COMMENT_READ}{HTML}"]
    assert not summary.ok
    assert ledger(engine) == rows(*KEYS, comments={"A-1": "10001", "A-3": "10002"})
    again = push()  # only the comment is left, and the bot account is asked again
    assert writer.calls == [
        ("bot_account_id",),
        ("find_bot_comments", "A-2"),
        ("add_comment", "A-2"),
    ]
    assert (counts(again), again.ok) == ((1, 1, 0, 0, 0), True)


@pytest.mark.parametrize(
    "error",
    [
        PermissionDeniedError("pmo-bot may not write field 'WIP age' on A-1 (HTTP 403)"),
        TrackerUnavailableError(DOWN.format("write field 'WIP age' on A-1")),
        ConnectorError("Jira refused to write field 'WIP age' on A-1 (HTTP 400): bad value"),
    ],
    ids=["403", "503", "400"],
)
def test_a_failed_field_write_fails_that_action_and_the_push_goes_on(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine, error: Exception
) -> None:
    writer.fail[("set_fields", "A-1")] = [error]
    summary = push()
    assert writer.calls == ALL_CALLS
    assert (counts(summary), summary.errors) == ((6, 5, 1, 0, 0), [f"A-1: {error}"])
    assert ledger(engine) == rows(*KEYS, comments={"A-1": "10001", "A-2": "10002", "A-3": "10003"})
    assert pending(engine) == [("A-1", "field:wip_age_days")]  # sent: written again next run


# -- the run's look-ups -------------------------------------------------------------------------


def test_the_field_list_failing_twice_is_asked_a_third_time(
    push: Callable[..., PushSummary], writer: FakeWriter, sleeps: list[float]
) -> None:
    writer.fail[("field_ids", "")] = [
        TrackerUnavailableError(DOWN.format("list the fields (GET /field)"), status_code=503),
        UnexpectedResponseError("GET /rest/api/2/field answered HTTP 200 with an HTML page"),
    ]
    summary = push()
    assert writer.calls == [("field_ids",), ("field_ids",), *ALL_CALLS]
    assert (counts(summary), summary.errors, summary.ok) == ((6, 6, 0, 0, 0), [], True)
    assert sleeps == [1.0, 2.0]


def test_the_field_list_failing_three_times_stops_the_push_with_one_line(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine, sleeps: list[float]
) -> None:
    error = TrackerUnavailableError(DOWN.format("list the fields (GET /field)"), status_code=503)
    writer.fail[("field_ids", "")] = [error, error, error]
    summary = push()
    assert writer.calls == [("field_ids",)] * 3  # no item was written
    assert counts(summary) == (6, 0, 1, 0, 0)
    assert summary.errors == [
        f"push stopped: could not read {FIELD_LIST}: {error}; 5 action(s) left for the next run"
    ]
    assert not summary.ok
    assert sleeps == [1.0, 2.0]
    assert ledger(engine) == []


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            FieldNotFoundError("Jira fields visible to pmo-bot: no field named 'WIP age (days)'"),
            f"the configured fields do not match {FIELD_LIST}",
        ),
        (
            AuthenticationError("Jira rejected the credentials (HTTP 401)", status_code=401),
            f"could not read {FIELD_LIST}",
        ),
        (
            PermissionDeniedError("pmo-bot may not list the fields (HTTP 403)", status_code=403),
            f"could not read {FIELD_LIST}",
        ),
        (
            ConnectorError("Jira refused to list the fields (HTTP 400): no", status_code=400),
            f"could not read {FIELD_LIST}",
        ),
    ],
    ids=["no-such-field", "401", "403", "400"],
)
def test_a_look_up_failing_for_good_stops_the_push_at_once(
    push: Callable[..., PushSummary],
    writer: FakeWriter,
    sleeps: list[float],
    error: Exception,
    line: str,
) -> None:
    writer.fail[("field_ids", "")] = [error]
    summary = push()
    assert writer.calls == [("field_ids",)]
    assert counts(summary) == (6, 0, 1, 0, 0)
    assert summary.errors == [f"push stopped: {line}: {error}; 5 action(s) left for the next run"]
    assert sleeps == []


def test_the_bot_account_failing_three_times_stops_the_push_with_one_line(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine, sleeps: list[float]
) -> None:
    error = ConnectorError("cannot reach Jira at https://acme.atlassian.net to read /myself")
    writer.fail[("bot_account_id", "")] = [error, error, error]
    summary = push()
    assert writer.calls == [("field_ids",), ("set_fields", "A-1"), *[("bot_account_id",)] * 3]
    assert counts(summary) == (6, 1, 1, 0, 0)
    assert summary.errors == [
        f"push stopped: could not read the API user (GET /myself): {error}; "
        "4 action(s) left for the next run"
    ]
    assert sleeps == [1.0, 2.0]
    assert ledger(engine) == rows("A-1")


def test_comment_updates_alone_read_neither_the_field_list_nor_the_bot_account(
    push: Callable[..., PushSummary], writer: FakeWriter
) -> None:
    push()
    summary = push(findings=[*FINDINGS, _finding("A-2", "unassigned")])
    assert writer.calls == [("update_comment", "A-2", "10002")]
    assert counts(summary) == (1, 1, 0, 0, 0)


# -- the push stops -----------------------------------------------------------------------------


def test_an_authentication_error_on_an_item_stops_the_push_with_one_line(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine
) -> None:
    error = AuthenticationError("Jira rejected the credentials (HTTP 401)", status_code=401)
    writer.fail[("set_fields", "A-2")] = [error]
    summary = push()
    assert writer.calls == ALL_CALLS[:6]  # up to A-2's field write, and nothing after
    assert counts(summary) == (6, 2, 1, 0, 0)
    assert summary.errors == [f"push stopped: A-2: {error}; 3 action(s) left for the next run"]
    assert ledger(engine) == rows("A-1", "A-2", comments={"A-1": "10001"})
    assert pending(engine) == [("A-2", "field:wip_age_days")]


def test_three_items_in_a_row_with_the_tracker_unavailable_stop_the_push(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine
) -> None:
    for key in KEYS:
        writer.fail[("set_fields", key)] = [TrackerUnavailableError(DOWN.format(f"write {key}"))]
        writer.fail[("find_bot_comments", key)] = [
            TrackerUnavailableError(DOWN.format(f"list the comments of {key}"))
        ]
    summary = push()
    assert writer.calls == [
        ("field_ids",),
        ("set_fields", "A-1"),
        ("bot_account_id",),
        ("find_bot_comments", "A-1"),
        ("set_fields", "A-2"),
        ("find_bot_comments", "A-2"),
        ("set_fields", "A-3"),  # the third item in a row: A-3's comment is not tried
    ]
    assert counts(summary) == (6, 0, 5, 0, 0)
    assert summary.errors == [
        f"A-1: {DOWN.format('write A-1')}",
        f"A-1: {COMMENT_READ}{DOWN.format('list the comments of A-1')}",
        f"A-2: {DOWN.format('write A-2')}",
        f"A-2: {COMMENT_READ}{DOWN.format('list the comments of A-2')}",
        f"A-3: {DOWN.format('write A-3')}",
        "push stopped: the tracker looks unavailable: 3 items in a row (A-1, A-2, A-3) failed "
        "after the client's retries; 1 action(s) left for the next run",
    ]
    assert ledger(engine) == rows(*KEYS)  # the three field writes went out, unanswered
    assert pending(engine) == [(key, "field:wip_age_days") for key in KEYS]


def test_a_success_between_unavailable_items_keeps_the_push_going(
    push: Callable[..., PushSummary], writer: FakeWriter
) -> None:
    for key in ("A-1", "A-3"):
        writer.fail[("set_fields", key)] = [TrackerUnavailableError(DOWN.format(f"write {key}"))]
        writer.fail[("find_bot_comments", key)] = [
            TrackerUnavailableError(DOWN.format(f"list the comments of {key}"))
        ]
    summary = push()
    assert writer.calls == [
        c for c in ALL_CALLS if c not in {("add_comment", "A-1"), ("add_comment", "A-3")}
    ]
    assert counts(summary) == (6, 2, 4, 0, 0)
    assert not any(line.startswith("push stopped") for line in summary.errors)


# -- a field refused where the item is ------------------------------------------------------------


def test_a_refused_field_skips_the_item_not_fails_it_and_its_comment_goes(
    push: Callable[..., PushSummary], writer: FakeWriter, engine: Engine
) -> None:
    """Items the store does not place (none here) are their own place: the refusal holds
    for A-1 alone, and the items after it are written."""
    refused = FieldRefusedError(
        "not on the screen", fields=(FIELD_ID,), reason="not on the edit screen"
    )
    writer.fail[("set_fields", "A-1")] = [refused]
    summary = push()
    assert writer.calls == ALL_CALLS
    assert (counts(summary), summary.skipped, summary.errors) == ((6, 5, 0, 0, 0), 1, [])
    assert summary.refusals == [
        "field 'WIP age (days)' cannot be set on A-1 (not on the edit screen): skipped 1 item; "
        "run `pmo-sync connectors check acme-jira`"
    ]
    assert not summary.ok
    assert pending(engine) == [("A-1", "field:wip_age_days")]  # owed: the next push writes it


def test_a_refusal_naming_no_field_of_the_write_is_that_items_failure(
    push: Callable[..., PushSummary], writer: FakeWriter
) -> None:
    refused = FieldRefusedError("refused", fields=("customfield_9",), reason="not on the screen")
    writer.fail[("set_fields", "A-1")] = [refused]
    summary = push()
    assert writer.calls == ALL_CALLS
    assert (counts(summary), summary.skipped, summary.refusals) == ((6, 5, 1, 0, 0), 0, [])
    assert summary.errors == ["A-1: refused"]
