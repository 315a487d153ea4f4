"""`pmo-sync teams`: every synced team, with the delivery method it works by.

A team is named by its synced items (as `--team` takes it); its method is what its tracker's
board says (scrum or kanban) unless portfolio.yaml's `delivery:` says otherwise (traditional
projects are named there), else kanban (`pmo_sync.portfolio.delivery`). The `from` column
says which: `board`, `portfolio.yaml` or `default`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pmo_sync.cli.common import (
    app,
    err,
    exit_if_nothing_synced,
    load_settings,
    open_store_to_read,
    out,
    portfolio_config,
)

_SAID_BY = {"tracker": "board", "portfolio.yaml": "portfolio.yaml", "default": "default"}
KEYS = ("connector", "team", "delivery", "from")


@app.command("teams")
def teams(
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """Every synced team and its delivery method (scrum, kanban or traditional), and what
    says it (its board, portfolio.yaml's `delivery:`, or the default)."""
    from pmo_sync.cli.formats import FORMATS, narrow_table, write_csv, write_json
    from pmo_sync.cli.listing import check_format
    from pmo_sync.portfolio.delivery import delivery_notices, team_deliveries
    from pmo_sync.store.teams import stored_teams

    check_format(format, FORMATS)
    settings = load_settings()
    overrides = portfolio_config(settings).delivery
    store = open_store_to_read(settings)
    exit_if_nothing_synced(store)
    synced = stored_teams(store.engine)
    for notice in delivery_notices(overrides, {t.name for t in synced}):
        err.print(notice, highlight=False, markup=False)  # a typo, or a team not synced yet
    found = team_deliveries(((t.source, t.name, t.method) for t in synced), overrides)
    records = [
        {"connector": t.source, "team": t.team, "delivery": t.method, "from": _SAID_BY[t.said_by]}
        for t in found
    ]
    if format == "json":
        write_json(records)
    elif format == "csv":
        write_csv(records, KEYS)
    else:
        cells = [[str(r[key]) for key in KEYS] for r in records]
        out.print(narrow_table(KEYS, cells, wrap=("team",), width=out.width))
