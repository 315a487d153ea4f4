"""`pmo-sync dashboard`: the pages alone, and `--hash-password` for the users file.

The pages alone (no scheduler, no migration) on a store opened to read: a
laptop on the demo's store, or a read-only replica of PostgreSQL. Who may
read is checked before anything is opened, with `serve`'s own rule
(`dashboard_access`): beyond loopback, some authentication or no start.
"""

from __future__ import annotations

import getpass
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    app,
    err,
    kpi_config,
    load_settings,
    open_store_to_read,
    out,
    portfolio_config,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pmo_sync.dashboard.auth import DashboardAuth
    from pmo_sync.dashboard.reads_requests import PortfolioSettings
    from pmo_sync.settings import Settings

__all__ = ["answers_settings", "dashboard", "dashboard_access"]


def dashboard_access(
    settings: Settings, host: str, *, probes_only_setting: bool
) -> DashboardAuth | None:
    """Who may read the pages served on `host`; exit 2 with one line when that cannot be said.

    A users or token file that cannot be used, or an address beyond loopback
    with no authentication configured, stops the command before it opens
    anything (`probes_only_setting`: the refusal mentions `PMO_SYNC_DASHBOARD=off`,
    which `serve` has and `dashboard` has not).
    """
    from pmo_sync.dashboard.auth import DashboardAuthError, auth_from_settings, is_loopback, refusal

    try:
        auth = auth_from_settings(settings)
    except DashboardAuthError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG) from None
    if auth is None and not is_loopback(host):
        err.print(
            refusal(host, probes_only_setting=probes_only_setting), highlight=False, markup=False
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    return auth


@app.command("dashboard")
def dashboard(
    host: Annotated[
        str | None, typer.Option(help="address to serve the pages on (PMO_SYNC_HTTP_HOST)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port to serve the pages on (PMO_SYNC_HTTP_PORT)")
    ] = None,
    hash_password: Annotated[
        bool,
        typer.Option(
            "--hash-password",
            help="read a password (stdin, or a prompt) and print its hash for the users file",
        ),
    ] = False,
) -> None:
    """Serve the dashboard alone, reading the store (no scheduler, no migration), until Ctrl-C."""
    if hash_password:
        _print_password_hash()
        return
    settings = load_settings()
    host = host if host is not None else settings.http_host
    port = port if port is not None else settings.http_port
    auth = dashboard_access(settings, host, probes_only_setting=False)
    answers = answers_settings(settings)  # an error in kpis.yaml or portfolio.yaml: exit 2
    store = open_store_to_read(settings)  # a store failure: PmoSyncGroup's line and exit code
    try:
        raise typer.Exit(_serve_pages(store.engine, auth, host, port, answers))
    finally:
        store.engine.dispose()


def answers_settings(settings: Settings) -> PortfolioSettings:
    """kpis.yaml and portfolio.yaml for the portfolio answers' pages, as `pmo-sync portfolio`
    reads them (an error in either: its lines and exit 2)."""
    from pmo_sync.dashboard.reads_requests import PortfolioSettings

    return PortfolioSettings(kpi_config(settings), portfolio_config(settings))


def _serve_pages(
    engine: Engine,
    auth: DashboardAuth | None,
    host: str,
    port: int,
    answers: PortfolioSettings | None = None,
) -> int:
    from pmo_sync.dashboard.app import create_app
    from pmo_sync.dashboard.server import WebServer

    try:
        server = WebServer(create_app(engine, auth=auth, settings=answers), host, port)
    except OSError as exc:  # the port is taken, the address is not this machine's
        err.print(
            f"error: cannot listen on {host}:{port}: {exc.strerror or exc}",
            highlight=False,
            markup=False,
        )
        return EXIT_INVALID_CONFIG
    stop = threading.Event()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    server.start()
    bound, bound_port = server.address
    shown = f"[{bound}]" if ":" in bound else bound
    out.print(f"pmo-sync dashboard: http://{shown}:{bound_port}/", highlight=False, markup=False)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _print_password_hash() -> None:
    """A hash for a `user:hash` line: the password from a prompt (no echo) or stdin's first line."""
    from werkzeug.security import generate_password_hash

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            err.print("error: the two passwords differ", highlight=False, markup=False)
            raise typer.Exit(EXIT_INVALID_CONFIG)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        err.print("error: empty password", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    out.print(generate_password_hash(password), highlight=False, markup=False)
