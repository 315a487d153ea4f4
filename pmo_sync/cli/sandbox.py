"""`pmo-sync sandbox serve`: a local stand-in for a tracker."""

from __future__ import annotations

from typing import Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    err,
    out,
    sandbox_app,
)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8080,
    seed: Annotated[int, typer.Option(help="data generator seed")] = 7,
    issues_per_project: Annotated[int, typer.Option(help="issues per project")] = 100,
    deployment: Annotated[str, typer.Option(help="cloud or server")] = "cloud",
    tracker: Annotated[
        str,
        typer.Option(
            help="jira, azure_devops (--issues-per-project x3 work items) or trello "
            "(--issues-per-project cards per board)"
        ),
    ] = "jira",
) -> None:
    """Serve a sandbox tracker on 127.0.0.1 until interrupted."""
    if tracker == "azure_devops":
        from pmo_sync.sandbox.ado.server import serve as serve_ado

        size = 3 * issues_per_project
        out.print(
            f"sandbox Azure DevOps on http://127.0.0.1:{port}/contoso (seed {seed}, {size} "
            "work items in project Fabrikam); Ctrl-C stops it",
            highlight=False,
        )
        serve_ado(host="127.0.0.1", port=port, seed=seed, size=size)
        return
    if tracker == "trello":
        from pmo_sync.sandbox.trello.server import serve as serve_trello

        out.print(
            f"sandbox Trello on http://127.0.0.1:{port}/1 (seed {seed}, {issues_per_project} "
            "cards per board); Ctrl-C stops it",
            highlight=False,
        )
        serve_trello(host="127.0.0.1", port=port, seed=seed, cards_per_board=issues_per_project)
        return
    if tracker != "jira":
        err.print(f"--tracker must be jira, azure_devops or trello, not {tracker!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    from pmo_sync.sandbox.jira.server import serve

    out.print(
        f"sandbox Jira on http://127.0.0.1:{port} (seed {seed}, "
        f"{issues_per_project} issues per project); Ctrl-C stops it"
    )
    serve(
        host="127.0.0.1",
        port=port,
        seed=seed,
        issues_per_project=issues_per_project,
        deployment=deployment,
    )
