"""`pmo-sync push`: write KPI fields and the bot comment back into each tracker."""

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
    print_team_notices,
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
    from pmo_sync.report import stepping
    from pmo_sync.store.cycles import manual_run
    from pmo_sync.writeback.service import push_connector

    settings = load_settings()
    selection = configs_for(settings, connector)
    kpis, rules = kpi_config(settings), policy_rules(settings, say_if_none=False)
    store = open_store(settings)
    refresh = refresh_kpis(store.engine, kpis, rules=rules)
    print_team_notices(refresh)
    failed = False
    for config in stepping(
        err, "push", selection.configs, lambda c: c.name, enabled=err.is_interactive
    ):
        writeback = getattr(config, "writeback", None)
        if writeback is None or not writeback.enabled:
            out.print(f"{config.name}: write-back not enabled", highlight=False, markup=False)
            continue
        with manual_run(store.engine, config.name, "push", enabled=not dry_run) as run:
            summary = push_connector(
                config, store.engine, refresh.run, refresh.findings, dry_run=dry_run
            )
            run.ok, run.errors = summary.ok, list(summary.errors)
            run.api_calls, run.pushed, run.push_failed = (
                summary.api_calls, summary.done, summary.failed
            )  # fmt: skip
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
            + ("" if dry_run else f", {summary.api_calls} API calls"),
            highlight=False,
            markup=False,
        )
        for error in summary.errors:
            err.print(f"{config.name}: {error}", highlight=False, markup=False)
        failed = failed or not summary.ok
    selection.report_skipped()
    raise typer.Exit(selection.exit_code(failed))
