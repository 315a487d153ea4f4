"""`pmo-sync demo`: the whole pipeline against the built-in sandbox trackers.

Everything lives in a temporary directory (the config, the token, the SQLite
store) unless `--keep DIR` asks to keep it; nothing outside it is touched.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connectors.base import ConnectorConfig
from pmo_sync.config import ConfigLoad, load_connector_configs
from pmo_sync.governance.policy import load_policies
from pmo_sync.governance.render import print_findings
from pmo_sync.kpi.compute import kpi_values
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.render import print_kpi_table
from pmo_sync.kpi.service import KpiRefresh, refresh_kpis
from pmo_sync.report import print_sync_summaries
from pmo_sync.sandbox.server import JiraSandbox
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.findings import read_findings
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_all
from pmo_sync.writeback.service import push_connector

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
                "writeback:",
                "  enabled: true",
                "  comments: true",
                "  fields:",
                *(f"    {metric}: {name}" for metric, name in DEMO_FIELDS.items()),
                "",
            ]
        ),
        encoding="utf-8",
    )


EXAMPLE_POLICIES = Path(__file__).resolve().parents[1] / "config" / "policies"
DEMO_FIELDS = {
    "cycle_time_days": "Cycle time (days)",
    "wip_age_days": "WIP age (days)",
    "team_cycle_time_p85_days": "Team p85 cycle time (days)",
}


def _provision_sandbox_fields(jira: JiraSandbox) -> None:
    """What a Jira admin does once: create the KPI fields and put them on the edit screens."""
    for name in DEMO_FIELDS.values():
        field_id = jira.dataset.create_custom_field(name, "number")
        for project in ("ABC", "DEF", "GHI"):
            jira.dataset.add_field_to_screen(field_id, project)


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

    with tempfile.TemporaryDirectory(prefix="pmo-sync-demo-") as scratch:
        workdir = keep if keep is not None else Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        with JiraSandbox(issues_per_project=issues_per_project) as jira:
            console.print(f"sandbox Jira on {jira.url}", highlight=False)
            _write_config(workdir / "config", jira.url, jira.email)
            _provision_sandbox_fields(jira)
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
            refresh = _print_kpis(console, store, workdir / "config", jira.dataset.clock.now)
            _print_push(console, store, loaded.configs, refresh, jira)
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


def _print_kpis(console: Console, store: Store, config_dir: Path, now: datetime) -> KpiRefresh:
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
    return refresh


def _print_push(
    console: Console,
    store: Store,
    configs: Sequence[ConnectorConfig],
    refresh: KpiRefresh,
    jira: JiraSandbox,
) -> None:
    """Write-back into the sandbox Jira, then once more to show nothing is written twice."""
    for config in configs:
        now = jira.dataset.clock.now
        first = push_connector(config, store.engine, refresh.run, refresh.findings, now=now)
        again = push_connector(config, store.engine, refresh.run, refresh.findings, now=now)
        comments = sum(
            1
            for issue in jira.dataset.issues
            for c in jira.dataset.comments(issue.key)
            if c.author_id == jira.account_id
        )
        console.print(
            f"write-back into {config.name}: {first.done} changes ({comments} bot comments, "
            f"KPI fields on the items) in {first.api_calls} API calls, {first.failed} failed; "
            f"pushed again: {again.done} changes, {again.api_calls} API calls",
            highlight=False,
        )
        sample = next(
            (
                (issue.key, c.text)
                for issue in jira.dataset.issues
                for c in jira.dataset.comments(issue.key)
                if c.author_id == jira.account_id
            ),
            None,
        )
        if sample is not None:
            console.print(f"the bot's comment on {sample[0]}:", highlight=False)
            console.print(sample[1], highlight=False, markup=False)
