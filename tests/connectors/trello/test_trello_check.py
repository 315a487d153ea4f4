"""`pmo-sync connectors check` for Trello (`TrelloConnector.check()`), against the sandbox.

The sandbox's two boards, Team Alpha and Team Beta, have the usual lists plus an
unmapped "Blocked by vendor" and an archived "Ideas (old)", a "Story Points"
number field and a "Sprint" dropdown whose options are "Sprint <n>"; the
token's member is "PMO Bot" (@pmobot).
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import CheckReport, CheckResult
from connectors.trello import TrelloConnector
from pmo_sync.sandbox.trello import TrelloSandbox

from .conftest import config_for

CADENCE = {"sprint": "Sprint 18", "starts": "2026-11-16", "days": 14}
VENDOR_WARNING = (
    "no stage for 'Blocked by vendor': their cards count as in progress (status category "
    "'unmapped'); map them under list_stages (todo, in_progress or done)"
)


def check(sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> CheckReport:
    with TrelloConnector(config_for(sandbox, monkeypatch, **extra)) as connector:
        return connector.check()


def by_name(report: CheckReport) -> dict[str, CheckResult]:
    results = {r.name: r for r in report.results}
    assert len(results) == len(report.results)  # every check has a name of its own
    return results


def board_ids(sandbox: TrelloSandbox) -> tuple[str, str]:
    alpha, beta = (sandbox.dataset.board(n) for n in ("Team Alpha", "Team Beta"))
    return alpha.id, beta.id


def test_the_default_mapping_warns_of_the_vendor_list_and_the_undated_sprints(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = check(sandbox, monkeypatch)

    results = by_name(report)
    alpha, beta = board_ids(sandbox)
    assert list(results) == [
        "credentials",
        "boards",
        "lists of Team Alpha",
        "estimate on Team Alpha",
        "sprints on Team Alpha",
        "sprint dates on Team Alpha",
        "lists of Team Beta",
        "estimate on Team Beta",
        "sprints on Team Beta",
        "sprint dates on Team Beta",
    ]
    assert results["credentials"] == CheckResult(
        "credentials", True, "the token is PMO Bot's (@pmobot)", "error"
    )
    assert results["boards"] == CheckResult(
        "boards", True, f"Team Alpha ({alpha}), Team Beta ({beta})", "error"
    )
    for board in ("Team Alpha", "Team Beta"):
        lists = results[f"lists of {board}"]
        assert (lists.ok, lists.severity, lists.detail) == (False, "warning", VENDOR_WARNING)
        assert "Ideas (old)" not in lists.detail  # archived: not reported
        assert results[f"estimate on {board}"] == CheckResult(
            f"estimate on {board}", True, "custom field 'Story Points' (number)", "warning"
        )
        assert results[f"sprints on {board}"] == CheckResult(
            f"sprints on {board}", True, "custom field 'Sprint' (list)", "warning"
        )
        dates = results[f"sprint dates on {board}"]
        assert (dates.ok, dates.severity) == (False, "warning")
        assert dates.detail.startswith("no dates for 'Sprint ")
        assert dates.detail.endswith(
            ": add sprints.cadence or sprints.dates to the config (Trello keeps no sprint dates)"
        )
    assert report.ok  # warnings only


def test_the_archived_list_is_read_but_not_reported(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Ideas (old)" has no stage either; it is archived, so it is no warning."""
    alpha, _ = board_ids(sandbox)
    with TrelloConnector(config_for(sandbox, monkeypatch)) as connector:
        lists = connector.client.lists(alpha)
    assert [x["name"] for x in lists if x.get("closed")] == ["Ideas (old)"]

    report = check(sandbox, monkeypatch, list_stages={"Blocked by vendor": "in_progress"})

    results = by_name(report)
    for board in ("Team Alpha", "Team Beta"):
        lists = results[f"lists of {board}"]
        assert (lists.ok, lists.detail) == (True, "6 lists, each with a stage")


def test_a_mapped_vendor_list_and_a_cadence_leave_nothing_to_warn_of(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = check(
        sandbox,
        monkeypatch,
        list_stages={"blocked by VENDOR": "todo"},
        sprints={"cadence": CADENCE},
    )

    results = by_name(report)
    assert not [r for r in report.results if not r.ok]
    assert "sprint dates on Team Alpha" not in results
    assert "sprint dates on Team Beta" not in results
    assert results["lists of Team Beta"].detail == "6 lists, each with a stage"
    assert report.ok


def test_explicit_dates_for_some_sprints_leave_the_others_named(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = sandbox.dataset.board("Team Alpha")
    sprint_field = alpha.field_named("Sprint")
    assert sprint_field is not None
    names = [o.text for o in sprint_field.options]
    dated = {n: {"start": "2026-01-05", "end": "2026-01-18"} for n in names[:-1]}

    results = by_name(check(sandbox, monkeypatch, sprints={"dates": dated}))

    assert results["sprint dates on Team Alpha"].detail == (
        f"no dates for {names[-1]!r}: add sprints.cadence or sprints.dates to the config "
        "(Trello keeps no sprint dates)"
    )


def test_missing_estimate_and_sprint_fields_are_warnings(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = check(
        sandbox,
        monkeypatch,
        estimate={"name": "Effort"},
        sprints={"name": "Iteration"},
    )

    results = by_name(report)
    estimate, sprints = results["estimate on Team Alpha"], results["sprints on Team Beta"]
    assert (estimate.ok, estimate.severity) == (False, "warning")
    assert estimate.detail.startswith("no number or dropdown custom field 'Effort': cards will")
    assert (sprints.ok, sprints.severity) == (False, "warning")
    assert sprints.detail.startswith("no dropdown or text custom field 'Iteration'")
    assert "sprint dates on Team Alpha" not in results  # no dropdown, no sprint names
    assert report.ok


def test_label_and_title_sources_need_no_custom_field(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = by_name(
        check(sandbox, monkeypatch, estimate={"from": "title"}, sprints={"from": "label"})
    )
    assert not [n for n in results if n.startswith(("estimate on", "sprints on", "sprint dates"))]


def test_write_back_off_checks_no_write_back_field(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    writeback = {"enabled": False, "fields": {"cycle_time_days": "Cycle time (days)"}}
    results = by_name(check(sandbox, monkeypatch, writeback=writeback))
    assert not [n for n in results if n.startswith("write-back")]


def test_a_wrong_token_fails_the_credentials_check_and_nothing_else_is_called(
    fresh: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh.reset_log()

    report = check(fresh, monkeypatch, token="not-the-token")

    assert [r.name for r in report.results] == ["credentials"]
    (credentials,) = report.results
    assert (credentials.ok, credentials.severity) == (False, "error")
    assert credentials.detail.startswith("Trello rejected the token (HTTP 401")
    assert "check token" in credentials.detail
    assert "not-the-token" not in credentials.detail
    assert [(r.method, r.path, r.status) for r in fresh.requests] == [("GET", "/1/members/me", 401)]
    assert not report.ok


def test_an_unknown_board_fails_the_boards_check_listing_the_boards_the_token_sees(
    fresh: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh.reset_log()

    report = check(fresh, monkeypatch, boards=["Team Alpha", "Team Gamma"])

    assert [(r.name, r.ok) for r in report.results] == [("credentials", True), ("boards", False)]
    assert report.results[1].detail == (
        "no board 'Team Gamma' for the token's member (the boards it can see: 'Team Alpha', "
        "'Team Beta'): check `boards` in the config, or add the member to the board"
    )
    assert [(r.method, r.path) for r in fresh.requests] == [
        ("GET", "/1/members/me"),
        ("GET", "/1/members/me/boards"),
    ]  # no board is read when one is missing
    assert not report.ok


def test_a_priority_custom_field_the_boards_lack_is_a_warning(
    sandbox: TrelloSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = check(
        sandbox, monkeypatch, portfolio={"priority": {"from": "custom_field", "name": "Priority"}}
    )
    results = by_name(report)
    for board in ("Team Alpha", "Team Beta"):
        found = results[f"priority on {board}"]
        assert (found.ok, found.severity) == (False, "warning")
        assert found.detail == (
            "no dropdown or text custom field 'Priority': cards will have no priority; set "
            "portfolio.priority in the config (from: custom_field or label)"
        )
    assert report.ok
    labelled = by_name(
        check(sandbox, monkeypatch, portfolio={"priority": {"from": "label", "prefix": "P"}})
    )
    assert not [n for n in labelled if n.startswith("priority on")]
