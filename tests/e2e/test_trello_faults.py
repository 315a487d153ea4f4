"""A misbehaving Trello: every fault gets a retry or a clear message, and nothing stored is lost.

Each test has a sandbox of its own with credentials of its own: the client's pacer keeps its
rate windows process-wide by key and token, so shared credentials would let one test's calls
slow down (and add rate-limit waits to) the next.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from structlog.testing import capture_logs

from connectors.trello import TrelloConfig, TrelloConnector
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import HEAVY_CARD, Card
from pmo_sync.sandbox.trello.server import TOKEN_LIMIT_EXCEEDED, rate_limit_body
from pmo_sync.store.models import Base, ItemChangeRow, WorkItemRow
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary, sync_connector

from ..schema_helpers import dump_tables

HTML_ADVICE = "instead of JSON: the URL may point at a login page, a proxy or the wrong host"


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(
        cards_per_board=30, key=f"key-{tag}", token=f"token-{tag}"
    ) as sandbox:  # the busiest board still has over 1,000 actions: the heavy card is on it
        yield sandbox


def _run(config: TrelloConfig, store: Store, *, full: bool = False) -> RunSummary:
    with TrelloConnector(config) as connector:
        return sync_connector(connector, store, full=full)


@pytest.fixture
def trello_config(trello_config: Callable[..., TrelloConfig]) -> Callable[..., TrelloConfig]:
    """The shared config (tests/e2e/conftest.py), waits capped at 1 s: faults here are many."""
    return functools.partial(trello_config, max_retry_wait_seconds=1)


def _paths(sandbox: TrelloSandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.requests]


def _since(sandbox: TrelloSandbox, board_id: str) -> list[list[str] | None]:
    """The `since` of each request for the board's actions: the mark the run read from."""
    path = f"/1/boards/{board_id}/actions"
    return [r.query.get("since") for r in sandbox.requests if r.path == path]


def _rows(dump: dict[str, list[tuple]], table: str) -> dict[Any, dict[str, Any]]:
    """A dumped table's rows as column dicts, by id."""
    names = [c.name for c in Base.metadata.tables[table].columns]
    rows = [dict(zip(names, row, strict=True)) for row in dump[table]]
    return {row["id"]: row for row in rows}


def _item(engine: Engine, card_id: str) -> Any:
    table = WorkItemRow.__table__
    with engine.connect() as conn:
        return conn.execute(select(table).where(table.c.external_id == card_id)).one()


def _status_changes(engine: Engine, card_id: str) -> list[tuple[str, str | None]]:
    table = ItemChangeRow.__table__
    item = _item(engine, card_id)
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.change_id, table.c.to_value)
            .where(table.c.item_id == item.id, table.c.field == "status")
            .order_by(table.c.at)
        )
        return [tuple(r) for r in rows]


def _open_cards(sandbox: TrelloSandbox, board: str) -> list[Card]:
    """Open cards of a board other than the heavy one (their history is one page)."""
    return [c for c in sandbox.dataset.cards(board) if not c.closed and c.n != HEAVY_CARD]


def _move_elsewhere(sandbox: TrelloSandbox, card: Card) -> str:
    """A person moves the card to another list of its board; the list's name."""
    ds = sandbox.dataset
    board = ds.board(card.board_id)
    review, doing = board.list_named("Review"), board.list_named("Doing")
    assert review is not None and doing is not None
    target = review if card.list_id != review.id else doing
    ds.move_card(card.id, target.id, by=ds.people[0])
    return target.name


def test_wrong_token_fails_at_the_first_call_and_keeps_the_store(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    assert sync(trello_config(trello)).status == "success"
    before = dump_tables(engine)
    trello.reset_log()
    wrong = "revoked-" + uuid.uuid4().hex
    summary = sync(trello_config(trello, token_value=wrong))
    alpha = trello.dataset.board("Team Alpha").id
    assert summary.status == "failed"
    assert summary.errors == [
        f"Trello rejected the token (HTTP 401 invalid token) while trying to read the actions "
        f"of board {alpha}: check token — it may have expired or been revoked, or been made "
        "for another API key"
    ]
    assert wrong not in summary.errors[0] and trello.token not in summary.errors[0]
    assert summary.api_calls == 1  # a 401 is never retried
    assert [(p, r.status) for p, r in zip(_paths(trello), trello.requests, strict=True)] == [
        (f"GET /1/boards/{alpha}/actions", 401)
    ]
    assert dump_tables(engine) == before


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_500_on_the_second_page_of_board_actions_retries_that_page_only(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    engine: Engine,
    second_engine: Engine,
) -> None:
    """The same sync with and without the fault (stores on one fixed clock): equal stores."""
    config = trello_config(trello)
    alpha = trello.dataset.board("Team Alpha").id
    actions = f"/1/boards/{alpha}/actions"
    trello.inject(path=f"{actions}$", status=500, skip=1)
    faulted = _run(config, Store(engine, clock=lambda: NOW))
    assert faulted.status == "success", faulted.errors
    pages = [(r.status, r.query.get("before")) for r in trello.requests if r.path == actions]
    assert [s for s, _ in pages] == [200, 500, 200]
    assert pages[0][1] is None
    assert pages[1][1] == pages[2][1] is not None  # the second page, asked again

    trello.clear_faults()
    trello.reset_log()
    clean = _run(config, Store(second_engine, clock=lambda: NOW))
    assert clean.status == "success", clean.errors
    assert [r.status for r in trello.requests if r.path == actions] == [200, 200]
    assert faulted.api_calls == clean.api_calls + 1
    assert (faulted.items_inserted, faulted.rate_limit_waits) == (clean.items_inserted, 0)
    assert dump_tables(engine) == dump_tables(second_engine)


def test_html_page_instead_of_the_card_listing_fails_and_keeps_the_bookmark(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = trello_config(trello)
    sync(config)
    card = _open_cards(trello, "Team Alpha")[0]
    target = _move_elsewhere(trello, card)
    before = dump_tables(engine)
    alpha = trello.dataset.board("Team Alpha").id
    listing = f"/boards/{alpha}/cards/all"
    trello.inject(path=f"{listing}$", status=200, content_type="text/html")
    trello.reset_log()

    summary = sync(config)
    assert summary.status == "failed"
    assert summary.errors == [
        f"GET {trello.url}{listing} answered HTTP 200 with an HTML page ('Log in to Trello') "
        + HTML_ADVICE
    ]
    assert _paths(trello)[-1] == f"GET /1{listing}"  # it stopped there
    assert dump_tables(engine) == before  # nothing lost, nothing changed, no bookmark moved
    failed_since = _since(trello, alpha)
    assert len(failed_since) == 1 and failed_since[0] is not None

    trello.reset_log()
    summary = sync(config)  # the fault fired once: Trello answers JSON again
    assert summary.status == "success", summary.errors
    assert _since(trello, alpha) == failed_since  # read from the same mark: the move is not lost
    assert _item(engine, card.id).status == target
    assert _status_changes(engine, card.id)[-1] == (
        trello.dataset.card(card.id).list_moves[-1].action_id + ":status",
        target,
    )


def test_token_rate_limit_429_is_waited_out_for_the_capped_window(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """Trello's 429 names no Retry-After: the pacer waits its window, capped at 1 s here."""
    lists = f"/1/boards/{trello.dataset.board('Team Alpha').id}/lists"
    trello.inject(path=f"{lists}$", status=429, body=rate_limit_body(TOKEN_LIMIT_EXCEEDED))
    summary = sync(trello_config(trello))
    assert summary.status == "success", summary.errors
    assert summary.rate_limit_waits == 1
    assert 1.0 <= summary.rate_limit_wait_seconds < 2.0  # not the 10 s window of the headers
    assert [r.status for r in trello.requests if r.path == lists] == [429, 200]
    assert [r.status for r in trello.requests].count(429) == 1
    assert summary.api_calls == len(trello.requests)  # the refused request counts as a call
    assert summary.items_inserted == sum(1 for _ in trello.dataset.cards())
    run = store.last_run(store.ensure_source("sandbox-trello", "trello", None))
    assert run is not None and (run.rate_limit_waits, run.api_calls) == (1, summary.api_calls)


def test_deleted_and_archived_cards_are_marked_with_only_the_calls_needed(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = trello_config(trello)
    sync(config)
    ds = trello.dataset
    alpha, beta = ds.board("Team Alpha").id, ds.board("Team Beta").id
    archived, deleted = _open_cards(trello, "Team Alpha")[:2]
    ds.archive_card(archived.id, by=ds.people[0])
    ds.delete_card(deleted.id, by=ds.people[0])
    before = dump_tables(engine)
    trello.reset_log()

    summary = sync(config)
    assert summary.status == "success", summary.errors
    assert (summary.items_updated, summary.items_deleted) == (1, 1)
    assert _paths(trello) == [
        f"GET /1/boards/{alpha}/actions",
        f"GET /1/boards/{alpha}/lists",
        f"GET /1/boards/{alpha}/customFields",
        f"GET /1/boards/{alpha}/cards/all",
        f"GET /1/boards/{beta}/actions",  # nothing new there
        f"GET /1/cards/{archived.id}/actions",  # its older history (the deleted card's: none)
        f"GET /1/boards/{beta}/cards/all",  # the census of the board not listed yet
    ]
    census = trello.requests[-1]
    assert "customFieldItems" not in census.query  # ids only, not the card contents again
    assert summary.api_calls == 7

    after = dump_tables(engine)
    for table in ("item_changes", "sprints", "sprint_items", "workflow_statuses"):
        assert after[table] == before[table], table
    # the source as it was, but for its data version: the two items written moved it
    [source_before], [source_after] = before["sources"], after["sources"]
    assert source_after[:-1] == source_before[:-1] and source_after[-1] > source_before[-1]
    old, new = _rows(before, "work_items"), _rows(after, "work_items")
    by_card = {row["external_id"]: key for key, row in old.items()}
    gone, closed = by_card[deleted.id], by_card[archived.id]
    assert {k: v for k, v in new.items() if k not in (gone, closed)} == {
        k: v for k, v in old.items() if k not in (gone, closed)
    }
    assert old[gone]["deleted_at"] is None and new[gone]["deleted_at"] is not None
    assert {**new[gone], "deleted_at": None} == old[gone]
    changed = {c for c in new[closed] if new[closed][c] != old[closed][c]}
    assert changed == {"archived", "updated", "last_activity", "content_hash", "synced_at"}
    assert (old[closed]["archived"], new[closed]["archived"]) == (False, True)
    assert new[closed]["deleted_at"] is None
    raw_old, raw_new = _rows(before, "raw_records"), _rows(after, "raw_records")
    assert [k for k in raw_old if raw_old[k] != raw_new[k]] == [
        k for k, row in raw_old.items() if row["external_id"] == archived.id
    ]


def test_a_card_listed_without_its_board_is_skipped_and_the_rest_stored(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    ds = trello.dataset
    alpha = ds.board("Team Alpha").id
    listing = f"/1/boards/{alpha}/cards/all"
    params = {"customFieldItems": "true", "attachments": "true", "attachment_fields": "name,url"}
    answer = trello.api.handle("GET", listing, params, trello.member)
    assert answer.status == 200
    bad = _open_cards(trello, "Team Alpha")[0]
    broken = [dict(c) for c in answer.body]
    [entry] = [c for c in broken if c["id"] == bad.id]
    del entry["idBoard"]
    trello.inject(path=f"{listing}$", status=200, body=broken)

    with capture_logs() as logs:
        summary = sync(trello_config(trello))
    assert summary.status == "partial"
    message = f"card {bad.short_link} skipped (read again next run): a card without id or idBoard"
    assert summary.errors == [message]
    assert {"event": "sync_record_error", "error": message, "log_level": "warning"} in [
        {k: e.get(k) for k in ("event", "error", "log_level")} for e in logs
    ]
    with engine.connect() as conn:
        stored = set(conn.execute(select(WorkItemRow.__table__.c.external_id)).scalars())
    assert stored == {c.id for c in ds.cards()} - {bad.id}
    assert summary.items_inserted == len(stored)


def test_a_card_whose_actions_come_back_malformed_is_skipped_and_keeps_its_history(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """The card's own history (read because a person moved it) answers an action without its
    date and data: the card is not rebuilt from that, which would drop its stored history."""
    config = trello_config(trello)
    sync(config)
    card = _open_cards(trello, "Team Alpha")[0]
    _move_elsewhere(trello, card)
    newest = trello.dataset.card(card.id).actions[-1]
    malformed = [{"id": newest.id, "type": newest.type, "idMemberCreator": newest.creator.id}]
    trello.inject(path=f"/1/cards/{card.id}/actions$", status=200, body=malformed)
    before = dump_tables(engine)
    history = _status_changes(engine, card.id)
    assert len(history) > 1

    with capture_logs() as logs:
        summary = sync(config)
    assert summary.status == "partial"
    message = (
        f"card {card.short_link} skipped (read again next run): an action ({newest.id}) "
        "without date, data.card"
    )
    assert summary.errors == [message]
    assert any(e.get("error") == message for e in logs if e["event"] == "sync_record_error")
    after = dump_tables(engine)
    for table in ("work_items", "item_changes", "sprint_items", "raw_records"):
        assert after[table] == before[table], table  # the card as it was; every other card too
    assert _status_changes(engine, card.id) == history

    # Trello answers properly again: the next run reads the skipped card on its own (nobody
    # touched it since, its board has nothing new) and stores the move; then it is done.
    trello.clear_faults()
    trello.reset_log()
    again = sync(config)
    assert (again.status, again.items_updated) == ("success", 1)
    paths = [r.path for r in trello.requests]
    assert f"/1/cards/{card.id}" in paths and f"/1/cards/{card.id}/actions" in paths
    assert len(_status_changes(engine, card.id)) == len(history) + 1
    trello.reset_log()
    assert sync(config).api_calls == 2  # nothing left to retry


def test_trello_down_fails_with_cannot_reach_and_keeps_the_store(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    config = trello_config(trello, max_retries=2)
    sync(config)
    before = dump_tables(engine)
    url = trello.root_url  # the configured url, without the API's /1
    trello.stop()

    summary = sync(config)
    assert summary.status == "failed"
    assert summary.errors == [
        f"cannot reach Trello at {url} (connection refused): is the url right and the tracker up?"
    ]
    assert summary.api_calls == 1  # nothing reached it: not retried
    assert dump_tables(engine) == before


def test_boards_that_suddenly_list_no_card_mark_nothing_deleted(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """A census that finds nothing while cards are stored is refused by the sync engine:
    every card gone at once is far likelier a lost access than a mass delete."""
    config = trello_config(trello)
    sync(config)
    with engine.connect() as conn:
        stored = conn.execute(select(WorkItemRow.__table__)).all()
    card = _open_cards(trello, "Team Alpha")[0]
    trello.dataset.delete_card(card.id, by=trello.dataset.people[0])  # the census must run
    trello.inject(method="GET", path=r"/cards/all$", status=200, body=[], times=10)

    summary = sync(config)
    assert summary.status == "partial"
    assert summary.errors == [
        "the boards list no card (check the token's access to the boards) while "
        f"{len(stored)} are stored; not marking them deleted"
    ]
    assert summary.items_deleted == 0
    with engine.connect() as conn:
        rows = conn.execute(select(WorkItemRow.external_id, WorkItemRow.deleted_at)).all()
    assert len(rows) == len(stored) and all(deleted is None for _, deleted in rows)
