"""`pmo-sync serve`, `status` and `healthcheck`: the long-running service and its state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    app,
    configs_for,
    err,
    exit_on_config_errors,
    kpi_config,
    load_settings,
    open_store_to_read,
    out,
    policy_rules,
)
from pmo_sync.cli.dashboard import dashboard_access
from pmo_sync.store.errors import StoreEmpty

# -- the service ---------------------------------------------------------------------------

if TYPE_CHECKING:
    from pmo_sync.store.repository import Store


@app.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="address of the HTTP endpoints (PMO_SYNC_HTTP_HOST)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port of the HTTP endpoints (PMO_SYNC_HTTP_PORT)")
    ] = None,
) -> None:
    """Run every scheduled connector's cycle (sync, KPIs, push) until SIGTERM; SIGHUP reloads.

    Serves the dashboard beside /healthz, /readyz and /metrics (PMO_SYNC_DASHBOARD=off: those
    three alone)."""
    from pmo_sync.service.process import run_service

    settings = load_settings()
    host = host if host is not None else settings.http_host
    port = port if port is not None else settings.http_port
    # Who may read the pages, first: beyond loopback with no authentication is exit 2.
    auth = (
        dashboard_access(settings, host, probes_only_setting=True) if settings.dashboard else None
    )
    # What sync would say, before the store is opened: invalid files are named and skipped
    # (the service reports them in /readyz and `status`); no file, or none valid, is exit 2.
    configs_for(settings, None)
    kpi_config(settings)
    policy_rules(settings)
    raise typer.Exit(run_service(settings, host=host, port=port, auth=auth))


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
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
) -> None:
    """Per connector: the last run (serve's cycle, or sync/push by hand), its outcome, the
    next run, the pending pushes; an invalid connector file is a row `invalid`."""
    from pmo_sync.cli.formats import FORMATS, narrow_table, write_csv, write_json
    from pmo_sync.cli.listing import check_format
    from pmo_sync.service.cycle import load_service_config
    from pmo_sync.service.status import (
        STATUS_HEADERS,
        STATUS_KEYS,
        connector_statuses,
        status_rows,
    )

    check_format(format, FORMATS)
    settings = load_settings()
    service, errors = load_service_config(settings.config_dir)
    exit_on_config_errors(errors)
    assert service is not None
    try:
        store = open_store_to_read(settings)
        nothing_synced = None if store.sources() else "nothing synced yet: run `pmo-sync sync`"
    except StoreEmpty as empty:  # no store yet: every configured connector has never run
        store, nothing_synced = _empty_store(), empty.message
    now = datetime.now(UTC)
    statuses = connector_statuses(store.engine, service, now=now)
    if connector is not None:
        statuses = [s for s in statuses if s.connector == connector]
        if not statuses:
            known = {*service.connectors, *(f.label for f in service.invalid)}
            names = ", ".join(sorted(known))
            err.print(f"no connector named {connector!r} (connectors: {names})", markup=False)
            raise typer.Exit(EXIT_INVALID_CONFIG)
    if format == "json":
        write_json([s.to_json() for s in statuses])
    elif format == "csv":
        write_csv([s.to_json() for s in statuses], STATUS_KEYS)
    else:
        rows = status_rows(statuses, now)
        out.print("pmo-sync status (times in UTC)", highlight=False, markup=False)
        wrap = ("schedule", "last run")
        out.print(narrow_table(STATUS_HEADERS, rows, wrap=wrap, width=out.width))
        for s in statuses:
            if s.last_error:
                out.print(f"{s.connector}: {s.last_error}", highlight=False, markup=False)
    if nothing_synced is not None:
        err.print(nothing_synced, highlight=False, markup=False)


def _empty_store() -> Store:
    """An in-memory store of the current schema: what `status` reads before any sync."""
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    engine = make_engine("sqlite://")
    upgrade(engine)
    return Store(engine)
