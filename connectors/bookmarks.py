"""What every stream's bookmark shares: a version, its JSON, and the ids to read again.

A stream's bookmark is a frozen dataclass beside the stream, with `to_json()` (what
the store keeps, through `Stream.final_bookmark`) and `from_json()` (what the next run
reads back from `StreamContext.bookmark`). The JSON carries a `version`. A bookmark
stored before versions existed has none and reads as version 1: the shape every
release so far wrote, each key added since (`retry`, `account_id`, ...) optional in it.
A later version that changes the shape adds a branch to `from_json` reading the older
ones, so an upgrade never costs a full read.

A bookmark a stream cannot understand (a version this release does not know, as a
downgrade leaves; a missing or malformed key) is dropped with a warning
(`bookmark_unreadable`), and the stream does what it does without one: a full read.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog

__all__ = [
    "VERSION_KEY",
    "BookmarkUnreadable",
    "RetrySet",
    "ids_from_json",
    "load_bookmark",
    "readable",
    "with_version",
]

log = structlog.get_logger(__name__)

VERSION_KEY = "version"
UNVERSIONED = 1
"""The version of a stored bookmark without `version`: written before versions existed."""

B = TypeVar("B")
IdT = TypeVar("IdT", bound=Hashable)


class BookmarkUnreadable(ValueError):
    """A stored bookmark whose shape this release does not understand."""


def readable(data: Mapping[str, Any], version: int) -> Mapping[str, Any]:
    """`data`'s fields, once its version (none: `UNVERSIONED`) is `version`."""
    stored = data.get(VERSION_KEY, UNVERSIONED)
    if stored != version:
        raise BookmarkUnreadable(f"version {stored!r}; this release reads {version}")
    return data


def with_version(version: int, body: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON the store keeps: `body` with its version."""
    return {VERSION_KEY: version, **body}


def load_bookmark(
    from_json: Callable[[Mapping[str, Any]], B], data: Mapping[str, Any] | None, stream: str
) -> B | None:
    """The stored bookmark read by `from_json`; None when there is none (or it is empty), or
    when its shape cannot be understood: logged, and the stream reads everything again."""
    if not data:
        return None
    try:
        return from_json(data)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        log.warning("bookmark_unreadable", stream=stream, error=repr(exc), then="a full read")
        return None


def ids_from_json(values: Any, parse: Callable[[Any], IdT | None]) -> tuple[IdT, ...]:
    """A stored id list, each id read by `parse`; one it cannot read (None) is dropped."""
    parsed = (parse(value) for value in values or ())
    return tuple(value for value in parsed if value is not None)


@dataclass(slots=True)
class RetrySet(Generic[IdT]):
    """The ids a stream could not convert, kept in its bookmark's `retry` and read again.

    The watermark (token, board marks) moves on even when a run skipped an item whose
    data could not be converted, so the next run would never read it again unless
    someone touched it: its id goes into the bookmark's `retry` (`next_retry`). The next
    run reads each id of `before` again: through its usual read when the tracker brings
    it back anyway (`found`), else on its own (`unread`). Converted, it leaves `retry`;
    skipped again (`skip`), it stays; gone (deleted, out of scope), it leaves, and the
    census deals with it. When `retry` is all that could change and it did not
    (`unchanged`), the stored bookmark stays as it is.
    """

    before: frozenset[IdT]
    """The stored bookmark's `retry`: ids a run before had to skip."""
    sort_key: Callable[[IdT], Any] = lambda item_id: item_id
    """The order ids are read again and stored in (by default: their natural order)."""
    skipped: set[IdT] = field(default_factory=set)
    """Ids this run could not convert: the next bookmark's `retry`."""
    _found: set[IdT] = field(default_factory=set)

    @classmethod
    def of(
        cls, stored: Iterable[IdT], sort_key: Callable[[IdT], Any] | None = None
    ) -> RetrySet[IdT]:
        """The set of a stored bookmark's `retry`."""
        return cls(frozenset(stored)) if sort_key is None else cls(frozenset(stored), sort_key)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.before

    def found(self, item_id: IdT) -> bool:
        """The usual read brought `item_id` back: True when a run before had skipped it (so
        it is converted whatever else says it is unchanged), and no separate read is due."""
        if item_id in self.before:
            self._found.add(item_id)
            return True
        return False

    def unread(self) -> list[IdT]:
        """The ids of `before` the usual read did not bring back: to be read on their own."""
        return sorted(self.before - self._found, key=self.sort_key)

    def skip(self, item_id: IdT) -> None:
        """`item_id` could not be converted this run: the next run reads it again."""
        self.skipped.add(item_id)

    @property
    def unchanged(self) -> bool:
        """This run leaves `retry` as the stored bookmark has it."""
        return self.skipped == self.before

    def next_retry(self) -> tuple[IdT, ...]:
        """The next bookmark's `retry`, in order."""
        return tuple(sorted(self.skipped, key=self.sort_key))
