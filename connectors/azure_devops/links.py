"""Azure DevOps relations → typed links (`ItemLink`). Pure.

A work item's relations (`workitemsbatch` with `$expand: relations`: the reporting stream
carries none) name the link type's end as `rel`: `System.LinkTypes.Dependency-Forward` is
this item's Successor end pointing at the target, `-Reverse` its Predecessor end,
`System.LinkTypes.Related` (no direction) a relation. The connector's `link_types` says
which types are read (reference names; `Dependency` and `Related` for short); the end's
name, as the relation's `attributes.name` gives it, lower-cased, is the link type
(`successor`, `predecessor`, `related`). Hierarchy links are not links: the parent is
`System.Parent`.

A relation without a work item target (a hyperlink, an artifact), or whose target id is
unreadable, is skipped with a log line; a target outside the synced scope is kept with its
key (the id) and `target_external_id` None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog

from pmo_sync.domain import ItemLink, LinkDirection

__all__ = ["LINK_TYPE_NAMES", "link_type_reference", "links_of"]

log = structlog.get_logger(__name__)

LINK_TYPE_NAMES = {
    "dependency": "System.LinkTypes.Dependency",
    "related": "System.LinkTypes.Related",
}
_END_NAMES = {"Forward": "successor", "Reverse": "predecessor"}  # of Dependency, unnamed


def link_type_reference(name: str) -> str:
    """`Dependency` and `Related` (any case) stand for their reference names."""
    return LINK_TYPE_NAMES.get(name.casefold(), name)


def _target_id(url: Any) -> str | None:
    tail = str(url or "").rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


def _end(rel: str, types: Sequence[str]) -> tuple[str, LinkDirection, str] | None:
    """(link type reference name, direction, end suffix) of a `rel` of a type read."""
    for reference in types:
        if rel.casefold() == reference.casefold():
            return reference, LinkDirection.OUTWARD, ""
        for suffix, direction in (("-Forward", LinkDirection.OUTWARD),
                                  ("-Reverse", LinkDirection.INWARD)):  # fmt: skip
            if rel.casefold() == (reference + suffix).casefold():
                return reference, direction, suffix[1:]
    return None


def links_of(
    item_id: str,
    relations: Iterable[Mapping[str, Any]],
    types: Sequence[str],
    in_scope: Callable[[str], bool],
) -> list[ItemLink]:
    """The item's links of the `types` read, in the relations' order (once each)."""
    links: dict[tuple[str, LinkDirection, str], ItemLink] = {}
    for relation in relations:
        rel = str(relation.get("rel") or "")
        end = _end(rel, types)
        if end is None:
            continue
        _, direction, suffix = end
        target = _target_id(relation.get("url"))
        if target is None:
            log.warning("ado_link_target_unreadable", item=item_id, rel=rel)
            continue
        attributes = relation.get("attributes") or {}
        name = str(attributes.get("name") or _END_NAMES.get(suffix) or rel.rsplit(".", 1)[-1])
        link = ItemLink(
            item_id, name.lower(), direction, target, target if in_scope(target) else None
        )
        links.setdefault((link.link_type, direction, target), link)
    return list(links.values())
