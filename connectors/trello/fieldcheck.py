"""Whether each Trello board written to will take each write-back field, asked before a push.

A Trello custom field belongs to one board, so every configured board needs its own
number, date or text field of each configured name (`GET /boards/{id}/customFields`), and
the board's Custom Fields power-up must be on (`GET /boards/{id}/boardPlugins`): two calls
a board. A field missing from a board is made by `pmo-sync connectors provision NAME`; the
power-up is a board admin's switch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import CheckResult
from connectors.errors import ConnectorError
from connectors.trello.client import TrelloClient
from connectors.trello.config import TrelloConfig
from connectors.trello.push import WRITABLE_TYPES, match_field

__all__ = ["CUSTOM_FIELDS_POWER_UP", "check_writeback_fields", "field_problem"]

CUSTOM_FIELDS_POWER_UP = "56d5e249a98895a9797bebb9"
"""The Custom Fields power-up's plugin id (`idPlugin` in a board's boardPlugins)."""


def field_problem(fields: Sequence[Mapping[str, Any]], name: str) -> str | None:
    """What keeps a board's field `name` from holding a KPI, or None."""
    found = match_field(fields, name)
    if not found:
        return "missing"
    if len(found) > 1:
        ids = ", ".join(str(f.get("id")) for f in found)
        return f"{len(found)} custom fields are named {name!r} ({ids})"
    if found[0].get("type") not in WRITABLE_TYPES:
        return f"it is a {found[0].get('type')} field, which cannot hold a KPI"
    return None


def check_writeback_fields(client: TrelloClient, config: TrelloConfig) -> list[CheckResult]:
    """Per board: the Custom Fields power-up, then one result per configured field."""
    names = list(config.writeback.fields.values())
    if not names:
        return []
    try:
        boards = client.resolve_boards(config.boards)
    except ConnectorError as exc:
        return [CheckResult("write-back fields", False, str(exc))]
    results: list[CheckResult] = []
    for board in boards:
        board_id, label = str(board["id"]), str(board.get("name") or board["id"])
        try:
            fields = client.custom_fields(board_id)
            plugins = client._get_list(
                f"/boards/{board_id}/boardPlugins", f"list the power-ups of board {label!r}"
            )
        except ConnectorError as exc:
            results.append(CheckResult(f"write-back fields on {label}", False, str(exc)))
            continue
        if not any(p.get("idPlugin") == CUSTOM_FIELDS_POWER_UP for p in plugins):
            results.append(
                CheckResult(
                    f"Custom Fields power-up on {label}",
                    False,
                    "off: a board admin turns it on (board menu > Power-Ups > Custom Fields "
                    "> Add), or no custom field is shown or written",
                )
            )
        for name in names:
            results.append(_one(config, label, fields, name))
    return results


def _one(
    config: TrelloConfig, board: str, fields: Sequence[Mapping[str, Any]], name: str
) -> CheckResult:
    title = f"write-back field {name!r} on {board}"
    problem = field_problem(fields, name)
    if problem is None:
        the_field = match_field(fields, name)[0]
        return CheckResult(title, True, f"a {the_field.get('type')} field ({the_field['id']})")
    if problem == "missing":
        return CheckResult(
            title, False, f"no such custom field: run `pmo-sync connectors provision {config.name}`"
        )
    return CheckResult(
        title,
        False,
        f"{problem}: a board admin deletes or renames the others, then run "
        f"`pmo-sync connectors provision {config.name}`",
    )
