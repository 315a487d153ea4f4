"""`pmo-sync …`: the admin's and the PMO's command line.

One module per command group; each registers its commands on the Typer apps in
`common`. Exit codes are documented in `common` and the README.
"""

from pmo_sync.cli import (  # noqa: F401  (importing a module registers its commands)
    connectors,
    dashboard,
    db,
    demo,
    findings,
    kpis,
    portfolio,
    push,
    report,
    sandbox,
    service,
    sync,
    teams,
)
from pmo_sync.cli.common import EXIT_CONNECTOR_FAILED, EXIT_INVALID_CONFIG, app, err, out

__all__ = ["EXIT_CONNECTOR_FAILED", "EXIT_INVALID_CONFIG", "app", "err", "out"]
