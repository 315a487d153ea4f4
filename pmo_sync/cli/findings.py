"""`pmo-sync findings` and `pmo-sync export`: read what the store holds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pmo_sync.cli.common import (
    app,
    err,
    exit_if_nothing_synced,
    load_settings,
    note_no_policies,
    open_store_to_read,
    out,
    portfolio_config,
)
from pmo_sync.cli.listing import check_connector, check_format, check_team


@app.command("findings")
def findings(
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    connector: Annotated[
        str | None,
        typer.Option(help="only the items of this connector (team and sprint findings have none)"),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    resolved: Annotated[bool, typer.Option("--resolved", help="include resolved ones")] = False,
) -> None:
    """Governance findings as of the last sync (or `kpis` run): open ones, worst first."""
    from pmo_sync.evaluation.teams import stored_team_names
    from pmo_sync.governance.policy import load_policies
    from pmo_sync.governance.render import (
        print_findings,
        write_findings_csv,
        write_findings_json,
    )
    from pmo_sync.store.findings import read_findings
    from pmo_sync.store.teams import teams_by_source

    check_format(format, ("table", "json", "csv"))
    settings = load_settings()
    store = open_store_to_read(settings)
    exit_if_nothing_synced(store)
    check_connector(connector, teams_by_source(store.engine))
    check_team(
        team,  # as the last refresh named the teams (`Team Alpha (acme-jira)` when shared)
        stored_team_names(store.engine),
        none="none yet: run `pmo-sync sync` or `pmo-sync kpis`",
    )
    if not load_policies(settings.config_dir)[0]:
        note_no_policies(settings)
    rows = list(read_findings(store.engine, team=team, source=connector, include_resolved=resolved))
    if format == "json":
        write_findings_json(rows, sys.stdout)
    elif format == "csv":
        write_findings_csv(rows, sys.stdout)
    else:
        print_findings(out, rows)


# -- export ----------------------------------------------------------------------------------------


@app.command("export")
def export(
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file; default stdout")
    ] = None,
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
) -> None:
    """One record per work item, with its ordered status transitions, for any BI tool.

    Each item's theme and its team's delivery method come from `<config dir>/portfolio.yaml`
    when there is one; a file with errors names them and stops the export (exit 2) before
    the store is read.
    """
    from pmo_sync.export import export_items
    from pmo_sync.store.teams import teams_by_source

    check_format(format, ("jsonl", "csv"))
    settings = load_settings()
    portfolio = portfolio_config(settings)
    store = open_store_to_read(settings)
    exit_if_nothing_synced(store)
    teams = teams_by_source(store.engine)
    check_connector(connector, teams)
    check_team(team, set().union(*teams.values()))
    names = [connector] if connector else None
    themes, delivery = portfolio.themes, portfolio.delivery
    if output is None:
        count = export_items(store, sys.stdout, format, names, team, themes, delivery)  # type: ignore[arg-type]
    else:
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = export_items(store, handle, format, names, team, themes, delivery)  # type: ignore[arg-type]
    err.print(f"exported {count} work items", highlight=False)
