"""pmo-sync connector for a folder of work-item exports: `kind: folder`.

An example plug-in, installed beside pmo-sync and found through the `pmo_sync.connectors`
entry point (see this package's pyproject.toml). It imports only the connector contract
(`connectors.base`, `connectors.writer`, `connectors.errors`, `connectors.http`'s call
counter) and the bottom layers (`pmo_sync.domain`, `pmo_sync.common`), as a built-in
connector does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from connectors.base import CheckReport, Connector, Stream
from connectors.writer import Writer
from pmo_sync_folder.config import FolderConfig
from pmo_sync_folder.export import ITEMS, ExportError, read_sprints, read_statuses
from pmo_sync_folder.streams import (
    CensusStream,
    ItemsStream,
    RunState,
    SprintsStream,
    StatusesStream,
)
from pmo_sync_folder.writer import FolderWriter

__all__ = ["FolderConfig", "FolderConnector"]


class FolderConnector(Connector):
    kind = "folder"
    config_model = FolderConfig
    config: FolderConfig

    def streams(self) -> Sequence[Stream]:
        state = RunState()
        return (
            StatusesStream(self.config, self.stats, state),
            SprintsStream(self.config, self.stats),
            ItemsStream(self.config, self.stats, state),
            CensusStream(self.config, self.stats),
        )

    def writer(self) -> Writer:
        return FolderWriter(self.config, self.stats)

    def check(self) -> CheckReport:
        """The folder readable (a tracker's credentials), its statuses and sprints, and with
        write-back on, the folder writable and every configured field accepted."""
        report = CheckReport()
        folder = self.config.folder
        items = folder / ITEMS
        if not (items.is_dir() and os.access(items, os.R_OK | os.X_OK)):
            report.add("credentials", False, f"{items} is not a readable folder")
            return report
        count = sum(1 for p in items.iterdir() if p.suffix == ".json")
        report.add("credentials", True, f"{items} is readable: {count} item file(s)")
        try:
            statuses = read_statuses(folder)
            report.add("statuses", True, f"{len(statuses)} in statuses.csv")
            sprints = read_sprints(folder)
            report.add("sprints", True, f"{len(sprints)} in sprints.csv")
        except ExportError as exc:
            report.add("export", False, str(exc))
        writeback = self.config.writeback
        if writeback.enabled:
            unknown = sorted(set(writeback.fields.values()) - set(self.config.writable_fields))
            writable = os.access(folder, os.W_OK)
            detail = f"{folder} is writable" if writable else f"{folder} is not writable"
            if unknown:
                detail += f"; not in writable_fields: {', '.join(unknown)}"
            report.add("write-back", writable and not unknown, detail)
        return report
