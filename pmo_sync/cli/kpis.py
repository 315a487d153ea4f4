"""`pmo-sync kpis`: recompute, keep and show the KPIs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    app,
    err,
    exit_if_nothing_synced,
    kpi_config,
    load_settings,
    open_store,
    out,
    policy_rules,
)


@app.command("kpis")
def kpis(
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    since: Annotated[
        str | None, typer.Option(help="window start, YYYY-MM-DD (default: 12 weeks back)")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """Recompute the KPIs from the store, keep them, and show them."""
    from datetime import date

    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.kpi.compute import kpi_values
    from pmo_sync.kpi.render import print_kpi_table, write_csv, write_json

    if format not in ("table", "json", "csv"):
        err.print(f"--format must be table, json or csv, not {format!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        err.print(f"--since must be a date like 2026-09-01, not {since!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG) from None
    settings = load_settings()
    config = kpi_config(settings)
    store = open_store(settings)
    exit_if_nothing_synced(store)
    refresh = refresh_kpis(store.engine, config, rules=policy_rules(settings), since=start)
    values = list(kpi_values(refresh.run))
    if team is not None:
        known = sorted({v.team for v in values if v.team})
        if team not in known:
            err.print(f"no team {team!r} (teams: {', '.join(known) or 'none'})", markup=False)
            raise typer.Exit(EXIT_INVALID_CONFIG)
        values = [v for v in values if v.team == team]
    if format == "json":
        write_json(values, sys.stdout)
    elif format == "csv":
        write_csv(values, sys.stdout)
    else:
        print_kpi_table(out, values)
