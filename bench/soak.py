"""Soak the background service: hours of cycles compressed into minutes, watching for leaks
and, with `--fault-rate`, for anything lost or duplicated while the trackers misbehave.

The bench runs `pmo_sync.service.runner.Service` in this process as `pmo-sync serve` runs
it (its HTTP endpoints `/healthz`, `/readyz`, `/metrics` on 127.0.0.1 included; signals
aside) against three sandbox trackers, with a fast schedule: a Jira, an Azure DevOps and a
Trello connector, all with write-back, every `--jira-seconds` / `--ado-seconds` /
`--trello-seconds` (1, 2 and 2 s), so ten minutes make several hundred cycles per
connector, what a 1-minute schedule does in a working day. It prints figures, not
pass/fail: a table of samples and a verdict per resource.

1. **Trackers**, in a process of their own (`--sandbox-worker`, so this process's memory
   and threads are the service's alone; it takes commands on its stdin): a `JiraSandbox`
   (projects ABC, DEF and GHI, the KPI fields created and put on the projects' edit
   screens, as an admin does once), an `AdoSandbox` (write-back by reference name,
   `Custom.CycleTimeDays` etc.) and a `TrelloSandbox` (boards Team Alpha and Team Beta,
   `--trello-cards` each, the KPI custom fields on both, as `connectors provision` makes
   them), generated as of now. Between cycles that process keeps changing the data
   through the datasets' APIs, `--mutations-per-second` per tracker (a transition or
   list move, an estimate, and with `--churn` an item created or deleted), made by the
   trackers' people (never the service's own account), its clocks following the wall
   clock, so every cycle syncs changes, recomputes KPIs and findings and pushes new
   values.
2. **Store**: a temporary SQLite file, or with `--database-url` a throwaway schema of
   that PostgreSQL database (`?options=-csearch_path=...`, created and dropped), with
   `application_name=pmo-soak-<pid>` so its backends can be counted in
   `pg_stat_activity` (store pool and per-cycle advisory-lock connections alike).
3. **Samples**, every `--sample-seconds`: a burst of `--burst` quick readings 0.1 s apart
   of the current RSS (VmRSS), threads (`threading.active_count()` and /proc's
   `Threads`), open file descriptors and the sockets among them, the store pool's
   checked-out connections and, on PostgreSQL, this service's backends. A running cycle
   holds a socket, a pooled connection and a lock connection for a moment, so a burst
   gives a *floor* (its minimum: the idle level, which a leak raises) and a *peak*. Once
   per sample also: the TCP sockets by peer (Jira, Azure DevOps, PostgreSQL: by remote
   port) and state, from /proc/self/net/tcp; the memory blocks Python's allocator holds
   (`sys.getallocatedblocks()`: live objects and their buffers; not `gc.get_objects()`,
   which would hand this thread half-built objects of the service's threads, and a tuple
   being built with a second reference fails with "SystemError: bad argument to internal
   function") and how many full (generation-2) collections the cyclic garbage collector
   has run; and from the store the cycles finished per connector, failures and
   `item_changes` rows (the data grows with every mutation; KPI work per cycle grows
   with it).
4. **Verdicts**, over the last three quarters of the samples (the first quarter is
   warm-up: imports, SDK route discovery, the first full syncs, the allocator's arenas):
   first, last and max, and a least-squares slope per minute. RSS is *flat* when its
   floor's slope is under `--rss-slope-mb` MB/min (1), and *levelling off* when it is not
   but its slope over the last half of that window is; threads, fds, sockets and
   connections are *flat* when their floor does not grow: no fitted growth of a whole
   unit over the window, and the last third's lowest floor is not above the first
   third's highest.
5. **Faults** (`--fault-rate 0.1`: one request in ten), from the service's first call to
   the end of `--minutes`: each sandbox's seeded chaos (`SandboxHarness.chaos`) answers
   that share of its requests with a 429 (the tracker's rate-limit headers), a 500, a
   503, an HTML sign-in page, a dropped connection or an answer `--slow-seconds` late
   (later than the connectors' `--timeout-seconds`: 6 and 5 s). Then the faults and the
   changes stop and every connector runs `--clean-cycles` (2) successful cycles; `/metrics`,
   `/healthz` and `/readyz` are scraped over HTTP, and what `/metrics` reports about
   failures is printed: cycles by outcome, errors by stage, recoveries, failures in a row,
   write-backs by outcome, pushes with failures, API calls, rate-limit waits.
6. **Audit**, once the service stopped: `pmo_sync.sandbox.audit` compares each tracker's
   ground truth with the store and the write-back ledger (lost items, lost deletions,
   stale statuses and stages, duplicate bot comments, ledger rows the tracker does not
   have, bot comments the ledger does not know), prints each discrepancy and verdicts
   ("nothing lost", "nothing duplicated"), then a summary table: cycles per connector ok
   and failed, syncs failed and recovered, pushes with failures, faults injected by kind.
7. **Stop**: `Service.stop()`, then threads, fds, sockets and backends against the
   baseline taken before `start()` (with the store pool emptied and `gc.collect()` run),
   in three steps: right after the stop, with the store pool emptied
   (`engine.dispose()`), and after a `gc.collect()`. "Back to baseline only after
   gc.collect()" means the service dropped the resource but left it to the cyclic
   garbage collector to close. Also: no connection left checked out, no cycle left
   unfinished in `service_cycles`, and which fds (by path) outlived it all.

`--collect` runs `gc.collect()` before every sample: what stays flat with it and grows
without it is garbage the collector has not reached, not objects still referenced. (A
collection that falls while a cycle's KPI computation has the collector frozen,
`pmo_sync.kpi.compute.gc_frozen`, cannot reach anything allocated before the freeze, so
not every sample's collection frees everything.) `--tracemalloc TOP` traces the Python
heap from the end of warm-up and prints the TOP allocation sites that grew between the
sample halfway through the measured window and the last one; a snapshot also catches
whatever a running cycle holds at that instant, tracing slows the cycles down, and its
own bookkeeping adds to RSS.

Run it from the repository root:

    python bench/soak.py --minutes 1                       # smoke run
    python bench/soak.py --minutes 10 --fault-rate 0.1     # one request in ten fails
    python bench/soak.py                                   # 10 minutes on SQLite
    python bench/soak.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/soak.py --minutes 5 --tracemalloc 15      # where the heap grows, if it does
    python bench/soak.py --minutes 5 --collect             # garbage or a leak?

The trackers' process and the service share the machine's cores (and whatever else runs
on it: the load average is printed), which shows in cycle durations, not in the leak
figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox_process import pg_schema

JIRA_TOKEN_ENV = "PMO_SOAK_JIRA_TOKEN"
ADO_TOKEN_ENV = "PMO_SOAK_ADO_TOKEN"
TRELLO_KEY_ENV = "PMO_SOAK_TRELLO_KEY"
TRELLO_TOKEN_ENV = "PMO_SOAK_TRELLO_TOKEN"
PROJECTS = ("ABC", "DEF", "GHI")
JIRA_FIELDS = {
    "cycle_time_days": "Cycle time (days)",
    "wip_age_days": "WIP age (days)",
    "team_cycle_time_p85_days": "Team p85 cycle time (days)",
}
ADO_FIELDS = {
    "cycle_time_days": "Custom.CycleTimeDays",
    "wip_age_days": "Custom.WipAgeDays",
    "team_cycle_time_p85_days": "Custom.TeamCycleTimeP85Days",
}
TRELLO_FIELDS = JIRA_FIELDS  # custom fields of these names on every board
TRELLO_LIST_STAGES = {"Blocked by vendor": "in_progress"}  # as the demo maps it
EXAMPLE_POLICIES = Path(__file__).resolve().parents[1] / "config" / "policies"
FALLBACK_POLICY = "rules:\n  - id: estimate-committed\n    rule: missing_estimate\n"
# The next status of a transition: the work flows on, and done work is reopened now and
# then, so there is always work in progress and cycle times keep changing.
JIRA_NEXT = {
    "To Do": "In Progress",
    "In Progress": "In Review",
    "In Review": "Done",
    "Done": "To Do",
    "Won't Do": "To Do",
}
TRELLO_NEXT = {
    "Backlog": "To Do",
    "To Do": "Doing",
    "Doing": "Review",
    "Blocked by vendor": "Doing",
    "Review": "Done",
    "Done": "To Do",
}
POINTS = (1.0, 2.0, 3.0, 5.0, 8.0)
INT_TOLERANCE = 2  # threads/fds/sockets after the stop: the baseline ± this


# -- the trackers' process ----------------------------------------------------------------------


def run_sandboxes(options: dict[str, Any]) -> None:
    """Serve the three sandboxes and keep changing their data until told to stop.

    Prints one JSON line with the addresses once serving. Then it takes commands, one per
    line on stdin, and answers each with one JSON line on stdout:

    - `chaos`: each sandbox fails `fault_rate` of its requests at random (seeded per
      tracker), from now on;
    - `calm`: chaos and mutations stop; the answer holds the faults that struck, by kind;
    - `truth`: each tracker's ground truth for the audit (`pmo_sync.sandbox.audit`);
    - `stop` (or stdin closed, or SIGTERM): the last line holds its tallies (mutations made,
      requests answered by status class, faults by kind).
    """
    from pmo_sync.sandbox.ado import AdoSandbox
    from pmo_sync.sandbox.ado.generator import STATES_BY_TYPE, AdoDataset
    from pmo_sync.sandbox.audit import ado_truth, jira_truth, trello_truth
    from pmo_sync.sandbox.harness import CHAOS_KINDS
    from pmo_sync.sandbox.jira.generator import JiraDataset
    from pmo_sync.sandbox.jira.server import JiraSandbox
    from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
    from pmo_sync.sandbox.trello.generator import FIELD_POINTS

    stopping = threading.Event()
    mutating = threading.Event()
    mutations = threading.Lock()
    if options["mutations_per_second"]:
        mutating.set()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    now = datetime.now(UTC).replace(microsecond=0)
    jira_data = JiraDataset.generate(
        seed=options["seed"], issues_per_project=options["issues_per_project"], now=now
    )
    for name in JIRA_FIELDS.values():
        field_id = jira_data.create_custom_field(name, "number")
        for project in PROJECTS:
            jira_data.add_field_to_screen(field_id, project)
    ado_data = AdoDataset.generate(seed=options["seed"], size=options["ado_items"], now=now)
    ado_data.watermark()  # index the revision log now, not in the first sync's time
    trello_data = TrelloDataset.generate(
        seed=options["seed"], cards_per_board=options["trello_cards"], now=now
    )
    for board in trello_data.boards:  # what `pmo-sync connectors provision` makes
        for name in TRELLO_FIELDS.values():
            trello_data.create_custom_field(board, name, "number")
    rng = random.Random(options["seed"])
    churn = options["churn"]
    tally: dict[str, Any] = {"mutations": {}, "mutation_errors": 0}
    answered: dict[str, dict[str, int]] = {"jira": {}, "ado": {}, "trello": {}}
    chaoses: dict[str, Any] = {}

    def count(tracker: str, kind: str) -> None:
        mine = tally["mutations"].setdefault(tracker, {})
        mine[kind] = mine.get(kind, 0) + 1

    def drain(name: str, sandbox: Any) -> None:
        # The request log grows without end otherwise (this process's memory is not the
        # service's, but a soak of hours should not swap).
        with sandbox._lock:
            log, sandbox._log = sandbox._log, []
        counts = answered[name]
        for request in log:
            kind = "dropped" if request.status == 0 else f"{request.status // 100}xx"
            counts[kind] = counts.get(kind, 0) + 1
            if request.is_write:
                counts["writes"] = counts.get("writes", 0) + 1

    def mutate_jira() -> None:
        jira_data.clock.set(max(datetime.now(UTC), jira_data.clock.now))
        rows = jira_data.index.live_rows()
        key = jira_data.key_at(rng.choice(rows))
        roll = rng.random()
        if roll < churn / 2:
            jira_data.create_issue(rng.choice(PROJECTS), f"Soak issue {rng.randrange(10**6)}")
            count("jira", "created")
        elif roll < churn:
            jira_data.delete_issue(key)
            count("jira", "deleted")
        elif roll < churn + 0.2:
            jira_data.set_estimate(key, rng.choice(POINTS))
            count("jira", "estimated")
        else:
            jira_data.transition(key, JIRA_NEXT[jira_data.issue(key).status.name])
            count("jira", "moved")

    def mutate_ado() -> None:
        # People change the data, not the service's identity (the default author).
        ado_data.clock.set(max(datetime.now(UTC), ado_data.clock.now))
        item = ado_data.item(rng.choice(ado_data.ids()))
        who = rng.choice(ado_data.people)
        roll = rng.random()
        if roll < churn / 2:
            kind = rng.choice(("User Story", "Bug"))
            ado_data.create(kind, f"Soak item {rng.randrange(10**6)}", by=who)
            count("ado", "created")
        elif roll < churn:
            ado_data.delete(item.id, by=who)
            count("ado", "deleted")
        elif roll < churn + 0.2:
            ado_data.set_points(item.id, rng.choice(POINTS), by=who)
            count("ado", "estimated")
        else:
            flow = [s for s in STATES_BY_TYPE[item.type] if s != "Removed"]
            position = flow.index(item.state) if item.state in flow else -1
            ado_data.set_state(item.id, flow[(position + 1) % len(flow)], by=who)
            count("ado", "moved")

    def mutate_trello() -> None:
        # By the board's team: the default author is the bot, whose actions the connector
        # rightly takes for its own write-back and does not read again.
        trello_data.clock.set(max(datetime.now(UTC), trello_data.clock.now))
        cards = [c for c in trello_data.cards() if not c.closed]
        card = rng.choice(cards)
        board = trello_data.board(card.board_id)
        who = rng.choice(board.team)
        roll = rng.random()
        if roll < churn / 2:
            trello_data.create_card(board, "To Do", f"Soak card {rng.randrange(10**6)}", by=who)
            count("trello", "created")
        elif roll < churn:
            trello_data.delete_card(card.id, by=who)
            count("trello", "deleted")
        elif roll < churn + 0.2:
            trello_data.set_custom_field(card.id, FIELD_POINTS, rng.choice(POINTS), by=who)
            count("trello", "estimated")
        else:
            current = board.list_named(card.list_id)
            name = current.name if current is not None else ""
            trello_data.move_card(card.id, TRELLO_NEXT.get(name, "To Do"), by=who)
            count("trello", "moved")

    def faults() -> dict[str, dict[str, int]]:
        return {name: dict(sorted(chaos.fired.items())) for name, chaos in chaoses.items()}

    def say(message: dict[str, Any]) -> None:
        print(json.dumps(message), flush=True)

    def truths(sandboxes: dict[str, Any]) -> list[str]:
        jira, ado, trello = (sandboxes[n] for n in ("jira", "ado", "trello"))
        return [
            t.to_json()
            for t in (
                jira_truth(jira, "soak-jira", projects=PROJECTS, fields=JIRA_FIELDS.values()),
                ado_truth(ado, "soak-ado", fields=ADO_FIELDS.values()),
                trello_truth(
                    trello,
                    "soak-trello",
                    fields=TRELLO_FIELDS.values(),
                    list_stages=TRELLO_LIST_STAGES,
                ),
            )
        ]

    def commands(sandboxes: dict[str, Any]) -> None:
        """The control channel: one command a line on stdin, one JSON answer each (an
        `error` for one that failed: the other side must never wait for an answer)."""
        for line in sys.stdin:
            command = line.strip()
            if command == "stop":
                break
            try:
                obey(command, sandboxes)
            except Exception as exc:
                say({"error": f"{command}: {type(exc).__name__}: {exc}"})
        stopping.set()

    def obey(command: str, sandboxes: dict[str, Any]) -> None:
        if command == "chaos":
            for name, sandbox in sandboxes.items():
                chaoses[name] = sandbox.chaos(
                    options["fault_rate"],
                    seed=f"{options['seed']}:{name}",
                    kinds=CHAOS_KINDS,
                    slow_seconds=options["slow_seconds"],
                )
            say({"chaos": options["fault_rate"]})
        elif command == "calm":
            mutating.clear()
            with mutations:  # the round under way, if any, is over
                pass
            for sandbox in sandboxes.values():
                sandbox.clear_faults()
            say({"faults": faults()})
        elif command == "truth":
            say({"truths": truths(sandboxes)})
        else:
            say({"error": f"unknown command {command!r}"})

    period = 1.0 / options["mutations_per_second"] if options["mutations_per_second"] else 1.0
    with (
        JiraSandbox(jira_data) as jira,
        AdoSandbox(ado_data) as ado,
        TrelloSandbox(trello_data) as trello,
    ):
        sandboxes = {"jira": jira, "ado": ado, "trello": trello}
        # Once now: whatever the audit imports is imported before the run, so a file edited
        # meanwhile (a working tree others change) cannot fail it at the end.
        truths(sandboxes)
        current = trello_data.sprint_at(trello_data.clock.now) or trello_data.sprints[-1]
        say(
            {
                "jira_url": jira.url,
                "jira_email": jira.email,
                "jira_token": jira.token,
                "ado_url": ado.url,
                "ado_pat": ado.pat,
                "ado_project": ado_data.project.name,
                "trello_url": trello.root_url,
                "trello_key": trello.key,
                "trello_token": trello.token,
                "trello_boards": [b.name for b in trello_data.boards],
                "trello_sprint": [
                    current.name,
                    current.start.date().isoformat(),
                    (current.end - current.start).days,
                ],
                "jira_issues": len(jira_data.issues),
                "ado_items": len(ado_data.ids()),
                "trello_cards": sum(1 for _ in trello_data.cards()),
            }
        )
        threading.Thread(target=commands, args=(sandboxes,), daemon=True).start()
        next_at = last_drain = time.monotonic()
        while not stopping.is_set():
            next_at += period
            stopping.wait(max(0.0, next_at - time.monotonic()))
            if stopping.is_set():
                break
            with mutations:  # `calm` waits for a round under way
                for mutate in (mutate_jira, mutate_ado, mutate_trello):
                    if not mutating.is_set():
                        break
                    try:
                        mutate()
                    except Exception as exc:  # a bench, not a test: count it, go on
                        tally["mutation_errors"] += 1
                        tally["last_mutation_error"] = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - last_drain >= 5:
                for name, sandbox in sandboxes.items():
                    drain(name, sandbox)
                last_drain = time.monotonic()
        for name, sandbox in sandboxes.items():
            drain(name, sandbox)
    tally["requests"] = answered
    tally["faults"] = faults()
    say(tally)


class Trackers:
    """The trackers' process, seen from the service's: start, commands, stop."""

    def __init__(self, args: argparse.Namespace, log_path: Path) -> None:
        options = {
            "seed": args.seed,
            "issues_per_project": args.issues_per_project,
            "ado_items": args.ado_items,
            "trello_cards": args.trello_cards,
            "mutations_per_second": args.mutations_per_second,
            "churn": args.churn,
            "fault_rate": args.fault_rate,
            "slow_seconds": args.slow_seconds,
        }
        self.log_path = log_path
        with log_path.open("w", encoding="utf-8") as log_file:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--sandbox-worker",
                    json.dumps(options),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
            )
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(15)
            raise RuntimeError(
                f"the sandbox process exited with {self.process.returncode}: "
                f"{self.log_path.read_text()[-2000:]}"
            )
        return dict(json.loads(line))

    def command(self, name: str) -> dict[str, Any]:
        """Its answer; RuntimeError when it answers an error."""
        assert self.process.stdin is not None
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"the trackers' process: {answer['error']}")
        return answer

    def stop(self) -> dict[str, Any]:
        """`stop`, then SIGTERM by its own PID; its tallies, or {} if it had to be killed."""
        try:
            out, _ = self.process.communicate("stop\n", timeout=30)  # closes its stdin
        except subprocess.TimeoutExpired:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                out, _ = self.process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.communicate(timeout=15)
                return {}
        lines = [line for line in (out or "").splitlines() if line.strip()]
        return dict(json.loads(lines[-1])) if lines else {}


# -- the service's config ----------------------------------------------------------------------


def write_config(config_dir: Path, trackers: dict[str, Any], args: argparse.Namespace) -> None:
    connectors = config_dir / "connectors"
    connectors.mkdir(parents=True)
    policies = config_dir / "policies"
    policies.mkdir()
    examples = sorted(EXAMPLE_POLICIES.glob("*.yaml")) if EXAMPLE_POLICIES.is_dir() else []
    for path in examples:
        (policies / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    if not examples:
        (policies / "rules.yaml").write_text(FALLBACK_POLICY, encoding="utf-8")
    jira_fields = [f"    {metric}: {name}" for metric, name in JIRA_FIELDS.items()]
    ado_fields = [f"    {metric}: {name}" for metric, name in ADO_FIELDS.items()]
    (connectors / "soak-jira.yaml").write_text(
        "\n".join(
            [
                "name: soak-jira",
                "kind: jira",
                f"url: {trackers['jira_url']}",
                f"email: {trackers['jira_email']}",
                f"token: ${{{JIRA_TOKEN_ENV}}}",
                f"jql: project in ({', '.join(PROJECTS)})",
                f"timeout_seconds: {args.timeout_seconds:g}",
                "schedule:",
                f"  interval_seconds: {args.jira_seconds}",
                "writeback:",
                "  enabled: true",
                "  comments: true",
                "  fields:",
                *jira_fields,
                "",
            ]
        ),
        encoding="utf-8",
    )
    (connectors / "soak-ado.yaml").write_text(
        "\n".join(
            [
                "name: soak-ado",
                "kind: azure_devops",
                f"organization_url: {trackers['ado_url']}",
                f"token: ${{{ADO_TOKEN_ENV}}}",
                f"project: {trackers['ado_project']}",
                f"timeout_seconds: {args.timeout_seconds:g}",
                "schedule:",
                f"  interval_seconds: {args.ado_seconds}",
                "writeback:",
                "  enabled: true",
                "  comments: true",
                "  fields:",
                *ado_fields,
                "",
            ]
        ),
        encoding="utf-8",
    )
    sprint, starts, days = trackers["trello_sprint"]
    (connectors / "soak-trello.yaml").write_text(
        "\n".join(
            [
                "name: soak-trello",
                "kind: trello",
                f"url: {trackers['trello_url']}",
                f"api_key: ${{{TRELLO_KEY_ENV}}}",
                f"token: ${{{TRELLO_TOKEN_ENV}}}",
                f"boards: [{', '.join(trackers['trello_boards'])}]",
                f"timeout_seconds: {args.timeout_seconds:g}",
                "list_stages:",
                *(f"  {name}: {stage}" for name, stage in TRELLO_LIST_STAGES.items()),
                "sprints:",
                "  from: custom_field",
                "  name: Sprint",
                f"  cadence: {{sprint: {sprint}, starts: {starts}, days: {days}}}",
                "schedule:",
                f"  interval_seconds: {args.trello_seconds}",
                "writeback:",
                "  enabled: true",
                "  comments: true",
                "  fields:",
                *(f"    {metric}: {name}" for metric, name in TRELLO_FIELDS.items()),
                "",
            ]
        ),
        encoding="utf-8",
    )
    os.environ[JIRA_TOKEN_ENV] = trackers["jira_token"]
    os.environ[ADO_TOKEN_ENV] = trackers["ado_pat"]
    os.environ[TRELLO_KEY_ENV] = trackers["trello_key"]
    os.environ[TRELLO_TOKEN_ENV] = trackers["trello_token"]


# -- the store ----------------------------------------------------------------------------------


def _with_query(url: str, **params: str) -> str:
    separator = "&" if "?" in url else "?"
    return url + separator + "&".join(f"{k}={v}" for k, v in params.items())


class Monitor:
    """One connection of its own (opened before the baseline, kept open: a constant fd)
    for the figures the store holds, and on PostgreSQL the service's backends."""

    def __init__(self, url: str, application: str | None) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.application = application
        self._engine = create_engine(url, poolclass=NullPool)
        self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def backends(self) -> int | None:
        if self.application is None:
            return None
        from sqlalchemy import text

        query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app")
        return int(self._conn.execute(query, {"app": self.application}).scalar_one())

    def cycles(self) -> dict[str, dict[str, int]]:
        """Per connector: cycles started, finished, failed, and write-backs done."""
        from sqlalchemy import text

        rows = self._conn.execute(
            text(
                "SELECT connector, count(*), count(finished_at), "
                "sum(CASE WHEN finished_at IS NOT NULL AND NOT ok THEN 1 ELSE 0 END), "
                "coalesce(sum(pushed), 0) FROM service_cycles GROUP BY connector"
            )
        )
        return {
            r[0]: {"started": r[1], "finished": r[2], "failed": int(r[3] or 0), "pushed": r[4]}
            for r in rows
        }

    def item_changes(self) -> int:
        from sqlalchemy import text

        return int(self._conn.execute(text("SELECT count(*) FROM item_changes")).scalar_one())

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()


# -- readings -----------------------------------------------------------------------------------


def _proc_status() -> dict[str, int]:
    """VmRSS and VmHWM (kB) and Threads from /proc/self/status (Linux)."""
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "Threads"):
                found[name] = int(value.split()[0])
    return found


def _fds() -> tuple[int, int]:
    """Open file descriptors of this process, and how many of them are sockets."""
    fds = os.listdir("/proc/self/fd")
    sockets = 0
    for fd in fds:
        with suppress(OSError):  # closed since the listing (or the listing's own descriptor)
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return len(fds), sockets


def fd_targets() -> dict[str, int]:
    """Open file descriptors by what they point to (sockets, pipes and anonymous inodes
    by kind only), to tell which ones a run left behind."""
    targets: dict[str, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            target = re.sub(r"^(socket|pipe|anon_inode):.*", r"\1", target)
            targets[target] = targets.get(target, 0) + 1
    return targets


def _fd_difference(now: dict[str, int], then: dict[str, int]) -> str:
    more = {k: now.get(k, 0) - then.get(k, 0) for k in set(now) | set(then)}
    parts = [f"{k} {v:+d}" for k, v in sorted(more.items()) if v and not k.startswith("/proc/")]
    return ", ".join(parts) or "none"


_TCP_STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}


def socket_peers(ports: dict[int, str]) -> dict[str, int]:
    """This process's TCP sockets by peer (`ports`: remote port → name) and state.

    From /proc/self/net/tcp{,6}, matched by inode to /proc/self/fd: "ado CLOSE_WAIT" is
    a socket to the sandbox Azure DevOps that the sandbox closed and we did not.
    """
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    peers: dict[str, int] = {}
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                parts = line.split()
                if parts[9] not in inodes:
                    continue
                port = int(parts[2].rsplit(":", 1)[1], 16)
                name = ports.get(port, "other")
                key = f"{name} {_TCP_STATES.get(parts[3], parts[3])}"
                peers[key] = peers.get(key, 0) + 1
    return dict(sorted(peers.items()))


def _peers(peers: dict[str, int]) -> str:
    text = ", ".join(f"{k} {v}" for k, v in peers.items()) or "none"
    return text.replace("ESTABLISHED", "est").replace("CLOSE_WAIT", "close-wait")


def _checked_out(engine: Any) -> int | None:
    checkedout = getattr(engine.pool, "checkedout", None)
    return int(checkedout()) if checkedout is not None else None


INT_FIGURES = ("threads", "proc_threads", "fds", "sockets", "pool", "backends")


def read_once(engine: Any, monitor: Monitor) -> dict[str, float | None]:
    status = _proc_status()
    fds, sockets = _fds()
    return {
        "rss": status["VmRSS"] / 1024,
        "threads": threading.active_count(),
        "proc_threads": status["Threads"],
        "fds": fds,
        "sockets": sockets,
        "pool": _checked_out(engine),
        "backends": monitor.backends(),
    }


@dataclass
class Sample:
    t: float  # seconds since the service started
    floor: dict[str, float | None]
    peak: dict[str, float | None]
    blocks: int  # sys.getallocatedblocks()
    cycles: dict[str, dict[str, int]]
    changes: int
    peers: dict[str, int]  # TCP sockets by peer and state, at the burst's end
    full_collections: int  # the cyclic garbage collector's generation-2 runs so far
    running: int = 0  # cycles started, not finished (at the sample)
    loadavg: float = 0.0


def take_sample(
    t0: float, engine: Any, monitor: Monitor, burst: int, ports: dict[int, str], collect: bool
) -> Sample:
    if collect:
        gc.collect()
    readings = []
    for i in range(burst):
        if i:
            time.sleep(0.1)
        readings.append(read_once(engine, monitor))
    floor: dict[str, float | None] = {}
    peak: dict[str, float | None] = {}
    for name in ("rss", *INT_FIGURES):
        values = [r[name] for r in readings if r[name] is not None]
        floor[name] = min(values) if values else None
        peak[name] = max(values) if values else None
    cycles = monitor.cycles()
    return Sample(
        t=time.monotonic() - t0,
        floor=floor,
        peak=peak,
        blocks=sys.getallocatedblocks(),
        cycles=cycles,
        changes=monitor.item_changes(),
        peers=socket_peers(ports),
        full_collections=gc.get_stats()[2]["collections"],
        running=sum(c["started"] - c["finished"] for c in cycles.values()),
        loadavg=os.getloadavg()[0],
    )


def baseline(engine: Any, monitor: Monitor) -> dict[str, float | None]:
    """Threads, fds and sockets with the pool emptied, after a moment to settle."""
    engine.dispose()
    gc.collect()
    time.sleep(0.5)
    return read_once(engine, monitor)


# -- analysis -----------------------------------------------------------------------------------


def slope_per_minute(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (seconds), per minute; 0 for fewer than two points."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx * 60


def measured(samples: list[Sample]) -> list[Sample]:
    """The samples after warm-up: the last three quarters (all of them when fewer than 4)."""
    return samples[len(samples) // 4 :] if len(samples) >= 4 else samples


def _span_minutes(window: list[Sample]) -> float:
    return (window[-1].t - window[0].t) / 60 if len(window) > 1 else 0.0


def rss_verdict(window: list[Sample], threshold: float, hwm_mb: float) -> str:
    xs = [s.t for s in window]
    ys = [float(s.floor["rss"] or 0) for s in window]
    slope = slope_per_minute(xs, ys)
    half = len(xs) // 2
    late = slope_per_minute(xs[half:], ys[half:])
    if slope < threshold:
        verdict = "flat"
    elif late < threshold:
        verdict = "GROWING, then levelling off"  # a climb to a plateau, not a steady leak
    else:
        verdict = "GROWING"
    return (
        f"RSS: {verdict}, {ys[-1] - ys[0]:+.1f} MB over the last 3/4 of the run (slope "
        f"{slope:+.2f} MB/min, threshold {threshold:g}; over its last half {late:+.2f} MB/min; "
        f"first {ys[0]:.1f}, last {ys[-1]:.1f}, max "
        f"{max(float(s.peak['rss'] or 0) for s in window):.1f} MB; VmHWM {hwm_mb:.1f} MB)"
    )


def int_verdict(label: str, name: str, window: list[Sample]) -> str | None:
    """flat: the idle floor does not grow (fitted growth under one unit over the window,
    and the last third's lowest floor not above the first third's highest)."""
    if window[0].floor[name] is None:
        return None
    xs = [s.t for s in window]
    ys = [float(s.floor[name] or 0) for s in window]
    slope = slope_per_minute(xs, ys)
    third = max(1, len(ys) // 3)
    risen = min(ys[-third:]) > max(ys[:third])
    growth = slope * _span_minutes(window)
    verdict = "GROWING" if risen or (growth >= 1 and ys[-1] > ys[0]) else "flat"
    peak = max(float(s.peak[name] or 0) for s in window)
    return (
        f"{label}: {verdict} ({ys[0]:.0f} → {ys[-1]:.0f} idle floor, max {max(ys):.0f}, peak "
        f"during cycles {peak:.0f}; slope {slope:+.3f}/min)"
    )


def blocks_verdict(window: list[Sample]) -> str:
    xs = [s.t for s in window]
    ys = [float(s.blocks) for s in window]
    slope = slope_per_minute(xs, ys)
    growth = slope * _span_minutes(window)
    verdict = "flat" if growth < 0.01 * ys[0] else "GROWING"
    return (
        f"Python heap blocks: {verdict} ({ys[0]:,.0f} → {ys[-1]:,.0f}, max "
        f"{max(ys):,.0f}; slope {slope:+,.0f}/min, i.e. {growth:+,.0f} over the window; "
        "flat when under 1% of the level)"
    )


def _range(sample: Sample, name: str) -> str:
    lo, hi = sample.floor[name], sample.peak[name]
    if lo is None or hi is None:
        return "-"
    return f"{lo:.0f}" if lo == hi else f"{lo:.0f}-{hi:.0f}"


def print_samples(samples: list[Sample], connectors: Sequence[str], postgres: bool) -> None:
    short = {name: name.removeprefix("soak-") for name in connectors}
    header = (
        f"{'t s':>5} "
        + " ".join(f"{short[c]:>5}" for c in connectors)
        + f" {'fail':>4} {'run':>3} {'RSS MB':>13} {'threads':>7} {'/proc':>7} {'fds':>7} "
        f"{'sockets':>7} {'pool':>4}"
        + (f" {'pg':>4}" if postgres else "")
        + f" {'blocks':>9} {'gc2':>4} {'changes':>8} {'load':>5}  sockets by peer"
    )
    print(header)
    print("-" * len(header))
    for s in samples:
        rss_lo, rss_hi = float(s.floor["rss"] or 0), float(s.peak["rss"] or 0)
        line = (
            f"{s.t:>5.0f} "
            + " ".join(f"{s.cycles.get(c, {}).get('finished', 0):>5}" for c in connectors)
            + f" {sum(c['failed'] for c in s.cycles.values()):>4} {s.running:>3} "
            f"{f'{rss_lo:.1f}-{rss_hi:.1f}':>13} {_range(s, 'threads'):>7} "
            f"{_range(s, 'proc_threads'):>7} {_range(s, 'fds'):>7} {_range(s, 'sockets'):>7} "
            f"{_range(s, 'pool'):>4}"
            + (f" {_range(s, 'backends'):>4}" if postgres else "")
            + f" {s.blocks:>9,} {s.full_collections:>4} {s.changes:>8,} {s.loadavg:>5.2f}"
            + f"  {_peers(s.peers)}"
        )
        print(line)
    print(
        "connector columns: cycles finished so far; fail: failed cycles; run: cycles running; "
        "ranges are a burst's floor-peak; blocks: sys.getallocatedblocks(); gc2: full "
        "collections so far; changes: item_changes rows in the store; sockets by peer at the "
        "burst's end"
    )


def print_cycles(records: list[Any], connectors: Sequence[str], minutes: float) -> None:
    print("cycles:")
    for name in connectors:
        mine = [r for r in records if r.connector == name and r.finished_at is not None]
        if not mine:
            print(f"  {name}: no finished cycle")
            continue
        durations = [(r.finished_at - r.started_at).total_seconds() for r in mine]
        quarter = max(1, len(durations) // 4)
        ok = sum(1 for r in mine if r.ok)
        pushing = sum(1 for r in mine if r.pushed)
        errors = [e for r in mine for e in r.errors]
        print(
            f"  {name}: {len(mine)} finished ({ok} ok, {len(mine) - ok} failed), "
            f"{len(mine) / minutes:.1f}/min; duration mean {sum(durations) / len(durations):.2f} s,"
            f" max {max(durations):.2f} s, mean of the first quarter "
            f"{sum(durations[:quarter]) / quarter:.2f} s → last quarter "
            f"{sum(durations[-quarter:]) / quarter:.2f} s"
        )
        print(
            f"      items seen per cycle {sum(r.items_seen for r in mine) / len(mine):.1f}, "
            f"API calls per cycle {sum(r.api_calls for r in mine) / len(mine):.1f}; write-backs "
            f"{sum(r.pushed for r in mine):,} in {pushing} cycles ({pushing / len(mine):.0%}), "
            f"{sum(r.push_failed for r in mine)} failed"
        )
        kinds: dict[str, int] = {}
        for error in errors:
            kind = re.sub(r"\d+", "N", error.splitlines()[0])[:110]
            kinds[kind] = kinds.get(kind, 0) + 1
        for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
            print(f"      {count:>4} x {kind}")


def print_tracemalloc(top: int, first: Any, last: Any, own: str) -> None:
    import tracemalloc

    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, own),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    ]
    first, last = first.filter_traces(ignore), last.filter_traces(ignore)
    stats = last.compare_to(first, "lineno")
    grown = sum(s.size_diff for s in stats)
    print(
        f"tracemalloc, halfway through the measured window → the last sample: "
        f"{grown / 2**20:+.2f} MB traced in all; top {top} sites by growth:"
    )
    for stat in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8,} blocks "
            f"(now {stat.size / 1024:9.1f} KiB)  {frame.filename}:{frame.lineno}"
        )


# -- faults, /metrics and the audit -------------------------------------------------------------

CHAOS_KINDS_SHOWN = ("429", "500", "503", "html", "drop", "slow")  # the harness's CHAOS_KINDS
LOSSES = ("lost item", "lost deletion", "stale status", "stale stage")
LEDGER_LOSSES = ("ledger field not in tracker", "ledger comment not in tracker")
DUPLICATES = ("duplicate comment",)


def settle(
    engine: Any, connectors: Sequence[str], since: datetime, wanted: int, timeout: float
) -> dict[str, list[Any]]:
    """Wait until each connector has `wanted` successful cycles started after `since` (or
    `timeout` seconds); every cycle of each connector started after `since`."""
    from pmo_sync.store.cycles import iter_cycles

    deadline = time.monotonic() + timeout
    while True:
        after: dict[str, list[Any]] = {c: [] for c in connectors}
        for record in iter_cycles(engine):
            if record.connector in after and record.started_at >= since:
                after[record.connector].append(record)
        ok = {c: sum(1 for r in rs if r.ok) for c, rs in after.items()}
        if all(n >= wanted for n in ok.values()) or time.monotonic() > deadline:
            return after
        time.sleep(0.5)


@dataclass
class Scrape:
    """What `serve`'s endpoints answered: statuses, and /metrics' samples."""

    address: tuple[str, int]
    healthz: int
    readyz: int
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    def value(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= set(ls))

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """`name`'s samples (matching `labels`) summed by the value of `label`."""
        wanted = set(labels.items())
        result: dict[str, float] = {}
        for (n, ls), v in self.samples.items():
            found = dict(ls)
            if n == name and wanted <= set(ls) and label in found:
                result[found[label]] = result.get(found[label], 0.0) + v
        return result


def _get(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def scrape(address: tuple[str, int]) -> Scrape:
    """GET /healthz, /readyz and /metrics from the service's HTTP server."""
    from prometheus_client.parser import text_string_to_metric_families

    root = f"http://{address[0]}:{address[1]}"
    healthz, _ = _get(f"{root}/healthz")
    readyz, _ = _get(f"{root}/readyz")
    status, text = _get(f"{root}/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scrape(address, healthz, readyz, samples)


def print_failures(scraped: Scrape, connectors: Sequence[str]) -> None:
    """What /metrics reports about failures, per connector."""
    print(
        f"/metrics (scraped from http://{scraped.address[0]}:{scraped.address[1]} after the "
        f"clean cycles; /healthz {scraped.healthz}, /readyz {scraped.readyz}):"
    )
    for name in connectors:
        cycles = scraped.by("pmo_sync_cycles_total", "outcome", connector=name)
        errors = scraped.by("pmo_sync_errors_total", "stage", connector=name)
        pushes = scraped.by("pmo_sync_pushes_total", "outcome", connector=name)
        runs = scraped.by("pmo_sync_push_runs_total", "outcome", connector=name)
        print(
            f"  {name}: cycles {cycles.get('success', 0):,.0f} ok, {cycles.get('failure', 0):,.0f}"
            " failed (errors by stage: "
            + (", ".join(f"{k} {v:,.0f}" for k, v in sorted(errors.items())) or "none")
            + f"); recovered {scraped.value('pmo_sync_recoveries_total', connector=name):,.0f} "
            f"times, {scraped.value('pmo_sync_consecutive_failures', connector=name):.0f} failures"
            f" in a row now, up {scraped.value('pmo_sync_connector_up', connector=name):.0f}"
        )
        waits = scraped.value("pmo_sync_rate_limit_waits_total", connector=name)
        waited = scraped.value("pmo_sync_rate_limit_wait_seconds_total", connector=name)
        print(
            "      write-backs "
            + ", ".join(
                f"{k} {pushes.get(k, 0):,.0f}" for k in ("done", "failed", "deferred", "gone")
            )
            + f"; pushes {runs.get('ok', 0):,.0f} ok, {runs.get('failed', 0):,.0f} with failures; "
            f"API calls {scraped.value('pmo_sync_api_calls_total', connector=name):,.0f}; "
            f"rate-limit waits {waits:,.0f} ({waited:,.1f} s)"
        )


def print_settle(
    settled: dict[str, list[Any]], connectors: Sequence[str], wanted: int, seconds: float
) -> None:
    parts = []
    for name in connectors:
        mine = [r for r in settled.get(name, []) if r.finished_at is not None]
        ok = sum(1 for r in mine if r.ok)
        parts.append(f"{name} {ok} ok" + (f", {len(mine) - ok} failed" if len(mine) > ok else ""))
    print(f"after the faults and changes stopped ({seconds:.0f} s): " + "; ".join(parts))
    for name in connectors:
        mine = settled.get(name, [])
        if sum(1 for r in mine if r.ok) < wanted:
            print(f"  {name}: FEWER THAN {wanted} SUCCESSFUL CYCLES: the audit may see its faults")
        for record in (r for r in mine if r.finished_at is not None):
            for error in record.errors[:3]:
                print(f"  {name} {'ok' if record.ok else 'FAILED'} cycle: {error[:200]}")


def print_audit(found: dict[str, tuple[list[Any], str]], error: str | None) -> None:
    print("audit (pmo_sync.sandbox.audit: the store and the ledger against each tracker's truth):")
    if error is not None:
        print(f"  NOT RUN: {error}")
        print("verdict: NONE (no audit)")
        return
    everything = [d for discrepancies, _ in found.values() for d in discrepancies]
    for source, (discrepancies, checked) in sorted(found.items()):
        print(f"  {source}: {checked}: {len(discrepancies)} discrepancies")
        for d in discrepancies[:40]:
            print(f"    {d}")
        if len(discrepancies) > 40:
            print(f"    ... and {len(discrepancies) - 40} more")
    for label, kinds, fine in (
        ("lost", (*LOSSES, *LEDGER_LOSSES), "nothing lost"),
        ("duplicated", DUPLICATES, "nothing duplicated"),
        ("untracked", ("untracked comment",), "no bot comment the ledger does not know"),
    ):
        mine = [d for d in everything if d.kind in kinds]
        if not mine:
            print(f"verdict: {fine}")
            continue
        counts: dict[str, int] = {}
        for d in mine:
            counts[f"{d.source} {d.kind}"] = counts.get(f"{d.source} {d.kind}", 0) + 1
        print(f"verdict: {label.upper()}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def print_summary(
    records: list[Any],
    connectors: Sequence[str],
    calm_at: datetime | None,
    faults: dict[str, dict[str, int]],
    scraped: Scrape | None,
    found: dict[str, tuple[list[Any], str]],
) -> None:
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, value: Any) -> None:
        rows.append((label, [str(value(name)) for name in connectors]))

    def mine(name: str) -> list[Any]:
        return [
            r
            for r in records
            if r.connector == name
            and r.finished_at is not None
            and (calm_at is None or r.started_at < calm_at)
        ]

    def after(name: str) -> list[Any]:
        return [
            r
            for r in records
            if r.connector == name and calm_at is not None and r.started_at >= calm_at
        ]

    window = "during the faults" if faults else "during the run"
    row(f"cycles ok {window}", lambda n: sum(1 for r in mine(n) if r.ok))
    row(f"cycles failed {window}", lambda n: sum(1 for r in mine(n) if not r.ok))
    row(
        "  of which in the sync",
        lambda n: sum(1 for r in mine(n) if not r.ok and r.stage == "sync"),
    )
    row("cycles ok after them", lambda n: sum(1 for r in after(n) if r.ok))
    if scraped is not None:
        row(
            "recovered (/metrics)",
            lambda n: f"{scraped.value('pmo_sync_recoveries_total', connector=n):.0f}",
        )
    row(
        "pushes with failures",
        lambda n: sum(1 for r in [*mine(n), *after(n)] if r.ok and (r.push_failed or r.errors)),
    )
    if scraped is not None:
        row(
            "  (/metrics)",
            lambda n: (
                f"{scraped.value('pmo_sync_push_runs_total', connector=n, outcome='failed'):.0f}"
            ),
        )
        row(
            "API calls (/metrics)",
            lambda n: f"{scraped.value('pmo_sync_api_calls_total', connector=n):,.0f}",
        )
        row(
            "rate-limit waits",
            lambda n: f"{scraped.value('pmo_sync_rate_limit_waits_total', connector=n):,.0f}",
        )
    row("discrepancies", lambda n: len(found.get(n, ([], ""))[0]) if n in found else "-")
    width = max(len(label) for label, _ in rows)
    columns = [
        max(len(name), *(len(values[i]) for _, values in rows)) for i, name in enumerate(connectors)
    ]
    print("summary:")
    print(
        f"  {'':<{width}}  "
        + "  ".join(f"{n:>{w}}" for n, w in zip(connectors, columns, strict=True))
    )
    for label, values in rows:
        print(
            f"  {label:<{width}}  "
            + "  ".join(f"{v:>{w}}" for v, w in zip(values, columns, strict=True))
        )
    total = sum(sum(kinds.values()) for kinds in faults.values())
    print(
        f"  faults injected: {total:,}"
        + "".join(
            f"; {tracker} " + ", ".join(f"{k} {v:,}" for k, v in kinds.items())
            for tracker, kinds in faults.items()
        )
    )


# -- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, tmpdir: Path) -> int:
    # The Azure DevOps SDK reads its cache directory once, at import: ours, not the user's.
    os.environ.pop("AZURE_DEVOPS_CACHE_DIR", None)
    os.environ["PMO_SYNC_CACHE_DIR"] = str(tmpdir / "cache")

    from pmo_sync.logging import configure_logging
    from pmo_sync.sandbox.audit import TrackerTruth, audit, read_store
    from pmo_sync.service.http import StatusServer
    from pmo_sync.service.runner import Service
    from pmo_sync.store.cycles import iter_cycles
    from pmo_sync.store.engine import make_engine, upgrade

    configure_logging("console", args.log_level)
    samples_wanted = max(2, round(args.minutes * 60 / args.sample_seconds))
    schema = application = None
    if args.database_url:
        schema = f"soak_{uuid.uuid4().hex[:10]}"
        application = f"pmo-soak-{os.getpid()}"
        pg_schema(args.database_url, schema, create=True)
        path = f"-csearch_path%3D{schema}"
        database_url = _with_query(args.database_url, options=path, application_name=application)
        monitor_url = _with_query(
            args.database_url, options=path, application_name=f"{application}-monitor"
        )
    else:
        database_url = monitor_url = f"sqlite:///{tmpdir / 'store.sqlite3'}"
    print(
        f"starting the sandbox trackers ({args.issues_per_project * len(PROJECTS)} Jira issues, "
        f"{args.ado_items} Azure DevOps work items, {args.trello_cards} Trello cards per "
        "board) ...",
        file=sys.stderr,
        flush=True,
    )
    sandboxes = Trackers(args, tmpdir / "sandboxes.log")
    trackers = sandboxes.info
    service = server = None
    sandbox_tally: dict[str, Any] = {}
    faults: dict[str, dict[str, int]] = {}
    settled: dict[str, list[Any]] = {}
    settle_seconds = fault_minutes = 0.0
    scraped: Scrape | None = None
    calm_at: datetime | None = None
    audit_error: str | None = None
    found: dict[str, tuple[list[Any], str]] = {}
    try:
        config_dir = tmpdir / "config"
        write_config(config_dir, trackers, args)
        engine = make_engine(database_url)
        upgrade(engine)
        monitor = Monitor(monitor_url, application)
        monitor.cycles(), monitor.item_changes()  # its files (SQLite: -wal, -shm) open now
        ports = {
            int(trackers["jira_url"].rsplit(":", 1)[1]): "jira",
            int(trackers["ado_url"].split(":")[2].split("/")[0]): "ado",
            int(trackers["trello_url"].rsplit(":", 1)[1]): "trello",
        }
        if schema is not None:
            ports[engine.url.port or 5432] = "postgresql"
        before = baseline(engine, monitor)
        peers_before, fds_before = socket_peers(ports), fd_targets()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        load_before = os.getloadavg()
        service = Service(engine, config_dir, max_workers=args.max_workers)
        print(
            f"soaking {args.minutes:g} min on {'PostgreSQL' if schema else 'SQLite'}: "
            f"{samples_wanted} samples of {args.burst} readings every {args.sample_seconds:g} s "
            f"(load average {load_before[0]:.2f}) ...",
            file=sys.stderr,
            flush=True,
        )
        if args.fault_rate:
            sandboxes.command("chaos")  # from the first call on: the first syncs included
        t0 = time.monotonic()
        errors = service.start()
        if errors:
            for error in errors:
                print(f"config error: {error}", file=sys.stderr)
            return 2
        # `serve`'s endpoints, wired as `pmo_sync.service.process` wires them
        server = StatusServer(
            "127.0.0.1",
            0,
            alive=service.alive,
            ready=service.readiness,
            metrics=service.metrics.render,
        )
        server.start()
        connectors = sorted(service.states)
        samples: list[Sample] = []
        snapshots: list[Any] = []
        warm = samples_wanted // 4 if samples_wanted >= 4 else 0
        halfway = (warm + samples_wanted) // 2
        for k in range(1, samples_wanted + 1):
            delay = t0 + k * args.sample_seconds - args.burst * 0.1 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            samples.append(take_sample(t0, engine, monitor, args.burst, ports, args.collect))
            if args.tracemalloc:
                import tracemalloc

                if k == warm + 1 and not tracemalloc.is_tracing():
                    tracemalloc.start(args.frames)
                elif k in (halfway + 1, samples_wanted) and tracemalloc.is_tracing():
                    snapshots.append(tracemalloc.take_snapshot())
            if args.progress:
                s = samples[-1]
                print(
                    f"  {s.t:5.0f} s: RSS {s.floor['rss']:.1f} MB, cycles "
                    + ", ".join(
                        f"{c} {s.cycles.get(c, {}).get('finished', 0)}" for c in connectors
                    ),
                    file=sys.stderr,
                    flush=True,
                )
        if args.fault_rate:
            fault_minutes = (time.monotonic() - t0) / 60
        # The faults and the changes stop; every connector then runs two clean cycles.
        faults = sandboxes.command("calm")["faults"]
        calm_at = datetime.now(UTC)  # the last change was made, the last fault struck
        settle_started = time.monotonic()
        settled = settle(engine, connectors, calm_at, args.clean_cycles, args.settle_seconds)
        settle_seconds = time.monotonic() - settle_started
        scraped = scrape(server.address)
        ready, body = service.readiness()
        hwm_mb = _proc_status()["VmHWM"] / 1024
        stop_started = time.monotonic()
        service.stop()
        stop_seconds = time.monotonic() - stop_started
        server.stop()
        server = None
        elapsed_minutes = (time.monotonic() - t0) / 60
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        load_after = os.getloadavg()
        time.sleep(0.5)
        after_stop = read_once(engine, monitor)
        blocks_stop = sys.getallocatedblocks()
        peers_stop = socket_peers(ports)
        pool_status = engine.pool.status()
        engine.dispose()
        time.sleep(0.5)
        after_dispose = read_once(engine, monitor)
        collected = gc.collect()
        time.sleep(0.5)
        after_gc = read_once(engine, monitor)
        blocks_gc = sys.getallocatedblocks()
        peers_gc, fds_gc = socket_peers(ports), fd_targets()
        records = list(iter_cycles(engine))
        # Nothing runs now: the store and the trackers hold still for the audit.
        try:
            told = sandboxes.command("truth")["truths"]
        except RuntimeError as exc:
            told, audit_error = [], str(exc)
        for line in told:
            truth = TrackerTruth.from_json(line)
            stored = read_store(engine, truth.source)
            checked = (
                f"{len(truth.items)} live items in scope, "
                f"{sum(len(v) for v in truth.bot_comments.values())} bot comments, "
                f"{len(stored.ledger)} ledger rows"
            )
            found[truth.source] = (audit(stored, truth), checked)
        engine.dispose()
        unfinished = [r for r in records if r.finished_at is None]
        db_mb = (tmpdir / "store.sqlite3").stat().st_size / 2**20 if not schema else float("nan")
        if args.tracemalloc:
            import tracemalloc

            tracemalloc.stop()
        monitor.close()
    finally:
        if service is not None and service.alive():
            service.stop()
        if server is not None:
            with suppress(Exception):
                server.stop()
        sandbox_tally = sandboxes.stop()
        sandbox_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        if schema is not None:
            pg_schema(args.database_url, schema, create=False)

    # -- the report
    postgres = schema is not None
    print()
    print(
        f"soak: {elapsed_minutes:.1f} min, {'PostgreSQL' if postgres else 'SQLite'} store, "
        f"jira every {args.jira_seconds} s, ado every {args.ado_seconds} s, trello every "
        f"{args.trello_seconds} s, {trackers['jira_issues']} Jira issues / "
        f"{trackers['ado_items']} Azure DevOps items / {trackers['trello_cards']} Trello cards, "
        f"{args.mutations_per_second:g} mutations/s per tracker ({args.churn:.0%} creations and "
        f"deletions); Python {sys.version.split()[0]}"
        + ("; gc.collect() before every sample (--collect)" if args.collect else "")
    )
    if args.fault_rate:
        print(
            f"faults: {args.fault_rate:.0%} of requests to each tracker for {fault_minutes:.1f} "
            "min "
            f"(from the first call on; kinds {', '.join(CHAOS_KINDS_SHOWN)}; a slow answer "
            f"{args.slow_seconds:g} s late, the client's timeout {args.timeout_seconds:g} s), then "
            f"none and no changes: {args.clean_cycles} clean cycles per connector took "
            f"{settle_seconds:.0f} s"
        )
    service_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    print(
        f"load average {load_before[0]:.2f} → {load_after[0]:.2f} (1 min; {os.cpu_count()} "
        f"cores); service process CPU {service_cpu:.0f} s ({service_cpu / 60 / elapsed_minutes:.0%}"
        f" of a core), trackers' process CPU {sandbox_cpu.ru_utime + sandbox_cpu.ru_stime:.0f} s"
    )
    print()
    print_samples(samples, connectors, postgres)
    print()
    print_cycles(records, connectors, elapsed_minutes)
    if sandbox_tally:
        requests = sandbox_tally.get("requests", {})
        mutations = sandbox_tally.get("mutations", {})
        print(
            "trackers: mutations "
            + "; ".join(
                f"{name} " + ", ".join(f"{k} {v:,}" for k, v in sorted(made.items()))
                for name, made in mutations.items()
            )
            + f" ({sandbox_tally.get('mutation_errors', 0)} failed)"
        )
        print(
            "  requests answered: "
            + "; ".join(
                f"{name} " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
                for name, counts in requests.items()
            )
        )
        if sandbox_tally.get("last_mutation_error"):
            print(f"  last mutation error: {sandbox_tally['last_mutation_error']}")
    first_changes, last_changes = samples[0].changes, samples[-1].changes
    print(
        f"store: item_changes {first_changes:,} → {last_changes:,} rows"
        + (f"; SQLite file {db_mb:.1f} MB" if not postgres else "")
    )
    print()
    window = measured(samples)
    print(
        f"after warm-up ({len(samples) - len(window)} of {len(samples)} samples skipped, "
        f"{window[0].t:.0f}-{window[-1].t:.0f} s):"
    )
    lines = [rss_verdict(window, args.rss_slope_mb, hwm_mb)]
    for label, name in (
        ("threads", "threads"),
        ("threads (/proc)", "proc_threads"),
        ("fds", "fds"),
        ("sockets", "sockets"),
        ("pool checked out", "pool"),
        ("PostgreSQL backends", "backends"),
    ):
        line = int_verdict(label, name, window)
        if line is not None:
            lines.append(line)
    lines.append(blocks_verdict(window))
    for line in lines:
        print(f"  {line}")
    if len(snapshots) == 2:
        print()
        print_tracemalloc(args.tracemalloc, snapshots[0], snapshots[1], __file__)
    print()
    print(f"stop: Service.stop() returned in {stop_seconds:.2f} s; readiness before it: {ready}")
    for name, state in body["connectors"].items():
        if not state["ready"] or state["last_error"]:
            error = (state["last_error"] or "").splitlines()[0][:160] if state["last_error"] else ""
            print(
                f"  {name}: ready {state['ready']}, {state['consecutive_failures']} failure(s) in "
                f"a row, backing off until {state['backing_off_until']}; last error: {error}"
            )
    print(
        f"  RSS after stop {after_stop['rss']:.1f} MB, after gc.collect() {after_gc['rss']:.1f} MB;"
        f" heap blocks after stop {blocks_stop:,}, gc.collect() found {collected:,} unreachable"
        f" objects, {blocks_gc:,} blocks left"
    )
    for label, name in (
        ("threads", "threads"),
        ("threads (/proc)", "proc_threads"),
        ("fds", "fds"),
        ("sockets", "sockets"),
        ("PostgreSQL backends", "backends"),
    ):
        base, stopped = before[name], after_stop[name]
        emptied, collected = after_dispose[name], after_gc[name]
        if base is None or stopped is None or emptied is None or collected is None:
            continue
        if abs(emptied - base) <= INT_TOLERANCE:
            verdict = "back to baseline"
        elif abs(collected - base) <= INT_TOLERANCE:
            verdict = "back to baseline only after gc.collect()"
        else:
            verdict = "NOT back to baseline"
        print(
            f"  {label}: baseline {base:.0f}, after stop {stopped:.0f}, pool emptied "
            f"{emptied:.0f}, then gc.collect() {collected:.0f}: {verdict}"
        )
    print(
        f"  TCP sockets: baseline {_peers(peers_before)}; after stop {_peers(peers_stop)}; "
        f"after gc.collect() {_peers(peers_gc)}"
    )
    print(
        "  fds open after stop, dispose and gc.collect() but not in the baseline: "
        + _fd_difference(fds_gc, fds_before)
    )
    print(
        f"  pool after stop: {after_stop['pool']} checked out ({pool_status}); unfinished "
        f"cycles in service_cycles: {len(unfinished)}"
        + (f" ({', '.join(r.run_id for r in unfinished[:5])})" if unfinished else "")
    )
    print()
    if scraped is not None:
        print_failures(scraped, connectors)
        print()
    print_settle(settled, connectors, args.clean_cycles, settle_seconds)
    print_audit(found, audit_error)
    print()
    print_summary(records, connectors, calm_at, faults, scraped, found)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument(
        "--burst", type=int, default=10, help="readings per sample, 0.1 s apart (floor and peak)"
    )
    parser.add_argument(
        "--database-url", help="PostgreSQL URL; a throwaway schema is used, then dropped"
    )
    parser.add_argument("--jira-seconds", type=int, default=1, help="the Jira schedule")
    parser.add_argument("--ado-seconds", type=int, default=2, help="the Azure DevOps schedule")
    parser.add_argument("--trello-seconds", type=int, default=2, help="the Trello schedule")
    parser.add_argument("--issues-per-project", type=int, default=40)
    parser.add_argument("--ado-items", type=int, default=120)
    parser.add_argument("--trello-cards", type=int, default=40, help="per board (two boards)")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="the share of requests each tracker fails (429, 500, 503, HTML page, dropped "
        "connection, answer later than the client's timeout) for the whole run; 0: none",
    )
    parser.add_argument(
        "--churn",
        type=float,
        help="the share of mutations that create or delete an item (half each); "
        "default 0.05 with faults, else 0",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        help="the connectors' request timeout; default 5 with faults, else 30",
    )
    parser.add_argument(
        "--slow-seconds", type=float, help="how late a slow answer is; default the timeout + 1"
    )
    parser.add_argument(
        "--clean-cycles",
        type=int,
        default=2,
        help="successful cycles per connector after the faults and changes stop, before the audit",
    )
    parser.add_argument(
        "--settle-seconds", type=float, default=900.0, help="the most to wait for those cycles"
    )
    parser.add_argument(
        "--mutations-per-second", type=float, default=2.0, help="per tracker; 0: none"
    )
    parser.add_argument("--max-workers", type=int, default=4, help="the scheduler's threads")
    parser.add_argument(
        "--rss-slope-mb", type=float, default=1.0, help="RSS is flat below this MB/min"
    )
    parser.add_argument(
        "--tracemalloc", type=int, default=0, metavar="TOP", help="top allocation sites by growth"
    )
    parser.add_argument("--frames", type=int, default=1, help="tracemalloc traceback depth")
    parser.add_argument(
        "--collect",
        action="store_true",
        help="gc.collect() before each sample: tells garbage the collector has not reached yet "
        "from objects still referenced",
    )
    parser.add_argument("--log-level", default="ERROR", help="the service's log level")
    parser.add_argument("--progress", action="store_true", help="a line per sample on stderr")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sandbox-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sandbox_worker:
        run_sandboxes(json.loads(args.sandbox_worker))
        return 0
    if args.minutes <= 0 or args.sample_seconds <= 0 or args.burst < 1:
        parser.error("--minutes, --sample-seconds and --burst must be positive")
    if args.burst * 0.1 >= args.sample_seconds:
        parser.error("a burst (0.1 s a reading) must fit in --sample-seconds")
    if not 0 <= args.fault_rate <= 1:
        parser.error("--fault-rate is a share of requests, between 0 and 1")
    if args.churn is None:
        args.churn = 0.05 if args.fault_rate else 0.0
    if args.timeout_seconds is None:
        args.timeout_seconds = 5.0 if args.fault_rate else 30.0
    if args.slow_seconds is None:
        args.slow_seconds = args.timeout_seconds + 1
    with tempfile.TemporaryDirectory(prefix="pmo-soak-") as tmp:
        return run(args, Path(tmp))


if __name__ == "__main__":
    raise SystemExit(main())
