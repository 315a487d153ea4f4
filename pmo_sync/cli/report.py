"""`pmo-sync report --html -o FILE`: the dashboard's pages as one file that opens offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    app,
    err,
    exit_if_nothing_synced,
    load_settings,
    open_store_to_read,
    out,
)
from pmo_sync.cli.listing import check_team


def file_size(size: int) -> str:
    """`812 B`, `14.2 kB`, `4.7 MB`: what a reader compares with a mailbox's limit."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


@app.command("report")
def report(
    html: Annotated[
        bool, typer.Option("--html", help="write HTML (the only format for now; required)")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="the file to write (required)")
    ] = None,
    team: Annotated[str | None, typer.Option(help="only this team's pages")] = None,
) -> None:
    """Write the dashboard's pages, as the store holds them, into one self-contained file.

    Scripts, styles and data are inside: it opens from a disk or an e-mail with no
    network and no server. Nothing is recomputed (what the last refresh kept is shown)."""
    from pmo_sync.dashboard.reads import DashboardReads
    from pmo_sync.dashboard.report import build_report

    if not html:
        err.print("report needs --html (the only format for now)", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if output is None:
        err.print("report needs -o FILE: where to write it", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    from pmo_sync.cli.dashboard import answers_settings

    settings = load_settings()
    answers = answers_settings(settings)
    store = open_store_to_read(settings)
    exit_if_nothing_synced(store)
    check_team(team, DashboardReads(store.engine).team_names())
    written = build_report(store.engine, team=team, settings=answers)
    try:
        output.write_text(written.html, encoding="utf-8")
    except OSError as exc:
        err.print(f"cannot write {output}: {exc.strerror or exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG) from None
    pages = f"{written.pages} page" + ("" if written.pages == 1 else "s")
    size = file_size(output.stat().st_size)
    out.print(f"wrote {output} ({size}, {pages})", highlight=False, markup=False)
