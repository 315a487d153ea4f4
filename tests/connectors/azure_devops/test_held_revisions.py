"""Held revisions (the full sync's compact buffer) convert exactly as the revisions they stand for.

The stream holds every revision but an item's latest as a `HeldRevision`; conversion must give
the same bundle — changes, memberships, record and raw — as from the parsed revisions."""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

from connectors.azure_devops.convert import (
    AdoContext,
    HeldRevision,
    convert_revisions,
    hold_revision,
)

ESTIMATES = (
    "Microsoft.VSTS.Scheduling.StoryPoints",
    "Microsoft.VSTS.Scheduling.Effort",
    "Microsoft.VSTS.Scheduling.Size",
)
CTX = AdoContext(
    organization_url="https://dev.azure.com/contoso/",
    project="Fabrikam",
    state_categories={
        ("User Story", "New"): "Proposed",
        ("User Story", "Active"): "InProgress",
        ("User Story", "Closed"): "Completed",
        ("Bug", "Active"): "InProgress",
        ("Bug", "Closed"): "Completed",
    },
    iteration_ids={"Fabrikam\\Sprint 1": "it-1", "Fabrikam\\Sprint 2": "it-2"},
    team_of_area={"Fabrikam\\Web": "Web Team", "Fabrikam": "Fabrikam Team"},
    estimate_fields=ESTIMATES,
    bot="pmo-bot@contoso.example",
)
PEOPLE = (
    None,
    "",
    "Ana <ana@contoso.example>",
    "pmo-bot <pmo-bot@contoso.example>",
    {"uniqueName": "ben@contoso.example", "displayName": "Ben"},
)


def history(rng: random.Random, item_id: int) -> list[dict[str, Any]]:
    """A random history: every field conversion reads changes now and then, in any type."""
    fields: dict[str, Any] = {
        "System.Id": item_id,
        "System.WorkItemType": rng.choice(["User Story", "Bug"]),
        "System.TeamProject": "Fabrikam",
        "System.AreaPath": rng.choice(["Fabrikam\\Web", "Fabrikam", "Elsewhere"]),
        "System.CreatedDate": "2026-03-02T09:00:00.1234567Z",
        "System.Title": "Checkout",
        "System.Description": "<div>long</div>",
    }
    revisions = []
    for n in range(1, rng.randint(1, 9) + 1):
        fields = dict(fields)
        fields["System.Rev"] = n
        fields["System.ChangedDate"] = f"2026-03-{n + 2:02d}T10:00:0{rng.randint(0, 9)}Z"
        fields["System.ChangedBy"] = rng.choice(PEOPLE)
        for name, choices in (
            ("System.State", [None, "New", "Active", "Closed", "Odd"]),
            ("System.IterationPath", [None, "Fabrikam", *CTX.iteration_ids]),
            ("System.AssignedTo", PEOPLE),
            ("System.Tags", [None, "", "web", "Blocked; web", " blocked "]),
            ("Microsoft.VSTS.CMMI.Blocked", [None, "Yes", "No", True, 1]),
            (ESTIMATES[0], [None, "", 3, 3.0, "5", "x", True]),
            (ESTIMATES[1], [None, 8, 2.5]),
            ("Microsoft.VSTS.Scheduling.StartDate", [None, "2026-04-01T00:00:00Z", "soon"]),
            ("Microsoft.VSTS.Scheduling.FinishDate", [None, "2026-04-10T00:00:00Z",
                                                      "2026-04-10T03:00:00Z",
                                                      "2026-04-24T23:00:00Z"]),
            ("Microsoft.VSTS.Scheduling.TargetDate", [None, "", "2026-05-01T00:00:00Z"]),
            ("Microsoft.VSTS.Common.StackRank", [None, 5, 0.5, "x"]),
        ):  # fmt: skip
            if rng.random() < 0.4:
                value = rng.choice(choices)
                if value is None and rng.random() < 0.5:
                    fields.pop(name, None)  # missing and None read the same
                else:
                    fields[name] = value
        revisions.append({"id": item_id, "rev": n, "fields": fields})
    return revisions


def held(revisions: list[dict[str, Any]]) -> list[HeldRevision | dict[str, Any]]:
    """As the stream holds them: all but the latest compact, each lent its predecessor's."""
    out: list[HeldRevision | dict[str, Any]] = []
    previous = None
    for r in revisions[:-1]:
        previous = hold_revision(r["rev"], r["fields"], ESTIMATES, previous)
        out.append(previous)
    return [*out, revisions[-1]]


@pytest.mark.parametrize("seed", range(300))
def test_held_revisions_convert_to_the_same_bundle(seed: int) -> None:
    rng = random.Random(seed)
    revisions = history(rng, 100 + seed)
    compact = held(revisions)
    if rng.random() < 0.5:
        compact.reverse()  # any order, as the parsed ones
    assert convert_revisions(compact, CTX) == convert_revisions(revisions, CTX)


def test_a_held_revision_keeps_only_what_conversion_reads() -> None:
    revisions = history(random.Random(1), 7)
    first = hold_revision(1, revisions[0]["fields"], ESTIMATES)
    assert len(first) == 1 + 8 + 3 + len(ESTIMATES)  # 3 scheduling dates
    assert "<div>long</div>" not in first and "Checkout" not in first
    second = hold_revision(2, dict(revisions[0]["fields"]), ESTIMATES, first)
    assert all(a is b for a, b in zip(first[1:], second[1:], strict=True))  # lent, not copied


def test_repeating_texts_are_interned_and_equal_values_of_another_type_are_not_lent() -> None:
    state = "".join(["Act", "ive"])  # a fresh string, as parsed JSON gives
    one = hold_revision(1, {"System.State": state, "Microsoft.VSTS.CMMI.Blocked": 1}, ESTIMATES)
    assert one[4] is sys.intern("Active")
    two = hold_revision(2, {"Microsoft.VSTS.CMMI.Blocked": True}, ESTIMATES, one)
    assert two[8] is True  # 1 == True, but str() of them differs: never lent across types


def test_the_latest_revision_must_be_whole() -> None:
    revisions = history(random.Random(3), 9)
    latest = revisions[-1]
    compact = hold_revision(latest["rev"] + 1, latest["fields"], ESTIMATES)
    with pytest.raises(ValueError, match="held"):
        convert_revisions([latest, compact], CTX)
