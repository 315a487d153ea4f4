"""`pmo-sync kpis --format json --no-refresh` on a store: the figures a page must show."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..cli_support import cli_state_restored, run_cli
from ..dashboard_support import SandboxStore

__all__ = ["cli_on", "kpis_json", "team_values"]


def cli_on(store: SandboxStore, *args: str) -> Any:
    """Run `pmo-sync ARGS` with the store's URL and config in the environment."""
    with pytest.MonkeyPatch.context() as patch, cli_state_restored():
        patch.setenv("PMO_SYNC_DATABASE_URL", store.url)
        patch.setenv("PMO_SYNC_CONFIG_DIR", str(store.config_dir))
        patch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
        return run_cli(args)


def kpis_json(store: SandboxStore) -> list[dict[str, Any]]:
    result = cli_on(store, "kpis", "--format", "json", "--no-refresh")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def team_values(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[str, Any]]]]:
    """Team-scope values: team → metric → [(window, value)] in window order."""
    teams: dict[str, dict[str, list[tuple[str, Any]]]] = {}
    for row in rows:
        if row["scope"] == "team":
            metrics = teams.setdefault(row["scope_key"], {})
            metrics.setdefault(row["metric"], []).append((row["window"], row["value"]))
    for metrics in teams.values():
        for values in metrics.values():
            values.sort()
    return teams
