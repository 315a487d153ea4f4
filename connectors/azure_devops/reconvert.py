"""Azure DevOps: a stored work item's raw payload → its portfolio facts, offline
(`pmo_sync.store.reconvert`).

The payload is the latest revision's fields, as the sync stored them: the type (the level),
the scheduling dates, Priority, Stack Rank or Backlog Priority, the iteration path and
tags (the `releases` convention) are re-converted by the sync's own `portfolio_facts`. A
field Azure DevOps leaves unset is absent from a revision, so an absent date or rank reads
as unset, as a sync reads it. The links (a call of their own per 200 items, where
`link_types` asks for them) and the date history (the earlier revisions) are not in the
payload: they stay for the next sync that reads the item.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.azure_devops.convert import portfolio_facts
from connectors.azure_devops.releases import release_names, release_record
from connectors.base import PORTFOLIO_COLUMNS, Reconversion, Reconverted, StoredItem

__all__ = ["AdoReconversion"]


class AdoReconversion(Reconversion):
    kept = ("dependency links and date history (not in the stored payload)",)

    def __init__(self, config: AzureDevOpsConfig, today: date) -> None:
        self.config = config
        self.today = today

    def reconvert(self, item: StoredItem) -> Reconverted:
        fields = item.raw["fields"]
        if not isinstance(fields, Mapping):
            raise TypeError("the payload's fields are not an object")
        item_type = str(fields.get("System.WorkItemType", ""))  # as a sync reads it
        facts = portfolio_facts(
            item.external_id, item_type, fields, self.config.levels, self.config.releases
        )
        columns: dict[str, Any] = {
            col: facts.get(col) for col in PORTFOLIO_COLUMNS if col != "components"
        }
        columns["area_path"] = str(fields.get("System.AreaPath") or "") or None  # as a sync does
        convention = self.config.releases
        names = () if convention is None else release_names(fields, convention)
        releases = tuple(
            release_record(name, convention, self.config.project, self.today)
            for name in names
            if convention is not None
        )
        return Reconverted(columns=columns, release_ids=facts["release_ids"], releases=releases)
