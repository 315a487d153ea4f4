"""The portfolio facts an Azure DevOps work item gains: level, dates and their history,
priority, rank (connectors/azure_devops/portfolio.py through `convert_revisions`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from structlog.testing import capture_logs

from connectors.azure_devops.convert import convert_revisions, hold_revision
from connectors.azure_devops.portfolio import day_of, level_of, priority_of, scheduled_days
from pmo_sync.domain import ChangeField, ItemChange

from ...api_samples import api_sample
from .test_convert import CTX, rev

START = "Microsoft.VSTS.Scheduling.StartDate"
FINISH = "Microsoft.VSTS.Scheduling.FinishDate"
TARGET = "Microsoft.VSTS.Scheduling.TargetDate"
PRIORITY = "Microsoft.VSTS.Common.Priority"
STACK = "Microsoft.VSTS.Common.StackRank"
BACKLOG = "Microsoft.VSTS.Common.BacklogPriority"
ANA = "ana@contoso.example"


def _slipping() -> list[dict]:
    """Created with a finish of 10 April (a Project schedule's); rev 2 promises 24 April in
    Target Date and sets a start (picked in Berlin: 23:00 UTC the day before); rev 3
    re-saves the target day at another hour (no change) and raises the priority."""
    return [
        rev(1, "2026-03-02T09:00:00.123Z", **{FINISH: "2026-04-10T00:00:00Z", PRIORITY: 2,
                                               STACK: 1000.5}),
        rev(2, "2026-03-04T10:00:00Z", **{FINISH: "2026-04-10T00:00:00Z", PRIORITY: 2,
                                          STACK: 1000.5, START: "2026-03-05T23:00:00Z",
                                          TARGET: "2026-04-24T00:00:00Z"}),
        rev(3, "2026-03-06T11:00:00Z", **{FINISH: "2026-04-10T00:00:00Z", PRIORITY: 1,
                                          STACK: 1000.5, START: "2026-03-05T23:00:00Z",
                                          TARGET: "2026-04-24T04:00:00Z"}),
    ]  # fmt: skip


def _date_change(n: int, kind: ChangeField, frm: str | None, to: str | None) -> ItemChange:
    at = {2: datetime(2026, 3, 4, 10, tzinfo=UTC), 3: datetime(2026, 3, 6, 11, tzinfo=UTC)}[n]
    return ItemChange("42", f"{n}:{kind.value}", kind, at, frm, to, None, None, ANA)


def test_the_latest_revision_gives_level_dates_priority_and_rank() -> None:
    item = convert_revisions(_slipping(), CTX).item
    assert (item.level, item.start_date, item.due_date, item.target_start, item.target_end) == (
        "story", date(2026, 3, 6), date(2026, 4, 24), None, date(2026, 4, 24),
    )  # fmt: skip
    assert (item.priority, item.rank) == ("1", "c1000410005")  # 1000.5 = 0.10005 * 10^4


def test_each_date_change_is_a_change_and_a_new_hour_on_the_same_day_is_none() -> None:
    bundle = convert_revisions(_slipping(), CTX)
    dates = [c for c in bundle.changes if c.field in (ChangeField.START_DATE,
                                                       ChangeField.DUE_DATE,
                                                       ChangeField.TARGET_END)]  # fmt: skip
    assert dates == [
        _date_change(2, ChangeField.START_DATE, None, "2026-03-06"),
        _date_change(2, ChangeField.DUE_DATE, "2026-04-10", "2026-04-24"),
        _date_change(2, ChangeField.TARGET_END, None, "2026-04-24"),
    ]
    assert [c.field for c in bundle.changes] == [c.field for c in dates]  # nothing else moved


def test_the_due_date_is_the_target_date_else_the_finish_date() -> None:
    """A PMO promises an epic's date in Target Date: it is the due date, whatever Finish Date
    (Microsoft Project's schedule) says; a Finish Date moving under it is no slip. With the
    Target Date cleared, the due date is the Finish Date again: that is a change."""
    revs = [
        rev(1, "2026-03-02T09:00:00Z", **{TARGET: "2026-05-01T00:00:00Z",
                                          FINISH: "2026-04-10T00:00:00Z"}),
        rev(2, "2026-03-04T10:00:00Z", **{TARGET: "2026-05-01T00:00:00Z",
                                          FINISH: "2026-04-17T00:00:00Z"}),
        rev(3, "2026-03-06T11:00:00Z", **{FINISH: "2026-04-17T00:00:00Z"}),
    ]  # fmt: skip
    promised = convert_revisions(revs[:2], CTX)
    assert (promised.item.due_date, promised.item.target_end) == (date(2026, 5, 1),) * 2
    assert promised.changes == []
    cleared = convert_revisions(revs, CTX)
    assert (cleared.item.due_date, cleared.item.target_end) == (date(2026, 4, 17), None)
    assert cleared.changes == [
        _date_change(3, ChangeField.DUE_DATE, "2026-05-01", "2026-04-17"),
        _date_change(3, ChangeField.TARGET_END, "2026-05-01", None),
    ]
    assert scheduled_days({FINISH: "2026-04-10T00:00:00Z", TARGET: "soon"}) == {
        ChangeField.START_DATE: None,
        ChangeField.DUE_DATE: date(2026, 4, 10),  # an unreadable target is no target
        ChangeField.TARGET_END: None,
    }


def test_held_revisions_keep_the_dates_their_history_needs() -> None:
    """The full sync holds every revision but the latest as a `HeldRevision`: same history."""
    revs = _slipping()
    held = [hold_revision(r["rev"], r["fields"], CTX.estimate_fields) for r in revs[:-1]]
    assert convert_revisions([*held, revs[-1]], CTX) == convert_revisions(revs, CTX)


def test_the_official_sample_ranks_by_backlog_priority() -> None:
    """The Scrum sample's item 1 gets Backlog Priority 1000000000 (0.1 * 10^10) at rev 2."""
    sample = api_sample("azure-devops", "reporting-workitemrevisions.GET.example.json")
    values = sample["responses"]["200"]["body"]["values"]
    item = convert_revisions([v for v in values if v["id"] == 1], CTX).item
    assert (item.rank, item.level, item.priority, item.due_date) == ("c100101", "story", None, None)


def test_stack_rank_comes_before_backlog_priority_and_ranks_sort_in_backlog_order() -> None:
    def ranked(**fields: object) -> str | None:
        return convert_revisions([rev(1, "2026-03-02T09:00:00Z", **fields)], CTX).item.rank

    assert ranked(**{STACK: 5, BACKLOG: 1}) == ranked(**{STACK: 5}) == "c100015"
    order = [ranked(**{BACKLOG: v}) for v in (-3.5, 0, 0.25, 7, 1999999999)]
    assert order == sorted(order)  # type: ignore[type-var]
    assert ranked() is None


def test_bad_dates_and_ranks_are_logged_and_unknown_never_an_error() -> None:
    revs = [
        rev(1, "2026-03-02T09:00:00Z", **{FINISH: "2026-04-10T00:00:00Z"}),
        rev(2, "2026-03-04T10:00:00Z", **{FINISH: "next week", START: "2026-13-45", STACK: "x"}),
    ]
    with capture_logs() as logs:
        bundle = convert_revisions(revs, CTX)
    item = bundle.item
    assert (item.due_date, item.start_date, item.rank) == (None, None, None)
    assert bundle.changes == [_date_change(2, ChangeField.DUE_DATE, "2026-04-10", None)]
    assert sorted((e["event"], e.get("field")) for e in logs) == [
        ("ado_date_unreadable", FINISH),
        ("ado_date_unreadable", START),
        ("ado_rank_unreadable", STACK),
    ]
    for bad in (float("nan"), True):
        with capture_logs() as logs:
            item = convert_revisions([rev(1, "2026-03-02T09:00:00Z", **{STACK: bad})], CTX).item
        assert item.rank is None and [e["event"] for e in logs] == ["ado_rank_unreadable"]


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-02-28T23:00:00Z", date(2026, 3, 1)),  # picked in Berlin (UTC+1)
        ("2026-03-01T05:00:00Z", date(2026, 3, 1)),  # in New York (UTC-5)
        ("2026-03-01T12:00:00Z", date(2026, 3, 1)),  # UTC-12: noon is still the day
        ("2026-03-01T12:00:01Z", date(2026, 3, 2)),
        ("2026-03-01T00:00:00.1234567Z", date(2026, 3, 1)),  # seven fraction digits
        ("2026-03-01", date(2026, 3, 1)),
        ("2026-03-01T01:00:00+02:00", date(2026, 3, 1)),  # 23:00 UTC the day before
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_a_scheduling_datetime_is_the_day_picked(value: str | None, day: date | None) -> None:
    assert day_of(value) == day


def test_levels_follow_the_backlog_levels_and_the_config_names_others() -> None:
    assert [
        level_of(t, {})
        for t in ("Epic", "Feature", "User Story", "Product Backlog Item", "Requirement",
                  "Issue", "Bug", "Task", "Impediment")
    ] == ["epic", "feature", "story", "story", "story", "story", "story", "task", None]  # fmt: skip
    levels = {"initiative": "Initiative", "BUG": "task"}
    assert [level_of(t, levels) for t in ("Initiative", "Bug", "Epic")] == [
        "initiative", "task", "epic",
    ]  # fmt: skip
    ctx = replace(CTX, levels={"User Story": "feature"})
    assert convert_revisions([rev(1, "2026-03-02T09:00:00Z")], ctx).item.level == "feature"


def test_priority_is_the_number_as_text() -> None:
    assert [priority_of(v) for v in (2, 2.0, 2.5, "3", None, "", True)] == [
        "2", "2", "2.5", "3", None, None, None,
    ]  # fmt: skip


def test_an_item_its_own_parent_has_none_logged_and_a_parent_stays_its_key() -> None:
    with capture_logs() as logs:
        own = convert_revisions([rev(1, "2026-03-02T09:00:00Z", **{"System.Parent": 42})], CTX)
    assert own.item.parent_key is None
    assert [(e["event"], e["item"]) for e in logs] == [("ado_item_its_own_parent", "42")]
    other = convert_revisions([rev(1, "2026-03-02T09:00:00Z", **{"System.Parent": 7})], CTX)
    assert other.item.parent_key == "7"
