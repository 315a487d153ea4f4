"""What every command shares: the Typer apps, the consoles, the exit codes, the store and configs.

Exit codes are the EXIT_* constants below (0 when all is well). Secrets are
never printed: configs hold `SecretStr` and errors name the variable, never its
value. The store's failures reach the admin as one line and exit 3 or 4,
whichever command hits them (`PmoSyncGroup`); the traceback only with `--debug`.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from pmo_sync.config import InvalidFile, load_connector_configs, no_connector_files_message
from pmo_sync.logging import configure_logging
from pmo_sync.settings import Settings, get_settings
from pmo_sync.store.errors import StoreEmpty, StoreError, StoreOutdated, StoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from typer._click import Context as ClickContext  # typer vendors its click

    from connectors.base import ConnectorConfig
    from pmo_sync.evaluation.refresh import KpiRefresh
    from pmo_sync.governance.policy import RuleConfig
    from pmo_sync.kpi.config import KpiConfig
    from pmo_sync.portfolio.config import PortfolioConfig
    from pmo_sync.store.repository import Store


class PmoSyncGroup(TyperGroup):
    """The top-level command group: a store failure ends any command with its one line.

    Here rather than in each command, so every command (`serve` included, and
    under typer's CliRunner) says the same thing with the same exit code, and
    a command added later cannot forget it.
    """

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except StoreError as exc:
            if run_options.debug and not isinstance(exc, StoreEmpty):
                sys.stderr.write("".join(traceback.format_exception(exc)))
            err.print(exc.message, highlight=False, markup=False)
            raise typer.Exit(exit_code_for(exc)) from None


app = typer.Typer(
    cls=PmoSyncGroup,
    name="pmo-sync",
    help="Sync Jira, Azure DevOps and Trello into one store; KPIs and warnings back into each.",
    epilog=(
        "Exit codes: 0 all good; 1 a connector failed (the others ran); 2 the configuration "
        "is invalid; 3 the store cannot be reached or used; 4 the store needs `pmo-sync db "
        "upgrade`; 5 invalid connector files were skipped (the rest ran)."
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
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

# Exit codes, one meaning each (README "Exit codes" and `pmo-sync --help` list them):
EXIT_CONNECTOR_FAILED = 1  # a connector or tracker failed; the others ran
EXIT_INVALID_CONFIG = 2  # the configuration is invalid; nothing ran
EXIT_STORE_UNAVAILABLE = 3  # the store cannot be reached, opened or written
EXIT_STORE_OUTDATED = 4  # the store's schema is older than this pmo-sync: `pmo-sync db upgrade`
EXIT_CONNECTORS_SKIPPED = 5  # some connector files are invalid and were skipped; the rest ran
EXIT_RECORDS_SKIPPED = 6  # `db upgrade`: stored raw payloads that could not be re-converted


def exit_code_for(error: StoreError) -> int:
    """A store failure's exit code; an empty store is not a failure for a command that reads."""
    if isinstance(error, StoreOutdated):
        return EXIT_STORE_OUTDATED
    if isinstance(error, StoreEmpty):
        return 0
    assert isinstance(error, StoreUnavailable), error
    return EXIT_STORE_UNAVAILABLE


@dataclass(slots=True)
class RunOptions:
    """Options given before the command (`pmo-sync --debug sync`), read by the error handlers."""

    debug: bool = False


run_options = RunOptions()


def _print_version(value: bool) -> None:
    if value:
        out.print(f"pmo-sync {package_version('pmo-sync')}", highlight=False, markup=False)
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="print the traceback of an unexpected failure")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    run_options.debug = debug
    settings = get_settings()
    configure_logging(settings.log_format, "DEBUG" if debug else settings.log_level)


def load_settings() -> Settings:
    return get_settings()


def open_store(settings: Settings) -> Store:
    """Open the store for a command that writes, migrating it first ("db upgrade" on every start).

    A store that cannot be opened raises `StoreUnavailable` (`PmoSyncGroup` says it).
    """
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store

    engine = make_engine(settings.database_url)
    _dispose_when_the_command_ends(engine)
    upgrade(engine)
    return Store(engine)


def open_store_to_read(settings: Settings) -> Store:
    """Open the store for a command that only reads: read-only, never migrated.

    So `findings`, `export`, `status` and `kpis --no-refresh` work on a store
    they may not write (a read-only file or database user) and never upgrade
    one behind the admin's back. Raises `StoreOutdated` for an older schema,
    `StoreEmpty` when nothing has been synced (no file, no tables).
    """
    from pmo_sync.store.engine import make_engine, require_current_schema
    from pmo_sync.store.repository import Store

    engine = make_engine(settings.database_url, read_only=True)
    _dispose_when_the_command_ends(engine)
    require_current_schema(engine)
    return Store(engine)


def _dispose_when_the_command_ends(engine: Engine) -> None:
    """Close the engine's pooled connections when the command ends, not when the collector
    gets to them: the store is at rest when the command returns (SQLite folds its write-ahead
    log into the file as the last connection closes), also for a command run in-process."""
    from typer._click.globals import get_current_context  # typer vendors its click

    context = get_current_context(silent=True)
    if context is not None:
        context.call_on_close(engine.dispose)


@dataclass(frozen=True, slots=True)
class ConnectorSelection:
    """The connectors a command runs, and the invalid files it skipped (already reported)."""

    configs: list[ConnectorConfig]
    skipped: list[InvalidFile]

    def exit_code(self, failed: bool) -> int:
        """1 when one that ran failed, else 5 when files were skipped, else 0."""
        if failed:
            return EXIT_CONNECTOR_FAILED
        return EXIT_CONNECTORS_SKIPPED if self.skipped else 0

    def report_skipped(self) -> None:
        """The closing line of a run that skipped files: why its exit code is 5."""
        if self.skipped:
            files = ", ".join(str(f.path) for f in self.skipped)
            err.print(
                f"skipped {_files(len(self.skipped))} (invalid): {files}; "
                "`pmo-sync connectors validate` lists every error",
                highlight=False,
                markup=False,
            )


def _files(count: int) -> str:
    return f"{count} connector file" + ("" if count == 1 else "s")


def print_invalid(invalid: InvalidFile) -> None:
    """One line per error of an invalid connector file: `invalid <file>: <key>: <problem>`."""
    for error in invalid.errors:
        err.print(f"invalid {error}", highlight=False, markup=False)


def configs_for(settings: Settings, connector: str | None) -> ConnectorSelection:
    """What `sync`, `push` (and `serve`, through the service) run: every valid connector.

    An invalid file is reported (one line per error) and skipped; the run goes on with
    the others and its exit code says files were skipped. `--connector NAME` runs that
    one alone: the other files' problems are mentioned, not fatal; NAME's own file being
    invalid, or no file naming it, is exit 2. Nothing to run at all (no files, or every
    file invalid, or no config directory) is exit 2 too.
    """
    loaded = load_connector_configs(settings.config_dir)
    if loaded.directory is None:  # the config directory itself is missing
        for error in loaded.errors:
            err.print(f"error {error}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if loaded.no_files:
        err.print(no_connector_files_message(loaded.directory), highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    if connector is not None:
        chosen = [c for c in loaded.configs if c.name == connector]
        if chosen:
            if loaded.invalid:
                files = ", ".join(str(f.path) for f in loaded.invalid)
                err.print(
                    f"not run: {_files(len(loaded.invalid))} invalid ({files}); "
                    "`pmo-sync connectors validate` lists every error",
                    highlight=False,
                    markup=False,
                )
            return ConnectorSelection(_with_portfolio(settings, chosen), [])
        invalid = loaded.invalid_named(connector)
        if invalid is not None:
            print_invalid(invalid)
            raise typer.Exit(EXIT_INVALID_CONFIG)
        names = ", ".join(sorted({c.name for c in loaded.configs})) or "none valid"
        err.print(f"no connector named {connector!r} (connectors: {names})", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
    for invalid in loaded.invalid:
        print_invalid(invalid)
    if not loaded.configs:
        err.print(
            f"no valid connector file in {loaded.directory}: nothing ran",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(EXIT_INVALID_CONFIG)
    return ConnectorSelection(_with_portfolio(settings, loaded.configs), loaded.invalid)


def _with_portfolio(settings: Settings, configs: list[ConnectorConfig]) -> list[ConnectorConfig]:
    """The configs with portfolio.yaml's tracker settings where their files set none
    (`pmo_sync.portfolio.connector_settings`); an error in portfolio.yaml is exit 2."""
    from pmo_sync.portfolio.connector_settings import with_portfolio

    applied, errors = with_portfolio(settings.config_dir, configs)
    exit_on_config_errors(errors)
    return applied


def kpi_config(settings: Settings) -> KpiConfig:
    from pmo_sync.kpi.config import load_kpi_config

    config, errors = load_kpi_config(settings.config_dir)
    exit_on_config_errors(errors)
    return config


def portfolio_config(settings: Settings) -> PortfolioConfig:
    """portfolio.yaml (the defaults when there is none); an error in it is exit 2."""
    from pmo_sync.portfolio.config import load_portfolio_config

    config, errors = load_portfolio_config(settings.config_dir)
    exit_on_config_errors(errors)
    return config


def policy_rules(settings: Settings, *, say_if_none: bool = True) -> list[RuleConfig]:
    """The governance rules; with none at all, one line saying no findings are computed
    (not for `push`, which writes what `sync` or `kpis` already said)."""
    from pmo_sync.governance.policy import load_policies

    rules, errors = load_policies(settings.config_dir)
    exit_on_config_errors(errors)
    if not rules and say_if_none:
        note_no_policies(settings)
    return rules


def note_no_policies(settings: Settings) -> None:
    """The line `sync`, `kpis` and `findings` print when no policy file holds a rule."""
    from pmo_sync.governance.policy import POLICIES_DIR

    err.print(
        f"no governance policies in {settings.config_dir / POLICIES_DIR}: no findings are "
        'computed (see "Policies" in config/README.md)',
        highlight=False,
        markup=False,
    )


def exit_if_nothing_synced(store: Store) -> None:
    """A store no sync has written to says so (exit 0) instead of showing empty results."""
    if not store.sources():
        err.print("nothing synced yet: run `pmo-sync sync`", highlight=False, markup=False)
        raise typer.Exit(0)


def exit_on_config_errors(errors: Sequence[object]) -> None:
    for error in errors:
        err.print(str(error), highlight=False, markup=False)
    if errors:
        raise typer.Exit(EXIT_INVALID_CONFIG)


def print_team_notices(refresh: KpiRefresh) -> None:
    """One line per team name two sources share, and per kpis.yaml team name nothing matches."""
    for notice in refresh.teams.notices:
        err.print(notice, highlight=False, markup=False)


def print_refresh(refresh: KpiRefresh) -> None:
    print_team_notices(refresh)
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
