"""Starting `pmo-sync serve` as a real process against a sandbox, for the service tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pmo_sync.store.cycles import CycleRecord, iter_cycles

TOKEN_VARIABLE = "PMO_SYNC_TEST_JIRA_TOKEN"
FIELDS = {"cycle_time_days": "Cycle time (days)", "wip_age_days": "WIP age (days)"}
POLICY = "rules:\n  - id: estimate-committed\n    rule: missing_estimate\n"
PMO_SYNC = Path(sys.executable).with_name("pmo-sync")


def provision_kpi_fields(sandbox: Any) -> None:
    """What a Jira admin does once: the write-back fields, on every project's edit screen."""
    for name in FIELDS.values():
        field_id = sandbox.dataset.create_custom_field(name, "number")
        for project in ("ABC", "DEF", "GHI"):
            sandbox.dataset.add_field_to_screen(field_id, project)


def write_jira_config(
    config_dir: Path, url: str, email: str, *, seconds: int = 1, name: str = "sandbox-jira"
) -> Path:
    (config_dir / "connectors").mkdir(parents=True, exist_ok=True)
    (config_dir / "policies").mkdir(exist_ok=True)
    (config_dir / "policies" / "rules.yaml").write_text(POLICY, encoding="utf-8")
    path = config_dir / "connectors" / f"{name}.yaml"
    fields = "".join(f"    {metric}: {field}\n" for metric, field in FIELDS.items())
    path.write_text(
        f"name: {name}\nkind: jira\nurl: {url}\nemail: {email}\n"
        f"token: ${{{TOKEN_VARIABLE}}}\njql: project in (ABC, DEF, GHI)\n"
        f"max_retries: 1\nmax_retry_wait_seconds: 1\ntimeout_seconds: 5\n"
        f"schedule:\n  interval_seconds: {seconds}\n"
        f"writeback:\n  enabled: true\n  comments: true\n  fields:\n{fields}",
        encoding="utf-8",
    )
    return path


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_serve(
    tmp_path: Path, database_url: str, config_dir: Path, token: str, name: str = "serve"
) -> ServeProcess:
    """`pmo-sync serve` on a free port; returns once it printed its address."""
    env = {
        **os.environ,
        "PMO_SYNC_DATABASE_URL": database_url,
        "PMO_SYNC_CONFIG_DIR": str(config_dir),
        "PMO_SYNC_HTTP_PORT": "0",
        "PMO_SYNC_LOG_FORMAT": "json",
        "PMO_SYNC_CACHE_DIR": str(tmp_path / "cache"),
        TOKEN_VARIABLE: token,
    }
    log_path = tmp_path / f"{name}.log"
    process = subprocess.Popen(
        [str(PMO_SYNC), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log_path.open("w", encoding="utf-8"),
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)/readyz", line)
    if found is None:
        process.kill()
        raise AssertionError(f"serve did not start: {line!r}\n{log_path.read_text()}")
    return ServeProcess(process, int(found.group(1)), log_path)


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or condition}")


def ok_cycles(engine: Engine, connector: str | None = None) -> list[CycleRecord]:
    return [c for c in iter_cycles(engine, connector) if c.ok]
