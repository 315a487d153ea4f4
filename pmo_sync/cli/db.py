"""`pmo-sync db …`: the store's schema, and the facts an upgrade re-converts from the store."""

from __future__ import annotations

import typer

from pmo_sync.cli.common import (
    EXIT_RECORDS_SKIPPED,
    db_app,
    err,
    load_settings,
    out,
)

SKIPPED_LINES = 20
"""Lines naming skipped payloads, per connector; the rest are counted."""

# -- db ------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the latest schema, then re-convert the portfolio
    facts of stored items from their raw payloads (offline, each connector once)."""
    from pmo_sync.config import load_connector_configs
    from pmo_sync.store.engine import current_revision, make_engine, upgrade
    from pmo_sync.store.repository import Store
    from pmo_sync.sync import reconvert_stored

    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    out.print(f"store at revision {current_revision(engine)} ({engine.url.render_as_string()})")
    store = Store(engine)
    due = [s.name for s in store.sources() if store.conversion_due(s.id)]
    if not due:
        return
    loaded = load_connector_configs(settings.config_dir)
    results = reconvert_stored(loaded.configs, store)
    skipped = 0
    for result in results:
        kept = f"; kept for the next sync: {'; '.join(result.kept)}" if result.kept else ""
        out.print(
            f"{result.source}: {result.items:,} stored item{'' if result.items == 1 else 's'} "
            f"re-converted from their raw payloads in {result.seconds:.1f} s{kept}",
            highlight=False,
            markup=False,
        )
        for key, why in result.skipped[:SKIPPED_LINES]:
            err.print(
                f"{result.source}: {key}: raw payload skipped, {why}; its facts come with "
                "its next sync",
                highlight=False,
                markup=False,
            )
        if len(result.skipped) > SKIPPED_LINES:
            err.print(
                f"{result.source}: {len(result.skipped) - SKIPPED_LINES} more raw payloads skipped",
                highlight=False,
                markup=False,
            )
        skipped += len(result.skipped)
    left = sorted(set(due) - {r.source for r in results})
    if left:
        out.print(
            f"not re-converted here (no valid connector file names them): {', '.join(left)}; "
            "each is re-converted at its next sync",
            highlight=False,
            markup=False,
        )
    if skipped:
        raise typer.Exit(EXIT_RECORDS_SKIPPED)
