"""`pmo-sync sandbox serve`: a local stand-in for a tracker, its data relative to today."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from pmo_sync.cli.common import (
    EXIT_INVALID_CONFIG,
    err,
    sandbox_app,
)

TODAY_HELP = (
    "the sandbox's today, YYYY-MM-DD: its data ends at noon UTC that day "
    "(default: the latest noon UTC that has passed)"
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
    today: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help=TODAY_HELP)] = None,
) -> None:
    """Serve a sandbox tracker on 127.0.0.1 until interrupted; it prints what a config needs."""
    from pmo_sync.sandbox.banner import ado_banner, jira_banner, trello_banner
    from pmo_sync.sandbox.clock import sandbox_now
    from pmo_sync.sandbox.harness import serve_until_stopped

    now = sandbox_now(today.date() if today is not None else None)
    if tracker == "azure_devops":
        from pmo_sync.sandbox.ado import AdoDataset, AdoSandbox

        ado = AdoSandbox(
            AdoDataset.generate(seed=seed, size=3 * issues_per_project, now=now), port=port
        )
        serve_until_stopped(ado, lambda: ado_banner(ado, seed=seed))
        return
    if tracker == "trello":
        from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox

        dataset = TrelloDataset.generate(seed=seed, cards_per_board=issues_per_project, now=now)
        trello = TrelloSandbox(dataset, port=port)
        serve_until_stopped(trello, lambda: trello_banner(trello, seed=seed))
        return
    if tracker != "jira":
        err.print(f"--tracker must be jira, azure_devops or trello, not {tracker!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    from pmo_sync.sandbox.jira.generator import JiraDataset
    from pmo_sync.sandbox.jira.server import JiraSandbox

    jira_data = JiraDataset.generate(seed=seed, issues_per_project=issues_per_project, now=now)
    jira = JiraSandbox(jira_data, deployment=deployment, port=port)
    serve_until_stopped(jira, lambda: jira_banner(jira, seed=seed))
