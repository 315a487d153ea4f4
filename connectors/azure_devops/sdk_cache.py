"""Where the `azure-devops` SDK keeps its disk cache: pmo-sync's own directory, not `~`.

The SDK caches resource areas and route options for 12 hours in
`AZURE_DEVOPS_CACHE_DIR`, read once, when `azure.devops` is first imported
(default `~/.azure-devops/python-sdk/cache`, created at import). A service
should keep its files under its own cache directory, and a read-only home (a
container's non-root user) must not break the import, so the variable is set
before the SDK is imported, unless an admin set it already.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_VARIABLE", "sdk_cache_dir", "use_own_cache_dir"]

CACHE_VARIABLE = "AZURE_DEVOPS_CACHE_DIR"


def sdk_cache_dir(environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    """`$PMO_SYNC_CACHE_DIR`, else `$XDG_CACHE_HOME/pmo-sync`, else `~/.cache/pmo-sync`; then
    `azure-devops` under it."""
    base = environ.get("PMO_SYNC_CACHE_DIR")
    if base:
        return Path(base) / "azure-devops"
    xdg = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "pmo-sync" / "azure-devops"


def use_own_cache_dir() -> str:
    """Point the SDK's cache at `sdk_cache_dir()` unless already set; returns the directory."""
    if not os.environ.get(CACHE_VARIABLE):
        os.environ[CACHE_VARIABLE] = str(sdk_cache_dir())
    return os.environ[CACHE_VARIABLE]
