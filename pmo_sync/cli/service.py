"""`pmo-sync serve`, `status` and `healthcheck`: the long-running service and its state."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    app,
    configs_for,
    err,
    exit_on_config_errors,
    kpi_config,
    load_settings,
    open_store,
    out,
    policy_rules,
)

# -- the service ---------------------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="address of the HTTP endpoints (PMO_SYNC_HTTP_HOST)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port of the HTTP endpoints (PMO_SYNC_HTTP_PORT)")
    ] = None,
) -> None:
    """Run every scheduled connector's cycle (sync, KPIs, push) until SIGTERM; SIGHUP reloads."""
    from pmo_sync.service.process import run_service

    settings = load_settings()
    # What sync would say, before the store is opened: invalid files are named and skipped
    # (the service reports them in /readyz and `status`); no file, or none valid, is exit 2.
    configs_for(settings, None)
    kpi_config(settings), policy_rules(settings)
    raise typer.Exit(
        run_service(
            settings,
            host=host if host is not None else settings.http_host,
            port=port if port is not None else settings.http_port,
        )
    )


@app.command("healthcheck")
def healthcheck() -> None:
    """Exit 0 when the local `serve` answers /healthz (the container's HEALTHCHECK)."""
    import urllib.error
    import urllib.request

    settings = load_settings()
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host
    url = f"http://{host}:{settings.http_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            ok = answer.status == 200
    except (urllib.error.URLError, OSError) as exc:
        err.print(f"unhealthy: {url}: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    if not ok:
        raise typer.Exit(1)
    out.print(f"healthy: {url}", highlight=False, markup=False)


@app.command("status")
def status(
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Per connector: the last cycle and its outcome, the next run, the pending pushes."""
    from pmo_sync.service.cycle import load_service_config
    from pmo_sync.service.status import connector_statuses, status_rows

    if format not in ("table", "json"):
        err.print(f"--format must be table or json, not {format!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    settings = load_settings()
    service, errors = load_service_config(settings.config_dir)
    exit_on_config_errors(errors)
    assert service is not None
    store = open_store(settings)
    now = datetime.now(UTC)
    statuses = connector_statuses(store.engine, service, now=now)
    if format == "json":
        json.dump([s.to_json() for s in statuses], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = Table(
        "connector", "schedule", "last run (UTC)", "outcome", "took", "last success",
        "next run", "pending pushes", title="pmo-sync status",
    )  # fmt: skip
    for row in status_rows(statuses, now):
        table.add_row(*(escape(cell) for cell in row))
    out.print(table)
    for s in statuses:
        if s.last_error:
            out.print(f"{s.connector}: {s.last_error}", highlight=False, markup=False)
