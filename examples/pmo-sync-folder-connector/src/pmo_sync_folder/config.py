"""`kind: folder`: what a connector file for an export folder says."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from connectors.base import ConnectorConfig
from pmo_sync.common.writeback_config import WritebackConfig

__all__ = ["FolderConfig"]


class FolderConfig(ConnectorConfig):
    """An export folder (see `pmo_sync_folder.export` for its layout).

    `writable_fields` are the fields the tool that reads `writeback/` back accepts: the
    folder's equivalent of a tracker's custom fields, so a `writeback.fields` entry naming
    another is refused by `check` and by the writer, as a tracker refuses an unknown field.
    """

    kind: Literal["folder"] = "folder"
    folder: Path
    writable_fields: list[str] = Field(default_factory=list)
    account: str = Field(default="pmo-sync", min_length=1)
    """The author the writer puts on its comments (a tracker's API user)."""
    writeback: WritebackConfig = Field(default_factory=WritebackConfig)
