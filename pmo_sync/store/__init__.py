"""The normalised store: engine and migrations, the `Store` writer, read helpers."""

from pmo_sync.store.engine import current_revision, make_engine, session_factory, upgrade
from pmo_sync.store.repository import Store
from pmo_sync.store.results import (
    LoadCounts,
    SourceInfo,
    SprintRef,
    StatusChange,
    StoredItem,
    SyncRun,
)

__all__ = [
    "LoadCounts",
    "SourceInfo",
    "SprintRef",
    "StatusChange",
    "Store",
    "StoredItem",
    "SyncRun",
    "current_revision",
    "make_engine",
    "session_factory",
    "upgrade",
]
