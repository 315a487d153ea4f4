"""For connector authors: the contract suite every connector passes, built-in or plug-in.

- `ContractCase`, `WritebackCase`: a live tracker and what a person can do in it.
- `connector_contract_tests(case)`: a pytest test class running the whole suite
  (`pmo_sync.testing.contract`; needs pytest, the `testing` extra:
  ``pip install "pmo-sync[testing]"``).
- `pmo_sync.testing.checks`: the same checks as plain functions, for any runner.

Importing this package does not import pytest; `connector_contract_tests` does, when first
used. CONTRIBUTING.md ("Adding a connector") shows a whole plug-in; `examples/` holds one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmo_sync.testing.checks import ContractCase, WritebackCase

if TYPE_CHECKING:
    from pmo_sync.testing.contract import connector_contract_tests

__all__ = ["ContractCase", "WritebackCase", "connector_contract_tests"]


def __getattr__(name: str) -> Any:
    if name == "connector_contract_tests":
        from pmo_sync.testing.contract import connector_contract_tests

        return connector_contract_tests
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
