"""Alembic migrations of the pmo-sync store.

A package (not just a folder) so it is installed with pmo-sync and
`pmo_sync.store.engine.upgrade` can find it without an alembic.ini.
"""
