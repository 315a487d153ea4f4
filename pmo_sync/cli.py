"""`pmo-sync …`: the admin's and the PMO's command line.

Exit codes: 0 all good; 1 a connector failed (others may have run); 2 the
configuration is invalid. Secrets are never printed: configs hold `SecretStr`
and errors name the variable, never its value.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pmo_sync.config import load_connector_configs
from pmo_sync.logging import configure_logging
from pmo_sync.settings import Settings, get_settings

if TYPE_CHECKING:
    from connectors.base import ConnectorConfig
    from pmo_sync.evaluation.refresh import KpiRefresh
    from pmo_sync.governance.policy import RuleConfig
    from pmo_sync.kpi.config import KpiConfig
    from pmo_sync.store.repository import Store

__all__ = ["app"]

app = typer.Typer(
    name="pmo-sync",
    help="Sync Jira, Azure DevOps and Trello into one store; KPIs and warnings back into each.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals could hold a resolved token
)
connectors_app = typer.Typer(
    help="List, validate and check connector configs.", no_args_is_help=True
)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Local stand-ins for the trackers.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")
app.add_typer(db_app, name="db")
app.add_typer(sandbox_app, name="sandbox")


def _console(stderr: bool = False) -> Console:
    """Lines never wrap (scripts read them); tables get room when piped."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, soft_wrap=True, width=width)


out = _console()
err = _console(stderr=True)

EXIT_CONNECTOR_FAILED = 1
EXIT_INVALID_CONFIG = 2


@app.callback()
def _main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def _settings() -> Settings:
    return get_settings()


def _open_store(settings: Settings) -> Store:
    """Open the store, migrating it first ("db upgrade" also runs on every start)."""
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Store(engine)


def _valid_configs(settings: Settings) -> list[ConnectorConfig]:
    loaded = load_connector_configs(settings.config_dir)
    if loaded.errors:
        for error in loaded.errors:
            err.print(f"[red]error[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    return loaded.configs


def _configs_for(settings: Settings, connector: str | None) -> list[ConnectorConfig]:
    """The valid configs, after checking that `--connector`, if given, names one of them."""
    configs = _valid_configs(settings)
    if connector is not None and connector not in {c.name for c in configs}:
        err.print(f"no connector named {connector!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    return configs


# -- db ------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the latest schema."""
    from pmo_sync.store.engine import current_revision, make_engine, upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    out.print(f"store at revision {current_revision(engine)} ({engine.url.render_as_string()})")


# -- connectors ------------------------------------------------------------------------------------


@connectors_app.command("list")
def connectors_list() -> None:
    """The configured connectors, with their kind and schedule."""
    from connectors.base import describe_schedule

    settings = _settings()
    loaded = load_connector_configs(settings.config_dir)
    table = Table("name", "kind", "where", "schedule", "file")
    for column in table.columns[2:]:
        column.overflow = "fold"  # a path or URL is never cut short
    for config in loaded.configs:
        where = str(getattr(config, "url", None) or getattr(config, "organization_url", ""))
        schedule = "-"
        if config.schedule is not None:
            schedule = describe_schedule(config.schedule)
        table.add_row(
            config.name,
            config.kind,
            escape(where),
            schedule,
            escape(str(loaded.files[config.name])),
        )
    out.print(table)
    for error in loaded.errors:
        err.print(f"[red]invalid[/red] {escape(str(error))}", highlight=False)
    if loaded.errors:
        raise typer.Exit(EXIT_INVALID_CONFIG)


@connectors_app.command("validate")
def connectors_validate() -> None:
    """Validate connector files, kpis.yaml and policies; each error names file, field, problem."""
    from pmo_sync.governance.policy import load_policies
    from pmo_sync.kpi.config import load_kpi_config

    settings = _settings()
    loaded = load_connector_configs(settings.config_dir)
    errors = [
        *loaded.errors,
        *load_kpi_config(settings.config_dir)[1],
        *load_policies(settings.config_dir)[1],
    ]
    for error in errors:
        err.print(f"{error}", highlight=False, markup=False)
    if errors:
        err.print(f"{len(errors)} error(s) in {settings.config_dir}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    out.print(
        f"{len(loaded.configs)} connector config(s) valid in {settings.config_dir}", markup=False
    )


@connectors_app.command("check")
def connectors_check(name: Annotated[str, typer.Argument(help="the connector's name")]) -> None:
    """Reach the tracker; verify the credentials and the permissions the connector needs."""
    from connectors.registry import connector_for_kind

    settings = _settings()
    configs = {c.name: c for c in _valid_configs(settings)}
    if name not in configs:
        err.print(
            f"no connector named {name!r} (configured: {', '.join(sorted(configs)) or 'none'})"
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    config = configs[name]
    with connector_for_kind(config.kind)(config) as connector:
        report = connector.check()
    for result in report.results:
        mark = (
            "[green]ok[/green]  "
            if result.ok
            else ("[yellow]warn[/yellow]" if result.severity == "warning" else "[red]FAIL[/red]")
        )
        out.print(f"{mark} {escape(result.name)}: {escape(result.detail)}", highlight=False)
    if not report.ok:
        raise typer.Exit(EXIT_CONNECTOR_FAILED)


@connectors_app.command("provision")
def connectors_provision(
    name: Annotated[str, typer.Argument(help="the connector's name")],
) -> None:
    """Create the custom fields write-back needs where allowed; else print the admin steps."""
    from connectors.errors import ConnectorError, FieldNotFoundError, PermissionDeniedError
    from connectors.jira import JiraConnector
    from connectors.jira.config import JiraConfig
    from connectors.jira.push import JiraWriter
    from connectors.jira.streams import project_keys_in
    from connectors.trello.config import TrelloConfig

    settings = _settings()
    configs = {c.name: c for c in _valid_configs(settings)}
    config = configs.get(name)
    if config is None:
        err.print(f"no connector named {name!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if not isinstance(config, TrelloConfig | JiraConfig):
        err.print(f"{name}: write-back is not available for kind {config.kind!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    writeback = config.writeback
    if not writeback.fields:
        out.print(f"{name}: no write-back fields configured; nothing to provision", markup=False)
        return
    if isinstance(config, TrelloConfig):  # a field per board and metric: trello/provision.py
        from connectors.trello.provision import provision

        refused = False
        for step in provision(config):
            (err if step.status == "fail" else out).print(step.line, markup=False)
            refused = refused or step.failed
        if refused:
            raise typer.Exit(EXIT_CONNECTOR_FAILED)
        return
    projects = ", ".join(project_keys_in(config.jql)) or "the projects of the JQL"
    failed = False
    connector = JiraConnector(config)
    with connector, JiraWriter(connector.client) as writer:
        for metric, field_name in sorted(writeback.fields.items()):
            try:
                field_id = writer.field_ids([field_name])[field_name]
                out.print(f"ok   {metric}: field {field_name!r} exists ({field_id})", markup=False)
                continue
            except FieldNotFoundError:
                pass
            except ConnectorError as exc:
                err.print(f"FAIL {metric}: {exc}", markup=False)
                failed = True
                continue
            kind = "date" if metric.endswith("_date") else "number"
            try:
                field_id = writer.create_custom_field(
                    field_name, kind, description=f"Written by pmo-sync: {metric}"
                )
            except PermissionDeniedError as exc:
                out.print(f"TODO {metric}: {exc}", markup=False)
                failed = True
                continue
            except ConnectorError as exc:
                err.print(f"FAIL {metric}: {exc}", markup=False)
                failed = True
                continue
            out.print(
                f"made {metric}: created {kind} field {field_name!r} ({field_id}); a Jira admin "
                f"must add it to the edit screens of {projects} (Jira settings > Issues > "
                "Custom fields > the field > Screens)",
                markup=False,
            )
    if failed:
        raise typer.Exit(EXIT_CONNECTOR_FAILED)


# -- sync ------------------------------------------------------------------------------------------


@app.command("sync")
def sync(
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="ignore bookmarks; re-read everything")
    ] = False,
) -> None:
    """Pull every configured connector into the store (incrementally unless --full)."""
    from pmo_sync.report import print_sync_summaries, sync_progress
    from pmo_sync.sync import sync_all

    settings = _settings()
    configs = _configs_for(settings, connector)
    store = _open_store(settings)
    with sync_progress(out, enabled=sys.stderr.isatty()) as progress:
        summaries = sync_all(configs, store, only=connector, full=full, progress=progress)
    print_sync_summaries(out, summaries)
    if any(s.ok for s in summaries):
        from pmo_sync.evaluation.refresh import refresh_kpis

        _print_refresh(refresh_kpis(store.engine, _kpi_config(settings), rules=_rules(settings)))
    if any(not s.ok for s in summaries):
        raise typer.Exit(EXIT_CONNECTOR_FAILED)


# -- kpis ------------------------------------------------------------------------------------------


def _kpi_config(settings: Settings) -> KpiConfig:
    from pmo_sync.kpi.config import load_kpi_config

    config, errors = load_kpi_config(settings.config_dir)
    _exit_on_config_errors(errors)
    return config


def _rules(settings: Settings) -> list[RuleConfig]:
    from pmo_sync.governance.policy import load_policies

    rules, errors = load_policies(settings.config_dir)
    _exit_on_config_errors(errors)
    return rules


def _exit_on_config_errors(errors: Sequence[object]) -> None:
    for error in errors:
        err.print(str(error), highlight=False, markup=False)
    if errors:
        raise typer.Exit(EXIT_INVALID_CONFIG)


def _print_refresh(refresh: KpiRefresh) -> None:
    saved, changes = refresh.saved, refresh.finding_changes
    out.print(
        f"KPIs recomputed: {saved.inserted} new, {saved.updated} changed, "
        f"{saved.unchanged} unchanged values",
        highlight=False,
    )
    if changes is not None:
        out.print(
            f"findings: {len(refresh.findings)} open ({changes.opened} new, "
            f"{changes.resolved} resolved)",
            highlight=False,
        )


@app.command("kpis")
def kpis(
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    since: Annotated[
        str | None, typer.Option(help="window start, YYYY-MM-DD (default: 12 weeks back)")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """Recompute the KPIs from the store, keep them, and show them."""
    from datetime import date

    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.kpi.compute import kpi_values
    from pmo_sync.kpi.render import print_kpi_table, write_csv, write_json

    if format not in ("table", "json", "csv"):
        err.print(f"--format must be table, json or csv, not {format!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        err.print(f"--since must be a date like 2026-09-01, not {since!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG) from None
    settings = _settings()
    config = _kpi_config(settings)
    store = _open_store(settings)
    refresh = refresh_kpis(store.engine, config, rules=_rules(settings), since=start)
    values = list(kpi_values(refresh.run))
    if team is not None:
        known = sorted({v.team for v in values if v.team})
        if team not in known:
            err.print(f"no team {team!r} (teams: {', '.join(known) or 'none'})", markup=False)
            raise typer.Exit(EXIT_INVALID_CONFIG)
        values = [v for v in values if v.team == team]
    if format == "json":
        write_json(values, sys.stdout)
    elif format == "csv":
        write_csv(values, sys.stdout)
    else:
        print_kpi_table(out, values)


@app.command("push")
def push(
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the exact changes; write nothing")
    ] = False,
) -> None:
    """Write KPI fields and the one bot comment per item into each tracker (write-back)."""
    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.writeback.service import push_connector

    settings = _settings()
    configs = _configs_for(settings, connector)
    store = _open_store(settings)
    refresh = refresh_kpis(store.engine, _kpi_config(settings), rules=_rules(settings))
    failed = False
    for config in configs:
        if connector is not None and config.name != connector:
            continue
        writeback = getattr(config, "writeback", None)
        if writeback is None or not writeback.enabled:
            out.print(f"{config.name}: write-back not enabled", highlight=False, markup=False)
            continue
        summary = push_connector(
            config, store.engine, refresh.run, refresh.findings, dry_run=dry_run
        )
        for line in summary.lines:
            out.print(line, highlight=False, markup=False)
        verb = "would make" if dry_run else "made"
        out.print(
            f"{config.name}: {verb} {summary.planned if dry_run else summary.done} change(s)"
            + ("" if dry_run else f", {summary.failed} failed")
            + (
                f", {summary.deferred} deferred (changed in the tracker since the sync: "
                "written by the next push)"
                if summary.deferred
                else ""
            )
            + (
                f", {summary.gone} gone (deleted in the tracker since the sync: "
                "the next sync marks them deleted)"
                if summary.gone
                else ""
            )
            + ("" if dry_run else f", {summary.api_calls} API calls"),
            highlight=False,
            markup=False,
        )
        for error in summary.errors:
            err.print(f"{config.name}: {error}", highlight=False, markup=False)
        failed = failed or not summary.ok
    if failed:
        raise typer.Exit(EXIT_CONNECTOR_FAILED)


@app.command("findings")
def findings(
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    resolved: Annotated[bool, typer.Option("--resolved", help="include resolved ones")] = False,
) -> None:
    """Governance findings as of the last sync (or `kpis` run): open ones, worst first."""
    from pmo_sync.governance.render import print_findings, write_findings_json
    from pmo_sync.store.findings import read_findings

    if format not in ("table", "json"):
        err.print(f"--format must be table or json, not {format!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    store = _open_store(_settings())
    rows = list(read_findings(store.engine, team=team, include_resolved=resolved))
    if format == "json":
        write_findings_json(rows, sys.stdout)
    else:
        print_findings(out, rows)


# -- export ----------------------------------------------------------------------------------------


@app.command("export")
def export(
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file; default stdout")
    ] = None,
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
) -> None:
    """One record per work item, with its ordered status transitions, for any BI tool."""
    from pmo_sync.export import export_items

    if format not in ("jsonl", "csv"):
        err.print(f"--format must be jsonl or csv, not {format!r}")
        raise typer.Exit(EXIT_INVALID_CONFIG)
    store = _open_store(_settings())
    names = [connector] if connector else None
    if names and names[0] not in {s.name for s in store.sources()}:
        err.print(
            f"no synced connector named {connector!r}: run `pmo-sync sync` first", markup=False
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if output is None:
        count = export_items(store, sys.stdout, format, source_names=names)  # type: ignore[arg-type]
    else:
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = export_items(store, handle, format, source_names=names)  # type: ignore[arg-type]
    err.print(f"exported {count} work items", highlight=False)


# -- demo and sandbox ------------------------------------------------------------------------


@app.command("demo")
def demo(
    keep: Annotated[
        Path | None, typer.Option(help="keep the demo's store and config in this directory")
    ] = None,
    issues_per_project: Annotated[int, typer.Option(help="sandbox issues per project")] = 100,
) -> None:
    """Start the sandbox trackers, sync them into a temporary store and show what came in."""
    import os

    from pmo_sync.demo import run_demo

    if "PMO_SYNC_LOG_LEVEL" not in os.environ:  # the demo's tables are the output, not the logs
        configure_logging(_settings().log_format, "WARNING")
    raise typer.Exit(run_demo(out, keep=keep, issues_per_project=issues_per_project))


# -- the service ---------------------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="address of the HTTP endpoints (PMO_SYNC_HTTP_HOST)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port of the HTTP endpoints (PMO_SYNC_HTTP_PORT)")
    ] = None,
) -> None:
    """Run every scheduled connector's cycle (sync, KPIs, push) until SIGTERM; SIGHUP reloads."""
    from pmo_sync.service.process import run_service

    settings = _settings()
    raise typer.Exit(
        run_service(
            settings,
            host=host if host is not None else settings.http_host,
            port=port if port is not None else settings.http_port,
        )
    )


@app.command("healthcheck")
def healthcheck() -> None:
    """Exit 0 when the local `serve` answers /healthz (the container's HEALTHCHECK)."""
    import urllib.error
    import urllib.request

    settings = _settings()
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host
    url = f"http://{host}:{settings.http_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            ok = answer.status == 200
    except (urllib.error.URLError, OSError) as exc:
        err.print(f"unhealthy: {url}: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    if not ok:
        raise typer.Exit(1)
    out.print(f"healthy: {url}", highlight=False, markup=False)


@app.command("status")
def status(
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Per connector: the last cycle and its outcome, the next run, the pending pushes."""
    from pmo_sync.service.cycle import load_service_config
    from pmo_sync.service.status import connector_statuses, status_rows

    if format not in ("table", "json"):
        err.print(f"--format must be table or json, not {format!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    settings = _settings()
    service, errors = load_service_config(settings.config_dir)
    _exit_on_config_errors(errors)
    assert service is not None
    store = _open_store(settings)
    now = datetime.now(UTC)
    statuses = connector_statuses(store.engine, service, now=now)
    if format == "json":
        json.dump([s.to_json() for s in statuses], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = Table(
        "connector", "schedule", "last run (UTC)", "outcome", "took", "last success",
        "next run", "pending pushes", title="pmo-sync status",
    )  # fmt: skip
    for row in status_rows(statuses, now):
        table.add_row(*(escape(cell) for cell in row))
    out.print(table)
    for s in statuses:
        if s.last_error:
            out.print(f"{s.connector}: {s.last_error}", highlight=False, markup=False)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8080,
    seed: Annotated[int, typer.Option(help="data generator seed")] = 7,
    issues_per_project: Annotated[int, typer.Option(help="issues per project")] = 100,
    deployment: Annotated[str, typer.Option(help="cloud or server")] = "cloud",
    tracker: Annotated[
        str,
        typer.Option(
            help="jira, azure_devops (--issues-per-project x3 work items) or trello "
            "(--issues-per-project cards per board)"
        ),
    ] = "jira",
) -> None:
    """Serve a sandbox tracker on 127.0.0.1 until interrupted."""
    if tracker == "azure_devops":
        from pmo_sync.sandbox.ado.server import serve as serve_ado

        size = 3 * issues_per_project
        out.print(
            f"sandbox Azure DevOps on http://127.0.0.1:{port}/contoso (seed {seed}, {size} "
            "work items in project Fabrikam); Ctrl-C stops it",
            highlight=False,
        )
        serve_ado(host="127.0.0.1", port=port, seed=seed, size=size)
        return
    if tracker == "trello":
        from pmo_sync.sandbox.trello.server import serve as serve_trello

        out.print(
            f"sandbox Trello on http://127.0.0.1:{port}/1 (seed {seed}, {issues_per_project} "
            "cards per board); Ctrl-C stops it",
            highlight=False,
        )
        serve_trello(host="127.0.0.1", port=port, seed=seed, cards_per_board=issues_per_project)
        return
    if tracker != "jira":
        err.print(f"--tracker must be jira, azure_devops or trello, not {tracker!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    from pmo_sync.sandbox.jira.server import serve

    out.print(
        f"sandbox Jira on http://127.0.0.1:{port} (seed {seed}, "
        f"{issues_per_project} issues per project); Ctrl-C stops it"
    )
    serve(
        host="127.0.0.1",
        port=port,
        seed=seed,
        issues_per_project=issues_per_project,
        deployment=deployment,
    )
