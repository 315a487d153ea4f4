"""`pmo-sync demo`: the sandbox trackers synced into a temporary store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmo_sync.cli.common import (
    app,
    load_settings,
    out,
)
from pmo_sync.logging import configure_logging

# -- demo and sandbox ------------------------------------------------------------------------


@app.command("demo")
def demo(
    keep: Annotated[
        Path | None, typer.Option(help="keep the demo's store and config in this directory")
    ] = None,
    issues_per_project: Annotated[int, typer.Option(help="sandbox issues per project")] = 100,
) -> None:
    """Start the sandbox trackers, sync them into a temporary store and show what came in."""
    import os

    from pmo_sync.demo import run_demo

    if "PMO_SYNC_LOG_LEVEL" not in os.environ:  # the demo's tables are the output, not the logs
        configure_logging(load_settings().log_format, "WARNING")
    raise typer.Exit(run_demo(out, keep=keep, issues_per_project=issues_per_project))
