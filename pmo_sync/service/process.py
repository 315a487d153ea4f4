"""`pmo-sync serve` as a process: store, replica guard, service, HTTP endpoints, signals.

One port serves the dashboard's pages and `/healthz`, `/readyz`, `/metrics`
(one Flask application on `WebServer`); the pages read through their own
engine, opened read-only, so no page can write what the service owns.
`PMO_SYNC_DASHBOARD=off` serves the three endpoints alone.

SIGHUP reloads the config directory (an invalid connector file is skipped, or keeps
its previous config running; a bad kpis.yaml or policy file keeps the old config);
SIGTERM or SIGINT stops gracefully (running syncs stop between records, cycles
return, the process exits 0); a second SIGTERM or SIGINT exits at once.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import structlog
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.auth import DashboardAuth
from pmo_sync.dashboard.reads_requests import PortfolioSettings
from pmo_sync.dashboard.server import WebServer
from pmo_sync.service.http import probes_app, status_blueprint
from pmo_sync.service.locks import ReplicaGuardError, replica_guard_for
from pmo_sync.service.runner import Service
from pmo_sync.settings import Settings
from pmo_sync.store.engine import make_engine, upgrade

__all__ = ["EXIT_CONFIG", "EXIT_REPLICA", "run_service"]

log = structlog.get_logger(__name__)

EXIT_CONFIG = 2
EXIT_REPLICA = 3


def run_service(
    settings: Settings, *, host: str, port: int, auth: DashboardAuth | None = None
) -> int:
    """Run until a stop signal; the exit code (0 after a clean stop).

    `auth` guards the dashboard's pages (the caller checked that an address
    beyond loopback has some); the three endpoints stay open.
    """
    engine = make_engine(settings.database_url)
    upgrade(engine)  # migrations on start: a new image upgrades the store it is given
    try:
        with replica_guard_for(engine):
            return _serve(settings, engine, host, port, auth)
    except ReplicaGuardError as exc:
        log.error("replica_refused", error=str(exc))
        print(f"error: {exc}", flush=True)
        return EXIT_REPLICA
    finally:
        engine.dispose()


def _answers(service: Service) -> PortfolioSettings:
    """The running config's kpis.yaml and portfolio.yaml, for the portfolio answers' pages
    (a reload replaces them; before the first load, the defaults)."""
    config = service.config
    if config is None:
        return PortfolioSettings()
    return PortfolioSettings(config.kpi, config.portfolio)


def _serve(
    settings: Settings, engine: Engine, host: str, port: int, auth: DashboardAuth | None
) -> int:
    service = Service(engine, settings.config_dir)
    errors = service.start()
    if errors:
        for error in errors:
            log.error("config_invalid", error=str(error))
            print(f"error: {error}", flush=True)
        return EXIT_CONFIG
    if not service.states:
        log.warning(
            "nothing_scheduled",
            hint="no connector file has a `schedule:`; add interval_minutes or cron to one",
        )
    status = status_blueprint(
        alive=service.alive, ready=service.readiness, metrics=service.metrics.render
    )
    # The pages' own engine, read-only: no page can write the store the service writes.
    pages_engine = (
        make_engine(settings.database_url, read_only=True) if settings.dashboard else None
    )
    app = (
        probes_app(status)
        if pages_engine is None
        else create_app(pages_engine, auth=auth, extra=[status], settings=lambda: _answers(service))
    )
    try:
        server = WebServer(app, host, port)
    except OSError as exc:  # the port is taken, the address is not this machine's
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", flush=True)
        service.stop(wait=True)
        if pages_engine is not None:
            pages_engine.dispose()
        return EXIT_CONFIG
    server.start()
    invalid = len(service.config.invalid) if service.config else 0
    skipped = f", {invalid} invalid connector file(s) skipped" if invalid else ""
    base = f"http://{server.address[0]}:{server.address[1]}"
    dashboard = f"; dashboard {base}/" if pages_engine is not None else ""
    print(
        f"pmo-sync serve: {len(service.states)} scheduled connector(s){skipped}; "
        f"{base}/readyz{dashboard}",
        flush=True,
    )
    stop = threading.Event()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second_stop_signal_exiting_now", signal=signal.Signals(signum).name)
            os._exit(1)
        log.info("stop_signal", signal=signal.Signals(signum).name)
        stop.set()

    def on_reload(signum: int, frame: FrameType | None) -> None:
        reload_requested.set()

    reload_requested = threading.Event()
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    try:
        while not stop.wait(0.2):
            if reload_requested.is_set():
                reload_requested.clear()
                service.reload()
    finally:
        service.stop(wait=True)
        server.stop()
        if pages_engine is not None:
            pages_engine.dispose()
    return 0
