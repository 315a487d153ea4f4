"""`pmo-sync demo`'s run: sandboxes up, their connector files written, sync, KPIs, push.

Everything lives in a temporary directory (the config, the token, the SQLite
store) unless `--keep DIR` asks to keep it; nothing outside it is touched but
the report: the portfolio as one HTML file, written into the kept directory, or
else into a temporary directory of its own that the demo leaves in place (a file
to open once the demo has ended). The sandboxes' data ends at `now` (today's by
default, `sandbox_now`), so the active sprints and the age of the work in
progress are today's whatever the date. `serve_port` serves the dashboard on the
demo's store once it is filled, until `until` returns (Ctrl-C by default).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from connectors.base import ConnectorConfig
from pmo_sync.config import ConfigLoad, load_connector_configs
from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.reads_requests import PortfolioSettings
from pmo_sync.dashboard.report import build_report
from pmo_sync.dashboard.server import WebServer
from pmo_sync.demo import sections
from pmo_sync.demo.portfolio_section import print_portfolio_answers
from pmo_sync.demo.sections import WriteBack
from pmo_sync.evaluation.item_titles import read_item_text
from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.evaluation.refresh import KpiRefresh, refresh_kpis
from pmo_sync.governance.policy import load_policies
from pmo_sync.kpi.compute import kpi_values
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.days import local_date
from pmo_sync.kpi.render import kpi_header
from pmo_sync.portfolio.backtest import Every, backtest, calibration_lines
from pmo_sync.portfolio.config import load_portfolio_config
from pmo_sync.portfolio.connector_settings import with_portfolio
from pmo_sync.portfolio.forecast import request_forecasts
from pmo_sync.portfolio.overview import portfolio_overview
from pmo_sync.sandbox.ado import AdoDataset, AdoSandbox
from pmo_sync.sandbox.banner import ado_portfolio_lines, trello_connector_lines
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.findings import read_findings
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_all
from pmo_sync.writeback.service import push_connector

__all__ = ["REPORT_FILE", "run_demo"]

REPORT_FILE = "pmo-sync-report.html"

TOKEN_VARIABLE = "PMO_SYNC_DEMO_JIRA_TOKEN"
ADO_TOKEN_VARIABLE = "PMO_SYNC_DEMO_ADO_TOKEN"
TRELLO_KEY_VARIABLE = "PMO_SYNC_DEMO_TRELLO_KEY"
TRELLO_TOKEN_VARIABLE = "PMO_SYNC_DEMO_TRELLO_TOKEN"
TRELLO_BOARDS = ("Team Delta", "Team Echo")  # the Jira sandbox's boards are Alpha to Gamma


@dataclass(frozen=True, slots=True)
class DemoTracker:
    """One sandbox as the demo reports it: its connector's name and the bot's comments."""

    connector: str
    bot_comments: Callable[[], list[tuple[str, str]]]  # (item key, text), in item order


def _jira_bot_comments(jira: JiraSandbox) -> list[tuple[str, str]]:
    data = jira.dataset
    return [
        (issue.key, c.text)
        for issue in data.issues
        for c in data.comments(issue.key)
        if c.author_id == jira.account_id
    ]


def _ado_bot_comments(ado: AdoSandbox) -> list[tuple[str, str]]:
    me = ado.identity.unique_name
    data = ado.dataset
    return [
        (str(item.id), c.text)
        for item in data.items()
        for c in data.comments(item.id)
        if c.created_by.unique_name == me
    ]


def _trello_bot_comments(trello: TrelloSandbox) -> list[tuple[str, str]]:
    data = trello.dataset
    bot = trello.member.id
    return [
        (card.short_link, str(c.data.get("text", "")))
        for card in data.cards()
        for c in card.comments
        if c.creator.id == bot
    ]


def _trello_config(trello: TrelloSandbox) -> list[str]:
    """The sandbox boards' connector file (as `sandbox serve` prints it), with write-back."""
    return [
        "# Written by `pmo-sync demo` for the sandbox Trello it started.",
        *trello_connector_lines(
            trello,
            name="sandbox-trello",
            key_variable=TRELLO_KEY_VARIABLE,
            token_variable=TRELLO_TOKEN_VARIABLE,
        ),
        "writeback:",
        "  enabled: true",
        "  comments: true",
        "  fields:               # custom fields on every board",
        *(f"    {metric}: {name}" for metric, name in DEMO_FIELDS.items()),
        "",
    ]


def _write_config(
    config_dir: Path, jira: JiraSandbox, ado: AdoSandbox, trello: TrelloSandbox
) -> None:
    connectors = config_dir / "connectors"
    connectors.mkdir(parents=True, exist_ok=True)
    (connectors / "sandbox-trello.yaml").write_text(
        "\n".join(_trello_config(trello)), encoding="utf-8"
    )
    url, email = jira.url, jira.email
    (connectors / "sandbox-ado.yaml").write_text(
        "\n".join(
            [
                "# Written by `pmo-sync demo` for the sandbox Azure DevOps it started.",
                "name: sandbox-ado",
                "kind: azure_devops",
                f"organization_url: {ado.url}",
                f"token: ${{{ADO_TOKEN_VARIABLE}}}",
                f"project: {ado.dataset.project.name}",
                *ado_portfolio_lines(ado),
                "writeback:",
                "  enabled: true",
                "  comments: true",
                "  fields:               # reference names of the process's custom fields",
                *(f"    {metric}: {name}" for metric, name in DEMO_ADO_FIELDS.items()),
                "",
            ]
        ),
        encoding="utf-8",
    )
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


DEMO_THEMES = {"Growth": 45, "Reliability": 35, "Compliance": 20}
"""The sandboxes' strategic themes and their target shares of the capacity (percent)."""


def _write_portfolio_yaml(config_dir: Path, ado: AdoSandbox) -> None:
    """portfolio.yaml as a PMO writes it for the three sandboxes: each theme found the way each
    tracker's teams keep it (Jira: a component; Azure DevOps: an area path under the project;
    Trello: a label of the theme's name)."""
    project = ado.dataset.project.name
    lines = ["# Written by `pmo-sync demo`: the sandboxes' strategic themes.", "themes:"]
    for theme, share in DEMO_THEMES.items():
        lines += [
            f"  {theme}:",
            f"    target_share: {share}",
            "    match:",
            f"      components: [{theme}]",
            f"      area_paths: ['{project}\\{theme}']",
            f"      trello_labels: [{theme}]",
        ]
    (config_dir / "portfolio.yaml").write_text("\n".join([*lines, ""]), encoding="utf-8")


EXAMPLE_POLICIES = Path(__file__).resolve().parents[2] / "config" / "policies"
DEMO_FIELDS = {
    "cycle_time_days": "Cycle time (days)",
    "wip_age_days": "WIP age (days)",
    "team_cycle_time_p85_days": "Team p85 cycle time (days)",
}
DEMO_ADO_FIELDS = {
    "cycle_time_days": "Custom.CycleTimeDays",
    "wip_age_days": "Custom.WipAgeDays",
    "team_cycle_time_p85_days": "Custom.TeamCycleTimeP85Days",
}


def _provision_sandbox_fields(jira: JiraSandbox, trello: TrelloSandbox) -> None:
    """What admins do once: create the KPI fields (Jira: and put them on the edit screens;
    Trello: on every board, what `pmo-sync connectors provision` does)."""
    for name in DEMO_FIELDS.values():
        field_id = jira.dataset.create_custom_field(name, "number")
        for project in ("ABC", "DEF", "GHI"):
            jira.dataset.add_field_to_screen(field_id, project)
        for board in trello.dataset.boards:
            trello.dataset.create_custom_field(board, name, "number")


def _copy_example_policies(config_dir: Path) -> None:
    """The repository's example policies, so the demo shows findings (none in a wheel install)."""
    if not EXAMPLE_POLICIES.is_dir():
        return
    target = config_dir / "policies"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(EXAMPLE_POLICIES.glob("*.yaml")):
        (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")


def _load_with_tokens(config_dir: Path, tokens: Mapping[str, str]) -> ConfigLoad:
    """Resolve the configs' `${...}` token references, without leaving the variables set."""
    previous = {name: os.environ.get(name) for name in tokens}
    os.environ.update(tokens)
    try:
        return load_connector_configs(config_dir)
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


@contextmanager
def _sdk_cache_in(directory: Path) -> Iterator[None]:
    """The Azure DevOps SDK's route caches kept in the demo's directory, not the user's."""
    from azure.devops import _file_cache

    caches = (_file_cache.OPTIONS_CACHE, "options"), (_file_cache.RESOURCE_CACHE, "resources")
    saved = [
        (cache, cache.file_name, cache.data, cache.initial_load_occurred) for cache, _ in caches
    ]
    for cache, name in caches:
        cache.file_name = str(directory / f".azure-devops-{name}.json")
        cache.data, cache.initial_load_occurred = {}, False
    try:
        yield
    finally:
        for cache, file_name, data, loaded in saved:
            cache.file_name, cache.data, cache.initial_load_occurred = file_name, data, loaded


def _until_interrupted(url: str) -> None:
    """Serve until Ctrl-C (the event is never set: only the interrupt ends the wait)."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        return


def run_demo(
    console: Console,
    *,
    keep: Path | None,
    now: datetime,
    issues_per_project: int = 100,
    serve_port: int | None = None,
    until: Callable[[str], None] | None = None,
) -> int:
    """Returns the exit code: 0 when every connector synced.

    One portfolio across three trackers, their data ending at `now`: a sandbox Jira
    (three projects of `issues_per_project`), a sandbox Azure DevOps (one project,
    three teams, as many work items in all) and a sandbox Trello (two boards, a team
    each, of `issues_per_project` cards), synced into one store, one KPI and
    governance run over all of them, write-back into each, and the report of it all.
    With `serve_port`, then serves the dashboard on the store (127.0.0.1) until
    `until(url)` returns (default: until Ctrl-C).
    """
    with tempfile.TemporaryDirectory(prefix="pmo-sync-demo-") as scratch:
        workdir = keep if keep is not None else Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        with (
            JiraSandbox(
                JiraDataset.generate(issues_per_project=issues_per_project, now=now)
            ) as jira,
            AdoSandbox(AdoDataset.generate(size=3 * issues_per_project, now=now)) as ado,
            TrelloSandbox(
                TrelloDataset.generate(
                    cards_per_board=issues_per_project, boards=TRELLO_BOARDS, now=now
                )
            ) as trello,
            _sdk_cache_in(Path(scratch)),
        ):
            _print_header(console, jira, ado, trello, now)
            _write_config(workdir / "config", jira, ado, trello)
            _write_portfolio_yaml(workdir / "config", ado)
            _provision_sandbox_fields(jira, trello)
            _copy_example_policies(workdir / "config")
            loaded = _load_with_tokens(
                workdir / "config",
                {
                    TOKEN_VARIABLE: jira.token,
                    ADO_TOKEN_VARIABLE: ado.pat,
                    TRELLO_KEY_VARIABLE: trello.key,
                    TRELLO_TOKEN_VARIABLE: trello.token,
                },
            )
            # as `sync` runs them: portfolio.yaml's settings where a connector file has none
            configs, portfolio_errors = with_portfolio(workdir / "config", loaded.configs)
            if loaded.errors or portfolio_errors:
                for error in [*loaded.errors, *portfolio_errors]:
                    console.print(f"[red]{escape(str(error))}[/red]")
                return 2
            engine = make_engine(f"sqlite:///{workdir / 'pmo-sync.sqlite3'}")
            upgrade(engine)
            store = Store(engine)
            sections.section(
                console, 1, "Sync: every item with its full history, into one SQLite store",
                "items: work items, issues and cards; a sprint stay is an item in a sprint.",
            )  # fmt: skip
            summaries = sync_all(configs, store)
            sections.print_sync(console, summaries)
            sections.print_stored(console, _stored_counts(store))
            clock = max(jira.dataset.clock.now, ado.dataset.clock.now, trello.dataset.clock.now)
            refresh = _refresh(console, store, workdir / "config", clock)
            _portfolio(console, store.engine, workdir / "config", clock)
            trackers = {
                "sandbox-jira": DemoTracker("sandbox-jira", lambda: _jira_bot_comments(jira)),
                "sandbox-ado": DemoTracker("sandbox-ado", lambda: _ado_bot_comments(ado)),
                "sandbox-trello": DemoTracker(
                    "sandbox-trello", lambda: _trello_bot_comments(trello)
                ),
            }
            _push(console, store, configs, refresh, trackers, clock)
            answers = PortfolioSettings(KpiConfig(), load_portfolio_config(workdir / "config")[0])
            _write_report(console, engine, keep, answers, clock)
            sections.print_next_steps(console)
        engine.dispose()
        if keep is not None:
            console.print()
            console.print(f"kept the demo's config and store in {keep}", highlight=False)
        code = 0 if all(s.ok for s in summaries) else 1
        if serve_port is not None and not _serve(
            console,
            workdir / "pmo-sync.sqlite3",
            serve_port,
            until or _until_interrupted,
            answers,
            clock.date(),
        ):
            code = 2
    return code


def _write_report(
    console: Console,
    engine: Engine,
    keep: Path | None,
    answers: PortfolioSettings,
    now: datetime,
) -> None:
    """The portfolio as one file: in the kept directory, else in a temporary one left in place.
    Its pages answer with the demo's portfolio.yaml, as of the sandboxes' clock (`--today`)."""
    directory = keep if keep is not None else Path(tempfile.mkdtemp(prefix="pmo-sync-report-"))
    report = build_report(engine, now=now, settings=answers)
    path = directory / REPORT_FILE
    path.write_text(report.html, encoding="utf-8")
    sections.print_portfolio_view(console, path, report.pages, keep)


def _serve(
    console: Console,
    store: Path,
    port: int,
    until: Callable[[str], None],
    answers: PortfolioSettings,
    today: date,
) -> bool:
    """The dashboard on the demo's store, read-only, on loopback, until `until` returns;
    False (said in one line) when the port cannot be had. Its pages answer as the report's
    do: the demo's portfolio.yaml, the sandboxes' day."""
    engine = make_engine(f"sqlite:///{store}", read_only=True)
    try:
        app = create_app(engine, settings=answers, today=lambda: today)
        server = WebServer(app, "127.0.0.1", port)
    except OSError as exc:
        engine.dispose()
        console.print(
            f"cannot serve the dashboard on 127.0.0.1:{port}: {exc.strerror or exc} "
            "(PMO_SYNC_HTTP_PORT picks another port, 0 any free one)",
            highlight=False,
            markup=False,
        )
        return False
    host, bound = server.address
    url = f"http://{host}:{bound}/"
    server.start()
    console.print()
    console.print(f"serving the dashboard on {url} (Ctrl-C stops)", highlight=False)
    try:
        until(url)
    finally:
        server.stop()
        engine.dispose()
    console.print("stopped the dashboard", highlight=False)
    return True


def _print_header(
    console: Console, jira: JiraSandbox, ado: AdoSandbox, trello: TrelloSandbox, now: datetime
) -> None:
    """Which sandboxes run where, and what each holds."""
    console.print(
        f"pmo-sync demo: sandbox trackers with data up to {sections.as_of(now)}", highlight=False
    )
    keys = ", ".join(p.key for p in jira.dataset.projects)
    teams = len(ado.dataset.teams)
    boards = ", ".join(b.name for b in trello.dataset.boards)
    for line in (
        f"sandbox Jira on {jira.url}: projects {keys}",
        f"sandbox Azure DevOps on {ado.url}: {ado.dataset.project.name}, {teams} teams",
        f"sandbox Trello on {trello.url}: boards {boards}",
    ):
        console.print(f"   {line}", highlight=False)


def _stored_counts(store: Store) -> dict[str, tuple[int, int, int, int]]:
    """Per team: items, status changes, sprint stays, sprints."""
    items: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    stays: Counter[str] = Counter()
    for item in store.iter_items():
        team = item.team or item.project
        items[team] += 1
        changes[team] += len(item.status_changes)
        stays[team] += len(item.sprints)
    sprints = store.sprint_counts_by_team()
    return {t: (items[t], changes[t], stays[t], sprints.get(t, 0)) for t in items}


def _refresh(console: Console, store: Store, config_dir: Path, now: datetime) -> KpiRefresh:
    """The KPI and governance engines over what was just synced, as of the sandbox's clock."""
    rules, errors = load_policies(config_dir)
    for error in errors:
        console.print(f"[red]{escape(str(error))}[/red]")
    portfolio, portfolio_errors = load_portfolio_config(config_dir)
    for error in portfolio_errors:
        console.print(f"[red]{escape(str(error))}[/red]")
    config = KpiConfig()
    refresh = refresh_kpis(store.engine, config, rules=rules, now=now, portfolio=portfolio)
    values = list(kpi_values(refresh.run))
    header = kpi_header(now, refresh.saved.seen, config.day_counting)
    sections.print_flow(console, values, config.forecast.trials, header)
    sections.print_sprints(console, values)
    findings = list(read_findings(store.engine))
    sections.print_governance(console, len(rules), "the example policies", findings)
    return refresh


def _portfolio(console: Console, engine: Engine, config_dir: Path, now: datetime) -> None:
    """`pmo-sync portfolio` and `pmo-sync portfolio backtest` on the demo's store, summarised."""
    portfolio, _ = load_portfolio_config(config_dir)  # its errors were printed by `_refresh`
    config = KpiConfig()
    options = config.options()
    today = local_date(now, options.zone)
    levels = portfolio.requests.request_levels
    inputs = read_portfolio_inputs(
        engine, config, portfolio.themes, request_types=portfolio.requests.request_types
    )
    forecasts = request_forecasts(
        inputs.items, today, levels=levels, trials=options.forecast_trials,
        seed=options.forecast_seed, history_days=options.forecast_history_days,
    )  # fmt: skip
    overview = portfolio_overview(
        inputs.items, forecasts, inputs.dependencies, inputs.releases, portfolio.themes, today,
        levels=levels,
    )  # fmt: skip
    replayed = backtest(
        inputs.items, today, Every(step_days=7, count=26), levels=levels,
        seed=options.forecast_seed, history_days=options.forecast_history_days,
    )  # fmt: skip
    titles = {
        ref: title
        for ref, (title, _url) in read_item_text(
            engine, [line.forecast.ref for line in overview.requests]
        ).items()
    }
    print_portfolio_answers(console, 5, overview, titles, calibration_lines(replayed))


def _push(
    console: Console,
    store: Store,
    configs: Sequence[ConnectorConfig],
    refresh: KpiRefresh,
    trackers: Mapping[str, DemoTracker],
    now: datetime,
) -> None:
    """Write-back into each sandbox, then once more to show nothing is written twice."""
    pushes = []
    candidates: list[tuple[str, str]] = []
    for config in configs:
        tracker = trackers[config.name]
        answers = refresh.portfolio.facts if refresh.portfolio else None
        first = push_connector(
            config, store.engine, refresh.run, refresh.findings, portfolio=answers, now=now
        )
        again = push_connector(
            config, store.engine, refresh.run, refresh.findings, portfolio=answers, now=now
        )
        comments = tracker.bot_comments()
        pushes.append(
            WriteBack(config.name, first.done, len(comments), first.api_calls, first.failed,
                      again.done, again.api_calls)
        )  # fmt: skip
        # The example a stakeholder reads: an open request's comment, its sentence and its
        # findings, if any tracker has one with both; else the first comment.
        candidates.extend(comments)
    example = max(
        candidates, key=lambda c: ("\nWhen: " in c[1], "governance finding" in c[1]), default=None
    )
    sections.print_write_back(console, pushes, example)
