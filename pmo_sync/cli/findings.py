"""`pmo-sync findings` and `pmo-sync export`: read what the store holds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    app,
    err,
    exit_if_nothing_synced,
    exit_on_unknown_team,
    load_settings,
    note_no_policies,
    open_store,
    out,
)


@app.command("findings")
def findings(
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    resolved: Annotated[bool, typer.Option("--resolved", help="include resolved ones")] = False,
) -> None:
    """Governance findings as of the last sync (or `kpis` run): open ones, worst first."""
    from pmo_sync.governance.render import print_findings, write_findings_json
    from pmo_sync.store.findings import read_findings

    if format not in ("table", "json"):
        err.print(f"--format must be table or json, not {format!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    from pmo_sync.governance.policy import load_policies

    settings = load_settings()
    store = open_store(settings)
    exit_if_nothing_synced(store)
    exit_on_unknown_team(store, team)
    if not load_policies(settings.config_dir)[0]:
        note_no_policies(settings)
    rows = list(read_findings(store.engine, team=team, include_resolved=resolved))
    if format == "json":
        write_findings_json(rows, sys.stdout)
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
) -> None:
    """One record per work item, with its ordered status transitions, for any BI tool."""
    from pmo_sync.export import export_items

    if format not in ("jsonl", "csv"):
        err.print(f"--format must be jsonl or csv, not {format!r}")
        raise typer.Exit(EXIT_INVALID_CONFIG)
    store = open_store(load_settings())
    exit_if_nothing_synced(store)
    names = [connector] if connector else None
    if names and names[0] not in {s.name for s in store.sources()}:
        err.print(
            f"no synced connector named {connector!r}: run `pmo-sync sync` first", markup=False
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if output is None:
        count = export_items(store, sys.stdout, format, source_names=names)  # type: ignore[arg-type]
    else:
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = export_items(store, handle, format, source_names=names)  # type: ignore[arg-type]
    err.print(f"exported {count} work items", highlight=False)
