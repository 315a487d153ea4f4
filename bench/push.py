"""Benchmark write-back (`push_connector`) of N sandbox issues: changed values, unchanged values.

The bench

1. starts the sandbox Jira in a separate process (`pmo-sync sandbox serve` on a free
   127.0.0.1 port, projects ABC, DEF and GHI, `--issues-per-project` issues each,
   default 3334, so 10,002 issues) and waits until it answers;
2. gives it the three KPI fields over HTTP, as a Jira admin would: `POST /field`
   (a number field each) and `POST /screens/addToDefault/{fieldId}` (the sandbox
   puts the field on every project's edit screen); `sandbox serve` has no option
   for it;
3. runs every step in one fresh Python subprocess (so the sandbox's memory and
   start-up are not counted) against a temporary SQLite store:

   - a full sync (the set-up, not a measurement);
   - a KPI refresh at the sandbox's clock (`DEFAULT_NOW`), with the rules of a
     temporary `policies/rules.yaml` (`missing_estimate`, `missing_assignee`);
   - **push 1, first**: nothing pushed yet, so every value and comment is a write;
   - a KPI refresh at the same `now`, then **push 2, unchanged**: must plan nothing
     and make no tracker call;
   - a KPI refresh `--days-later` days later (default 7: WIP ages grow, the KPI
     window moves, so team p85 cycle times move), then **push 3, changed**;

   each step timed on its own (wall seconds). "writes made" is `PushSummary.done`
   (one per action: one PUT per item for all its fields, or one comment action,
   which costs up to three calls: list the comments, add, tag); "API calls" is
   `PushSummary.api_calls`; calls by endpoint are counted in the subprocess;
4. stops the sandbox by its own PID.

Run it from the repository root (each write is an HTTP call to the local sandbox,
so the default size takes several minutes):

    python bench/push.py                              # 3 x 3334 = 10,002 issues
    python bench/push.py --issues-per-project 100     # a quick run
    python bench/push.py --days-later 14

Nothing is asserted; the last line says whether the unchanged run made zero
tracker calls ("met") or not ("NOT met").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox_process import (
    EMAIL,
    TOKEN,
    free_port,
    run_worker_process,
    sandbox_command,
    stop,
    wait_until_up,
)

PROJECTS = ("ABC", "DEF", "GHI")
JQL = "project in (ABC, DEF, GHI)"
TOKEN_ENV = "PMO_BENCH_JIRA_TOKEN"
FIELDS = {
    "cycle_time_days": "Cycle time (days)",
    "wip_age_days": "WIP age (days)",
    "team_cycle_time_p85_days": "Team p85 cycle time (days)",
}
NUMBER_FIELD = "com.atlassian.jira.plugin.system.customfieldtypes:float"
NUMBER_SEARCHER = "com.atlassian.jira.plugin.system.customfieldtypes:exactnumber"
POLICY = """\
rules:
  - id: estimate-committed
    rule: missing_estimate
  - id: in-progress-assignee
    rule: missing_assignee
"""


def _endpoint(method: str, path: str) -> str:
    """``PUT issue/{key}``, ``POST issue/{key}/comment``, ... from a request's method and path."""
    parts = re.sub(r"^/rest/(api|agile)/[^/]+/", "", path).strip("/").split("/")
    shown: list[str] = []
    for i, part in enumerate(parts):
        before = parts[i - 1] if i else ""
        if before == "issue":
            shown.append("{key}")
        elif before == "properties":
            shown.append("{prop}")
        elif part.isdigit() or before in ("comment", "addToDefault"):
            shown.append("{id}")
        else:
            shown.append(part)
    return f"{method} {'/'.join(shown)}"


# -- the measured subprocess -------------------------------------------------------------------


def run_worker(options: dict[str, Any], result_path: Path) -> None:
    """Sync, refresh, push three times; each step's figures as JSON."""
    from collections import Counter
    from datetime import datetime, timedelta
    from urllib.parse import urlsplit

    import requests

    from connectors.jira import JiraConfig, JiraConnector
    from pmo_sync.evaluation.refresh import refresh_kpis
    from pmo_sync.governance.policy import load_policies
    from pmo_sync.kpi.config import KpiConfig
    from pmo_sync.logging import configure_logging
    from pmo_sync.store.engine import make_engine, upgrade
    from pmo_sync.store.repository import Store
    from pmo_sync.sync import sync_connector
    from pmo_sync.writeback.service import push_connector

    configure_logging("console", "WARNING")  # keep the run's info lines out of the figures
    os.environ[TOKEN_ENV] = TOKEN
    config_dir = Path(options["config_dir"])
    (config_dir / "policies").mkdir(parents=True, exist_ok=True)
    (config_dir / "policies" / "rules.yaml").write_text(POLICY, encoding="utf-8")
    rules, errors = load_policies(config_dir)
    if errors:
        raise SystemExit(f"policy errors: {errors}")
    config = JiraConfig.model_validate(
        {
            "name": "bench-jira",
            "url": options["sandbox_url"],
            "email": EMAIL,
            "token": f"${{{TOKEN_ENV}}}",
            "jql": JQL,
            "writeback": {"enabled": True, "fields": FIELDS, "comments": True},
        }
    )
    engine = make_engine(options["database_url"])
    upgrade(engine)
    store = Store(engine)

    # Calls by endpoint: every request of this process goes through requests.Session.send.
    calls: Counter[str] = Counter()
    original_send = requests.Session.send

    def counting_send(self: Any, request: Any, **kwargs: Any) -> Any:
        calls[_endpoint(request.method, urlsplit(request.url).path)] += 1
        return original_send(self, request, **kwargs)

    requests.Session.send = counting_send  # type: ignore[method-assign]
    steps: list[dict[str, Any]] = []

    def step(name: str) -> dict[str, Any]:
        calls.clear()
        row: dict[str, Any] = {"step": name, "started": time.perf_counter()}
        steps.append(row)
        return row

    def finish(row: dict[str, Any]) -> None:
        row["seconds"] = time.perf_counter() - row.pop("started")
        row["calls"] = dict(calls)

    row = step("full sync (set-up)")
    with JiraConnector(config) as connector:
        synced = sync_connector(connector, store, full=True)
    finish(row)
    row.update(
        items=synced.items_seen,
        api_calls=synced.api_calls,
        status=synced.status,
        errors=synced.errors[:3],
    )

    base_now = datetime.fromisoformat(options["now"])
    later_now = base_now + timedelta(days=float(options["days_later"]))

    def refresh(name: str, now: datetime) -> Any:
        row = step(name)
        result = refresh_kpis(engine, KpiConfig(), rules=rules, now=now)
        finish(row)
        row.update(items=len(result.run.flow.metrics), findings=len(result.findings))
        return result

    def push(name: str, refreshed: Any, now: datetime) -> None:
        row = step(name)
        summary = push_connector(config, engine, refreshed.run, refreshed.findings, now=now)
        finish(row)
        row.update(
            planned=summary.planned,
            done=summary.done,
            failed=summary.failed,
            api_calls=summary.api_calls,
            errors=summary.errors[:3],
        )

    first = refresh(f"KPI refresh @ {base_now:%Y-%m-%d}", base_now)
    push("push 1: first", first, base_now)
    again = refresh(f"KPI refresh @ {base_now:%Y-%m-%d}", base_now)
    push("push 2: unchanged", again, base_now)
    later = refresh(f"KPI refresh @ {later_now:%Y-%m-%d}", later_now)
    push(f"push 3: changed (+{options['days_later']:g} d)", later, later_now)

    requests.Session.send = original_send  # type: ignore[method-assign]
    engine.dispose()
    result_path.write_text(json.dumps({"steps": steps}))


# -- the orchestrating process ------------------------------------------------------------------


def _add_kpi_fields(url: str) -> dict[str, str]:
    """Create the KPI fields in the sandbox and put them on every edit screen; name -> id."""
    import requests

    created: dict[str, str] = {}
    with requests.Session() as session:
        session.auth = (EMAIL, TOKEN)
        for name in FIELDS.values():
            answer = session.post(
                f"{url}/rest/api/3/field",
                json={"name": name, "type": NUMBER_FIELD, "searcherKey": NUMBER_SEARCHER},
                timeout=30,
            )
            answer.raise_for_status()
            field_id = str(answer.json()["id"])
            session.post(
                f"{url}/rest/api/3/screens/addToDefault/{field_id}", timeout=30
            ).raise_for_status()
            created[name] = field_id
    return created


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from pmo_sync.sandbox.jira.generator import DEFAULT_NOW  # sandbox_command pins serve to it

    per_project = args.issues_per_project
    with tempfile.TemporaryDirectory(prefix="pmo-bench-push-") as tmp:
        tmpdir = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = tmpdir / "sandbox.log"
        with log_path.open("wb") as log_file:
            sandbox = subprocess.Popen(
                sandbox_command(port, args.seed, per_project),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            started = time.perf_counter()
            wait_until_up(sandbox, url, log_path)
            setup_seconds = time.perf_counter() - started
            field_ids = _add_kpi_fields(url)
            options = {
                "sandbox_url": url,
                "database_url": f"sqlite:///{tmpdir / 'store.db'}",
                "config_dir": str(tmpdir / "config"),
                "now": DEFAULT_NOW.isoformat(),
                "days_later": args.days_later,
            }
            result = run_worker_process(Path(__file__), options, tmpdir / "result.json")
        finally:
            stop(sandbox)
    result.update(per_project=per_project, setup_seconds=setup_seconds, field_ids=field_ids)
    return result


def _cell(row: dict[str, Any], key: str, width: int) -> str:
    value = row.get(key)
    return f"{'-':>{width}}" if value is None else f"{value:>{width},}"


def print_results(result: dict[str, Any]) -> None:
    steps = result["steps"]
    header = (
        f"{'step':<28} {'planned':>8} {'writes made':>11} {'API calls':>9} "
        f"{'seconds':>8} {'writes/s':>8}"
    )
    print()
    print(
        f"{result['per_project'] * len(PROJECTS):,} sandbox issues "
        f"({len(PROJECTS)} x {result['per_project']:,}), SQLite store"
    )
    print(header)
    print("-" * len(header))
    for row in steps:
        rate = (
            f"{row['done'] / row['seconds']:>8.1f}"
            if row.get("done") and row["seconds"] > 0
            else f"{'-':>8}"
        )
        print(
            f"{row['step']:<28} {_cell(row, 'planned', 8)} {_cell(row, 'done', 11)} "
            f"{_cell(row, 'api_calls', 9)} {row['seconds']:>8.1f} {rate}"
        )
    print()
    for row in steps:
        notes = []
        if "items" in row:
            notes.append(f"items {row['items']:,}")
        if "findings" in row:
            notes.append(f"findings {row['findings']:,}")
        if row.get("status") not in (None, "success"):
            notes.append(f"status {row['status']}")
        if row.get("failed"):
            notes.append(f"failed {row['failed']}")
        if row.get("errors"):
            notes.append(f"errors {row['errors']}")
        if row["calls"] and "planned" in row:
            by = ", ".join(f"{k} {v:,}" for k, v in sorted(row["calls"].items()))
            notes.append(f"calls: {by}")
        if notes:
            print(f"{row['step']}: " + "; ".join(notes))
    print(
        f"sandbox start {result['setup_seconds']:.1f} s; KPI fields "
        + ", ".join(f"{name} = {fid}" for name, fid in result["field_ids"].items())
    )
    unchanged = next(r for r in steps if r["step"].startswith("push 2"))
    met = (unchanged["planned"], unchanged["done"], unchanged["api_calls"]) == (0, 0, 0)
    print(f"unchanged run: 0 tracker calls ({'met' if met else 'NOT met'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues-per-project", type=int, default=3334)
    parser.add_argument(
        "--days-later", type=float, default=7.0, help="how far the changed-values push moves now"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker), Path(args.result))
        return 0
    total = args.issues_per_project * len(PROJECTS)
    print(f"pushing write-back for {total:,} sandbox issues ...", file=sys.stderr, flush=True)
    print_results(bench(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
