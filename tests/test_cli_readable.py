"""Readable where people read it: every listing at 80 columns (a terminal's) and at 160, with
the items a person can identify (key, title, team, connector, link), in natural order, the
same options on every listing command, and progress that never mixes with log lines.

The fixtures and helpers are test_cli.py's (a sandbox Jira, `invoke`, `write_connector`).
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import ClassVar

import pytest

from pmo_sync import cli
from pmo_sync.sandbox.jira.server import JiraSandbox

from . import test_cli as base
from .test_cli import invoke, write_connector

# test_cli.py's fixtures, used here by name: the module's sandbox Jira and each test's cwd,
# config dir and store.
sandbox = base.sandbox
cli_env = base.cli_env

POLICY = (
    "rules:\n"
    "  - id: estimate-committed\n    rule: missing_estimate\n    severity: critical\n"
    "  - id: acceptance-criteria\n    rule: missing_acceptance_criteria\n"
    '    params: {section: "acceptance criteria|AC"}\n'
    "  - id: wip-limit\n    rule: wip_limit\n    params: {total: 3}\n"
)


NO_POLICIES = "no governance policies in "


def log_lines(lines: list[str]) -> list[str]:
    """The JSON log lines: all but the one line saying cli_env's config has no policies."""
    notes = [line for line in lines if line.startswith(NO_POLICIES)]
    assert len(notes) <= 1
    return [line for line in lines if not line.startswith(NO_POLICIES)]


@pytest.fixture(scope="module")
def governed_store(
    sandbox: JiraSandbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """One sync of the sandbox (3 x 100 issues) under three policies, made once per module."""
    root = tmp_path_factory.mktemp("governed")
    config = root / "config"
    (config / "connectors").mkdir(parents=True)
    (config / "policies").mkdir()
    (config / "policies" / "rules.yaml").write_text(POLICY, encoding="utf-8")
    write_connector(config, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PMO_SYNC_CONFIG_DIR", str(config))
        patch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{root / 'store.sqlite3'}")
        patch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
        patch.setenv(base.TOKEN_VARIABLE, base.SECRET)
        result = invoke("sync")
    assert result.exit_code == 0, result.stdout
    yield root


@pytest.fixture
def governed(
    governed_store: Path,
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """This test's copy of the governed store and its config."""
    target = cli_env.parent / "store.sqlite3"
    original = governed_store / "store.sqlite3"
    with closing(sqlite3.connect(original)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(governed_store / "config"))
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    return governed_store


def at_width(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The consoles as a terminal of `width` columns gives them."""
    monkeypatch.setattr(cli.out, "width", width)
    monkeypatch.setattr(cli.err, "width", width)


def first_seen(team: str) -> str:
    """The date the team's findings were first seen (the module's sync ran today)."""
    rows = json.loads(invoke("findings", "--team", team, "--format", "json").stdout)
    (date,) = {row["first_seen"][:10] for row in rows}
    return date


# -- findings ------------------------------------------------------------------------------


def gamma_card_lines(url: str, since: str, *message: str) -> list[str]:
    """Team Gamma's findings (the sandbox's seed 7): an item's, whose long `message` shows as
    the width makes it, and the team's own (a team finding names no item)."""
    return [
        "Team Gamma — 2 finding(s)",
        f"warning · acceptance-criteria · since {since}",
        "  GHI-96 · Allow invoice PDF behind a feature flag · sandbox-jira",
        *message,
        f"  {url}/browse/GHI-96",
        f"warning · wip-limit · since {since}",
        "  Team Gamma",
        "  Team Gamma has 4 items in progress (limit 3)",
        "",
    ]


def test_findings_at_80_columns_wrap_and_name_the_item_title_connector_and_link(
    governed: Path,
    sandbox: JiraSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at_width(80, monkeypatch)
    since = first_seen("Team Gamma")
    result = invoke("findings", "--team", "Team Gamma")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == gamma_card_lines(
        sandbox.url,
        since,
        "  GHI-96 has no acceptance criteria (looked in the description's 'acceptance",
        "    criteria' (or 'AC') section)",
    )
    every = invoke("findings").stdout
    assert "…" not in every
    assert all(len(line) <= 80 for line in every.splitlines())
    # a team's finding has no item: it is named by the team (and the stage)
    assert "warning · wip-limit · since " + since in every.splitlines()
    assert "  Team Gamma has 4 items in progress (limit 3)" in every.splitlines()


def test_findings_at_160_columns_keep_each_message_on_one_line(
    governed: Path,
    sandbox: JiraSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at_width(160, monkeypatch)
    since = first_seen("Team Gamma")
    result = invoke("findings", "--team", "Team Gamma")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == gamma_card_lines(
        sandbox.url,
        since,
        "  GHI-96 has no acceptance criteria (looked in the description's 'acceptance criteria' "
        "(or 'AC') section)",
    )


def test_findings_json_and_csv_carry_key_title_team_source_and_url(
    governed: Path,
    sandbox: JiraSandbox,
) -> None:
    rows = json.loads(invoke("findings", "--team", "Team Gamma", "--format", "json").stdout)
    assert [
        (r["scope_key"], r["title"], r["team"], r["source"], r["url"], r["rule_id"]) for r in rows
    ] == [
        ("GHI-96", "Allow invoice PDF behind a feature flag", "Team Gamma", "sandbox-jira",
         f"{sandbox.url}/browse/GHI-96", "acceptance-criteria"),
        ("Team Gamma", None, "Team Gamma", None, None, "wip-limit"),
    ]  # fmt: skip
    result = invoke("findings", "--team", "Team Gamma", "--format", "csv")
    assert result.exit_code == 0
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == [
        "team", "rule_id", "rule", "severity", "mode", "scope", "scope_key", "title", "source",
        "url", "message", "first_seen", "last_seen", "resolved_at",
    ]  # fmt: skip
    assert table[1][:11] == [
        "Team Gamma", "acceptance-criteria", "missing_acceptance_criteria", "warning",
        "advisory", "item", "GHI-96", "Allow invoice PDF behind a feature flag", "sandbox-jira",
        f"{sandbox.url}/browse/GHI-96",
        "GHI-96 has no acceptance criteria (looked in the description's 'acceptance criteria' "
        "(or 'AC') section)",
    ]  # fmt: skip
    assert table[2][:11] == [
        "Team Gamma", "wip-limit", "wip_limit", "warning", "advisory", "team", "Team Gamma", "",
        "", "", "Team Gamma has 4 items in progress (limit 3)",
    ]  # fmt: skip
    assert len(table) == 3


def test_findings_connector_keeps_its_items_findings_and_names_are_checked(
    governed: Path,
) -> None:
    everything = json.loads(invoke("findings", "--format", "json").stdout)
    mine = json.loads(invoke("findings", "--connector", "sandbox-jira", "--format", "json").stdout)
    assert mine == [row for row in everything if row["scope"] == "item"]
    assert len(mine) == len(everything) - 1  # Team Beta's WIP finding has no connector
    for args, message in [
        (("--connector", "nope"), "no synced connector named 'nope': run `pmo-sync sync` first"),
        (("--team", "Team Omega"),
         "no team 'Team Omega' (teams: Team Alpha, Team Beta, Team Gamma)"),
        (("--format", "xml"), "--format must be table, json or csv, not 'xml'"),
    ]:  # fmt: skip
        result = invoke("findings", *args)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == message + "\n"


# -- sync: the summary at 80 columns, progress on a terminal only ---------------------------


def test_sync_summary_at_80_columns_is_a_few_lines_per_connector(
    cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_connector(cli_env, "a-good.yaml", "sandbox-jira", sandbox.url)
    write_connector(
        cli_env, "b-wrong-token.yaml", "wrong-token", sandbox.url,
        token=f"${{{base.WRONG_VARIABLE}}}",
    )  # fmt: skip
    at_width(80, monkeypatch)
    result = invoke("sync")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    seconds = [re.fullmatch(r"(.*, )\d+\.\d s", line) for line in lines]
    assert [m[1] + "N s" if m else line for m, line in zip(seconds, lines, strict=True)] == [
        "sync",
        "sandbox-jira: success",
        "  300 items seen: 300 inserted, 0 updated, 0 unchanged, 0 deleted",
        "  16 API calls, rate-limit waits 0, N s",
        "wrong-token: failed",
        "  0 items seen: 0 inserted, 0 updated, 0 unchanged, 0 deleted",
        "  1 API calls, rate-limit waits 0, N s",
        f"wrong-token: {base.REJECTED}",
        lines[8],  # KPIs recomputed: ...
        "findings: 0 open (0 new, 0 resolved)",
    ]
    assert "…" not in result.stdout
    assert all(len(line) <= 80 for line in lines if not line.startswith("wrong-token: Jira"))


def test_sync_summary_at_160_columns_is_the_table(
    cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    at_width(160, monkeypatch)
    result = invoke("sync")
    assert result.exit_code == 0
    assert base.sync_rows(result.stdout) == [
        ["sandbox-jira", "success", "300", "300", "0", "0", "0", "16", "0"]
    ]
    assert "…" not in result.stdout


_CONTROL = re.compile(r"\x1b\[(\??)(\d*)([A-Za-z])")


def terminal_screen(output: str) -> list[str]:
    """What a terminal shows after `output`: text, `\\r`, `\\n`, and the cursor-up,
    erase-line, colour and cursor-visibility sequences Rich's live display writes."""
    screen: list[str] = [""]
    row = col = 0
    at = 0
    while at < len(output):
        control = _CONTROL.match(output, at)
        if control:
            private, number, command = control.groups()
            if not private and command == "A":
                row = max(0, row - int(number or 1))
            elif not private and command == "K":
                screen[row] = ""
            at = control.end()
            continue
        char = output[at]
        at += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row, col = row + 1, 0
            if row == len(screen):
                screen.append("")
        else:
            line = screen[row].ljust(col)
            screen[row] = line[:col] + char + line[col + 1 :]
            col += 1
    return [line for line in screen if line]


def test_sync_progress_on_a_terminal_keeps_every_log_line_whole_and_is_gone_at_the_end(
    cli_env: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Log lines print above the live progress line, never into it; the progress line (with its
    record counts) is erased when the sync ends, so the terminal keeps the log lines alone."""
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    monkeypatch.setattr(cli.err, "_force_terminal", True)  # stderr a terminal, as a person has
    monkeypatch.setattr(cli.err, "is_interactive", True)
    result = invoke("sync")
    assert result.exit_code == 0
    assert "sandbox-jira · issues: 347 records" in result.stderr  # the progress was shown
    logged = [json.loads(line) for line in log_lines(terminal_screen(result.stderr))]
    assert [(e["event"], e["connector"]) for e in logged] == [
        ("sync_started", "sandbox-jira"),
        ("sync_finished", "sandbox-jira"),
    ]
    assert base.sync_rows(result.stdout)[0][:2] == ["sandbox-jira", "success"]


def test_sync_piped_shows_no_progress(cli_env: Path, sandbox: JiraSandbox) -> None:
    write_connector(cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url)
    result = invoke("sync")
    assert result.exit_code == 0
    assert "records" not in result.stderr and "\x1b" not in result.stderr
    assert [json.loads(line)["event"] for line in log_lines(result.stderr.splitlines())] == [
        "sync_started",
        "sync_finished",
    ]


# -- kpis ----------------------------------------------------------------------------------

HEADER = re.compile(
    r"KPIs as of \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \(\d+ values stored\); "
    r"days counted inclusively \(Vacanti\)"
)


def test_kpis_at_80_columns_print_measure_value_lines_and_sprint_lines(
    governed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_width(80, monkeypatch)
    result = invoke("kpis", "--team", "Team Alpha", "--since", "2026-09-14")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert HEADER.fullmatch(lines[0])  # the demo's header, one shared function
    window = re.fullmatch(r"Team Alpha — window 2026-09-14/(\d{4}-\d{2}-\d{2})", lines[1])
    assert window is not None
    assert [re.sub(r"\d", "9", line) for line in lines[2:10]] == [
        "items: 999 (99 done in the window, 9 in progress now)",
        "cycle time: p99 9.9 d  p99 99.9 d  p99 99.9 d  p99 99.9 d",
        "lead time: p99 99.9 d  p99 99.9 d  p99 99.9 d  p99 99.9 d",
        "throughput (last 9 weeks): 9 9 9 9 items/week",
        "net flow (same weeks): +9 +9 +9 +9",
        "oldest WIP: 99.9 d",
        "forecast: 99 open items done by: p99 9999-99-99  p99 9999-99-99  p99 9999-99-99",
        "forecast: items done 9999-99-99/9999-99-99: p99 9  p99 9  p99 9",
    ]
    sprints = lines[lines.index("Team Alpha — last sprints (points), items in brackets") + 1 :]
    assert sprints[:2] == [
        "ABC Sprint 11 (closed): committed 21 (2), added 28 (5), removed 0 (0), completed",
        "    34 (4), carried over 17 (3), say/do 162%, velocity 20.0",
    ]
    assert sprints[6:8] == [
        "ABC Sprint 14 (active): committed 21 (4), added 16 (2), removed 0 (0), completed",
        "    18 (2), carried over 0 (0), say/do 86%, velocity -",
    ]
    assert "…" not in result.stdout
    assert all(len(line) <= 80 for line in lines[1:])  # the header is one message


def test_kpis_at_160_columns_print_the_tables(
    governed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_width(160, monkeypatch)
    result = invoke("kpis", "--team", "Team Alpha")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert HEADER.fullmatch(lines[0])
    assert re.match(r"cycle time +p50 [\d.]+ d  p70 [\d.]+ d  p85 [\d.]+ d  p95", lines[3])
    assert base.table_header(result.stdout) == [
        "sprint", "state", "committed", "added", "removed", "completed", "carried over",
        "say/do", "velocity",
    ]  # fmt: skip
    assert base.table_rows(result.stdout, after="Team Alpha — last sprints (points)")[0] == [
        "ABC Sprint 11", "closed", "21 (2)", "28 (5)", "0 (0)", "34 (4)", "17 (3)", "162%", "20.0",
    ]  # fmt: skip
    assert "…" not in result.stdout


def test_kpis_connector_keeps_its_teams_and_names_are_checked(governed: Path) -> None:
    mine = json.loads(invoke("kpis", "--connector", "sandbox-jira", "--format", "json").stdout)
    # no portfolio; the epics' request forecasts are the team's
    assert {row["scope"] for row in mine} == {"item", "team", "sprint", "epic", "request"}
    teams = {row["scope_key"] for row in mine if row["scope"] == "team"}
    assert teams == {"Team Alpha", "Team Beta", "Team Gamma"}
    for args, message in [
        (("--connector", "nope"), "no synced connector named 'nope': run `pmo-sync sync` first"),
        (("--team", "Team Omega"),
         "no team 'Team Omega' (teams: Team Alpha, Team Beta, Team Gamma)"),
        (("--format", "xml"), "--format must be table, json or csv, not 'xml'"),
    ]:  # fmt: skip
        result = invoke("kpis", *args)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == message + "\n"


# -- healthcheck -----------------------------------------------------------------------------


class _Healthz(http.server.BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def test_healthcheck_asks_the_configured_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """PMO_SYNC_HTTP_PORT/HOST as `serve` binds them; 0.0.0.0 (every address) is asked on
    127.0.0.1. A port nothing listens on is unhealthy, named in one line."""
    _Healthz.paths = []
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz) as server:
        port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            monkeypatch.setenv("PMO_SYNC_HTTP_PORT", str(port))
            monkeypatch.setenv("PMO_SYNC_HTTP_HOST", "0.0.0.0")
            healthy = invoke("healthcheck")
            monkeypatch.setenv("PMO_SYNC_HTTP_HOST", "127.0.0.1")
            again = invoke("healthcheck")
        finally:
            server.shutdown()
            thread.join()
    assert (healthy.exit_code, again.exit_code) == (0, 0)
    assert healthy.stdout == again.stdout == f"healthy: http://127.0.0.1:{port}/healthz\n"
    assert _Healthz.paths == ["/healthz", "/healthz"]
    stopped = invoke("healthcheck")  # the server is gone: nothing listens on the port
    assert stopped.exit_code == 1
    assert stopped.stdout == ""
    assert stopped.stderr.startswith(f"unhealthy: http://127.0.0.1:{port}/healthz: ")
    assert stopped.stderr.count("\n") == 1


# -- push ------------------------------------------------------------------------------------


def test_push_at_80_columns_and_its_progress_on_a_terminal_only(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """push prints one line per change (a comment's body indented under its line) and per
    connector (nothing to cut); on a terminal a `push 0/1 sandbox-jira` line shows while it
    works and is gone after, logs above it."""
    at_width(80, monkeypatch)
    with JiraSandbox(token=base.SECRET, issues_per_project=5) as sandbox:
        write_connector(
            cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url,
            extra="writeback:\n  enabled: true\n  fields:\n    wip_age_days: WIP age (days)\n",
        )  # fmt: skip
        field_id = sandbox.dataset.create_custom_field("WIP age (days)", "number")
        for project in ("ABC", "DEF", "GHI"):
            sandbox.dataset.add_field_to_screen(field_id, project)
        assert invoke("sync").exit_code == 0
        preview = invoke("push", "--dry-run")
        assert preview.exit_code == 0, preview.stderr
        planned = preview.stdout.splitlines()
        assert re.fullmatch(r"sandbox-jira: would make \d+ change\(s\)", planned[-1])
        # an action's line; a comment's body (an open epic's sentence) indented under it
        assert all(re.match(r"[A-Z]+-\d+: |    \S|$", line) for line in planned[:-1])
        assert re.match(r"[A-Z]+-\d+: ", planned[0])
        assert "…" not in preview.stdout and "records" not in preview.stderr
        monkeypatch.setattr(cli.err, "_force_terminal", True)
        monkeypatch.setattr(cli.err, "is_interactive", True)
        pushed = invoke("push")
    assert pushed.exit_code == 0, pushed.stderr
    assert "push 0/1 sandbox-jira" in pushed.stderr
    logged = [json.loads(line)["event"] for line in log_lines(terminal_screen(pushed.stderr))]
    assert logged == ["push_finished"]
    assert re.fullmatch(
        r"sandbox-jira: made \d+ change\(s\), 0 failed, \d+ API calls", pushed.stdout.strip()
    )


def test_connectors_check_shows_its_steps_on_a_terminal_only(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check sandbox-jira 0/2` while the tracker's own checks run, `1/2 write-back fields`
    while the fields are checked; gone at the end; nothing of it when stderr is piped. (The
    field is not on Jira yet: the check says so, exit 1, in the same lines either way.)"""
    at_width(80, monkeypatch)
    with JiraSandbox(token=base.SECRET, issues_per_project=5) as sandbox:
        write_connector(
            cli_env, "sandbox-jira.yaml", "sandbox-jira", sandbox.url,
            extra="writeback:\n  enabled: true\n  fields:\n    wip_age_days: WIP age (days)\n",
        )  # fmt: skip
        piped = invoke("connectors", "check", "sandbox-jira")
        assert "check sandbox-jira" not in piped.stderr
        monkeypatch.setattr(cli.err, "_force_terminal", True)
        monkeypatch.setattr(cli.err, "is_interactive", True)
        shown = invoke("connectors", "check", "sandbox-jira")
    assert (shown.exit_code, piped.exit_code) == (1, 1)
    assert shown.stdout == piped.stdout  # the results themselves are the same lines
    assert "check sandbox-jira 0/2" in shown.stderr
    assert "check sandbox-jira 1/2 write-back fields" in shown.stderr
    assert terminal_screen(shown.stderr) == []  # the line is gone once the check is done
