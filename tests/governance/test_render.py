"""A finding's card: what a person reads to find the item and know what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pmo_sync.common.naturalsort import natural_key
from pmo_sync.governance.render import finding_card
from pmo_sync.store.findings import StoredFinding

T1 = datetime(2026, 11, 20, 12, tzinfo=UTC)
T2 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def stored(**overrides: object) -> StoredFinding:
    values: dict[str, object] = {
        "identity": "x",
        "rule_id": "portfolio-alignment",
        "rule": "missing_parent_epic",
        "severity": "warning",
        "mode": "enforced",
        "scope": "item",
        "scope_key": "ACME-101",
        "team": "Team Alpha",
        "source": "acme-jira",
        "message": "ACME-101 is in progress with no parent epic",
        "details": {},
        "first_seen": T1,
        "last_seen": T2,
        "resolved_at": T2,
        "title": "Checkout shows the totals before the shipping cost is known to the customer",
        "url": "https://acme.atlassian.net/browse/ACME-101",
    }
    values.update(overrides)
    return StoredFinding(**values)  # type: ignore[arg-type]


def test_a_card_names_the_item_wraps_at_the_width_and_never_breaks_the_link() -> None:
    assert finding_card(stored(), 60) == [
        "warning, required, resolved 2026-11-23 · portfolio-alignment",
        "  · since 2026-11-20",
        "  ACME-101 · Checkout shows the totals before the shipping",
        "    cost is known to the customer · acme-jira",
        "  ACME-101 is in progress with no parent epic",
        "  https://acme.atlassian.net/browse/ACME-101",
    ]
    narrow = finding_card(stored(url="https://acme.atlassian.net/browse/" + "X" * 60), 40)
    assert narrow[-1] == "  https://acme.atlassian.net/browse/" + "X" * 60


def test_a_sprint_finding_is_named_by_its_sprint() -> None:
    card = finding_card(
        stored(scope="sprint", scope_key="ABC Sprint 14", source=None, title=None, url=None,
               mode="advisory", resolved_at=None,
               message="ABC Sprint 14 gained 30% scope after it started"),
        80,
    )  # fmt: skip
    assert card == [
        "warning · portfolio-alignment · since 2026-11-20",
        "  ABC Sprint 14",
        "  ABC Sprint 14 gained 30% scope after it started",
    ]


@pytest.mark.parametrize(
    ("keys", "ordered"),
    [
        (["ACME-101", "ACME-41", "ACME-9"], ["ACME-9", "ACME-41", "ACME-101"]),
        (["BETA-1", "acme-10", "ACME-9"], ["ACME-9", "acme-10", "BETA-1"]),
        (["1001", "99", "100"], ["99", "100", "1001"]),  # Azure DevOps ids
        (["Sprint 10", "Sprint 9", "Sprint 10a"], ["Sprint 9", "Sprint 10", "Sprint 10a"]),
        (["7", "A-1"], ["A-1", "7"]),  # text before numbers at the same place, never a TypeError
    ],
)
def test_natural_order_counts_the_numbers(keys: list[str], ordered: list[str]) -> None:
    assert sorted(keys, key=natural_key) == ordered
