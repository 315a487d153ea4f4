"""`pmo-sync db …`: the store's schema."""

from __future__ import annotations

from pmo_sync.cli.common import (
    db_app,
    load_settings,
    out,
)

# -- db ------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the latest schema."""
    from pmo_sync.store.engine import current_revision, make_engine, upgrade

    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    out.print(f"store at revision {current_revision(engine)} ({engine.url.render_as_string()})")
