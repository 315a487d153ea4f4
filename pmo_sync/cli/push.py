"""`pmo-sync push`: write KPI fields and the bot comment back into each tracker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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
    print_team_notices,
)

if TYPE_CHECKING:
    from connectors.base import ConnectorConfig
    from pmo_sync.store.repository import Store


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
    portfolio = portfolio_config(settings)
    store = open_store(settings)
    refresh = refresh_kpis(store.engine, kpis, rules=rules, portfolio=portfolio)
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
                config,
                store.engine,
                refresh.run,
                refresh.findings,
                portfolio=refresh.portfolio.facts if refresh.portfolio else None,
                dry_run=dry_run,
            )
            run.ok, run.errors = summary.ok, list(summary.errors)
            run.api_calls, run.pushed, run.push_failed = (
                summary.api_calls, summary.done, summary.failed
            )  # fmt: skip
        for line in summary.lines:
            out.print(line, highlight=False, markup=False)
        if dry_run and summary.planned:
            _warn_refused_fields(config, store)
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
    selection.report_skipped()
    raise typer.Exit(selection.exit_code(failed))


def _warn_refused_fields(config: ConnectorConfig, store: Store) -> None:
    """A dry run's warning: the `connectors check` lines of the write-back fields the
    tracker will refuse somewhere, so the changes it lists are not all promised."""
    from connectors.errors import ConnectorError
    from connectors.registry import connector_for_kind
    from pmo_sync.store.reads import item_places
    from pmo_sync.writeback.fieldcheck import check_writeback_fields

    try:
        with connector_for_kind(config.kind)(config) as tracker:
            results = check_writeback_fields(tracker, item_places(store.engine, config.name))
    except ConnectorError as exc:
        err.print(
            f"{config.name}: could not check the write-back fields: {exc}",
            highlight=False,
            markup=False,
        )
        return
    for result in results:
        if not result.ok:
            err.print(
                f"{config.name}: FAIL {result.name}: {result.detail}", highlight=False, markup=False
            )
