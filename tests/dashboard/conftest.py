"""The dashboard tests' fixtures: the sandboxes' store (tests/dashboard_support.py) and the
scripted portfolio's (tests/dashboard/scripted_portfolio.py)."""

from ..dashboard_support import SANDBOX_DAY, SandboxStore, sandbox_engine, sandbox_store
from .scripted_portfolio import scripted_store

__all__ = ["SANDBOX_DAY", "SandboxStore", "sandbox_engine", "sandbox_store", "scripted_store"]
