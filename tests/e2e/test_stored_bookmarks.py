"""Bookmarks stored by earlier releases load, and the sync goes on from them.

Every stream's bookmark is now a versioned type (`connectors/bookmarks.py`). What earlier
releases stored has no `version`: those shapes are written here literally, as each stream
stored them (with and without `retry`, the Jira site and Azure DevOps metadata caches
with and without the API user), and the next run must resume from them without a full
read. A bookmark a release cannot understand (a later version) means a full read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.azure_devops import AzureDevOpsConfig
from connectors.jira import JiraConfig
from connectors.trello import TrelloConfig
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloSandbox
from pmo_sync.sandbox.trello.generator import HEAVY_CARD
from pmo_sync.store.repository import Store
from pmo_sync.sync import RunSummary

SEARCH = "/rest/api/2/search/jql"
COUNT = "/rest/api/2/search/approximate-count"
MYSELF = "/rest/api/2/myself"


def _bookmarks(store: Store, name: str, kind: str, streams: tuple[str, ...]) -> dict[str, Any]:
    source = store.ensure_source(name, kind, None)
    return {stream: store.get_bookmark(source, stream) for stream in streams}


def _store_bookmarks(store: Store, name: str, kind: str, bookmarks: dict[str, Any]) -> None:
    source = store.ensure_source(name, kind, None)
    for stream, bookmark in bookmarks.items():
        store.set_bookmark(source, stream, bookmark)


# -- Jira ------------------------------------------------------------------------------

JIRA_STREAMS = ("site", "issues", "sprints", "statuses")
JIRA_STATUSES = {
    "Done": ["10002", "done"],
    "In Progress": ["3", "indeterminate"],
    "In Review": ["10001", "indeterminate"],
    "To Do": ["10000", "new"],
    "Won't Do": ["10003", "done"],
}
JIRA_BOARDS = [
    {"id": 1, "name": "Team Alpha", "type": "scrum", "project": "ABC"},
    {"id": 2, "name": "Team Beta", "type": "scrum", "project": "DEF"},
    {"id": 3, "name": "Team Gamma", "type": "scrum", "project": "GHI"},
    {"id": 4, "name": "Gamma Flow", "type": "kanban", "project": "GHI"},
]
JIRA_OPEN_SPRINTS = {"1": ["40", "43"], "2": ["42", "45"], "3": ["41", "44"]}


def _jira_searches(sandbox: JiraSandbox) -> list[str]:
    return [r.query["jql"][0] for r in sandbox.requests if r.path == SEARCH]


def _jira_today(stored: dict[str, Any]) -> dict[str, Any]:
    """The bookmarks as the release before versions stored them (read off a sync's, whose
    shape is checked key by key first: the same plus `version`)."""
    site, issues = stored["site"], stored["issues"]
    assert set(site) == {"version", "fetched_at", "time_zone", "account_id", "field_ids", "boards"}
    assert set(issues) == {"version", "watermark", "seen", "retry"}
    assert stored["sprints"] == {
        "version": 1,
        "refreshed_at": stored["sprints"]["refreshed_at"],
        "open": JIRA_OPEN_SPRINTS,
    }
    assert stored["statuses"] == {"version": 1, "statuses": JIRA_STATUSES}
    field_ids = site["field_ids"]  # JiraFieldIds' own JSON: it may know more fields now
    assert {k: field_ids[k] for k in ("sprint", "story_points", "flagged")} == {
        "sprint": "customfield_10020",
        "story_points": "customfield_10016",
        "flagged": "customfield_10021",
    }
    return {
        "site": {
            "fetched_at": site["fetched_at"],
            "time_zone": "America/New_York",
            "account_id": site["account_id"],
            "field_ids": {
                "sprint": "customfield_10020",
                "story_points": "customfield_10016",
                "flagged": "customfield_10021",
                "story_points_name": "Story point estimate",
                "clause_names": field_ids["clause_names"],
            },
            "boards": JIRA_BOARDS,
        },
        "issues": {"watermark": issues["watermark"], "seen": issues["seen"], "retry": []},
        "sprints": {"refreshed_at": stored["sprints"]["refreshed_at"], "open": JIRA_OPEN_SPRINTS},
        "statuses": {"statuses": JIRA_STATUSES},
    }


def test_jira_bookmarks_without_version_resume_and_read_a_skipped_issue_again(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """Every Jira bookmark in the shape stored before versions, `retry` naming an issue a
    person moved half an hour before the watermark: the next run reads neither the site nor
    the boards' sprints again, searches from the watermark, reads the skipped issue by id
    and stores its move; the bookmarks it does not move stay exactly as stored."""
    config = make_config(jira_sandbox)
    assert run_sync(config).status == "success"
    today = _jira_today(_bookmarks(store, "sandbox-jira", "jira", JIRA_STREAMS))
    data = jira_sandbox.dataset
    issue = next(i for i in data.issues if i.status.name == "To Do")
    data.clock.advance(minutes=30)
    assert data.transition(issue.key, "In Progress") is not None
    data.clock.advance(minutes=30)  # the issue is older than the watermark less the overlap
    today["issues"] = {"watermark": data.clock.now.isoformat(), "seen": {}, "retry": [issue.id]}
    _store_bookmarks(store, "sandbox-jira", "jira", today)

    jira_sandbox.reset_log()
    summary = run_sync(config)
    assert (summary.status, summary.items_updated) == ("success", 1), summary.errors
    assert [r.path for r in jira_sandbox.requests] == [SEARCH, SEARCH, COUNT]
    by_date, by_id = _jira_searches(jira_sandbox)
    assert "updated >=" in by_date
    assert by_id == (
        f"(project in (ABC, DEF, GHI)) AND id in ({issue.id}) ORDER BY created ASC, key ASC"
    )
    after = _bookmarks(store, "sandbox-jira", "jira", JIRA_STREAMS)
    assert {k: after[k] for k in ("site", "sprints", "statuses")} == {
        k: today[k] for k in ("site", "sprints", "statuses")
    }  # nothing new for them: kept as stored, without a version
    assert after["issues"]["version"] == 1 and after["issues"]["retry"] == []

    jira_sandbox.reset_log()
    assert run_sync(config).api_calls == 2  # one search, one count: nothing left to read


def test_jira_first_release_bookmarks_refresh_the_site_cache_only(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """The first release's shapes: a site cache without the API user (read as expired: the
    site is read again) and an issues bookmark without `retry` (the search goes on from its
    watermark)."""
    config = make_config(jira_sandbox)
    assert run_sync(config).status == "success"
    today = _jira_today(_bookmarks(store, "sandbox-jira", "jira", JIRA_STREAMS))
    del today["site"]["account_id"]
    del today["issues"]["retry"]
    _store_bookmarks(store, "sandbox-jira", "jira", today)

    jira_sandbox.reset_log()
    summary = run_sync(config)
    assert (summary.status, summary.items_seen) == ("success", 0), summary.errors
    paths = [r.path for r in jira_sandbox.requests]
    assert MYSELF in paths  # the site cache, read again
    # the search, then the versions of the projects whose issues name one (the generated
    # releases: all three, read again with the site), then the count
    versions = [f"/rest/api/2/project/{key}/versions" for key in ("ABC", "DEF", "GHI")]
    assert paths[-5:] == [SEARCH, *versions, COUNT]
    assert ["updated >=" in jql for jql in _jira_searches(jira_sandbox)] == [True]
    after = _bookmarks(store, "sandbox-jira", "jira", ("site", "issues"))
    assert after["site"]["version"] == 1 and after["site"]["account_id"]
    assert after["issues"] == today["issues"]  # nothing new: kept as stored


def test_jira_bookmark_of_an_unknown_version_means_a_full_read(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """A bookmark this release cannot understand (a later release's version) is not
    guessed at: the issues are all read again, and the bookmark rewritten in version 1."""
    config = make_config(jira_sandbox)
    assert run_sync(config).status == "success"
    issues = _bookmarks(store, "sandbox-jira", "jira", ("issues",))["issues"]
    _store_bookmarks(store, "sandbox-jira", "jira", {"issues": {**issues, "version": 2}})

    jira_sandbox.reset_log()
    summary = run_sync(config)
    assert (summary.status, summary.items_seen) == ("success", 300), summary.errors
    searches = _jira_searches(jira_sandbox)
    assert searches and not any("updated >=" in jql for jql in searches)  # page by page
    assert _bookmarks(store, "sandbox-jira", "jira", ("issues",))["issues"]["version"] == 1


# -- Azure DevOps ----------------------------------------------------------------------

ADO_API = "/contoso/Fabrikam/_apis/wit"
REPORTING = f"{ADO_API}/reporting/workItemRevisions"


@pytest.fixture
def ado(cold_ado_sdk_cache: None) -> Iterator[AdoSandbox]:
    with AdoSandbox(wiql_cap=100, size=60) as sandbox:
        yield sandbox


def _ado_calls(sandbox: AdoSandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests]


def _ado_today(stored: dict[str, Any]) -> dict[str, Any]:
    """The bookmarks as the release before versions (and before the field list and the types
    asked) stored them."""
    metadata, work_items = stored["metadata"], stored["work_items"]
    assert set(metadata) == {
        "version", "fetched_at", "teams", "states", "api_user", "fields", "types"
    }  # fmt: skip
    assert set(work_items) == {"version", "continuation_token", "scope", "retry"}
    return {
        "metadata": {
            "fetched_at": metadata["fetched_at"],
            "teams": [
                {"name": t["name"], "area_paths": t["area_paths"], "iterations": t["iterations"]}
                for t in metadata["teams"]
            ],
            "states": metadata["states"],
            "api_user": metadata["api_user"],
        },
        "work_items": {
            "continuation_token": work_items["continuation_token"],
            "scope": work_items["scope"],
            "retry": [],
        },
    }


def test_ado_bookmarks_without_version_resume_and_read_a_skipped_item_again(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """The metadata cache and the work items bookmark in the shape stored before versions,
    the token past a person's change to an item named in `retry`: the next run reads the
    metadata again (the cache does not say which types' states it asked, so it cannot tell
    whether Epic's were: `MetadataBookmark.covers`), goes on in the revision stream from the
    token, reads that item on its own and stores its change (its Dependency links, read by
    default: one batch call); the metadata cache is what it was, with the field list and the
    types asked."""
    config = ado_config(ado)
    assert sync(config).status == "success"
    first = [c for c in _ado_calls(ado) if c[0] != "OPTIONS" and "ResourceAreas" not in c[1]]
    first_metadata = first[: first.index(("POST", REPORTING))]  # the route discovery aside
    today = _ado_today(_bookmarks(store, "sandbox-ado", "azure_devops", ("metadata", "work_items")))
    ds = ado.dataset
    item = next(i for i in ds.items() if i.state == "Active" and "Resolved" in ds.states(i.type))
    assert ds.update(item.id, {"System.State": "Resolved"}, by=ds.people[0]) is not None
    today["work_items"]["continuation_token"] = str(ds.watermark())  # past the change
    today["work_items"]["retry"] = [item.id]
    _store_bookmarks(store, "sandbox-ado", "azure_devops", today)

    ado.reset_log()
    summary = sync(config)
    assert (summary.status, summary.items_updated) == ("success", 1), summary.errors
    revisions = f"{ADO_API}/workItems/{item.id}/revisions"
    fields = "/contoso/_apis/wit/fields"
    batch = f"{ADO_API}/workItemsBatch"
    calls = _ado_calls(ado)
    metadata = calls[: calls.index(("POST", REPORTING))]
    assert ("GET", fields) in metadata and metadata == first_metadata
    assert calls[len(metadata) :] == [("POST", REPORTING), ("GET", revisions), ("POST", batch)]
    after = _bookmarks(store, "sandbox-ado", "azure_devops", ("metadata", "work_items"))
    assert after["metadata"] == {
        **today["metadata"],
        "fetched_at": after["metadata"]["fetched_at"],  # read again
        "version": 1,
        "fields": sorted(f.reference_name for f in ado.api.process.fields),
        "types": list(config.work_item_types),
    }
    assert after["work_items"] == {
        "version": 1,
        "continuation_token": today["work_items"]["continuation_token"],
        "scope": today["work_items"]["scope"],
        "retry": [],
    }

    ado.reset_log()
    assert sync(config).api_calls == 1


def test_ado_first_release_bookmarks_refresh_the_metadata_only(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """The first release's shapes: a metadata cache without the PAT's identity (read as
    expired: refreshed) and a work items bookmark without `retry` (the stream goes on from
    its token: nothing new, no census, the bookmark kept as stored)."""
    config = ado_config(ado)
    assert sync(config).status == "success"
    today = _ado_today(_bookmarks(store, "sandbox-ado", "azure_devops", ("metadata", "work_items")))
    del today["metadata"]["api_user"]
    del today["work_items"]["retry"]
    _store_bookmarks(store, "sandbox-ado", "azure_devops", today)

    ado.reset_log()
    summary = sync(config)
    assert (summary.status, summary.items_seen) == ("success", 0), summary.errors
    calls = _ado_calls(ado)
    assert calls.count(("POST", REPORTING)) == 1
    assert calls[-1] == ("POST", REPORTING)  # after the metadata; no revisions, no census
    assert len(calls) > 1  # the metadata, read again
    after = _bookmarks(store, "sandbox-ado", "azure_devops", ("metadata", "work_items"))
    assert after["metadata"]["version"] == 1 and "api_user" in after["metadata"]
    assert after["work_items"] == today["work_items"]


# -- Trello ----------------------------------------------------------------------------


@pytest.fixture
def trello() -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces each process-wide
    with TrelloSandbox(key=f"key-{tag}", token=f"token-{tag}", cards_per_board=8) as sandbox:
        yield sandbox


def _trello_today(stored: dict[str, Any]) -> dict[str, Any]:
    assert set(stored) == {"version", "scope", "resolved_at", "bot", "order", "retry", "boards"}
    return {
        "scope": stored["scope"],
        "resolved_at": stored["resolved_at"],
        "bot": stored["bot"],
        "order": stored["order"],
        "retry": [],
        "boards": {
            board_id: {
                "name": board["name"],
                "lists": board["lists"],
                "fields": board["fields"],
                "last_action": board["last_action"],
                "sprints": board["sprints"],
            }
            for board_id, board in stored["boards"].items()
        },
    }


def test_trello_bookmark_without_version_resumes_and_reads_a_skipped_card_again(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """The cards bookmark in the shape stored before versions, its board's mark past a
    person's move of a card named in `retry`: the next run reads each board's actions since
    its mark (nothing new), then that card alone, and stores the move."""
    config = trello_config(trello)
    assert sync(config).status == "success"
    today = _trello_today(_bookmarks(store, "sandbox-trello", "trello", ("cards",))["cards"])
    ds = trello.dataset
    card = next(c for c in ds.cards("Team Alpha") if not c.closed and c.n != HEAVY_CARD)
    board = ds.board(card.board_id)
    target = next(x for x in board.lists if x.id != card.list_id and not x.closed)
    ds.move_card(card.id, target.id, by=ds.people[0])
    today["boards"][card.board_id]["last_action"] = ds.card(card.id).actions[-1].id
    today["retry"] = [card.id]
    _store_bookmarks(store, "sandbox-trello", "trello", {"cards": today})

    trello.reset_log()
    summary = sync(config)
    assert (summary.status, summary.items_updated) == ("success", 1), summary.errors
    paths = [r.path for r in trello.requests]
    assert paths == [
        *(f"/1/boards/{board_id}/actions" for board_id in today["order"]),
        f"/1/cards/{card.id}",
        f"/1/cards/{card.id}/actions",
    ]
    after = _bookmarks(store, "sandbox-trello", "trello", ("cards",))["cards"]
    assert after == {"version": 1, **today, "retry": []}

    trello.reset_log()
    assert sync(config).api_calls == 2  # one call a board: nothing left to read


def test_trello_first_release_bookmark_resumes_from_the_boards_marks(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    store: Store,
) -> None:
    """The first release's shape (no `retry`): each board's actions since its mark, one call
    a board, and the bookmark kept as stored."""
    config = trello_config(trello)
    assert sync(config).status == "success"
    today = _trello_today(_bookmarks(store, "sandbox-trello", "trello", ("cards",))["cards"])
    del today["retry"]
    _store_bookmarks(store, "sandbox-trello", "trello", {"cards": today})

    trello.reset_log()
    summary = sync(config)
    assert (summary.status, summary.items_seen, summary.api_calls) == ("success", 0, 2)
    since = [r.query.get("since") for r in trello.requests]
    assert since == [[today["boards"][b]["last_action"]] for b in today["order"]]
    assert _bookmarks(store, "sandbox-trello", "trello", ("cards",))["cards"] == today
