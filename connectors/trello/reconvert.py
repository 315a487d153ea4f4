"""Trello: a stored card → its portfolio facts, offline (`pmo_sync.store.reconvert`).

The raw payload a Trello sync stores is a slice of the card (its ids, list, board, closed,
description, members): no labels, dates, position or attachments. The store's row keeps
the card's labels and its list (`status`), which is what the `portfolio:` conventions read
for the level, a label priority and the releases; those are re-converted. The start and
due dates, the rank (the list's and the card's `pos`), the "Depends on" links and a
custom-field priority are read from the card listing and its actions only: they stay for
the next sync that reads the card.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from connectors.base import Reconversion, Reconverted, StoredItem
from connectors.trello.config import TrelloConfig
from connectors.trello.conventions import card_level, card_priority, card_releases, release_record

__all__ = ["TrelloReconversion"]


class TrelloReconversion(Reconversion):
    def __init__(self, config: TrelloConfig, today: date) -> None:
        self.conventions = config.portfolio
        self.today = today
        priority = self.conventions.priority
        self.label_priority = priority is None or priority.source == "label"
        self.kept = (
            "start and due dates, rank and dependency links (not in the stored payload)",
            *(() if self.label_priority else ("the custom-field priority",)),
        )

    def reconvert(self, item: StoredItem) -> Reconverted:
        if not item.raw.get("id"):
            raise KeyError("the payload has no card id")
        columns: dict[str, Any] = {"level": card_level(item.labels, self.conventions)}
        if self.label_priority:
            columns["priority"] = card_priority(item.labels, {}, self.conventions)
        named = card_releases(item.status, item.labels, self.conventions)
        return Reconverted(
            columns=columns,
            release_ids=tuple(sorted(named)),
            releases=tuple(
                release_record(named[i], self.conventions, self.today) for i in sorted(named)
            ),
        )
