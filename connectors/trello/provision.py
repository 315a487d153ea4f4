"""`pmo-sync connectors provision` for Trello: one custom field per write-back metric per board.

A Trello custom field belongs to one board, so every board in `boards` needs
its own "Cycle time (days)". For each configured board and each `writeback.fields`
metric (sorted by metric), the board's field definitions (read once per board)
are searched by name, as the writer matches them (`match_field`): a field found
is reported `ok`; a missing one is created (`POST /customFields`, a `date` field
for a metric ending in `_date`, else `number`) and reported `made`. Where Trello
refuses (the token's member may not edit the board, or the board's Custom Fields
power-up is off) the step is a `TODO` saying what a board admin must do, and the
command exits 1, like Jira's. A second run finds every field and makes no POST.

Creating is a POST and is never retried on a 5xx or a timeout (a second field of
the same name would appear); such a step is a `FAIL` that says to run the command
again, which lists the board's fields before creating anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.errors import ConnectorError, PermissionDeniedError, WriteOutcomeUnknownError
from connectors.http import CallStats
from connectors.provisioning import ProvisionStep
from connectors.trello.client import TrelloClient
from connectors.trello.config import TrelloConfig
from connectors.trello.push import WRITABLE_TYPES, match_field

__all__ = ["ProvisionStep", "field_kind", "provision"]

_POWER_UP_WORDS = ("power-up", "powerup", "power up", "plugin")


def field_kind(metric: str) -> str:
    """The Trello field type a metric gets: dates for `*_date` metrics, numbers otherwise."""
    return "date" if metric.endswith("_date") else "number"


def provision(config: TrelloConfig, client: TrelloClient | None = None) -> Iterator[ProvisionStep]:
    """Check, and create where missing, each write-back field on each configured board.

    Steps come as they happen. `client` defaults to a new one, closed at the end.
    """
    if client is None:
        with TrelloClient(config, CallStats()) as own:
            yield from provision(config, own)
        return
    fields = sorted(config.writeback.fields.items())
    try:
        boards = client.resolve_boards(config.boards)
    except ConnectorError as exc:
        yield ProvisionStep("fail", "boards", str(exc))
        return
    for board in boards:
        board_id = str(board["id"])
        board_name = str(board.get("name") or board_id)
        try:
            existing = list(client.custom_fields(board_id))
        except ConnectorError as exc:
            for metric, _ in fields:
                yield ProvisionStep("fail", metric, f"board {board_name!r}: {exc}")
            continue
        for metric, name in fields:
            yield _one(client, config, board_id, board_name, existing, metric, name)


def _one(
    client: TrelloClient,
    config: TrelloConfig,
    board_id: str,
    board_name: str,
    existing: list[dict[str, Any]],
    metric: str,
    name: str,
) -> ProvisionStep:
    found = match_field(existing, name)
    if len(found) == 1:
        the_field = found[0]
        if the_field.get("type") not in WRITABLE_TYPES:
            return ProvisionStep(
                "todo",
                metric,
                f"field {name!r} on board {board_name!r} ({the_field.get('id')}) is a "
                f"{the_field.get('type')} field, which cannot hold a KPI: a board admin must "
                f"delete or rename it, then run `pmo-sync connectors provision {config.name}` "
                "again to create a number or date field",
            )
        return ProvisionStep(
            "ok", metric, f"field {name!r} exists on board {board_name!r} ({the_field['id']})"
        )
    if found:
        ids = ", ".join(str(f.get("id")) for f in found)
        return ProvisionStep(
            "todo",
            metric,
            f"board {board_name!r} has {len(found)} custom fields named {name!r} ({ids}): a "
            "board admin must delete or rename all but one",
        )
    kind = field_kind(metric)
    try:
        created = client.create_custom_field(board_id, name, kind)
    except WriteOutcomeUnknownError as exc:
        return ProvisionStep(
            "fail",
            metric,
            f"{exc}. The field may exist now: run `pmo-sync connectors provision "
            f"{config.name}` again (it looks before it creates)",
        )
    except ConnectorError as exc:
        if not _refused(exc):
            return ProvisionStep("fail", metric, str(exc))
        return ProvisionStep(
            "todo",
            metric,
            f"Trello refused to create the {kind} field {name!r} on board {board_name!r}: "
            f"{exc}. On that board, a board admin must turn on the Custom Fields power-up "
            "(board menu > Power-Ups > Custom Fields > Add) and either add the field by hand "
            f"(open a card > Custom Fields > New field > type {kind.capitalize()}, name "
            f"{name!r}) or make the token's member an admin of the board and run "
            f"`pmo-sync connectors provision {config.name}` again",
        )
    existing.append(created)
    return ProvisionStep(
        "made",
        metric,
        f"created {kind} field {name!r} on board {board_name!r} ({created['id']})",
    )


def _refused(exc: ConnectorError) -> bool:
    """Whether Trello said no for a reason an admin fixes: rights, or the power-up is off."""
    if isinstance(exc, PermissionDeniedError):
        return True
    status = exc.status_code or 0
    text = str(exc).lower()
    return 400 <= status < 500 and any(word in text for word in _POWER_UP_WORDS)
