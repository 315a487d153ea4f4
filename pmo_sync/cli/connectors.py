"""`pmo-sync connectors …`: list, validate, check and provision connector configs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol

import typer
from rich.markup import escape

from pmo_sync.cli.common import (
    EXIT_CONNECTOR_FAILED,
    EXIT_INVALID_CONFIG,
    configs_for,
    connectors_app,
    err,
    load_settings,
    out,
)
from pmo_sync.config import load_connector_configs

if TYPE_CHECKING:
    from pmo_sync.settings import Settings

# -- connectors ------------------------------------------------------------------------------------


@connectors_app.command("list")
def connectors_list(
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """Every connector file: name, kind, where, schedule, and ok or why it is skipped.

    Exit 0 when every file is valid, 5 when some are invalid (sync and serve skip them),
    2 when none can run (no file, every file invalid, no config directory).
    """
    from pmo_sync.cli.common import EXIT_CONNECTORS_SKIPPED
    from pmo_sync.cli.formats import FORMATS, narrow_table, write_csv, write_json
    from pmo_sync.cli.listing import check_format
    from pmo_sync.config import connector_file_rows, no_connector_files_message

    check_format(format, FORMATS)
    settings = load_settings()
    loaded = load_connector_configs(settings.config_dir)
    if loaded.directory is None:
        for error in loaded.errors:
            err.print(f"error {error}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if loaded.no_files:
        err.print(no_connector_files_message(loaded.directory), highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    rows = connector_file_rows(loaded)
    if format == "json":
        write_json([row.to_json() for row in rows])
    elif format == "csv":
        keys = ("file", "name", "kind", "where", "schedule", "state", "errors")
        write_csv([row.to_json() for row in rows], keys)
    else:
        cells = [
            [row.label, row.kind or "-", row.short_where, row.schedule, row.state_cell()]
            for row in rows
        ]
        headers = ("connector", "kind", "where", "schedule", "state")
        table = narrow_table(headers, cells, wrap=("state",), width=out.width)
        out.print(f"connector files in {loaded.directory}", highlight=False, markup=False)
        out.print(table)
    if loaded.invalid:
        err.print(
            f"{len(loaded.invalid)} of {len(rows)} connector files invalid: sync and serve "
            "skip them (`pmo-sync connectors validate` lists every error)",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(EXIT_CONNECTORS_SKIPPED if loaded.configs else EXIT_INVALID_CONFIG)


@connectors_app.command("validate")
def connectors_validate() -> None:
    """Validate connector files, kpis.yaml, portfolio.yaml and policies; each error names
    file, field, problem.

    Ends with what it checked: `checked 3 connector files, kpis.yaml, portfolio.yaml and 2
    policy files in config: all valid` (a missing kpis.yaml, portfolio.yaml or policies
    folder is named, not skipped silently).
    """
    from pmo_sync.common.configfiles import read_yaml_documents
    from pmo_sync.config import no_connector_files_message
    from pmo_sync.governance.policy import POLICIES_DIR, load_policies
    from pmo_sync.kpi.config import KPI_FILE, load_kpi_config
    from pmo_sync.portfolio.config import PORTFOLIO_FILE, load_portfolio_config

    settings = load_settings()
    config_dir = settings.config_dir
    loaded = load_connector_configs(config_dir)
    errors = [
        *loaded.errors,
        *load_kpi_config(config_dir)[1],
        *load_portfolio_config(config_dir)[1],
        *load_policies(config_dir)[1],
    ]
    for error in errors:
        err.print(f"{error}", highlight=False, markup=False)
    if loaded.directory is None:
        err.print(f"1 error in {config_dir}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    connector_files = len(loaded.configs) + len(loaded.invalid)
    policy_files = sum(1 for _ in read_yaml_documents(config_dir / POLICIES_DIR))
    kpis = KPI_FILE if (config_dir / KPI_FILE).exists() else f"{KPI_FILE} (none: the defaults)"
    portfolio = (
        PORTFOLIO_FILE
        if (config_dir / PORTFOLIO_FILE).exists()
        else f"{PORTFOLIO_FILE} (none: the defaults)"
    )
    policies = (
        f"{policy_files} policy file{'' if policy_files == 1 else 's'}"
        if policy_files
        else f"{POLICIES_DIR}/ (none: no findings)"
    )
    checked = (
        f"checked {connector_files} connector file{'' if connector_files == 1 else 's'}, "
        f"{kpis}, {portfolio} and {policies} in {config_dir}"
    )
    if errors:
        count = f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
        err.print(f"{checked}: {count}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if loaded.no_files:
        err.print(no_connector_files_message(loaded.directory), highlight=False, markup=False)
        err.print(f"{checked}: nothing to run", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    out.print(f"{checked}: all valid", highlight=False, markup=False)


@connectors_app.command("check")
def connectors_check(name: Annotated[str, typer.Argument(help="the connector's name")]) -> None:
    """Reach the tracker; verify the credentials and the permissions the connector needs."""
    from connectors.registry import connector_for_kind

    settings = load_settings()
    config = configs_for(settings, name).configs[0]  # another file's errors are not fatal
    from pmo_sync.report import step_progress

    with (
        step_progress(err, f"check {name}", 2, enabled=err.is_interactive) as step,
        connector_for_kind(config.kind)(config) as connector,
    ):
        step("reach, credentials, permissions")
        report = connector.check()
        if report.results and report.results[0].ok:  # the credentials are accepted:
            # will the tracker take each write-back field where it is written?
            from pmo_sync.writeback.fieldcheck import check_writeback_fields

            step("write-back fields")
            report.results += check_writeback_fields(connector, stored_places(settings, name))
    for result in report.results:
        mark = (
            "[green]ok[/green]  "
            if result.ok
            else ("[yellow]warn[/yellow]" if result.severity == "warning" else "[red]FAIL[/red]")
        )
        out.print(f"{mark} {escape(result.name)}: {escape(result.detail)}", highlight=False)
    if not report.ok:
        raise typer.Exit(EXIT_CONNECTOR_FAILED)


class _Step(Protocol):
    """A provisioning step, as Trello's and Azure DevOps' modules report them."""

    @property
    def status(self) -> str: ...
    @property
    def failed(self) -> bool: ...
    @property
    def line(self) -> str: ...


def _print_steps(steps: Iterable[_Step]) -> None:
    """Each step's line as it comes (a failure on stderr); exit 1 if an admin must act."""
    refused = False
    for step in steps:
        (err if step.status == "fail" else out).print(step.line, markup=False)
        refused = refused or step.failed
    if refused:
        raise typer.Exit(EXIT_CONNECTOR_FAILED)


def stored_places(settings: Settings, name: str) -> dict[str, tuple[str, str]]:
    """Key -> (project, type) of the connector's synced items; {} when the store has none
    (never synced, not created yet, or not reachable: the check then samples the tracker)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from pmo_sync.store.engine import make_engine
    from pmo_sync.store.reads import item_places

    url = make_url(settings.database_url)
    if url.drivername.startswith("sqlite") and not Path(url.database or "").is_file():
        return {}  # checking creates no store
    engine = make_engine(settings.database_url)
    try:
        return item_places(engine, name)
    except SQLAlchemyError:
        return {}
    finally:
        engine.dispose()


@connectors_app.command("provision")
def connectors_provision(
    name: Annotated[str, typer.Argument(help="the connector's name")],
) -> None:
    """Create the custom fields write-back needs where allowed; else print the admin steps."""
    from connectors.azure_devops.config import AzureDevOpsConfig
    from connectors.errors import ConnectorError, FieldNotFoundError, PermissionDeniedError
    from connectors.jira import JiraConnector
    from connectors.jira.config import JiraConfig
    from connectors.jira.push import JiraWriter
    from connectors.jira.streams import project_keys_in
    from connectors.trello.config import TrelloConfig

    settings = load_settings()
    config = configs_for(settings, name).configs[0]  # another file's errors are not fatal
    writeback = getattr(config, "writeback", None)
    if writeback is None:  # a connector kind without write-back (a pull-only plug-in)
        err.print(
            f"{name}: connectors of kind {config.kind!r} write nothing back; nothing to provision",
            markup=False,
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if not writeback.fields:
        out.print(f"{name}: no write-back fields configured; nothing to provision", markup=False)
        return
    if isinstance(config, AzureDevOpsConfig):  # organisation fields, then each type's
        from connectors.azure_devops.provision import provision as ado_provision

        types = {t for _, t in stored_places(settings, name).values()}
        _print_steps(ado_provision(config, types))
        return
    if isinstance(config, TrelloConfig):  # a field per board and metric: trello/provision.py
        from connectors.trello.provision import provision

        _print_steps(provision(config))
        return
    if not isinstance(config, JiraConfig):
        err.print(f"{name}: no provisioning for kind {config.kind!r} yet", markup=False)
        raise typer.Exit(EXIT_CONNECTOR_FAILED)
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
