"""`JiraWriter` against the sandbox Jira: exact effects in its state and exact requests."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from connectors.errors import (
    CommentNotFoundError,
    ConnectorError,
    FieldNotFoundError,
    IssueNotFoundError,
    PermissionDeniedError,
    TrackerUnavailableError,
    WriteOutcomeUnknownError,
)
from connectors.http import CallStats
from connectors.jira.client import JiraClient
from connectors.jira.config import JiraConfig
from connectors.jira.push import FieldNotOnScreenError, JiraWriter
from pmo_sync.sandbox.jira.server import JiraSandbox, RecordedRequest

TOKEN_VARIABLE = "PMO_SYNC_TEST_JIRA_TOKEN"
API = "/rest/api/2"
KEY = "ABC-1"
MARKER = "[pmo-sync]"
PROPERTY = {"key": "pmo-sync", "value": {"managed": True, "version": 1}}
FIELD = "Cycle time (days)"


@pytest.fixture
def sandbox() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=5) as running:
        yield running


@pytest.fixture
def make_writer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., JiraWriter]]:
    opened: list[tuple[JiraClient, JiraWriter]] = []

    def build(sandbox: JiraSandbox, **overrides: Any) -> JiraWriter:
        monkeypatch.setenv(TOKEN_VARIABLE, sandbox.token)
        data: dict[str, Any] = {
            "name": "sandbox-jira",
            "kind": "jira",
            "url": sandbox.url,
            "email": sandbox.email,
            "token": f"${{{TOKEN_VARIABLE}}}",
            "jql": "project in (ABC, DEF, GHI)",
            "max_retries": 2,
            "max_retry_wait_seconds": 5,
        }
        config = JiraConfig.model_validate({**data, **overrides})
        client = JiraClient(config, CallStats())
        writer = JiraWriter(client)
        opened.append((client, writer))
        return writer

    yield build
    for client, writer in opened:
        writer.close()
        client.close()


@pytest.fixture
def writer(sandbox: JiraSandbox, make_writer: Callable[..., JiraWriter]) -> JiraWriter:
    return make_writer(sandbox)


@pytest.fixture
def kpi_field(sandbox: JiraSandbox) -> str:
    """A number field on project ABC's edit screen."""
    field_id = sandbox.dataset.create_custom_field(FIELD, "number")
    sandbox.dataset.add_field_to_screen(field_id, "ABC")
    return field_id


def calls(requests: list[RecordedRequest]) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.status) for r in requests]


def bot_histories(sandbox: JiraSandbox, key: str) -> list[Any]:
    return [h for h in sandbox.dataset.issue(key).histories if h.author == sandbox.api_user]


# -- fields -----------------------------------------------------------------------------------


def test_field_ids_accepts_names_and_ids(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    ids = writer.field_ids([FIELD, "cycle TIME (days)", kpi_field, "summary"])
    assert ids == {
        FIELD: kpi_field,
        "cycle TIME (days)": kpi_field,
        kpi_field: kpi_field,
        "summary": "summary",
    }
    assert calls(sandbox.requests) == [("GET", f"{API}/field", 200)]


def test_field_ids_names_every_missing_field(writer: JiraWriter, kpi_field: str) -> None:
    with pytest.raises(FieldNotFoundError) as caught:
        writer.field_ids([FIELD, "Lead time (days)", "Age (days)"])
    message = str(caught.value)
    assert "no field named 'Lead time (days)'; no field named 'Age (days)'" in message
    assert "pmo-bot@acme.example" in message
    assert FIELD not in message


def test_field_ids_refuses_an_ambiguous_name(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    twin = sandbox.dataset.create_custom_field(FIELD, "number")
    with pytest.raises(FieldNotFoundError, match=rf"2 fields are named .*{kpi_field}, {twin}"):
        writer.field_ids([FIELD])


def test_set_number_field_writes_once_then_is_a_no_op_on_the_same_value(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    before = len(bot_histories(sandbox, KEY))

    writer.set_fields(KEY, {kpi_field: 4.5})

    assert sandbox.dataset.field_value(KEY, kpi_field) == 4.5
    histories = bot_histories(sandbox, KEY)
    assert len(histories) == before + 1
    assert [(i.field_id, i.to_string) for i in histories[-1].items] == [(kpi_field, "4.5")]
    # One PUT, built from the key alone: no GET before, no reload after.
    (put,) = sandbox.requests
    assert (put.method, put.path, put.status) == ("PUT", f"{API}/issue/{KEY}", 204)
    assert put.query == {"notifyUsers": ["false"]}
    assert put.body == {"fields": {kpi_field: 4.5}, "update": {}}

    writer.set_fields(KEY, {kpi_field: 4.5})  # the writer does not dedupe: the planner does

    assert len(bot_histories(sandbox, KEY)) == before + 1
    assert calls(sandbox.requests) == [("PUT", f"{API}/issue/{KEY}", 204)] * 2


def test_field_off_screen_raises_with_what_an_admin_must_do(
    sandbox: JiraSandbox, writer: JiraWriter
) -> None:
    field_id = sandbox.dataset.create_custom_field(FIELD, "number")
    sandbox.dataset.add_field_to_screen(field_id, "DEF")  # on DEF's screen, not ABC's

    with pytest.raises(FieldNotOnScreenError) as caught:
        writer.set_fields(KEY, {field_id: 3})

    shown = f"'{FIELD}' ({field_id})"
    assert str(caught.value) == (
        f"cannot write field {shown} on ABC-1: Jira says it is not on the edit screen of "
        "project ABC (HTTP 400). A Jira admin must add it: Project settings > Screens shows "
        "the edit screen of project ABC; Jira settings > Issues > Screens > that screen > "
        f"Configure > add {shown}. Also check that the field's context includes project ABC. "
        "pmo-sync writes nothing to that project until then."
    )
    error = caught.value
    assert (error.issue_key, error.project_key, error.names, error.fields) == (
        "ABC-1",
        "ABC",
        {field_id: FIELD},
        (field_id,),
    )
    assert error.status_code == 400
    assert sandbox.dataset.field_value(KEY, field_id) is None
    # The PUT, then (error path only) the field list to name the field.
    assert calls(sandbox.requests) == [
        ("PUT", f"{API}/issue/{KEY}", 400),
        ("GET", f"{API}/field", 200),
    ]


def test_off_screen_uses_known_names_without_another_field_list(
    sandbox: JiraSandbox, writer: JiraWriter
) -> None:
    field_id = sandbox.dataset.create_custom_field(FIELD, "number")
    writer.field_ids([FIELD])
    sandbox.reset_log()
    with pytest.raises(FieldNotOnScreenError, match=re.escape(f"cannot write field '{FIELD}' (")):
        writer.set_fields(KEY, {field_id: 3, "summary": "Still valid"})
    assert calls(sandbox.requests) == [("PUT", f"{API}/issue/{KEY}", 400)]
    assert sandbox.dataset.issue(KEY).summary != "Still valid"  # all or nothing


def test_invalid_value_is_a_plain_connector_error(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        writer.set_fields(KEY, {kpi_field: "fast"})
    assert not isinstance(caught.value, FieldNotOnScreenError)
    assert str(caught.value) == (
        f"Jira refused to write field {kpi_field!r} on ABC-1 (HTTP 400): "
        "Operation value must be a number"
    )


def test_editable_fields_follow_the_edit_screen(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    assert kpi_field in writer.editable_fields(KEY)
    assert {"summary", "comment"} <= writer.editable_fields(KEY)
    assert kpi_field not in writer.editable_fields("DEF-1")
    assert calls(sandbox.requests)[0] == ("GET", f"{API}/issue/{KEY}/editmeta", 200)


def test_429_on_put_is_retried_once_after_retry_after(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    sandbox.inject("PUT", rf"/issue/{KEY}$", status=429)
    writer.set_fields(KEY, {kpi_field: 7})
    assert sandbox.dataset.field_value(KEY, kpi_field) == 7.0
    assert calls(sandbox.writes) == [
        ("PUT", f"{API}/issue/{KEY}", 429),
        ("PUT", f"{API}/issue/{KEY}", 204),
    ]
    assert (writer.stats.retries, writer.stats.rate_limit_waits) == (1, 1)


def test_500_on_put_is_retried_because_a_put_is_idempotent(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    before = len(bot_histories(sandbox, KEY))
    sandbox.inject("PUT", rf"/issue/{KEY}$", status=500, applied=True)  # done, answer lost
    writer.set_fields(KEY, {kpi_field: 2})
    assert calls(sandbox.writes) == [
        ("PUT", f"{API}/issue/{KEY}", 500),
        ("PUT", f"{API}/issue/{KEY}", 204),
    ]
    assert len(bot_histories(sandbox, KEY)) == before + 1  # the repeat changed nothing


def test_put_failing_every_time_is_tracker_unavailable(
    sandbox: JiraSandbox, make_writer: Callable[..., JiraWriter], kpi_field: str
) -> None:
    writer = make_writer(sandbox, max_retries=1)
    sandbox.inject("PUT", rf"/issue/{KEY}$", status=503, times=10)
    with pytest.raises(TrackerUnavailableError) as caught:
        writer.set_fields(KEY, {kpi_field: 2})
    assert str(caught.value) == (
        f"Jira kept answering HTTP 503 while trying to write field {kpi_field!r} on ABC-1, "
        "after 1 retries: Service unavailable. Please try again later."
    )
    assert len(sandbox.writes) == 2


def test_deleted_issue_is_a_clear_error(
    sandbox: JiraSandbox, writer: JiraWriter, kpi_field: str
) -> None:
    sandbox.dataset.delete_issue(KEY)
    with pytest.raises(IssueNotFoundError) as caught:
        writer.set_fields(KEY, {kpi_field: 1})
    assert str(caught.value) == (
        "issue ABC-1 no longer exists in Jira, or pmo-bot@acme.example can no longer browse it "
        f"(HTTP 404), while trying to write field {kpi_field!r} on ABC-1: nothing was written; "
        "stop writing back to it"
    )
    with pytest.raises(IssueNotFoundError):
        writer.add_comment(KEY, f"{MARKER} KPIs", PROPERTY)
    with pytest.raises(IssueNotFoundError):
        writer.find_bot_comments(KEY, sandbox.account_id, MARKER)
    writer.delete_comment(KEY, "10000")  # gone with its issue: nothing to do
    assert [r.status for r in sandbox.writes] == [404, 404, 404]


# -- custom fields ----------------------------------------------------------------------------


def test_create_custom_field_as_admin(sandbox: JiraSandbox, writer: JiraWriter) -> None:
    field_id = writer.create_custom_field(FIELD, "number")
    created = sandbox.dataset.custom_field(field_id)
    assert created is not None
    assert (created.name, created.kind) == (FIELD, "number")
    (post,) = sandbox.writes
    assert (post.method, post.path, post.status) == ("POST", f"{API}/field", 201)
    assert post.body == {
        "name": FIELD,
        "type": "com.atlassian.jira.plugin.system.customfieldtypes:float",
        "searcherKey": "com.atlassian.jira.plugin.system.customfieldtypes:exactnumber",
        "description": "",
    }
    # A new field is on no screen: writing it needs an admin's step first.
    sandbox.reset_log()
    with pytest.raises(FieldNotOnScreenError, match=re.escape(f"'{FIELD}' ({field_id}) on")):
        writer.set_fields(KEY, {field_id: 1})
    assert calls(sandbox.requests) == [("PUT", f"{API}/issue/{KEY}", 400)]  # name known


def test_create_custom_field_without_admin_says_what_an_admin_must_do(
    make_writer: Callable[..., JiraWriter],
) -> None:
    with JiraSandbox(issues_per_project=5, admin=False) as sandbox:
        writer = make_writer(sandbox)
        with pytest.raises(PermissionDeniedError) as caught:
            writer.create_custom_field(FIELD, "number")
        assert str(caught.value) == (
            "pmo-bot@acme.example may not create custom fields (HTTP 403: it needs the "
            "Administer Jira global permission). Ask a Jira admin to create it by hand: "
            "Jira settings > Issues > Custom fields > Create custom field > Number Field > "
            f"name '{FIELD}' > on the screens step, tick the edit screens of the projects "
            "pmo-sync writes to > Update. Then put the name (or its id, customfield_NNNNN) in "
            "the pmo-sync config."
        )
        assert caught.value.status_code == 403
        assert sandbox.dataset.custom_fields == []
        assert calls(sandbox.writes) == [("POST", f"{API}/field", 403)]


def test_create_custom_field_500_is_not_retried(sandbox: JiraSandbox, writer: JiraWriter) -> None:
    sandbox.inject("POST", r"/field$", status=500, applied=True)
    with pytest.raises(WriteOutcomeUnknownError, match=r"call field_ids\(\['Cycle time"):
        writer.create_custom_field(FIELD, "number")
    assert calls(sandbox.writes) == [("POST", f"{API}/field", 500)]
    assert writer.field_ids([FIELD]) == {FIELD: sandbox.dataset.custom_fields[0].id}


# -- comments ---------------------------------------------------------------------------------


def test_add_update_delete_the_bot_comment(sandbox: JiraSandbox, writer: JiraWriter) -> None:
    comment_id = writer.add_comment(KEY, f"{MARKER} Cycle time: 4 days", PROPERTY)

    (comment,) = sandbox.dataset.comments(KEY)
    assert comment.id == comment_id
    assert comment.author == sandbox.api_user
    assert comment.body == f"{MARKER} Cycle time: 4 days"
    assert comment.properties == {"pmo-sync": {"managed": True, "version": 1}}
    post, prop = sandbox.writes
    assert (post.method, post.path, post.status) == ("POST", f"{API}/issue/{KEY}/comment", 201)
    assert post.body == {"body": f"{MARKER} Cycle time: 4 days"}
    assert (prop.method, prop.path, prop.status) == (
        "PUT",
        f"{API}/comment/{comment_id}/properties/pmo-sync",
        201,
    )
    assert prop.body == {"managed": True, "version": 1}
    sandbox.reset_log()

    writer.update_comment(KEY, comment_id, f"{MARKER} Cycle time: 5 days")

    (comment,) = sandbox.dataset.comments(KEY)
    assert (comment.id, comment.body) == (comment_id, f"{MARKER} Cycle time: 5 days")
    assert comment.properties == {"pmo-sync": {"managed": True, "version": 1}}
    (put,) = sandbox.requests  # built from ids: no GET before, no reload after
    assert (put.method, put.path, put.status) == (
        "PUT",
        f"{API}/issue/{KEY}/comment/{comment_id}",
        200,
    )
    assert put.query == {"notifyUsers": ["false"]}
    assert put.body == {"body": f"{MARKER} Cycle time: 5 days"}
    sandbox.reset_log()

    writer.delete_comment(KEY, comment_id)
    writer.delete_comment(KEY, comment_id)  # already gone: not an error

    assert sandbox.dataset.comments(KEY) == []
    assert calls(sandbox.requests) == [
        ("DELETE", f"{API}/issue/{KEY}/comment/{comment_id}", 204),
        ("DELETE", f"{API}/issue/{KEY}/comment/{comment_id}", 404),
    ]


def test_update_of_a_deleted_comment_says_the_id_is_stale(
    sandbox: JiraSandbox, writer: JiraWriter
) -> None:
    comment_id = writer.add_comment(KEY, f"{MARKER} v1", PROPERTY)
    sandbox.dataset.delete_comment(comment_id)
    with pytest.raises(CommentNotFoundError, match=rf"comment {comment_id} on ABC-1 no longer"):
        writer.update_comment(KEY, comment_id, f"{MARKER} v2")
    assert sandbox.dataset.comments(KEY) == []


def test_find_bot_comments_ignores_humans_and_unmarked_comments(
    sandbox: JiraSandbox, writer: JiraWriter
) -> None:
    human = sandbox.dataset.teams["ABC"][0]
    sandbox.dataset.comment_as(KEY, human, f"Why does {MARKER} say 4 days?")
    sandbox.dataset.add_comment(KEY, "A bot note without the marker", author=sandbox.api_user)
    comment_id = writer.add_comment(KEY, f"{MARKER} Cycle time: 4 days", PROPERTY)
    sandbox.reset_log()

    found = writer.find_bot_comments(KEY, sandbox.account_id, MARKER)

    assert found == [(comment_id, f"{MARKER} Cycle time: 4 days")]
    assert calls(sandbox.requests) == [("GET", f"{API}/issue/{KEY}/comment", 200)]
    assert sandbox.requests[0].query == {"startAt": ["0"], "maxResults": ["100"]}


def test_find_bot_comments_reads_every_page(sandbox: JiraSandbox, writer: JiraWriter) -> None:
    for n in range(150):
        sandbox.dataset.add_comment(KEY, f"note {n}")
    sandbox.dataset.add_comment(KEY, f"{MARKER} late", author=sandbox.api_user)
    found = writer.find_bot_comments(KEY, sandbox.account_id, MARKER)
    assert [body for _, body in found] == [f"{MARKER} late"]
    assert [r.query["startAt"] for r in sandbox.requests] == [["0"], ["100"]]


def test_500_on_add_comment_is_not_retried_and_find_shows_it_was_created(
    sandbox: JiraSandbox, writer: JiraWriter
) -> None:
    sandbox.inject("POST", rf"/issue/{KEY}/comment$", status=500, applied=True)

    with pytest.raises(WriteOutcomeUnknownError) as caught:
        writer.add_comment(KEY, f"{MARKER} Cycle time: 4 days", PROPERTY)

    assert isinstance(caught.value, TrackerUnavailableError)
    assert str(caught.value) == (
        "Jira answered HTTP 500 while trying to add the pmo-sync comment on ABC-1. "
        "Not retried: Jira may have done it before failing to answer; call find_bot_comments "
        "before adding it again."
    )
    assert calls(sandbox.writes) == [("POST", f"{API}/issue/{KEY}/comment", 500)]
    (comment,) = sandbox.dataset.comments(KEY)  # the lost answer hid a created comment
    assert comment.properties == {}  # the property call never happened
    found = writer.find_bot_comments(KEY, sandbox.account_id, MARKER)
    assert found == [(comment.id, f"{MARKER} Cycle time: 4 days")]
    writer.set_comment_property(comment.id, PROPERTY["key"], PROPERTY["value"])  # repair
    assert sandbox.dataset.comment(comment.id).properties == {"pmo-sync": PROPERTY["value"]}


def test_500_on_add_comment_before_it_was_stored_leaves_nothing(
    sandbox: JiraSandbox, writer: JiraWriter
) -> None:
    sandbox.inject("POST", rf"/issue/{KEY}/comment$", status=502)
    with pytest.raises(WriteOutcomeUnknownError, match="HTTP 502"):
        writer.add_comment(KEY, f"{MARKER} KPIs", PROPERTY)
    assert writer.find_bot_comments(KEY, sandbox.account_id, MARKER) == []
    assert len(sandbox.writes) == 1


def test_429_on_add_comment_is_retried_because_jira_did_not_process_it(
    sandbox: JiraSandbox, writer: JiraWriter
) -> None:
    sandbox.inject("POST", rf"/issue/{KEY}/comment$", status=429, headers={"Retry-After": "0"})
    comment_id = writer.add_comment(KEY, f"{MARKER} KPIs", PROPERTY)
    assert [c.id for c in sandbox.dataset.comments(KEY)] == [comment_id]
    assert [r.status for r in sandbox.writes] == [429, 201, 201]


def test_500_on_the_property_put_is_retried(sandbox: JiraSandbox, writer: JiraWriter) -> None:
    sandbox.inject("PUT", r"/comment/\d+/properties/", status=503)
    comment_id = writer.add_comment(KEY, f"{MARKER} KPIs", PROPERTY)
    assert sandbox.dataset.comment(comment_id).properties == {"pmo-sync": PROPERTY["value"]}
    assert [r.status for r in sandbox.writes] == [201, 503, 201]


def test_reads_still_retry_5xx(sandbox: JiraSandbox, writer: JiraWriter) -> None:
    sandbox.inject("GET", rf"/issue/{KEY}/comment$", status=500)
    assert writer.find_bot_comments(KEY, sandbox.account_id, MARKER) == []
    assert [r.status for r in sandbox.requests] == [500, 200]


# -- transport failures -----------------------------------------------------------------------


@contextmanager
def silent_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads each request and never answers: every call times out."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        connections = []
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(1)
            with suppress(OSError):
                received.append(conn.recv(65536))
            connections.append(conn)
        for conn in connections:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


def test_timeout_on_post_is_not_retried_but_on_put_is(
    sandbox: JiraSandbox, make_writer: Callable[..., JiraWriter]
) -> None:
    with silent_server() as (url, received):
        writer = make_writer(sandbox, url=url, timeout_seconds=0.2, max_retries=1)
        with pytest.raises(WriteOutcomeUnknownError) as caught:
            writer.add_comment(KEY, f"{MARKER} KPIs", PROPERTY)
        assert str(caught.value) == (
            "the answer was lost (ReadTimeout) while trying to add the pmo-sync comment on "
            "ABC-1. Not retried: Jira may have done it; call find_bot_comments before adding "
            "it again."
        )
        assert [r.split(b" ", 2)[:2] for r in received] == [
            [b"POST", f"{API}/issue/{KEY}/comment".encode()]
        ]
        # A PUT is retried on a timeout, then reported as the tracker not answering in time.
        with pytest.raises(TrackerUnavailableError) as slow:
            writer.update_comment(KEY, "10000", f"{MARKER} v2")
        assert str(slow.value) == (
            f"Jira at {url} did not answer while trying to edit the pmo-sync comment 10000 on "
            "ABC-1 (timed out after 0.2 s; tried 2 times): try again later, or raise "
            "timeout_seconds if the tracker is only slow"
        )
        assert [r.split(b" ", 1)[0] for r in received] == [b"POST", b"PUT", b"PUT"]


def test_refused_connection_on_post_is_known_not_to_have_happened(
    sandbox: JiraSandbox, make_writer: Callable[..., JiraWriter]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        url = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
    writer = make_writer(sandbox, url=url, max_retries=0)  # nothing listens there any more
    with pytest.raises(TrackerUnavailableError) as caught:
        writer.add_comment(KEY, f"{MARKER} KPIs", PROPERTY)
    assert not isinstance(caught.value, WriteOutcomeUnknownError)
    assert str(caught.value) == (
        f"cannot reach Jira at {url} (connection refused): is the url right and the tracker up?"
    )
