"""Azure DevOps releases by a team's convention (connectors/azure_devops/releases.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from pydantic import ValidationError

from connectors.azure_devops.convert import convert_revisions
from connectors.azure_devops.releases import AdoReleases, release_names, release_record
from pmo_sync.domain import ReleaseRecord

from .test_convert import CTX, rev

BY_PATH = AdoReleases(iteration="Release {name}")
BY_TAG = AdoReleases.model_validate(
    {"tag": "release-{name}", "dates": {"2027.1": {"planned": "2027-03-31"},
                                        "2026.4": {"planned": "2026-12-01",
                                                   "released": "2026-12-04"}}}
)  # fmt: skip


def test_the_deepest_iteration_level_the_pattern_names_is_the_release() -> None:
    def named(path: str) -> tuple[str, ...]:
        return release_names({"System.IterationPath": path}, BY_PATH)

    assert named("Fabrikam\\Release 2027.1\\Sprint 3") == ("2027.1",)
    assert named("Fabrikam\\release 2026.4") == ("2026.4",)  # any case
    assert named("Fabrikam\\Release A\\Release B\\Sprint 1") == ("B",)
    assert named("Fabrikam\\Sprint 3") == named("Fabrikam") == named("") == ()
    assert named("Fabrikam\\Pre-Release 2\\Sprint 1") == ()  # the whole level must match


def test_every_tag_the_pattern_names_is_a_release_once() -> None:
    fields = {"System.Tags": "web; release-2027.1; Release-2026.4; release-2027.1; released"}
    assert release_names(fields, BY_TAG) == ("2027.1", "2026.4")
    assert release_names({}, BY_TAG) == ()


def test_a_converted_item_is_in_the_releases_its_fields_name_by_folded_name() -> None:
    fields = {"System.Tags": "Release-2027.1; release-2026.4; web"}
    item = convert_revisions([rev(1, "2026-03-02T09:00:00Z", **fields)], CTX).item
    assert item.release_ids == ()  # no convention configured: no release
    ctx = replace(CTX, releases=BY_TAG)
    item = convert_revisions([rev(1, "2026-03-02T09:00:00Z", **fields)], ctx).item
    assert item.release_ids == ("2026.4", "2027.1")
    assert item.labels == ("Release-2027.1", "release-2026.4", "web")  # tags stay labels


def test_a_release_is_dated_by_the_config_and_released_once_its_day_has_come() -> None:
    today = date(2026, 12, 7)
    # 2026.4: planned 1 Dec, released 4 Dec (3 days late): the release date is the ship day,
    # the plan stays beside it; 2027.1: planned only; X: the config dates it not at all.
    assert [release_record(n, BY_TAG, "Fabrikam", today) for n in ("2026.4", "2027.1", "X")] == [
        ReleaseRecord("2026.4", "2026.4", "Fabrikam", None, date(2026, 12, 4), True, False,
                      planned_date=date(2026, 12, 1)),
        ReleaseRecord("2027.1", "2027.1", "Fabrikam", None, date(2027, 3, 31), False, False,
                      planned_date=date(2027, 3, 31)),
        ReleaseRecord("x", "X", "Fabrikam", None, None, False, False),  # a version without a date
    ]  # fmt: skip
    early = release_record("2026.4", BY_TAG, "Fabrikam", date(2026, 12, 3))
    assert (early.release_date, early.released, early.planned_date) == (
        date(2026, 12, 4), False, date(2026, 12, 1),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"iteration": "Release"}, "holds {name} once"),
        ({"tag": "{name}-{name}"}, "holds {name} once"),
        ({"tag": "{name}"}, "needs text around {name}"),
        ({}, "give `iteration` or `tag`"),
        ({"iteration": "R {name}", "tag": "r-{name}"}, "give `iteration` or `tag`"),
        ({"tag": "r-{name}", "dates": {"1": {"planed": "2027-01-01"}}}, "planed"),
    ],
)
def test_a_convention_that_cannot_name_a_release_is_refused(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AdoReleases.model_validate(data)
