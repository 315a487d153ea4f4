"""The dashboard tests' fixtures: the sandboxes' store (tests/dashboard_support.py)."""

from ..dashboard_support import SANDBOX_DAY, SandboxStore, sandbox_engine, sandbox_store

__all__ = ["SANDBOX_DAY", "SandboxStore", "sandbox_engine", "sandbox_store"]
