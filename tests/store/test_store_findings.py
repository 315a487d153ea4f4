"""Findings across runs: opened, seen again, resolved, reopened — on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Engine

from pmo_sync.domain import Census
from pmo_sync.governance.model import Finding
from pmo_sync.store.findings import read_findings, save_findings
from pmo_sync.store.repository import Store

from .records import make_bundle

T1, T2, T3 = (datetime(2026, 11, d, 12, tzinfo=UTC) for d in (20, 21, 22))


def finding(key: str, message: str = "no estimate", severity: str = "warning") -> Finding:
    return Finding(
        rule_id="estimate-committed",
        rule="missing_estimate",
        severity=severity,  # type: ignore[arg-type]
        mode="advisory",
        scope="item",
        scope_key=key,
        team="Team Alpha",
        source="acme-jira",
        message=f"{key} has {message}",
        details={"points": 0},
        identity=f'["estimate-committed","item","acme-jira","{key}"]',
    )


def test_findings_open_stay_open_resolve_and_reopen(engine: Engine) -> None:
    changes = save_findings(engine, [finding("ABC-1"), finding("ABC-2")], T1)
    assert (changes.opened, changes.still_open, changes.resolved) == (2, 0, 0)

    changes = save_findings(engine, [finding("ABC-1", "still no estimate", "critical")], T2)
    assert (changes.opened, changes.still_open, changes.resolved) == (0, 1, 1)
    rows = {f.scope_key: f for f in read_findings(engine, include_resolved=True)}
    assert (rows["ABC-1"].first_seen, rows["ABC-1"].last_seen, rows["ABC-1"].resolved_at) == (
        T1,
        T2,
        None,
    )
    assert (rows["ABC-1"].message, rows["ABC-1"].severity) == (
        "ABC-1 has still no estimate",
        "critical",
    )
    assert (rows["ABC-2"].last_seen, rows["ABC-2"].resolved_at) == (T1, T2)
    assert [f.scope_key for f in read_findings(engine)] == ["ABC-1"]  # open only

    changes = save_findings(engine, [finding("ABC-1"), finding("ABC-2")], T3)
    assert (changes.opened, changes.still_open, changes.resolved) == (1, 1, 0)
    again = {f.scope_key: f for f in read_findings(engine)}
    assert (again["ABC-2"].first_seen, again["ABC-2"].resolved_at) == (T3, None)  # a new episode
    assert again["ABC-1"].first_seen == T1


def test_no_findings_resolve_everything_and_team_filter(engine: Engine) -> None:
    save_findings(engine, [finding("ABC-1")], T1)
    assert [f.scope_key for f in read_findings(engine, team="Team Alpha")] == ["ABC-1"]
    assert list(read_findings(engine, team="Team Beta")) == []
    changes = save_findings(engine, [], T2)
    assert changes.resolved == 1
    assert list(read_findings(engine)) == []


def test_findings_carry_the_items_title_and_url_in_natural_key_order(engine: Engine) -> None:
    """What a person needs to find the item (title, URL) comes from the synced items; keys
    sort as people count (PMO-9, PMO-41, PMO-101), not as strings (PMO-101, PMO-41, PMO-9)."""
    store = Store(engine)
    jira = store.ensure_source("acme-jira", "jira", "https://jira.example.com")
    store.load_items(jira, [make_bundle(n, title=f"Checkout step {n}") for n in ("9", "41")], T1)
    other = store.ensure_source("other-jira", "jira", "https://other.example.com")
    store.load_items(other, [make_bundle("101", title="Not this one")], T1)
    stored = [finding(f"PMO-{n}") for n in ("101", "41", "9")]
    save_findings(engine, stored, T1)
    rows = list(read_findings(engine))
    assert [(f.scope_key, f.title, f.url) for f in rows] == [
        ("PMO-9", "Checkout step 9", "https://jira.example.com/browse/PMO-9"),
        ("PMO-41", "Checkout step 41", "https://jira.example.com/browse/PMO-41"),
        ("PMO-101", None, None),  # acme-jira's findings: other-jira's PMO-101 is not the item
    ]
    assert [f.scope_key for f in read_findings(engine, source="acme-jira")] == [
        "PMO-9", "PMO-41", "PMO-101",
    ]  # fmt: skip
    assert list(read_findings(engine, source="other-jira")) == []
    # without details (what a page listing thousands reads): the same findings, details empty
    light = list(read_findings(engine, details=False))
    assert [replace(f, details={}) for f in rows] == light
    assert rows[0].details == {"points": 0} and light[0].details == {}


def test_only_an_item_finding_of_a_live_item_carries_its_title(engine: Engine) -> None:
    """A finding about an item since deleted has no title to show, and a team finding whose
    key happens to be an item's key (a team named like an item) is not that item's."""
    store = Store(engine)
    jira = store.ensure_source("acme-jira", "jira", "https://jira.example.com")
    store.load_items(jira, [make_bundle(n, title=f"Step {n}") for n in ("1", "2")], T1)
    store.apply_census(jira, Census(frozenset({"1"})), T1)  # PMO-2 is deleted
    team = replace(finding("PMO-1"), scope="team", identity='["wip","team","PMO-1"]')
    save_findings(engine, [finding("PMO-1"), finding("PMO-2"), team], T1)
    rows = [(f.scope, f.scope_key, f.title) for f in read_findings(engine)]
    assert rows == [("item", "PMO-1", "Step 1"), ("item", "PMO-2", None), ("team", "PMO-1", None)]
