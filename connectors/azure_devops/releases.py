"""Azure DevOps releases: named by a convention of the team, dated by the config. Pure.

Azure DevOps has no release object for work items. Teams name a release in the iteration
path (`Fabrikam\\Release 2027.1\\Sprint 3`) or in a tag (`release-2027.1`); the connector's
`releases` setting gives the pattern (`Release {name}`, `release-{name}`), matched ignoring
case, and the dates the tracker does not hold. The pattern's form is the one portfolio.yaml's
`releases.azure_devops` takes (`pmo_sync.portfolio.config.ReleasePattern`); the connector
layer sits below that module, so it reads its own copy from its own YAML.

A release's external id is its name folded to lower case, so `Release 2027.1` in a path
and `release-2027.1` as a tag of another item name one release.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pmo_sync.domain import ReleaseRecord

__all__ = ["AdoReleaseDates", "AdoReleases", "release_id", "release_names", "release_record"]

_PLACEHOLDER = "{name}"


class AdoReleaseDates(BaseModel):
    """A release's dates: planned, and released once it shipped."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    planned: date | None = None
    released: date | None = None


class AdoReleases(BaseModel):
    """`releases:` of the connector: `iteration` or `tag`, a pattern holding `{name}` once;
    `dates` maps a release name (any case) to its dates."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    iteration: str | None = None
    tag: str | None = None
    dates: dict[str, AdoReleaseDates] = Field(default_factory=dict)

    @field_validator("iteration", "tag")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.count(_PLACEHOLDER) != 1:
            raise ValueError("a release pattern holds {name} once, e.g. 'Release {name}'")
        if value.replace(_PLACEHOLDER, "").strip(" \\") == "":
            raise ValueError("a release pattern needs text around {name}, e.g. 'Release {name}'")
        return value

    @model_validator(mode="after")
    def _one_convention(self) -> AdoReleases:
        if (self.iteration is None) == (self.tag is None):
            raise ValueError("give `iteration` or `tag` (one convention names the releases)")
        return self

    def dates_of(self, name: str) -> AdoReleaseDates | None:
        wanted = name.casefold()
        return next((d for n, d in self.dates.items() if n.casefold() == wanted), None)


def _name_in(pattern: str, text: str) -> str | None:
    before, after = pattern.split(_PLACEHOLDER)
    found = re.fullmatch(f"{re.escape(before)}(.+?){re.escape(after)}", text.strip(), re.IGNORECASE)
    return (found.group(1).strip() or None) if found else None


def release_names(fields: Mapping[str, Any], convention: AdoReleases) -> tuple[str, ...]:
    """The releases an item's fields name: the deepest iteration path level the pattern
    matches (one release), or every tag it matches; in the item's own spelling."""
    if convention.iteration is not None:
        path = str(fields.get("System.IterationPath") or "")
        for level in reversed([part for part in path.split("\\") if part]):
            name = _name_in(convention.iteration, level)
            if name is not None:
                return (name,)
        return ()
    assert convention.tag is not None  # one of the two (validated)
    tags = [t for t in str(fields.get("System.Tags") or "").split(";") if t.strip()]
    named = (_name_in(convention.tag, t) for t in tags)
    return tuple(dict.fromkeys(n for n in named if n is not None))


def release_id(name: str) -> str:
    """A release's external id: its name, case folded (one release whatever the spelling)."""
    return name.casefold()


def release_record(name: str, convention: AdoReleases, project: str, today: date) -> ReleaseRecord:
    """The release a name stands for, dated by the config (undated when it names none):
    `release_date` the released day, else the planned one; `planned_date` the planned day
    whether or not it shipped, so a release's slip can be measured after it."""
    dates = convention.dates_of(name)
    planned = dates.planned if dates else None
    released = dates.released if dates else None
    return ReleaseRecord(
        external_id=release_id(name),
        name=name,
        project=project,
        start_date=None,
        release_date=released or planned,
        released=released is not None and released <= today,
        archived=False,
        planned_date=planned,
    )
