"""`pmo-sync sync`: pull every connector into the store, then refresh KPIs and findings."""

from __future__ import annotations

from typing import Annotated

import typer

from pmo_sync.cli.common import (
    app,
    configs_for,
    err,
    kpi_config,
    load_settings,
    open_store,
    out,
    policy_rules,
    portfolio_config,
    print_refresh,
)

# -- sync ------------------------------------------------------------------------------------------


@app.command("sync")
def sync(
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="ignore bookmarks; re-read everything")
    ] = False,
) -> None:
    """Pull every configured connector into the store (incrementally unless --full)."""
    from pmo_sync.report import print_sync_summaries, sync_progress
    from pmo_sync.sync import sync_all

    settings = load_settings()
    selection = configs_for(settings, connector)
    kpis, rules = kpi_config(settings), policy_rules(settings)  # checked before any sync
    portfolio = portfolio_config(settings)
    store = open_store(settings)
    with sync_progress(err, enabled=err.is_interactive) as progress:
        summaries = sync_all(selection.configs, store, full=full, progress=progress)
    print_sync_summaries(out, summaries)
    if any(s.ok for s in summaries):
        from pmo_sync.evaluation.refresh import refresh_kpis

        print_refresh(refresh_kpis(store.engine, kpis, rules=rules, portfolio=portfolio))
    selection.report_skipped()
    raise typer.Exit(selection.exit_code(failed=any(not s.ok for s in summaries)))
