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
    open_store_to_read,
    out,
    policy_rules,
    portfolio_config,
    print_team_notices,
)
from pmo_sync.cli.listing import check_connector, check_format, check_team


@app.command("kpis")
def kpis(
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    connector: Annotated[
        str | None, typer.Option(help="only the teams whose items come from this connector")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="window start, YYYY-MM-DD (default: 12 weeks back)")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh/--no-refresh",
            help="--no-refresh: show the values kept by the last refresh; compute and write "
            "nothing (works on a read-only store)",
        ),
    ] = True,
) -> None:
    """Recompute the KPIs from the store, keep them, and show them (--no-refresh: only show)."""
    from datetime import date

    from pmo_sync.evaluation.inputs import read_team_pairs
    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.kpi.render import kpi_header, print_kpi_table, write_csv, write_json
    from pmo_sync.kpi.teams import resolve_teams
    from pmo_sync.store.kpis import read_kpi_values
    from pmo_sync.store.teams import teams_by_source

    check_format(format, ("table", "json", "csv"))
    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        err.print(f"--since must be a date like 2026-09-01, not {since!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG) from None
    if since is not None and not refresh:
        err.print("--since needs a refresh: --no-refresh shows the last refresh's window")
        raise typer.Exit(EXIT_INVALID_CONFIG)
    settings = load_settings()
    if refresh:
        config = kpi_config(settings)
        store = open_store(settings)
        exit_if_nothing_synced(store)
        teams_of = teams_by_source(store.engine)
        check_connector(connector, teams_of)
        run = refresh_kpis(
            store.engine,
            config,
            rules=policy_rules(settings),
            since=start,
            portfolio=portfolio_config(settings),
        )
        print_team_notices(run)
        identities = run.teams
        values = list(run.values())
        header = kpi_header(run.run.now, run.saved.seen, config.day_counting)
    else:
        store = open_store_to_read(settings)
        exit_if_nothing_synced(store)
        teams_of = teams_by_source(store.engine)
        check_connector(connector, teams_of)
        identities = resolve_teams(read_team_pairs(store.engine), kpi_config(settings))
        values = list(read_kpi_values(store.engine))
        header = "KPIs as kept by the last refresh (--no-refresh: nothing recomputed)"
    check_team(team, {v.team for v in values if v.team})
    if team is not None:
        values = [v for v in values if v.team == team]
    if connector is not None:
        shown = {name for (source, _), name in identities.shown.items() if source == connector}
        values = [v for v in values if v.team in shown]
    if format == "json":
        write_json(values, sys.stdout)
    elif format == "csv":
        write_csv(values, sys.stdout)
    else:
        out.print(header, highlight=False)
        print_kpi_table(out, values)
