"""JQL building: scope, project keys and the time-zone-aware lower bound."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.jira.streams import jql_since, jql_since_instant, project_keys_in, scope_jql


def test_jql_since_is_in_the_api_users_zone_and_floored_to_the_minute() -> None:
    """03:45:59 UTC on 21 Nov is 22:45 on 20 Nov in New York (EST, UTC-5)."""
    moment = datetime(2026, 11, 21, 3, 45, 59, tzinfo=UTC)
    assert jql_since(moment, "America/New_York") == "2026/11/20 22:45"
    assert jql_since(moment, "Australia/Sydney") == "2026/11/21 14:45"
    assert jql_since(moment, "UTC") == "2026/11/21 03:45"


def test_jql_since_steps_back_an_hour_when_the_local_time_is_ambiguous() -> None:
    """05:30 UTC on 1 Nov 2026 is 01:30 EDT, an hour New York lives twice: ask from 00:30."""
    moment = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert jql_since(moment, "America/New_York") == "2026/11/01 00:30"


def test_jql_since_needs_no_step_back_just_after_the_spring_gap() -> None:
    """07:30 UTC on 8 Mar 2026 is 03:30 EDT: unambiguous, though 02:00-03:00 did not exist."""
    moment = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert jql_since(moment, "America/New_York") == "2026/03/08 03:30"


def test_scope_jql_drops_order_by() -> None:
    assert scope_jql("project in (ABC, DEF) ORDER BY rank ASC") == "project in (ABC, DEF)"
    assert scope_jql("  project = ABC  ") == "project = ABC"


def test_project_keys_in_finds_every_form() -> None:
    assert project_keys_in("project in (ABC, DEF)") == ["ABC", "DEF"]
    assert project_keys_in('project = "GHI" AND labels = x') == ["GHI"]
    assert project_keys_in("PROJECT IN (abc,Def) OR project = abc") == ["abc", "Def"]
    assert project_keys_in("filter = 10042") == []


def test_jql_since_instant_is_where_the_search_really_starts() -> None:
    """22:45 New York on 20 Nov = 03:45 UTC on 21 Nov: the seconds after it are re-read."""
    moment = datetime(2026, 11, 21, 3, 45, 59, tzinfo=UTC)
    assert jql_since_instant(moment, "America/New_York") == datetime(
        2026, 11, 21, 3, 45, tzinfo=UTC
    )
    ambiguous = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, stepped back to 00:30
    assert jql_since_instant(ambiguous, "America/New_York") == datetime(
        2026, 11, 1, 4, 30, tzinfo=UTC
    )
