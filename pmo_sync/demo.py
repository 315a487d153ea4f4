"""`pmo-sync demo`: the whole pipeline against the built-in sandbox trackers.

Everything lives in a temporary directory (the config, the token, the SQLite
store) unless `--keep DIR` asks to keep it; nothing outside it is touched.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pmo_sync.config import ConfigLoad, load_connector_configs
from pmo_sync.governance.policy import load_policies
from pmo_sync.governance.render import print_findings
from pmo_sync.kpi.compute import kpi_values
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.render import print_kpi_table
from pmo_sync.kpi.service import refresh_kpis
from pmo_sync.report import print_sync_summaries
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.findings import read_findings
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_all

__all__ = ["run_demo"]

TOKEN_VARIABLE = "PMO_SYNC_DEMO_JIRA_TOKEN"


def _write_config(config_dir: Path, url: str, email: str) -> None:
    connectors = config_dir / "connectors"
    connectors.mkdir(parents=True, exist_ok=True)
    (connectors / "sandbox-jira.yaml").write_text(
        "\n".join(
            [
                "# Written by `pmo-sync demo` for the sandbox Jira it started.",
                "name: sandbox-jira",
                "kind: jira",
                f"url: {url}",
                f"email: {email}",
                f"token: ${{{TOKEN_VARIABLE}}}",
                "jql: project in (ABC, DEF, GHI)",
                "",
            ]
        ),
        encoding="utf-8",
    )


EXAMPLE_POLICIES = Path(__file__).resolve().parents[1] / "config" / "policies"


def _copy_example_policies(config_dir: Path) -> None:
    """The repository's example policies, so the demo shows findings (none in a wheel install)."""
    if not EXAMPLE_POLICIES.is_dir():
        return
    target = config_dir / "policies"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(EXAMPLE_POLICIES.glob("*.yaml")):
        (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")


def _load_with_token(config_dir: Path, token: str) -> ConfigLoad:
    """Resolve the config's `${...}` token reference, without leaving the variable set."""
    previous = os.environ.get(TOKEN_VARIABLE)
    os.environ[TOKEN_VARIABLE] = token
    try:
        return load_connector_configs(config_dir)
    finally:
        if previous is None:
            del os.environ[TOKEN_VARIABLE]
        else:
            os.environ[TOKEN_VARIABLE] = previous


def run_demo(console: Console, *, keep: Path | None, issues_per_project: int = 100) -> int:
    """Returns the exit code: 0 when every connector synced."""
    from pmo_sync.sandbox.server import JiraSandbox

    with tempfile.TemporaryDirectory(prefix="pmo-sync-demo-") as scratch:
        workdir = keep if keep is not None else Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        with JiraSandbox(issues_per_project=issues_per_project) as jira:
            console.print(f"sandbox Jira on {jira.url}", highlight=False)
            _write_config(workdir / "config", jira.url, jira.email)
            _copy_example_policies(workdir / "config")
            loaded = _load_with_token(workdir / "config", jira.token)
            if loaded.errors:
                for error in loaded.errors:
                    console.print(f"[red]{escape(str(error))}[/red]")
                return 2
            engine = make_engine(f"sqlite:///{workdir / 'pmo-sync.sqlite3'}")
            upgrade(engine)
            store = Store(engine)
            summaries = sync_all(loaded.configs, store)
            print_sync_summaries(console, summaries)
            _print_stored(console, store)
            _print_kpis(console, store, workdir / "config", jira.dataset.clock.now)
        engine.dispose()
        if keep is not None:
            console.print(f"kept the demo's config and store in {keep}", highlight=False)
    return 0 if all(s.ok for s in summaries) else 1


def _print_stored(console: Console, store: Store) -> None:
    table = Table(
        "team", "items", "status changes", "sprint stays", "sprints", title="stored, per team"
    )
    items: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    stays: Counter[str] = Counter()
    for item in store.iter_items():
        team = item.team or item.project
        items[team] += 1
        changes[team] += len(item.status_changes)
        stays[team] += len(item.sprints)
    sprints = store.sprint_counts_by_team()
    for team in sorted(items):
        table.add_row(escape(team), str(items[team]), str(changes[team]), str(stays[team]),
                      str(sprints.get(team, 0)))  # fmt: skip
    console.print(table)


def _print_kpis(console: Console, store: Store, config_dir: Path, now: datetime) -> None:
    """The KPI and governance engines over what was just synced, as of the sandbox's clock."""
    rules, errors = load_policies(config_dir)
    for error in errors:
        console.print(f"[red]{escape(str(error))}[/red]")
    refresh = refresh_kpis(store.engine, KpiConfig(), rules=rules, now=now)
    console.print(
        f"KPIs as of {now:%Y-%m-%d %H:%M} UTC ({refresh.saved.inserted} values stored); "
        "days counted inclusively (Vacanti)",
        highlight=False,
    )
    print_kpi_table(console, list(kpi_values(refresh.run)))
    findings = list(read_findings(store.engine))
    console.print(
        f"governance: {len(rules)} rules from {config_dir / 'policies'}, "
        f"{len(findings)} open findings",
        highlight=False,
    )
    print_findings(console, findings)
