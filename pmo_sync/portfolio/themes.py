"""Which strategic theme an item belongs to: its nearest ancestor's that matches.

An item is matched first, then its parent, then the parent's parent; the first
one any theme matches decides, and among themes the one written first in
portfolio.yaml wins. A parent that is not known ends the walk (the item is
unaligned unless something below matched), and so does a parent already
visited: a cycle in the tracker's data never loops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pmo_sync.portfolio.config import ThemeConfig
from pmo_sync.portfolio.items import ItemRef, PortfolioItem

__all__ = ["THEME_FACTS", "ancestry", "facts_matched", "matches", "theme_of"]

TRELLO = "trello"

THEME_FACTS: frozenset[str] = frozenset({"labels", "components", "area_path", "board"})
"""The stored facts of an item a theme can match beside its source, kind and key: a
store read for themes reads only those `facts_matched` names (`portfolio.stored`)."""


def facts_matched(themes: Sequence[ThemeConfig]) -> frozenset[str]:
    """The `THEME_FACTS` these themes look at; `matches` reads no other (an empty list of
    wanted labels never looks at an item's labels), so an item read without the rest
    matches exactly as one read whole. Labels serve both `labels` and `trello_labels`."""
    wanted: set[str] = set()
    for theme in themes:
        match = theme.match
        if match.labels or match.trello_labels:
            wanted.add("labels")
        if match.components:
            wanted.add("components")
        if match.area_paths:
            wanted.add("area_path")
        if match.boards:
            wanted.add("board")
    return frozenset(wanted)


def theme_of(
    item: PortfolioItem,
    ancestors: Mapping[ItemRef, PortfolioItem],
    themes: Sequence[ThemeConfig],
) -> ThemeConfig | None:
    """The theme of the nearest of the item and its ancestors that one matches, or None."""
    if not themes:
        return None
    for node in ancestry(item, ancestors):
        for theme in themes:
            if matches(theme, node):
                return theme
    return None


def ancestry(
    item: PortfolioItem, ancestors: Mapping[ItemRef, PortfolioItem]
) -> list[PortfolioItem]:
    """The item, its parent, and up, stopping at an unknown parent or a repeat."""
    chain = [item]
    seen = {item.ref}
    current = item
    while current.parent_key is not None:
        ref = (current.source, current.parent_key)
        parent = ancestors.get(ref)
        if parent is None or ref in seen:
            break
        chain.append(parent)
        seen.add(ref)
        current = parent
    return chain


def matches(theme: ThemeConfig, item: PortfolioItem) -> bool:
    """Whether the theme names this item itself (not its ancestors); case is ignored."""
    if theme.sources and item.source not in theme.sources:
        return False
    match = theme.match
    is_card = item.kind == TRELLO
    return (
        _key_named(match.keys, item)
        or (not is_card and _any_shared(match.labels, item.labels))
        or _any_shared(match.components, item.components)
        or (item.area_path is not None and _under_any(item.area_path, match.area_paths))
        or (is_card and _any_shared(match.boards, (item.board, item.board_id)))
        or (is_card and _any_shared(match.trello_labels, item.labels))
    )


def _fold(values: Sequence[str | None]) -> set[str]:
    return {v.casefold() for v in values if v}


def _any_shared(wanted: Sequence[str], have: Sequence[str | None]) -> bool:
    return bool(wanted) and not _fold(wanted).isdisjoint(_fold(have))


def _key_named(keys: Sequence[str], item: PortfolioItem) -> bool:
    key = item.key.casefold()
    for named in keys:
        source, colon, bare = named.rpartition(":")
        if colon and source == item.source and bare.casefold() == key:
            return True
        if not colon and named.casefold() == key:
            return True
    return False


def _segments(path: str) -> list[str]:
    return [part.casefold() for part in path.split("\\") if part]


def _under_any(path: str, roots: Sequence[str]) -> bool:
    """An area path is under a root when the root's segments start it (`A\\B` holds `A\\B\\C`,
    not `A\\BC`)."""
    segments = _segments(path)
    for root in roots:
        wanted = _segments(root)
        if wanted and segments[: len(wanted)] == wanted:
            return True
    return False
