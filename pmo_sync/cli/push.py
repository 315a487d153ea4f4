"""`pmo-sync push`: write KPI fields and the bot comment back into each tracker."""

from __future__ import annotations

from typing import Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_CONNECTOR_FAILED,
    app,
    configs_for,
    err,
    kpi_config,
    load_settings,
    open_store,
    out,
    policy_rules,
)


@app.command("push")
def push(
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the exact changes; write nothing")
    ] = False,
) -> None:
    """Write KPI fields and the one bot comment per item into each tracker (write-back)."""
    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.writeback.service import push_connector

    settings = load_settings()
    configs = configs_for(settings, connector)
    store = open_store(settings)
    refresh = refresh_kpis(store.engine, kpi_config(settings), rules=policy_rules(settings))
    failed = False
    for config in configs:
        if connector is not None and config.name != connector:
            continue
        writeback = getattr(config, "writeback", None)
        if writeback is None or not writeback.enabled:
            out.print(f"{config.name}: write-back not enabled", highlight=False, markup=False)
            continue
        summary = push_connector(
            config, store.engine, refresh.run, refresh.findings, dry_run=dry_run
        )
        for line in summary.lines:
            out.print(line, highlight=False, markup=False)
        verb = "would make" if dry_run else "made"
        out.print(
            f"{config.name}: {verb} {summary.planned if dry_run else summary.done} change(s)"
            + ("" if dry_run else f", {summary.failed} failed")
            + (
                f", {summary.deferred} deferred (changed in the tracker since the sync: "
                "written by the next push)"
                if summary.deferred
                else ""
            )
            + (
                f", {summary.gone} gone (deleted in the tracker since the sync: "
                "the next sync marks them deleted)"
                if summary.gone
                else ""
            )
            + (
                f", {summary.skipped} skipped (a field refused where they are: see below)"
                if summary.skipped
                else ""
            )
            + ("" if dry_run else f", {summary.api_calls} API calls"),
            highlight=False,
            markup=False,
        )
        for line in [*summary.refusals, *summary.errors]:
            err.print(f"{config.name}: {line}", highlight=False, markup=False)
        failed = failed or not summary.ok
    if failed:
        raise typer.Exit(EXIT_CONNECTOR_FAILED)
