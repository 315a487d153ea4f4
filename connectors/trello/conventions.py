"""The portfolio facts of a Trello card: its level, priority, dates, rank, dependencies, releases.

Trello has none of these as such (only a card's `start`, `due` and `pos`), so teams keep them by
conventions, configured under the connector file's `portfolio:` block (`PortfolioConventions`;
pmo-sync's portfolio.yaml is not read by the sync, and the connectors sit below it, so the
connector carries the Trello part of it itself, in the same shape):

- the **level**: a label naming one (`levels: {Epic: epic, Initiative: initiative}`); a card
  with none is a story. Its parent is the card whose link is attached to it (`parent_of`), at
  any depth: an epic linked to its initiative has that initiative as parent.
- the **priority**: `priority: {from: label, prefix: "Priority: "}` (the rest of the first
  such label) or `{from: custom_field, name: Priority}`; none configured: None.
- the **dependencies**: a card link attached under a name starting with
  `dependencies.attachment_prefix` ("Depends on" by default), or each card link in a checklist
  named `dependencies.checklist`, is a ``depends on`` link: this card waits on the linked
  card, so it is stored `inward` (the store's convention: `outward` blocks its target,
  `inward` waits on it), kept by the target's short link (its key), in scope or not. Only
  the waiting card holds the link; "what blocks X" finds it from either end.
- the **releases**: `releases.list` or `releases.label`, a pattern with one `{name}`
  (`Release {name}`): the card's list, or each of its labels, written so names a release;
  `releases.dates` dates releases by name (Trello keeps no dates for them).
- the **dates**: `start` and `due` as days in UTC (Trello keeps an instant).
- the **rank**: the list's `pos`, then the card's, each through `sortable_rank`, joined by a
  ``.`` (below every letter and digit): cards sort by list in board order, then by their
  place in the list, within one board.

Pure functions and models, no I/O; bad data is logged and read as unknown, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pmo_sync.common.rank import sortable_rank
from pmo_sync.domain import ItemLink, LinkDirection, ReleaseRecord

__all__ = [
    "DEPENDS_ON",
    "PortfolioConventions",
    "PrioritySource",
    "ReleaseConvention",
    "ReleaseDates",
    "TrelloDependencies",
    "card_day",
    "card_level",
    "card_link_key",
    "card_links",
    "card_priority",
    "card_rank",
    "card_releases",
    "dependency_attachment",
    "release_external_id",
    "release_record",
]

log = structlog.get_logger(__name__)

DEPENDS_ON = "depends on"
"""The link type of a Trello dependency, read from the waiting card's side (so `inward`)."""
DEFAULT_LEVEL = "story"
_CARD_LINK = re.compile(r"/c/([0-9A-Za-z]{8})(?:[/?#\s)\]]|$)")
"""A Trello card's link: `.../c/<shortLink>` (optionally `/<number>-<slug>`)."""
_PLACEHOLDER = "{name}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PrioritySource(_Model):
    """`{from: label, prefix: "Priority: "}` or `{from: custom_field, name: Priority}`."""

    source: Literal["label", "custom_field"] = Field(alias="from")
    prefix: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _fits_source(self) -> PrioritySource:
        wanted, other = ("prefix", "name") if self.source == "label" else ("name", "prefix")
        if getattr(self, other) is not None:
            raise ValueError(f"{other}: not used with from: {self.source}")
        if not (getattr(self, wanted) or "").strip():
            raise ValueError(f"{wanted}: must not be empty with from: {self.source}")
        return self


class TrelloDependencies(_Model):
    """A card link attached under a name starting with `attachment_prefix`, or each card link
    in a checklist named `checklist`, is a dependency; None turns that convention off."""

    attachment_prefix: str | None = "Depends on"
    checklist: str | None = None


class ReleaseDates(_Model):
    """A release's planned day and, once out, the day it was released."""

    planned: date
    released: date | None = None


class ReleaseConvention(_Model):
    """A release named by the card's list or by one of its labels (a `{name}` pattern each),
    and the releases' dates by name (any case)."""

    list: str | None = None
    label: str | None = None
    dates: dict[str, ReleaseDates] = Field(default_factory=dict)

    @field_validator("list", "label")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.count(_PLACEHOLDER) != 1 or not value.replace(_PLACEHOLDER, "").strip():
            raise ValueError("a release pattern holds {name} once with text around it")
        return value

    def dates_of(self, name: str) -> ReleaseDates | None:
        wanted = name.casefold()
        return next((d for n, d in self.dates.items() if n.casefold() == wanted), None)


def _named_by(pattern: str | None, text: str) -> str | None:
    """The release name `text` holds when written by `pattern`, else None."""
    if pattern is None:
        return None
    before, after = pattern.split(_PLACEHOLDER)
    regex = re.compile(f"{re.escape(before)}(.+?){re.escape(after)}", re.IGNORECASE)
    found = regex.fullmatch(" ".join(text.split()))
    return found.group(1).strip() if found and found.group(1).strip() else None


class PortfolioConventions(_Model):
    """`portfolio:` in the Trello connector file (see the module docstring)."""

    levels: dict[str, str] = Field(default_factory=lambda: {"Epic": "epic"})
    """Label name (any case) → level (lower-cased)."""
    priority: PrioritySource | None = None
    dependencies: TrelloDependencies = Field(default_factory=TrelloDependencies)
    releases: ReleaseConvention = Field(default_factory=ReleaseConvention)

    @field_validator("levels")
    @classmethod
    def _lower_levels(cls, value: dict[str, str]) -> dict[str, str]:
        return {label: level.strip().casefold() for label, level in value.items()}


def card_link_key(text: str) -> str | None:
    """The short link of the first Trello card link in `text`, else None."""
    found = _CARD_LINK.search(text)
    return found.group(1) if found else None


def card_level(labels: Iterable[str], conventions: PortfolioConventions) -> str:
    """The level the first label naming one gives (labels sorted by name), else a story."""
    table = {name.casefold(): level for name, level in conventions.levels.items()}
    for label in sorted(labels):
        level = table.get(label.casefold())
        if level:
            return level
    return DEFAULT_LEVEL


def card_priority(
    labels: Iterable[str], values: Mapping[str, str | None], conventions: PortfolioConventions
) -> str | None:
    """The configured priority: the rest of the first label (by name) starting with the prefix,
    or the custom field's value (`values`: folded field name → text); None without one."""
    source = conventions.priority
    if source is None:
        return None
    if source.source == "custom_field":
        return values.get((source.name or "").casefold()) or None
    prefix = (source.prefix or "").casefold()
    for label in sorted(labels):
        if label.casefold().startswith(prefix):
            rest = label[len(prefix) :].strip()
            if rest:
                return rest
    return None


def card_day(value: Any, *, card: str, what: str) -> date | None:
    """A card's `start` or `due` (an instant, ISO 8601 with a Z) as its UTC day; garbage is
    logged and read as unknown."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        log.warning("trello_card_date_unreadable", card=card, field=what, value=str(value)[:40])
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).date()


def _rank_part(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return sortable_rank(float(value))
    except (TypeError, ValueError):
        return None


def card_rank(card: Mapping[str, Any], list_pos: Any) -> str | None:
    """The list's position, then the card's, joined by ``.``; None (logged) when either is
    missing or not a finite number."""
    list_part, card_part = _rank_part(list_pos), _rank_part(card.get("pos"))
    if list_part is None or card_part is None:
        log.warning(
            "trello_card_unranked",
            card=str(card.get("id")),
            list_pos=str(list_pos)[:40],
            pos=str(card.get("pos"))[:40],
        )
        return None
    return f"{list_part}.{card_part}"


def _attachment_targets(card: Mapping[str, Any], prefix: str | None) -> list[str]:
    if prefix is None:
        return []
    folded = prefix.casefold()
    keys = []
    for attachment in card.get("attachments") or []:
        if not str(attachment.get("name") or "").casefold().startswith(folded):
            continue
        key = card_link_key(str(attachment.get("url") or ""))
        if key is not None:
            keys.append(key)
    return keys


def _checklist_targets(card: Mapping[str, Any], name: str | None) -> list[str]:
    if name is None:
        return []
    keys = []
    for checklist in card.get("checklists") or []:
        if str(checklist.get("name") or "").strip().casefold() != name.strip().casefold():
            continue
        for item in checklist.get("checkItems") or []:
            key = card_link_key(str(item.get("name") or ""))
            if key is not None:
                keys.append(key)
    return keys


def dependency_attachment(attachment: Mapping[str, Any], conventions: PortfolioConventions) -> bool:
    """Whether an attachment is a dependency (so not the card's parent)."""
    prefix = conventions.dependencies.attachment_prefix
    name = str(attachment.get("name") or "").casefold()
    return prefix is not None and name.startswith(prefix.casefold())


def card_links(card: Mapping[str, Any], conventions: PortfolioConventions) -> list[ItemLink]:
    """The card's dependencies by the conventions, each a card it waits on (`inward`), once
    each, in the order found; a link to the card itself is dropped (the store would drop it
    too), a target out of scope is kept by its short link (Trello's link names no card id)."""
    own = str(card.get("shortLink") or "")
    keys = _attachment_targets(card, conventions.dependencies.attachment_prefix)
    keys += _checklist_targets(card, conventions.dependencies.checklist)
    links: list[ItemLink] = []
    for key in dict.fromkeys(keys):
        if key != own:
            links.append(ItemLink(str(card["id"]), DEPENDS_ON, LinkDirection.INWARD, key))
    return links


def release_external_id(name: str) -> str:
    """A release is one per connector whatever board names it, and whatever the case."""
    return " ".join(name.split()).casefold()


def card_releases(
    list_name: str | None, labels: Iterable[str], conventions: PortfolioConventions
) -> dict[str, str]:
    """Release external id → name, from the card's list or labels by the convention."""
    found: dict[str, str] = {}
    convention = conventions.releases
    named = _named_by(convention.list, list_name or "")
    if named is not None:
        found.setdefault(release_external_id(named), named)
    for label in sorted(labels):
        named = _named_by(convention.label, label)
        if named is not None:
            found.setdefault(release_external_id(named), named)
    return found


def release_record(name: str, conventions: PortfolioConventions, today: date) -> ReleaseRecord:
    """A release named by the convention, dated by the config (undated: no dates, not
    released); released once its released day has come. `planned_date` is the planned
    day whether or not it shipped, so a release's slip can be measured after it."""
    dates = conventions.releases.dates_of(name)
    released = dates is not None and dates.released is not None and dates.released <= today
    return ReleaseRecord(
        external_id=release_external_id(name),
        name=name,
        project=None,
        start_date=None,
        release_date=None if dates is None else (dates.released or dates.planned),
        released=released,
        archived=False,
        planned_date=None if dates is None else dates.planned,
    )
