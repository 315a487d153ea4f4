"""`pmo-sync demo`: the sandbox trackers synced into a temporary store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from pmo_sync.cli.common import (
    app,
    load_settings,
    out,
)
from pmo_sync.cli.sandbox import TODAY_HELP
from pmo_sync.logging import configure_logging


@app.command("demo")
def demo(
    keep: Annotated[
        Path | None, typer.Option(help="keep the demo's store and config in this directory")
    ] = None,
    issues_per_project: Annotated[int, typer.Option(help="sandbox issues per project")] = 100,
    today: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help=TODAY_HELP)] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="then serve the dashboard on the demo's store (127.0.0.1, PMO_SYNC_HTTP_PORT) "
            "until Ctrl-C",
        ),
    ] = False,
) -> None:
    """Start the sandbox trackers, sync them into a temporary store and show what came in.

    Ends with the portfolio as one HTML file (in --keep's directory, else in a temporary
    directory left in place) and how to serve the dashboard on the demo's store."""
    import os

    from pmo_sync.demo import run_demo
    from pmo_sync.sandbox.clock import sandbox_now

    if "PMO_SYNC_LOG_LEVEL" not in os.environ:  # the demo's tables are the output, not the logs
        configure_logging(load_settings().log_format, "WARNING")
    now = sandbox_now(today.date() if today is not None else None)
    settings = load_settings()
    raise typer.Exit(
        run_demo(
            out,
            keep=keep,
            now=now,
            issues_per_project=issues_per_project,
            serve_port=settings.http_port if serve else None,
        )
    )
